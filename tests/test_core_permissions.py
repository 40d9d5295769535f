"""Permissions: one answer for prefix, slash and components; bot owners, guild owners, role rules.

End to end with the real discord.py client on the sandbox: "alice" has the Moderator role (Ban
Members...), "bob" has no role, "operator" owns the guild and the bot.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import discord
import pytest
from discord import app_commands
from discord.ext import commands

from tui_bot.core.checks import BOT_CHECKS, USER_CHECKS, allow_owners, identify_check, original_check
from tui_bot.core.permissions import can_use_command, check_interaction, ensure_can_use
from tui_bot.core.role_rules import MissingConfiguredRole

if TYPE_CHECKING:
    from conftest import BotHarness

PERMS = """
import discord
from discord import app_commands
from discord.ext import commands

from tui_bot.core.errors import interaction_allowed


class BanView(discord.ui.View):
    @discord.ui.button(label="Ban", custom_id="ban-button")
    async def ban(self, interaction, button):
        await interaction.response.send_message("banned", ephemeral=True)

    async def interaction_check(self, interaction):
        return await interaction_allowed(interaction, "ban")


def needs_message(ctx):
    return ctx.message.content is not None  # only answerable during a real invocation


class Perms(commands.Cog):
    @commands.command()
    @commands.has_permissions(ban_members=True)
    async def ban(self, ctx):
        await ctx.send("ban ok")

    @commands.command()
    @commands.bot_has_permissions(manage_roles=True)
    async def roles(self, ctx):
        await ctx.send("roles ok")

    @commands.command()
    @commands.has_role("Moderator")
    async def modonly(self, ctx):
        await ctx.send("modonly ok")

    @commands.command()
    @commands.is_owner()
    async def secret(self, ctx):
        await ctx.send("secret ok")

    @commands.command()
    @commands.guild_only()
    async def guildy(self, ctx):
        await ctx.send("guildy ok")

    @commands.command()
    @commands.check(needs_message)
    async def custom(self, ctx):
        await ctx.send("custom ok")

    @commands.command()
    @commands.cooldown(1, 60, commands.BucketType.user)
    async def once(self, ctx):
        await ctx.send("once ok")

    @commands.hybrid_command(description="Hybrid ban")
    @commands.has_permissions(ban_members=True)
    async def hban(self, ctx):
        await ctx.send("hban ok")

    @app_commands.command(description="Pure slash")
    async def pure(self, interaction):
        await interaction.response.send_message("pure ok")

    @app_commands.command(description="Pure with an app check")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def guildadmin(self, interaction):
        await interaction.response.send_message("guildadmin ok")

    @commands.group(invoke_without_command=True)
    async def cfg(self, ctx):
        await ctx.send("cfg ok")

    @cfg.command()
    async def show(self, ctx):
        await ctx.send("cfg show ok")

    @commands.command()
    async def menu(self, ctx):
        await ctx.send("menu", view=BanView(timeout=30))
        await ctx.send("menu ready")  # ctx.send returned: discord.py has registered the view


async def setup(bot):
    await bot.add_cog(Perms())
"""


async def say(harness: BotHarness, author: str, content: str) -> Any:
    """Send as ``author`` in #general and return the bot's next message."""
    await harness.sandbox.send_message(author, "general", content)
    return await harness.sandbox.wait_for_bot_message(timeout=10)


async def says(harness: BotHarness, author: str, content: str) -> str:
    return (await say(harness, author, content)).content


async def refusal(harness: BotHarness, author: str, content: str) -> str:
    """The description of the error embed a refused prefix command gets."""
    reply = await say(harness, author, content)
    assert reply.content == "" and len(reply.embeds) == 1, reply.content
    return reply.embeds[0]["description"]


async def slash(harness: BotHarness, author: str, name: str) -> Any:
    handle = await harness.sandbox.invoke_slash(author, "general", name)
    return await handle.response()


async def member(harness: BotHarness, name: str) -> discord.Member:
    """The member named ``name``, fetched over REST: by default the bot caches no other member."""
    assert harness.bot is not None
    return await harness.bot.guilds[0].fetch_member(harness.sandbox.world.find_user(name).id)


