"""The help menu through the sandbox: ``!help`` and ``/help`` opened, clicked and timed out by members.

The bot runs the shipped ``moderation`` and ``fun`` extensions plus two written here: ``owner_tools``
(an owner-only command) and ``paging`` (eight commands, two pages). ``8ball`` is restricted to the
Moderator role by config.json's ``command_permissions``. Menus are read back from the sandbox's world,
i.e. as a member's Discord client shows them.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from tests.conftest import BotHarness
from tui_bot.core.help import DEFAULT_MENU_TIMEOUT, Help
from tui_bot.core.help_views import PAGE_SIZE, HelpMenu
from tui_bot.core.responses import Colour
from tui_bot.sandbox import EventKind, Sandbox
from tui_bot.sandbox.interactions import CallbackType
from tui_bot.sandbox.world import Message

REPO = Path(__file__).resolve().parent.parent
GENERAL = "general"
EPHEMERAL = 64

OWNER_TOOLS = '''
from discord.ext import commands


class Owner(commands.Cog):
    """Tools for the bot's owner."""

    @commands.command()
    @commands.is_owner()
    async def secret(self, ctx):
        """Only the owner may know."""
        await ctx.send("secret")

    @commands.command(hidden=True)
    async def invisible(self, ctx):
        """Hidden from everyone."""


async def setup(bot):
    await bot.add_cog(Owner())
'''

PAGING = '''
from discord.ext import commands


class Many(commands.Cog):
    """Eight commands: two pages of the help menu."""

    @commands.command(help="Command number 1.")
    async def c1(self, ctx):
        await ctx.send("ok")

    @commands.command(help="Command number 2.")
    async def c2(self, ctx):
        await ctx.send("ok")

    @commands.command(help="Command number 3.")
    async def c3(self, ctx):
        await ctx.send("ok")

    @commands.command(help="Command number 4.")
    async def c4(self, ctx):
        await ctx.send("ok")

    @commands.command(help="Command number 5.")
    async def c5(self, ctx):
        await ctx.send("ok")

    @commands.command(help="Command number 6.")
    async def c6(self, ctx):
        await ctx.send("ok")

    @commands.command(help="Command number 7.")
    async def c7(self, ctx):
        await ctx.send("ok")

    @commands.command(help="Command number 8.")
    async def c8(self, ctx):
        await ctx.send("ok")


async def setup(bot):
    await bot.add_cog(Many())
