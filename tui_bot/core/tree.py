"""The bot's ``app_commands.CommandTree``: role rules, owner bypass, shutdown and metrics for slash.

Hybrid commands used as slash commands already run discord.py's ``commands`` checks (the bot-wide role
rule check included), so the tree applies the framework's role rules only to pure app commands.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands
from discord.utils import MISSING

from tui_bot.core.checks import allow_owners
from tui_bot.core.cooldowns import install_app_cooldowns
from tui_bot.core.errors import RefusedByRules
from tui_bot.core.replies import send_interaction_reply
from tui_bot.core.responses import warning_embed
from tui_bot.core.role_rules import check_role_rules

if TYPE_CHECKING:
    from tui_bot.core.bot import TuiBot

log = logging.getLogger("tui_bot.tree")


def is_hybrid(command: object) -> bool:
    """Whether an app command is the slash side of a ``commands.hybrid_command``/``hybrid_group``."""
    return isinstance(getattr(command, "wrapped", None), commands.Command)


class TuiTree(app_commands.CommandTree["TuiBot"]):
    """A ``CommandTree`` that applies the framework's rules to every app command interaction.

    The tree of a ``TuiBot`` (its ``tree_cls``): it reads the bot's lifecycle and error handler.
    """

    def add_command(
        self,
        command: app_commands.Command[Any, ..., Any] | app_commands.ContextMenu | app_commands.Group,
        /,
        *,
        guild: discord.abc.Snowflake | None = MISSING,
        guilds: Sequence[discord.abc.Snowflake] = MISSING,
        override: bool = False,
    ) -> None:
        super().add_command(command, guild=guild, guilds=guilds, override=override)
        allow_owners(command)  # bot owners pass app_commands.checks.has_permissions & co.
        install_app_cooldowns(command)  # O(1) bucket tables, not discord.py's scan of every bucket

    async def interaction_check(self, interaction: discord.Interaction[TuiBot], /) -> bool:
        bot = self.client
        accepting = bot.lifecycle.accepting
        if interaction.type is discord.InteractionType.autocomplete:
            return accepting  # suggestions only; the invocation itself is checked
        if not accepting:
            await send_interaction_reply(
                interaction,
                embed=warning_embed("Shutting down", "The bot is shutting down; try again in a moment."),
                kind="error",
            )
            return False
        command = interaction.command
        if command is None or is_hybrid(command):
            return True
        try:
            await check_role_rules(bot, interaction.user, interaction.guild, command.qualified_name)
        except commands.CheckFailure as error:
            raise RefusedByRules(error) from error
        return True

    async def _call(self, interaction: discord.Interaction[TuiBot]) -> None:
        # Every slash invocation (pure or hybrid) passes here: track it for the graceful shutdown, its
        # latency and its usage count. discord.py calls _call from _from_interaction; if a future
        # version stops doing so, slash commands still work, just untracked.
        lifecycle = self.client.lifecycle
        if (
            not lifecycle.accepting  # interaction_check answers "shutting down"; nothing to wait for
            or interaction.type is not discord.InteractionType.application_command
        ):
            await super()._call(interaction)
            return
        name = getattr(interaction.command, "qualified_name", None)
        started = lifecycle.begin()
        ok = False
        try:
            # An error raised here (a refusal by interaction_check) is dispatched by discord.py after
            # this returns, so the invocation stays "not ok" unless _call returns normally.
            await super()._call(interaction)
            ok = not interaction.command_failed
        except asyncio.CancelledError:
            # Cancelled by the shutdown after its drain: if the user already had the answer, it was a use.
            ok = interaction.response.is_done() and not interaction.command_failed
            raise
        finally:
            await lifecycle.end(started, name, ok)

    async def on_error(
        self, interaction: discord.Interaction[TuiBot], error: app_commands.AppCommandError, /
    ) -> None:
        await self.client.error_handler.on_app_command_error(interaction, error)