# --- recognising discord.py's checks ---------------------------------------------------------


def _checks(decorator: Any) -> list[Any]:
    @commands.command()
    async def probe(ctx: commands.Context) -> None: ...

    decorator(probe)
    return probe.checks


@pytest.mark.parametrize(
    ("decorator", "kind", "arguments"),
    [
        (commands.has_permissions(ban_members=True), "has_permissions", {"perms": {"ban_members": True}}),
        (
            commands.has_guild_permissions(manage_guild=True),
            "has_guild_permissions",
            {"perms": {"manage_guild": True}},
        ),
        (commands.has_role("Moderator"), "has_role", {"item": "Moderator"}),
        (commands.has_any_role("A", 5), "has_any_role", {"items": ("A", 5)}),
        (
            commands.bot_has_permissions(manage_roles=True),
            "bot_has_permissions",
            {"perms": {"manage_roles": True}},
        ),
        (commands.is_owner(), "is_owner", {}),
        (commands.guild_only(), "guild_only", {}),
    ],
)
def test_discord_py_checks_are_recognised_with_their_arguments(
    decorator: Any, kind: str, arguments: dict[str, Any]
) -> None:
    [predicate] = _checks(decorator)
    known = identify_check(predicate)
    assert known is not None and known.kind == kind and known.framework == "commands"
    assert known.arguments == arguments
    assert known.about_user == (kind in USER_CHECKS) and known.about_bot == (kind in BOT_CHECKS)


def test_app_command_checks_and_lookalikes() -> None:
    @app_commands.command(description="x")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def pure(interaction: discord.Interaction) -> None: ...

    known = identify_check(pure.checks[0])
    assert known is not None and known.framework == "app_commands" and known.kind == "has_permissions"

    # A user's own function that happens to be called "predicate" inside "has_permissions" is not one.
    def has_permissions(**perms: bool) -> Any:
        def predicate(ctx: Any) -> bool:
            return bool(perms)

        return predicate

    assert identify_check(has_permissions(x=True)) is None
    assert identify_check(lambda ctx: True) is None


def test_owner_bypass_wraps_user_checks_only_and_once() -> None:
    @commands.group()
    async def parent(ctx: commands.Context) -> None: ...

    @parent.command()
    @commands.has_role("Moderator")
    @commands.bot_has_permissions(manage_roles=True)
    @commands.is_owner()
    async def child(ctx: commands.Context) -> None: ...

    originals = list(child.checks)
    assert allow_owners(parent) == 1  # has_role only: bot_has_permissions and is_owner stay as they are
    assert allow_owners(parent) == 0  # idempotent
    kinds = {identify_check(check).kind: check for check in child.checks}  # type: ignore[union-attr]
    assert set(kinds) == {"has_role", "bot_has_permissions", "is_owner"}
    assert kinds["has_role"] not in originals and original_check(kinds["has_role"]) in originals
    assert kinds["bot_has_permissions"] in originals and kinds["is_owner"] in originals


# --- prefix commands ---------------------------------------------------------------------------


async def test_refusals_name_what_is_missing_and_bot_owners_pass_user_checks(harness: BotHarness) -> None:
    harness.write_extension("perms", PERMS)
    await harness.start()
    assert await says(harness, "alice", "!ban") == "ban ok"
    assert await refusal(harness, "bob", "!ban") == "You need the **Ban Members** permission to use `ban`."
    assert await refusal(harness, "bob", "!modonly") == "You need the **Moderator** role to use `modonly`."
    assert await refusal(harness, "alice", "!secret") == "Only the bot owner can use `secret`."
    bot_missing = await refusal(harness, "alice", "!roles")
    assert bot_missing.startswith("I need the **Manage Roles** permission here to run `roles`.")

    # bob becomes a bot owner (not the guild owner): user checks pass, the bot's own permissions don't.
    await harness.stop()
    bob_id = harness.sandbox.world.find_user("bob").id
    await harness.start(owner_ids=[bob_id])
    assert await says(harness, "bob", "!ban") == "ban ok"
    assert await says(harness, "bob", "!modonly") == "modonly ok"
    assert await says(harness, "bob", "!secret") == "secret ok"
    assert (await refusal(harness, "bob", "!roles")).startswith("I need the **Manage Roles** permission")
    assert (await slash_after_sync(harness, "bob", "guildadmin")).content == "guildadmin ok"
    assert (await slash(harness, "bob", "hban")).content == "hban ok"  # hybrid: the same wrapped check


