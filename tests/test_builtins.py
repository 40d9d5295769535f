"""Every built-in command, by prefix and by slash, through the sandbox with the real discord.py client.

The demo world: "operator" owns the guild and the bot, "alice" is a Moderator, "bob" has no role.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

import discord
import pytest

from tui_bot.core.responses import Colour
from tui_bot.sandbox import InteractionError
from tui_bot.sandbox.world import Member, Role, User

if TYPE_CHECKING:
    from conftest import BotHarness

GREETER = """
from discord.ext import commands


class Greeter(commands.Cog):
    @commands.hybrid_command(description="Say hello")
    async def hello(self, ctx):
        await ctx.send(f"hello {ctx.author.name}")


async def setup(bot):
    await bot.add_cog(Greeter())
"""

LATE = """
from discord.ext import commands


class Late(commands.Cog):
    @commands.command()
    async def late(self, ctx):
        await ctx.send("late VERSION")


async def setup(bot):
    await bot.add_cog(Late())
"""

# For tests that run one command many times in a row (the default is 3 per 5 s per user).
ROOMY = {"default_rate": 100, "default_per": 1}

BROKEN = """
import a_module_that_does_not_exist
"""


async def say(harness: BotHarness, author: str, content: str, channel: str | int = "general") -> Any:
    """Send as ``author`` and return the bot's next message in that channel (answers to slash
    commands, sent through the interaction's webhook, are left out)."""
    await harness.sandbox.send_message(author, channel, content)
    return await harness.sandbox.wait_for_bot_message(
        channel=channel, timeout=10, check=lambda m: m.webhook_id is None
    )


async def embed_of(harness: BotHarness, author: str, content: str, channel: str | int = "general") -> dict:
    reply = await say(harness, author, content, channel)
    assert reply.content == "" and len(reply.embeds) == 1, reply.content
    return reply.embeds[0]


async def slash(harness: BotHarness, author: str, name: str, /, **options: Any) -> Any:
    handle = await harness.sandbox.invoke_slash(author, "general", name, options=options)
    response = await handle.response()
    if response.deferred:  # "thinking…", then the answer as a follow-up
        return await handle.wait_for_followup(timeout=10)
    return response


def fields(embed: dict) -> dict[str, str]:
    return {field["name"]: field["value"] for field in embed.get("fields", [])}


def add_admin(harness: BotHarness) -> None:
    """carol joins the demo guild with an "Admin" role (Administrator), before the bot connects."""
    world = harness.sandbox.world
    guild = next(iter(world.guilds.values()))
    role = Role(world.snowflakes(), "Admin", discord.Permissions(administrator=True).value, position=1)
    guild.roles[role.id] = role
    carol = User(world.snowflakes(), "carol", "Carol")
    world.users[carol.id] = carol
    guild.members[carol.id] = Member(carol, [role.id])


# -- information ---------------------------------------------------------------------------------


async def test_stats_by_prefix_and_slash_with_its_cooldown(harness: BotHarness) -> None:
    harness.write_extension("greeter", GREETER)
    bot = await harness.start()
    await bot.tree.sync()
    assert (await say(harness, "bob", "!hello")).content == "hello bob"

    stats = await embed_of(harness, "operator", "!stats")
    assert stats["title"] == "📊 Bot statistics" and stats["color"] == Colour.MAIN_MENU
    shown = fields(stats)
    assert shown["Servers"] == "1" and shown["Users"] == "4"
    assert shown["Commands processed"] == "1"  # hello; stats itself is counted once it has finished
    assert shown["Messages seen"] == "3"  # !hello, the bot's reply, !stats
    assert shown["Top commands (this run)"] == "`hello` × 1"
    assert shown["Top commands (all time)"] == "`hello` × 1"
    assert shown["Extensions loaded"] == "1" and shown["Uptime"].endswith("s")

    # The same user again within 10 s: the cooldown reply says when to retry.
    cooldown = await embed_of(harness, "operator", "!stats")
    assert cooldown["title"] == "⚠️ Slow down" and cooldown["color"] == Colour.WARNING
    assert "`stats` is on cooldown: try again in" in cooldown["description"]

    response = await slash(harness, "alice", "stats")
    assert response.embeds[0]["title"] == "📊 Bot statistics" and not response.ephemeral
    # hello, the prefix stats and the refused one: every invocation counts, refusals too.
    assert fields(response.embeds[0])["Commands processed"] == "3"
    # The cooldown is per command, shared by its prefix and slash forms.
    refused = await slash(harness, "operator", "stats")
    assert refused.ephemeral and refused.embeds[0]["title"] == "⚠️ Slow down"