'''


async def start_bot(harness: BotHarness, **config: Any) -> None:
    for name in ("moderation", "fun"):
        harness.write_extension(
            name, (REPO / "tui_bot" / "starter" / "extensions" / f"{name}.py").read_text(encoding="utf-8")
        )
    harness.write_extension("owner_tools", OWNER_TOOLS)
    harness.write_extension("paging", PAGING)
    await harness.start(command_permissions={"8ball": ["Moderator"]}, **config)


def menu_cog(harness: BotHarness) -> Help:
    assert harness.bot is not None
    cog = harness.bot.get_cog("Help")
    assert isinstance(cog, Help)
    return cog


async def open_menu(harness: BotHarness, user: str, *, slash: bool = False) -> tuple[HelpMenu, Any]:
    """Open the menu as ``user``; returns its view once discord.py listens to it, and the slash handle."""
    bot, sb = harness.bot, harness.sandbox
    assert bot is not None
    opened = asyncio.ensure_future(
        bot.wait_for("help_menu_open", check=lambda menu: menu.opener.name == user, timeout=5)
    )
    handle = None
    if slash:
        handle = await sb.invoke_slash(user, GENERAL, "help")
    else:
        await sb.send_message(user, GENERAL, "!help")
    menu = await opened
    return menu, handle


async def operate(harness: BotHarness, menu: HelpMenu, action: Any) -> Any:
    """Click or select (``action``: a coroutine function returning a handle) and wait until the menu
    has changed and discord.py listens to its new components: a click sent earlier would be dropped."""
    assert harness.bot is not None
    updated = asyncio.ensure_future(
        harness.bot.wait_for("help_menu_update", check=lambda changed: changed is menu, timeout=5)
    )
    response = await (await action()).response()
    await updated
    return response


def shown(sb: Sandbox, menu: HelpMenu) -> Message:
    """The menu's message as members see it now."""
    assert menu.message is not None
    message = sb.world.get_message(sb.world.find_channel(GENERAL).id, menu.message.id)
    assert message is not None
    return message


def components(message: Message) -> dict[str, dict[str, Any]]:
    """The message's components by custom_id."""
    return {c["custom_id"]: c for row in message.components for c in row["components"]}


def category_names(message: Message) -> list[str]:
    return [option["value"] for option in components(message)["help:category"]["options"]]


def field_names(embed: dict[str, Any]) -> list[str]:
    return [f["name"] for f in embed.get("fields", [])]


async def test_prefix_menu_categories_pages_and_back(harness: BotHarness) -> None:
    await start_bot(harness)
    sb = harness.sandbox
    menu, _ = await open_menu(harness, "operator")
    message = shown(sb, menu)
    main = message.embeds[0]
    assert main["color"] == Colour.MAIN_MENU and main["title"] == "📖 Help"
    assert "The prefix in **Sandbox Guild** is `!`" in main["description"]
    # The bot owner sees every category, the owner-only one included; no page or back buttons yet.
    assert category_names(message) == [
        "Bot owner",
        "Fun",
        "Help",
        "Information",
        "Many",
        "Moderation",
        "Owner",
        "Server settings",
    ]
    assert set(components(message)) == {"help:category"}
    # 7+4+1+3+8+3+1+2; the hidden one left out
    assert main["footer"]["text"].startswith("29 commands available to you")

    response = await operate(harness, menu, lambda: sb.select("operator", message, "help:category", ["Many"]))
    assert response.type is CallbackType.UPDATE_MESSAGE
    page = shown(sb, menu)
    embed = page.embeds[0]
    assert embed["color"] == Colour.CATEGORIES and embed["title"] == "📂 Many"
    assert field_names(embed) == [f"!c{n}" for n in range(1, PAGE_SIZE + 1)]
    assert embed["footer"]["text"].startswith("Page 1/2 · 8 commands")
    buttons = components(page)
    assert buttons["help:prev"]["disabled"] and not buttons["help:next"].get("disabled")
    assert buttons["help:page"]["label"] == "1/2" and buttons["help:page"]["disabled"]
    assert buttons["help:home"]["label"] == "Main menu"
    selected = [o["value"] for o in buttons["help:category"]["options"] if o.get("default")]
    assert selected == ["Many"]

    await operate(harness, menu, lambda: sb.click_button("operator", page, "help:next"))
    page = shown(sb, menu)
    assert field_names(page.embeds[0]) == ["!c7", "!c8"]
    assert components(page)["help:next"]["disabled"] and components(page)["help:page"]["label"] == "2/2"
    await operate(harness, menu, lambda: sb.click_button("operator", page, "help:prev"))
    assert field_names(shown(sb, menu).embeds[0])[0] == "!c1"

    # A one-page category: no page buttons, just the way back.
    await operate(harness, menu, lambda: sb.select("operator", page, "help:category", ["Fun"]))
    fun = shown(sb, menu)
    assert set(components(fun)) == {"help:category", "help:home"}
    assert field_names(fun.embeds[0]) == [
        "!8ball <question>",
        "!choose <options>",
        "!coinflip",
        "!roll [dice=1d6]",
    ]

    await operate(harness, menu, lambda: sb.click_button("operator", fun, "help:home"))
    back = shown(sb, menu)
    assert back.embeds[0]["title"] == "📖 Help" and set(components(back)) == {"help:category"}


async def test_slash_menu_refuses_a_second_user_and_stays_unchanged(harness: BotHarness) -> None:
    await start_bot(harness)
    sb, bot = harness.sandbox, harness.bot
    assert bot is not None
    await bot.tree.sync()
    menu, handle = await open_menu(harness, "alice", slash=True)
    response = await handle.response()
    assert response.type is CallbackType.CHANNEL_MESSAGE_WITH_SOURCE and not response.ephemeral
    assert response.embeds[0]["title"] == "📖 Help"
    # alice (Moderator) sees moderation and the role-gated 8ball, not the owner's tools or the
    # server settings (Administrator).
    assert category_names(shown(sb, menu)) == ["Fun", "Help", "Information", "Many", "Moderation"]

    before = shown(sb, menu)
    refused = await (await sb.select("bob", before, "help:category", ["Moderation"])).response()
    assert refused.ephemeral and refused.type is CallbackType.CHANNEL_MESSAGE_WITH_SOURCE
    assert refused.content == "Only **Alice** can use this menu; run `/help` yourself."
    after = shown(sb, menu)
    assert after.embeds == before.embeds and after.components == before.components
    assert menu.category is None

    await operate(harness, menu, lambda: sb.select("alice", after, "help:category", ["Moderation"]))
    moderation = shown(sb, menu).embeds[0]
    assert field_names(moderation) == ["!ban <member> [reason]", "!kick <member> [reason]", "!purge <amount>"]
    await operate(harness, menu, lambda: sb.select("alice", after, "help:category", ["Fun"]))
    assert "!8ball <question>" in field_names(shown(sb, menu).embeds[0])


async def test_plain_member_sees_only_what_they_may_run(harness: BotHarness) -> None:
    await start_bot(harness)
    sb = harness.sandbox
    menu, _ = await open_menu(harness, "bob")
    message = shown(sb, menu)
    # No Moderation (permissions), no Owner (owner-only), no server settings (Administrator), and
    # 8ball is gated to Moderators.
    assert category_names(message) == ["Fun", "Help", "Information", "Many"]
    assert message.embeds[0]["footer"]["text"].startswith("15 commands available to you")
    await operate(harness, menu, lambda: sb.select("bob", message, "help:category", ["Fun"]))
    assert field_names(shown(sb, menu).embeds[0]) == ["!choose <options>", "!coinflip", "!roll [dice=1d6]"]

    # help has its own cooldown (one per user every 10 s); the error handler says so.
    await sb.send_message("bob", GENERAL, "!help")
    reply = await sb.wait_for_bot_message(channel=GENERAL, check=lambda m: m.id != menu.message.id)
    assert (
        reply.embeds[0]["title"] == "⚠️ Slow down"
        and "`help` is on cooldown" in reply.embeds[0]["description"]
    )


def all_disabled(message: Message | None) -> bool:
    found = components(message) if message is not None else {}
    return bool(found) and all(c.get("disabled") for c in found.values())


async def test_components_are_disabled_on_timeout(harness: BotHarness) -> None:
    await start_bot(harness)
    sb = harness.sandbox
    cog = menu_cog(harness)
    assert cog.menu_timeout == DEFAULT_MENU_TIMEOUT == 180.0
    cog.menu_timeout = 0.3  # configurable per bot: Help.menu_timeout, or install_help(bot, menu_timeout=)
    menu, _ = await open_menu(harness, "alice")
    assert menu.timeout == 0.3 and menu.message is not None
    assert not any(c.get("disabled") for c in components(shown(sb, menu)).values())
    message_id = menu.message.id
    await sb.wait_for_event(
        EventKind.MESSAGE_UPDATE,
        check=lambda e: e.data.get("message_id") == message_id and all_disabled(e.message),
    )
    message = shown(sb, menu)
    assert all_disabled(message) and message.embeds[0]["title"] == "📖 Help"  # still readable


async def test_slash_menu_on_a_category_page_is_disabled_on_timeout(harness: BotHarness) -> None:
    await start_bot(harness)
    sb, bot = harness.sandbox, harness.bot
    assert bot is not None
    await bot.tree.sync()
    # Long enough to choose a category first (clicks restart the countdown), short for a test.
    menu_cog(harness).menu_timeout = 1.5
    menu, _ = await open_menu(harness, "alice", slash=True)
    await operate(harness, menu, lambda: sb.select("alice", shown(sb, menu), "help:category", ["Many"]))
    assert menu.message is not None
    message_id = menu.message.id
    # The slash menu is the interaction's message: disabled through the interaction webhook.
    await sb.wait_for_event(
        EventKind.MESSAGE_UPDATE,
        check=lambda e: e.data.get("message_id") == message_id and all_disabled(e.message),
    )
    message = shown(sb, menu)
    assert set(components(message)) == {"help:category", "help:prev", "help:page", "help:next", "help:home"}
    assert all_disabled(message) and message.embeds[0]["title"] == "📂 Many"


async def test_help_for_one_command(harness: BotHarness) -> None:
    await start_bot(harness, cooldowns={"default_rate": 3, "default_per": 5})
    sb, bot = harness.sandbox, harness.bot
    assert bot is not None
    await sb.send_message("operator", GENERAL, "!help ban")
    embed = (await sb.wait_for_bot_message(channel=GENERAL)).embeds[0]
    assert embed["title"] == "❔ ban" and embed["color"] == Colour.CATEGORIES
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Usage"] == "`!ban <member> [reason]`"
    assert fields["Slash command"] == "Yes: `/ban`"
    assert fields["Cooldown"] == "3 uses every 5 s, per user"  # config.json's default cooldown
    assert fields["Requirements"].splitlines() == [
        "Servers only (not in DMs)",
        "You need: Ban Members",
        "The bot needs: Ban Members",
    ]
    assert "Ban `member`" in embed["description"]
    assert embed["footer"]["text"] == "You can run it here."

    # A role rule from config.json, shown to someone it refuses; and help's own cooldown decorator.
    await sb.send_message("bob", GENERAL, "!help 8ball")
    embed = (await sb.wait_for_bot_message(channel=GENERAL)).embeds[0]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Requirements"].startswith("Role rule in this server: one of Moderator")
    assert embed["footer"]["text"] == "You cannot run it here."

    await bot.tree.sync()
    response = await (await sb.invoke_slash("alice", GENERAL, "help", command="help")).response()
    fields = {f["name"]: f["value"] for f in response.embeds[0]["fields"]}
    assert fields["Cooldown"] == "1 use every 10 s, per user" and fields["Usage"] == "`!help [command]`"


async def test_unknown_command_suggests_close_names(harness: BotHarness) -> None:
    await start_bot(harness)
    sb, bot = harness.sandbox, harness.bot
    assert bot is not None
    await sb.send_message("alice", GENERAL, "!help bann")
    embed = (await sb.wait_for_bot_message(channel=GENERAL)).embeds[0]
    assert embed["title"] == "❌ Unknown command `bann`" and embed["color"] == Colour.ERROR
    assert embed["description"].startswith("Did you mean `ban`")

    await bot.tree.sync()
    response = await (await sb.invoke_slash("operator", GENERAL, "help", command="nonexistent")).response()
    assert response.ephemeral and response.embeds[0]["title"] == "❌ Unknown command `nonexistent`"
    assert response.embeds[0]["description"].endswith("Run `!help` to see every command you can use.")


async def test_owner_only_commands_are_explained_to_owners_only(harness: BotHarness) -> None:
    await start_bot(harness)
    sb = harness.sandbox
    await sb.send_message("operator", GENERAL, "!help secret")
    embed = (await sb.wait_for_bot_message(channel=GENERAL)).embeds[0]
    assert embed["title"] == "❔ secret"
    assert {f["name"]: f["value"] for f in embed["fields"]}["Requirements"] == "Bot owner only"
    # bob may not learn about it: unknown to him, and never suggested.
    await sb.send_message("bob", GENERAL, "!help secret")
    embed = (await sb.wait_for_bot_message(channel=GENERAL)).embeds[0]
    assert embed["title"] == "❌ Unknown command `secret`"
    assert "secret" not in embed["description"]  # the close name suggested is one bob may read about


async def test_autocomplete_offers_only_runnable_commands(harness: BotHarness) -> None:
    await start_bot(harness)
    sb, bot = harness.sandbox, harness.bot
    assert bot is not None
    await bot.tree.sync()
    alice = [c["value"] for c in await sb.autocomplete("alice", GENERAL, "help", "command", command="ki")]
    bob = [c["value"] for c in await sb.autocomplete("bob", GENERAL, "help", "command", command="ki")]
    assert alice == ["kick"]
    assert bob == []
    everything = await sb.autocomplete("operator", GENERAL, "help", "command", command="")
    assert len(everything) == 25 and "secret" in [c["value"] for c in everything]