async def slash_after_sync(harness: BotHarness, author: str, name: str) -> Any:
    assert harness.bot is not None
    assert (await harness.bot.actions.sync()).ok
    return await slash(harness, author, name)


async def test_role_rules_guild_owner_overrides_unrestricted_marker_and_subcommands(
    harness: BotHarness,
) -> None:
    world = harness.sandbox.world
    guild_model = next(iter(world.guilds.values()))
    harness.write_extension("perms", PERMS)
    bot = await harness.start(command_permissions={"cfg": ["Moderator"], "pure": ["Moderator"]})
    guild = bot.guilds[0]
    rules = bot.permission_rules

    # A subcommand without a rule of its own follows its parent's.
    assert "Moderator" in await refusal(harness, "bob", "!cfg show")
    assert await says(harness, "alice", "!cfg show") == "cfg show ok"

    # The guild can mark a command unrestricted although config.json restricts it ...
    await rules.set_unrestricted(guild.id, "cfg")
    assert await says(harness, "bob", "!cfg show") == "cfg show ok"
    everyone = guild.default_role
    await rules.add_role(guild.id, "pure", everyone.id)
    assert await rules.describe_rules(guild) == {"cfg": "everyone", "pure": ["@everyone"]}

    # ... which survives a restart (it is a row in command_permissions) ...
    await harness.stop()
    bot = await harness.start()
    assert await says(harness, "bob", "!cfg") == "cfg ok"
    assert await bot.permission_rules.rule_for(guild.id, "cfg show") == ("guild", None)

    # ... and clear() returns to config.json's default; adding a role replaces the marker.
    await bot.permission_rules.clear(guild.id, "cfg")
    assert await bot.permission_rules.describe_rules(guild) == {"cfg": ["Moderator"], "pure": ["@everyone"]}
    assert "Moderator" in await refusal(harness, "bob", "!cfg")
    await bot.permission_rules.set_unrestricted(guild.id, "cfg")
    await bot.permission_rules.add_role(guild.id, "cfg", everyone.id)
    assert await bot.permission_rules.guild_rules(guild.id) == {
        "cfg": [everyone.id],
        "pure": [everyone.id],
    }
    with pytest.raises(ValueError, match="marker"):
        await bot.permission_rules.add_role(guild.id, "cfg", 0)

    # The guild owner passes every role rule without being a bot owner.
    await harness.stop()
    guild_model.owner_id = world.find_user("bob").id
    bot = await harness.start()
    await bot.permission_rules.clear(guild.id, "cfg")
    assert not await bot.is_owner(await member(harness, "bob"))
    assert await says(harness, "bob", "!cfg show") == "cfg show ok"


# --- asking without invoking -------------------------------------------------------------------


async def test_can_use_command_answers_without_raising_or_using_cooldowns(harness: BotHarness) -> None:
    harness.write_extension("perms", PERMS)
    bot = await harness.start(command_permissions={"cfg": ["Moderator"]})
    guild = bot.guilds[0]
    general = discord.utils.get(guild.text_channels, name="general")
    alice, bob, operator = [await member(harness, name) for name in ("alice", "bob", "operator")]

    async def allowed(who: Any, name: str, where: Any = general, in_guild: Any = guild) -> bool:
        return await can_use_command(bot, who, in_guild, where, bot.get_command(name) or name)

    assert await allowed(alice, "ban") and not await allowed(bob, "ban")
    assert await allowed(alice, "modonly") and not await allowed(bob, "modonly")
    assert await allowed(operator, "secret") and not await allowed(alice, "secret")
    assert await allowed(alice, "roles")  # the bot's own permissions are the invocation's business
    assert await allowed(alice, "cfg show") and not await allowed(bob, "cfg show")
    assert await allowed(bob, "custom")  # a check that needs ctx.message gets the benefit of the doubt
    assert await allowed(bob, "hban") is False
    # Pure app commands: their app checks, role rules, by object or by name.
    assert await allowed(operator, "guildadmin") and not await allowed(alice, "guildadmin")
    assert await can_use_command(bot, bob, guild, general, "pure")
    # Outside a guild: guild_only holds for everyone, owners included.
    assert not await allowed(operator, "guildy", where=None, in_guild=None)
    assert await allowed(operator, "guildy")
    # A name that is no command (a button's action) is judged by the role rules alone.
    await bot.permission_rules.add_role(guild.id, "nuke-button", 42)
    assert not await can_use_command(bot, bob, guild, general, "nuke-button")
    assert await can_use_command(bot, operator, guild, general, "nuke-button")
    with pytest.raises(MissingConfiguredRole):
        await ensure_can_use(bot, bob, guild, general, "nuke-button")
    with pytest.raises(commands.MissingPermissions):
        await ensure_can_use(bot, bob, guild, general, "ban")

    # Asking never uses a cooldown: the command still runs once afterwards.
    for _ in range(5):
        assert await allowed(bob, "once")
    assert await says(harness, "bob", "!once") == "once ok"
    assert "cooldown" in await refusal(harness, "bob", "!once")