async def test_extensions_lists_loaded_failed_and_blacklisted(harness: BotHarness) -> None:
    harness.write_extension("greeter", GREETER)
    harness.write_extension("broken", BROKEN)
    harness.write_extension("secret", GREETER.replace("Greeter", "Secret").replace("hello", "secret"))
    # The broken extension does not stop the start-up (nor the others); the blacklisted one is skipped.
    bot = await harness.start(extensions={"blacklist": ["secret"]})
    await bot.tree.sync()
    assert (await say(harness, "bob", "!hello")).content == "hello bob"

    embed = await embed_of(harness, "bob", "!extensions")
    assert embed["color"] == Colour.CATEGORIES and embed["title"].startswith("🧩 Extensions")
    lines = embed["description"].splitlines()
    assert lines[0] == "🔴 `broken` failed"
    assert lines[1] == "  last error: ModuleNotFoundError: No module named 'a_module_that_does_not_exist'"
    assert lines[2].startswith("🟢 `greeter` loaded in ") and lines[2].endswith(" ms")
    assert lines[3] == "⛔ `secret` blacklisted"
    assert embed["footer"]["text"] == "1 loaded · 1 failed · 1 blacklisted · 0 unloaded"

    response = await slash(harness, "alice", "extensions")
    assert response.embeds[0]["description"] == embed["description"]


async def test_discordbotframework_and_its_aliases(harness: BotHarness) -> None:
    add_admin(harness)
    bot = await harness.start()
    await bot.tree.sync()
    response = await slash(harness, "carol", "discordbotframework")
    assert response.embeds[0]["color"] == Colour.CREDITS
    for author, typed in (("operator", "!discordbotframework"), ("alice", "!framework"), ("bob", "!botinfo")):
        reply = await say(harness, author, typed)
        embed = reply.embeds[0]
        assert embed["color"] == Colour.CREDITS and embed["title"].startswith("🤖 tui-bot")
        assert fields(embed)["Version"].startswith("tui-bot ")
        assert "TheHolyOneZ" in fields(embed)["Credits"]
        assert "Hybrid commands" in fields(embed)["Features"]
        link = reply.components[0]["components"][0]
        assert link["url"] == "https://github.com/TheHolyOneZ/discord-bot-framework"


# -- server settings -----------------------------------------------------------------------------


async def test_setprefix_validates_confirms_and_stores(harness: BotHarness) -> None:
    harness.write_extension("greeter", GREETER)
    add_admin(harness)
    bot = await harness.start(replies={"delete_after": 0}, cooldowns=ROOMY)
    guild_id = bot.guilds[0].id

    # Only Administrators (and the guild and bot owners).
    refused = await embed_of(harness, "alice", "!setprefix ?")
    assert refused["description"] == "You need the **Administrator** permission to use `setprefix`."

    for bad, problem in (
        ("toolong", "at most 5 characters"),
        ("<@123>", "mention"),
        ("@everyone", "mention"),
        ('"a b"', "whitespace"),
    ):
        embed = await embed_of(harness, "carol", f"!setprefix {bad}")
        assert embed["title"] == "❌ Invalid prefix" and problem in embed["description"], bad
    assert await bot.db.get_guild_prefix(guild_id) is None

    done = await embed_of(harness, "carol", "!setprefix ?")
    assert done["title"] == "✅ Prefix changed" and done["color"] == Colour.SUCCESS
    assert "now start with `?`, e.g. `?help`" in done["description"]
    assert await bot.db.get_guild_prefix(guild_id) == "?" and bot.prefix_for_guild(guild_id) == "?"
    assert (await say(harness, "bob", "?hello")).content == "hello bob"

    # Setting the default again removes the guild's own prefix.
    await embed_of(harness, "operator", "?setprefix !")
    assert await bot.db.get_guild_prefix(guild_id) is None

    await bot.tree.sync()
    response = await slash(harness, "carol", "setprefix", prefix="$")
    assert response.embeds[0]["title"] == "✅ Prefix changed"
    assert await bot.db.get_guild_prefix(guild_id) == "$"
    bad = await slash(harness, "carol", "setprefix", prefix="<#1>")
    assert bad.ephemeral and bad.embeds[0]["title"] == "❌ Invalid prefix"


