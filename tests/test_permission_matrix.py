"""The whole permission matrix, end to end through the sandbox with the real discord.py client:

who      x  bot owner (operator), guild owner (carol), member with the configured role (alice,
            Moderator), plain member (bob)
what     x  an owner-only command, a role-gated command (config.json ``command_permissions``), a
            command needing a Discord permission (Manage Server)
how      x  prefix (``!cmd``), slash (``/cmd``), a button (component) running the same check

In this world the bot owner does not own the guild and the guild owner does not own the bot, so each
rung of the hierarchy is seen on its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tui_bot.sandbox.world import Member, User

if TYPE_CHECKING:
    from conftest import BotHarness

MATRIX_EXTENSION = """
import discord
from discord.ext import commands

from tui_bot.core.errors import interaction_allowed

NAMES = ("ownercmd", "gated", "permcmd")


class MatrixView(discord.ui.View):
    def __init__(self):
        super().__init__(timeout=60)
        for name in NAMES:
            button = discord.ui.Button(label=name, custom_id=f"run:{name}")
            button.callback = self.ran
            self.add_item(button)

    async def interaction_check(self, interaction):
        # The same check prefix and slash commands get, for the command the button stands for.
        return await interaction_allowed(interaction, interaction.data["custom_id"].split(":")[1])

    async def ran(self, interaction):
        await interaction.response.send_message(interaction.data["custom_id"].split(":")[1] + " ran")


class Matrix(commands.Cog):
    @commands.hybrid_command(description="Owner only")
    @commands.is_owner()
    async def ownercmd(self, ctx):
        await ctx.send("ownercmd ran")

    @commands.hybrid_command(description="Gated by config.json to Moderator")
    async def gated(self, ctx):
        await ctx.send("gated ran")

    @commands.hybrid_command(description="Needs Manage Server")
    @commands.has_permissions(manage_guild=True)
    async def permcmd(self, ctx):
        await ctx.send("permcmd ran")

    @commands.command()
    async def panel(self, ctx):
        await ctx.send("panel", view=MatrixView())
        await ctx.send("panel ready")  # sent after the view is registered: clicks now reach it


async def setup(bot):
    await bot.add_cog(Matrix())
"""

WHO = ("operator", "carol", "alice", "bob")
COMMANDS = ("ownercmd", "gated", "permcmd")
# Who may run what: the hierarchy bot owner > guild owner > role rules > Discord permissions.
ALLOWED = {
    "operator": {"ownercmd", "gated", "permcmd"},  # the bot owner passes everything
    "carol": {"gated", "permcmd"},  # the guild owner: every role rule, and has every permission
    "alice": {"gated"},  # Moderator: the role rule, but not Manage Server
    "bob": set(),
}
REFUSALS = {
    "ownercmd": "Only the bot owner can use `ownercmd`.",
    "gated": "You need one of these roles to use `gated`: Moderator.",
    "permcmd": "You need the **Manage Server** permission to use `permcmd`.",
}


async def start_matrix_bot(harness: BotHarness) -> None:
    world = harness.sandbox.world
    guild = next(iter(world.guilds.values()))
    carol = User(world.snowflakes(), "carol", "Carol")
    world.users[carol.id] = carol
    guild.members[carol.id] = Member(carol)
    guild.owner_id = carol.id  # the operator still owns the bot, not the guild
    harness.write_extension("matrix", MATRIX_EXTENSION)
    bot = await harness.start(command_permissions={"gated": ["Moderator"]})
    carol_member = await bot.guilds[0].fetch_member(carol.id)  # not cached: the bot keeps no member list
    assert bot.guilds[0].owner_id == carol.id and await bot.is_owner(carol_member) is False


def expected(who: str, command: str) -> str:
    return f"{command} ran" if command in ALLOWED[who] else REFUSALS[command]


async def test_prefix_path(harness: BotHarness) -> None:
    await start_matrix_bot(harness)
    sb = harness.sandbox
    seen = {}
    for who in WHO:
        for command in COMMANDS:
            await sb.send_message(who, "general", f"!{command}")
            reply = await sb.wait_for_bot_message(timeout=10)
            seen[who, command] = reply.content or reply.embeds[0]["description"]
    assert seen == {(who, command): expected(who, command) for who in WHO for command in COMMANDS}


async def test_slash_path_refusals_are_ephemeral(harness: BotHarness) -> None:
    await start_matrix_bot(harness)
    sb, bot = harness.sandbox, harness.bot
    assert bot is not None
    await bot.tree.sync()
    seen = {}
    for who in WHO:
        for command in COMMANDS:
            response = await (await sb.invoke_slash(who, "general", command)).response()
            allowed = command in ALLOWED[who]
            assert response.ephemeral is not allowed, (who, command)
            seen[who, command] = response.content or response.embeds[0]["description"]
    assert seen == {(who, command): expected(who, command) for who in WHO for command in COMMANDS}


async def test_component_path_refusals_are_ephemeral(harness: BotHarness) -> None:
    await start_matrix_bot(harness)
    sb = harness.sandbox
    await sb.send_message("operator", "general", "!panel")
    panel = await sb.wait_for_bot_message(timeout=10, check=lambda m: m.content == "panel")
    await sb.wait_for_bot_message(timeout=10, check=lambda m: m.content == "panel ready")
    seen = {}
    for who in WHO:
        for command in COMMANDS:
            response = await (await sb.click_button(who, panel, f"run:{command}")).response()
            assert response.ephemeral is (command not in ALLOWED[who]), (who, command)
            seen[who, command] = response.content or response.embeds[0]["description"]
    assert seen == {(who, command): expected(who, command) for who in WHO for command in COMMANDS}


@pytest.mark.parametrize("who", ["alice", "bob"])
async def test_a_refused_member_stays_refused_after_a_rule_change_elsewhere(
    harness: BotHarness, who: str
) -> None:
    """Opening ``gated`` to everyone with ``!config`` (by the guild owner) is what lets bob in."""
    await start_matrix_bot(harness)
    sb = harness.sandbox
    await sb.send_message("carol", "general", "!config gated none")
    confirmation = await sb.wait_for_bot_message(timeout=10)
    assert confirmation.embeds[0]["title"] == "✅ Permission updated"
    await sb.send_message(who, "general", "!gated")
    assert (await sb.wait_for_bot_message(timeout=10)).content == "gated ran"
    await sb.send_message(who, "general", "!ownercmd")
    assert (await sb.wait_for_bot_message(timeout=10)).embeds[0]["description"] == REFUSALS["ownercmd"]