# --- slash commands and components -------------------------------------------------------------


async def test_slash_refusals_are_ephemeral_and_hybrids_run_the_prefix_checks(harness: BotHarness) -> None:
    harness.write_extension("perms", PERMS)
    bot = await harness.start(command_permissions={"pure": ["Moderator"]})
    result = await bot.actions.sync()
    assert result.ok and result.synced

    ok = await slash(harness, "alice", "hban")
    assert ok.content == "hban ok" and not ok.ephemeral
    refused = await slash(harness, "bob", "hban")
    assert refused.ephemeral and refused.embeds[0]["description"] == (
        "You need the **Ban Members** permission to use `hban`."
    )
    refused = await slash(harness, "bob", "pure")
    assert refused.ephemeral
    assert refused.embeds[0]["description"] == "You need one of these roles to use `pure`: Moderator."
    assert (await slash(harness, "alice", "pure")).content == "pure ok"
    refused = await slash(harness, "alice", "guildadmin")
    assert refused.ephemeral and "**Manage Server**" in refused.embeds[0]["description"]
    assert (await slash(harness, "operator", "guildadmin")).content == "guildadmin ok"
    # Refused invocations are not counted as uses.
    await bot.db.flush_stats()
    assert dict(await bot.db.get_command_stats()) == {"hban": 1, "pure": 1, "guildadmin": 1}


async def test_components_use_the_same_check_with_an_ephemeral_refusal(harness: BotHarness) -> None:
    harness.write_extension("perms", PERMS)
    await harness.start()
    menu = await say(harness, "alice", "!menu")
    assert (await harness.sandbox.wait_for_bot_message()).content == "menu ready"
    refused = await (await harness.sandbox.click_button("bob", menu, "ban-button")).response()
    assert refused.ephemeral
    assert refused.embeds[0]["description"] == "You need the **Ban Members** permission to use `ban`."
    clicked = await (await harness.sandbox.click_button("alice", menu, "ban-button")).response()
    assert clicked.content == "banned"


async def test_check_interaction_raises_the_prefix_exceptions(harness: BotHarness) -> None:
    harness.write_extension("perms", PERMS)
    bot = await harness.start(command_permissions={"cfg": ["Moderator"]})
    seen: list[Any] = []

    @bot.tree.command(description="Probe check_interaction")
    async def probe(interaction: discord.Interaction, command: str) -> None:
        try:
            seen.append(await check_interaction(interaction, command))
        except commands.CheckFailure as error:
            seen.append(error)
        await interaction.response.send_message("checked", ephemeral=True)

    await bot.actions.sync()
    for author, name in (("bob", "cfg"), ("bob", "ban"), ("alice", "ban"), ("operator", "secret")):
        await (await harness.sandbox.invoke_slash(author, "general", "probe", command=name)).response()
    assert isinstance(seen[0], MissingConfiguredRole) and seen[0].role_names == ["Moderator"]
    assert isinstance(seen[1], commands.MissingPermissions) and seen[1].missing_permissions == ["ban_members"]
    assert seen[2:] == [True, True]