async def test_prefixes_are_isolated_between_guilds(harness: BotHarness) -> None:
    harness.write_extension("greeter", GREETER)
    second = harness.sandbox.add_guild("Second Guild", members=["alice", "bob"])
    second_general = next(c.id for c in second.channels.values() if c.name == "general")
    first_general = harness.sandbox.world.find_channel("general").id
    bot = await harness.start()
    assert len(bot.guilds) == 2

    await embed_of(harness, "operator", "!setprefix ?", first_general)
    assert (await say(harness, "bob", "?hello", first_general)).content == "hello bob"
    # The second guild keeps the default: "?" means nothing there, "!" still works.
    await harness.sandbox.send_message("bob", second_general, "?hello")
    assert (await say(harness, "bob", "!hello", second_general)).content == "hello bob"
    # and "!" no longer works in the first guild.
    await harness.sandbox.send_message("bob", first_general, "!hello")
    assert (await say(harness, "bob", "?hello", first_general)).content == "hello bob"
    assert await bot.db.get_all_guild_prefixes() == {bot.get_guild(harness.sandbox.find_guild().id).id: "?"}


async def test_config_views_and_changes_role_rules(harness: BotHarness) -> None:
    harness.write_extension("greeter", GREETER)
    bot = await harness.start(cooldowns=ROOMY)
    guild = bot.guilds[0]
    moderator = discord.utils.get(guild.roles, name="Moderator")
    assert moderator is not None

    listing = await embed_of(harness, "operator", "!config")
    assert listing["title"] == "🔐 Command permissions"
    assert listing["description"] == "No command is restricted to roles in this server."

    added = await embed_of(harness, "operator", f"!config hello <@&{moderator.id}>")
    assert added["title"] == "✅ Permission updated"
    assert "`hello` may now be used by members with: **Moderator**" in added["description"]
    assert await bot.db.get_command_roles(guild.id) == {"hello": [moderator.id]}
    refused = await embed_of(harness, "bob", "!hello")
    assert refused["description"] == "You need one of these roles to use `hello`: Moderator."
    assert (await say(harness, "alice", "!hello")).content == "hello alice"

    one = await embed_of(harness, "operator", "!config hello")
    assert one["description"] == "Roles allowed: **Moderator** (set in this server)."
    assert (await embed_of(harness, "operator", "!config"))["description"] == "`hello`: Moderator"

    opened = await embed_of(harness, "operator", "!config hello none")
    assert opened["description"] == "Everyone in this server may now use `hello`."
    assert (await say(harness, "bob", "!hello")).content == "hello bob"
    reset = await embed_of(harness, "operator", "!config hello default")
    assert reset["title"] == "✅ Permission reset" and "no role is required" in reset["description"]
    assert await bot.db.get_command_roles(guild.id) == {}

    unknown = await embed_of(harness, "operator", "!config helo Moderator")
    assert unknown["description"] == "There is no command `helo`. Did you mean `hello`, `help`, `reload`?"
    no_role = await embed_of(harness, "operator", "!config hello Wizards")
    assert no_role["title"] == "❌ Unknown role" and "`Wizards`" in no_role["description"]
    # Members who are neither guild owner, Administrator nor bot owner may not even look.
    denied = await embed_of(harness, "alice", "!config")
    assert denied["description"].startswith("Only the server owner, members with the Administrator")

    await bot.tree.sync()
    choices = await harness.sandbox.autocomplete("operator", "general", "config", "command", command="hel")
    assert [c["value"] for c in choices] == ["hello", "help"]
    roles = await harness.sandbox.autocomplete(
        "operator", "general", "config", "role", command="hello", role="mod"
    )
    assert [c["value"] for c in roles] == ["Moderator"]
    response = await slash(harness, "operator", "config", command="hello", role="Moderator")
    assert response.embeds[0]["title"] == "✅ Permission updated"
    assert await bot.db.get_command_roles(guild.id) == {"hello": [moderator.id]}
    denied_slash = await slash(harness, "bob", "config")
    assert denied_slash.ephemeral and denied_slash.embeds[0]["title"] == "❌ Not allowed"


