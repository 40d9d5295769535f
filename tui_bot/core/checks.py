"""Recognising discord.py's built-in checks on a command, and letting bot owners through the user ones.

discord.py's check decorators (``commands.has_permissions`` and friends, ``app_commands.checks.*``)
append a closure named ``<decorator>.<locals>.predicate`` to ``command.checks``. The closure's
qualified name and module say which decorator made it, and its free variables hold the arguments
(``perms``, ``item``, ``items``). That is stable across discord.py 2.x and needs no private API.

Bot owners may run everything: the checks about the *user* (permissions, roles) are wrapped so owners
pass them. The checks about the *bot* (``bot_has_permissions``...) are left alone: if the bot lacks a
permission, Discord would refuse the action anyway. ``is_owner`` needs no wrapping.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

log = logging.getLogger("tui_bot.permissions")

EXT_MODULE = "discord.ext.commands.core"
APP_MODULE = "discord.app_commands.checks"

# Checks about the invoking user: bot owners pass these.
USER_CHECKS = frozenset({"has_permissions", "has_guild_permissions", "has_role", "has_any_role"})
# Checks about the bot itself: nobody bypasses these.
BOT_CHECKS = frozenset(
    {"bot_has_permissions", "bot_has_guild_permissions", "bot_has_role", "bot_has_any_role"}
)
# Checks about where the command runs: they hold for everyone, owners included.
CONTEXT_CHECKS = frozenset({"guild_only", "dm_only", "is_nsfw"})

_ORIGINAL = "__tui_original_check__"

# A command of either framework: prefix/hybrid, or app (slash, context menu, group).
AnyCommand = (
    commands.Command[Any, ..., Any]
    | app_commands.Command[Any, ..., Any]
    | app_commands.ContextMenu
    | app_commands.Group
)


@dataclass(frozen=True)
class KnownCheck:
    """A discord.py built-in check found on a command: which decorator made it, and its arguments."""

    kind: str
    framework: Literal["commands", "app_commands"]
    arguments: dict[str, Any] = field(default_factory=dict)

    @property
    def about_user(self) -> bool:
        return self.kind in USER_CHECKS

    @property
    def about_bot(self) -> bool:
        return self.kind in BOT_CHECKS


def original_check(predicate: Callable[..., Any]) -> Callable[..., Any]:
    """The predicate under an owner-bypass wrapper (itself when it is not wrapped)."""
    return getattr(predicate, _ORIGINAL, predicate)


def identify_check(predicate: Callable[..., Any]) -> KnownCheck | None:
    """Which discord.py built-in made ``predicate`` (looking through owner-bypass wrappers), or None."""
    function = original_check(predicate)
    module = getattr(function, "__module__", None)
    if module == EXT_MODULE:
        framework: Literal["commands", "app_commands"] = "commands"
    elif module == APP_MODULE:
        framework = "app_commands"
    else:
        return None
    head, marker, tail = getattr(function, "__qualname__", "").partition(".<locals>.")
    if not marker or tail != "predicate" or "." in head:
        return None
    code = getattr(function, "__code__", None)
    cells = getattr(function, "__closure__", None) or ()
    names = code.co_freevars if code is not None else ()
    arguments = {}
    for name, cell in zip(names, cells, strict=False):
        try:
            arguments[name] = cell.cell_contents
        except ValueError:  # an empty cell
            continue
    return KnownCheck(head, framework, arguments)


def _owner_bypass(predicate: Callable[..., Any]) -> Callable[..., Any]:
    async def owner_or_check(ctx_or_interaction: commands.Context[Any] | discord.Interaction) -> bool:
        if isinstance(ctx_or_interaction, discord.Interaction):
            bot, user = ctx_or_interaction.client, ctx_or_interaction.user
        else:
            bot, user = ctx_or_interaction.bot, ctx_or_interaction.author
        is_owner = getattr(bot, "is_owner", None)
        if is_owner is not None and await is_owner(user):
            return True
        return await discord.utils.maybe_coroutine(predicate, ctx_or_interaction)

    setattr(owner_or_check, _ORIGINAL, predicate)
    owner_or_check.__qualname__ = f"owner_or_check[{getattr(predicate, '__qualname__', '?')}]"
    return owner_or_check


def _command_tree(command: AnyCommand) -> Iterator[AnyCommand]:
    yield command
    walk = getattr(command, "walk_commands", None)
    if walk is not None:
        yield from walk()


def allow_owners(command: AnyCommand) -> int:
    """Wrap the user checks of ``command`` and its subcommands so bot owners pass them.

    Idempotent (an already wrapped check is left as it is). Works for prefix/hybrid commands, whose
    checks take a Context, and for app commands, whose checks take an Interaction. Returns how many
    checks were wrapped.
    """
    wrapped = 0
    for target in _command_tree(command):
        checks = getattr(target, "checks", None)
        if not checks:
            continue
        for index, predicate in enumerate(checks):
            if hasattr(predicate, _ORIGINAL):
                continue
            known = identify_check(predicate)
            if known is not None and known.about_user:
                checks[index] = _owner_bypass(predicate)
                wrapped += 1
    return wrapped