# -- bot owner -----------------------------------------------------------------------------------


async def test_reload_all_names_the_slash_commands_it_added_and_how_to_sync_them(harness: BotHarness) -> None:
    harness.write_extension("late", LATE.replace("VERSION", "v1"))
    add_admin(harness)
    await harness.start(cooldowns=ROOMY)
    quiet = await embed_of(harness, "operator", "!reload all")  # nothing new: no hint
    assert quiet["title"] == "✅ Extensions reloaded" and "slash command" not in quiet["description"]

    # v2 adds a hybrid command: it is in the bot's tree, not yet in Discord's list.
    harness.write_extension(
        "late",
        LATE.replace("VERSION", "v2").replace(
            "class Late(commands.Cog):",
            "class Late(commands.Cog):\n"
            "    @commands.hybrid_command(description='Later still')\n"
            "    async def later(self, ctx):\n"
            "        await ctx.send('later')\n",
        ),
    )
    every = await embed_of(harness, "operator", "!reload all")
    assert every["title"] == "✅ Extensions reloaded"
    assert every["description"].endswith(
        "reload all added 1 slash command(s): use `!sync` to show them in Discord."
    ), every["description"]


async def test_load_unload_reload_by_prefix_and_slash(harness: BotHarness) -> None:
    harness.write_extension("broken", BROKEN)
    add_admin(harness)
    bot = await harness.start(cooldowns=ROOMY)
    await bot.tree.sync()
    harness.write_extension("late", LATE.replace("VERSION", "v1"))

    loaded = await embed_of(harness, "operator", "!load late")
    assert loaded["title"] == "✅ Extension loaded" and loaded["description"].startswith("`late` loaded in ")
    assert (await say(harness, "bob", "!late")).content == "late v1"
    again = await embed_of(harness, "operator", "!load late")
    assert again["description"] == "late is already loaded; use reload"

    harness.write_extension("late", LATE.replace("VERSION", "v2"))
    reloaded = await embed_of(harness, "operator", "!reload late")
    assert reloaded["title"] == "✅ Extension reloaded"
    assert (await say(harness, "bob", "!late")).content == "late v2"

    # A broken edit: the reload fails, says why, and v2 keeps running.
    harness.write_extension("late", "this is not python(")
    failed = await embed_of(harness, "operator", "!reload late")
    assert failed["title"] == "❌ Could not reload `late`"
    assert failed["description"].startswith("SyntaxError:") and "```py" in failed["description"]
    assert (await say(harness, "bob", "!late")).content == "late v2"
    harness.write_extension("late", LATE.replace("VERSION", "v3"))

    broken = await embed_of(harness, "operator", "!load broken")
    assert broken["title"] == "❌ Could not load `broken`"
    assert "No module named 'a_module_that_does_not_exist'" in broken["description"]

    every = await embed_of(harness, "operator", "!reload all")
    assert every["title"] == "✅ Extensions reloaded" and every["description"].startswith("✅ `late` in ")
    assert (await say(harness, "bob", "!late")).content == "late v3"

    unloaded = await embed_of(harness, "operator", "!unload late")
    assert unloaded["title"] == "✅ Extension unloaded"
    await harness.sandbox.send_message("bob", "general", "!late")  # no such command any more: silence
    assert (await say(harness, "bob", "!extensions")).embeds[0]["footer"]["text"].startswith("0 loaded")

    response = await slash(harness, "operator", "load", extension="late")
    assert response.embeds[0]["title"] == "✅ Extension loaded"
    response = await slash(harness, "operator", "reload", extension="late")
    assert response.embeds[0]["title"] == "✅ Extension reloaded"
    response = await slash(harness, "operator", "unload", extension="late")
    assert response.embeds[0]["title"] == "✅ Extension unloaded"
    response = await slash(harness, "operator", "load", extension="../late")
    assert response.ephemeral and "is not an extension name" in response.embeds[0]["description"]
    choices = await harness.sandbox.autocomplete("operator", "general", "reload", "extension", extension="la")
    assert [c["value"] for c in choices] == ["late"]
    # An Administrator sees the owner commands in Discord's list, and is refused.
    refused = await slash(harness, "carol", "reload", extension="late")
    assert refused.ephemeral and refused.embeds[0]["description"] == "Only the bot owner can use `reload`."
    # Others do not even see them (default member permissions: Administrator).
    with pytest.raises(InteractionError, match="Discord would not show them the command"):
        await harness.sandbox.invoke_slash("bob", "general", "reload", extension="late")


async def test_path_escaping_names_are_refused(harness: BotHarness) -> None:
    await harness.start(cooldowns=ROOMY)
    for name in ("../secrets", "/etc/passwd", "os.path", "..", "extensions/../x"):
        embed = await embed_of(harness, "operator", f"!load {name}")
        assert embed["title"].startswith("❌ Could not load"), name
        assert "is not an extension name" in embed["description"], name
        # The refusal names the one dotted form that is accepted, so it never contradicts itself.
        assert ".example')" in embed["description"], name
    harness.write_extension("greeter", GREETER)
    loaded = await embed_of(harness, "operator", f"!load {harness.extensions.name}.greeter")
    assert loaded["title"].startswith("✅"), loaded
    outside = await embed_of(harness, "operator", "!load os")
    assert "there is no extension 'os'" in outside["description"]
    assert "os" not in harness.bot.extensions  # type: ignore[union-attr]
    refused = await embed_of(harness, "alice", "!unload example")
    assert refused["description"] == "Only the bot owner can use `unload`."


async def test_sync_reports_the_difference_then_no_change(harness: BotHarness) -> None:
    harness.write_extension("greeter", GREETER)
    add_admin(harness)
    await harness.start(cooldowns=ROOMY)
    first = await embed_of(harness, "operator", "!sync")
    assert first["title"] == "✅ Slash commands synced"
    assert "`/hello`" in fields(first)["Added"] and fields(first)["Removed"] == "none"

    second = await embed_of(harness, "operator", "!sync")
    assert second["title"] == "🔄 No change to sync"
    assert "nothing was sent" in second["description"]
    syncs = [e for e in harness.sandbox.events if e.kind.name == "COMMANDS_SYNC"]
    assert len(syncs) == 1

    by_slash = await slash(harness, "operator", "sync")
    assert by_slash.embeds[0]["title"] == "🔄 No change to sync"
    guild_scope = await slash(harness, "operator", "sync", scope="guild")
    assert "guild" in guild_scope.embeds[0]["description"]
    refused = await embed_of(harness, "bob", "!sync")
    assert refused["description"] == "Only the bot owner can use `sync`."


async def test_atomictest_reports_each_check_with_timings(harness: BotHarness) -> None:
    add_admin(harness)
    bot = await harness.start()
    await bot.tree.sync()
    embed = await embed_of(harness, "operator", "!atomictest")
    assert embed["title"] == "✅ Atomic file test passed" and embed["color"] == Colour.SUCCESS
    lines = embed["description"].splitlines()
    assert [line.split("**")[1] for line in lines] == ["write", "read", "cache", "concurrency", "cleanup"]
    assert all(line.startswith("✅") and " ms): " in line for line in lines)
    assert "50 concurrent writes, file intact" in embed["description"]
    # The scratch folder next to the database is gone.
    leftovers = await asyncio.to_thread(lambda: list(harness.db_path.parent.glob("atomictest-*")))
    assert leftovers == []

    response = await slash(harness, "operator", "atomictest")
    assert response.embeds[0]["title"] == "✅ Atomic file test passed"
    refused = await slash(harness, "carol", "atomictest")
    assert (
        refused.ephemeral and refused.embeds[0]["description"] == "Only the bot owner can use `atomictest`."
    )


async def test_backup_by_prefix_and_slash_names_the_file_it_wrote(harness: BotHarness) -> None:
    add_admin(harness)
    bot = await harness.start(cooldowns=ROOMY)
    await bot.tree.sync()
    data = harness.db_path.parent

    def backups() -> list[str]:
        return sorted(path.name for path in data.glob("bot.db.backup_*"))

    before = backups()
    embed = await embed_of(harness, "operator", "!backup")
    written = [name for name in backups() if name not in before]
    assert len(written) == 1 and (data / written[0]).stat().st_size > 0
    assert embed["title"] == "✅ Database backed up" and embed["color"] == Colour.SUCCESS
    assert f"`{written[0]}`" in embed["description"]

    # The same action as the console's `b`: what bot.actions.backup() returns is what the reply shows.
    before = backups()
    response = await slash(harness, "operator", "backup")
    written = [name for name in backups() if name not in before]
    assert len(written) == 1 and f"`{written[0]}`" in response.embeds[0]["description"]

    refused = await embed_of(harness, "alice", "!backup")
    assert refused["description"] == "Only the bot owner can use `backup`."
    refused_slash = await slash(harness, "carol", "backup")
    assert refused_slash.ephemeral and refused_slash.embeds[0]["description"] == (
        "Only the bot owner can use `backup`."
    )


async def test_backup_failure_is_an_error_reply(harness: BotHarness) -> None:
    bot = await harness.start()
    await bot.db.close()  # closed under the bot's feet: the backup fails, and says why
    existing = sorted(harness.db_path.parent.glob("bot.db.backup_*"))  # close() took its own backup
    embed = await embed_of(harness, "operator", "!backup")
    assert embed["title"] == "❌ Backup failed" and embed["color"] == Colour.ERROR
    assert "is not open" in embed["description"]
    assert sorted(harness.db_path.parent.glob("bot.db.backup_*")) == existing


async def test_autoreload_on_and_off_saves_config_and_runs_the_watcher(harness: BotHarness) -> None:
    add_admin(harness)
    bot = await harness.start(cooldowns=ROOMY)
    await bot.tree.sync()

    def saved() -> object:
        return json.loads(harness.config_path.read_text(encoding="utf-8"))["auto_reload"]

    assert not bot.actions.watching and saved() is False
    on = await embed_of(harness, "operator", "!autoreload on")
    assert on["title"] == "✅ Auto-reload on" and "config.json" in on["description"]
    assert bot.actions.watching and saved() is True and bot.config.model.auto_reload is True

    off = await slash(harness, "operator", "autoreload", state="off")
    assert off.embeds[0]["title"] == "✅ Auto-reload off"
    assert not bot.actions.watching and saved() is False and bot.config.model.auto_reload is False

    # Only on or off; anyone but the owner is refused, and nothing changes.
    wrong = await embed_of(harness, "operator", "!autoreload maybe")
    assert wrong["title"] == "❌ Invalid argument" and "`on` or `off`" in wrong["description"]
    refused = await embed_of(harness, "alice", "!autoreload on")
    assert refused["description"] == "Only the bot owner can use `autoreload`."
    assert not bot.actions.watching and saved() is False
