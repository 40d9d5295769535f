"""The role rules: which roles may run a command in a guild, stored per guild over config.json defaults.

A guild's own rules (stored in the database, set with ``!config``) take precedence over the defaults in
config.json's ``command_permissions``, which name roles by name or id so one default fits every guild; a
guild can also mark a command explicitly unrestricted (role id 0 in ``command_permissions``) even when
config.json has a default for it. A subcommand without a rule of its own follows its parent's. Rules are
cached per guild after the first lookup: no query per message.

:func:`check_role_rules` applies them, after the bot owner and the guild owner (who pass every rule);
:mod:`tui_bot.core.permissions` puts this step in the whole "may this member run it" answer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Literal

import discord
from discord.ext import commands

if TYPE_CHECKING:
    from tui_bot.core.bot import TuiBot
    from tui_bot.storage.base import BotDatabase

log = logging.getLogger("tui_bot.permissions")  # one logger for the whole permission answer

# The role id stored in ``command_permissions`` to mean "anyone may use it in this guild".
UNRESTRICTED = 0


class MissingConfiguredRole(commands.CheckFailure):
    """The member has none of the roles this guild requires for the command."""

    def __init__(self, command_name: str, role_names: Sequence[str]) -> None:
        self.command_name = command_name
        self.role_names = list(role_names)
        roles = ", ".join(role_names) or "(a role that no longer exists)"
        super().__init__(f"You need one of these roles to use `{command_name}`: {roles}.")


RoleRef = str | int


class PermissionRules:
    """Per-guild role rules over config.json defaults, cached in memory."""

    def __init__(self, db: BotDatabase, defaults: Mapping[str, Sequence[RoleRef]]) -> None:
        self.db = db
        self.defaults = {name.lower(): tuple(roles) for name, roles in defaults.items()}
        self._guild_rules: dict[int, dict[str, list[int]]] = {}
        self._lock = asyncio.Lock()

    async def guild_rules(self, guild_id: int) -> dict[str, list[int]]:
        """The guild's own rules (command -> role ids; ``[0]`` = unrestricted), loaded once and cached."""
        rules = self._guild_rules.get(guild_id)
        if rules is None:
            async with self._lock:
                rules = self._guild_rules.get(guild_id)
                if rules is None:
                    rules = await self.db.get_command_roles(guild_id)
                    self._guild_rules[guild_id] = rules
        return rules

    def forget(self, guild_id: int | None) -> None:
        """Drop the cached rules of one guild (None: of every guild): the next lookup reads the database.

        Called when the rules changed elsewhere (another cluster worker, a script using ``bot.db``)."""
        if guild_id is None:
            self._guild_rules.clear()
        else:
            self._guild_rules.pop(guild_id, None)

    async def add_role(self, guild_id: int, command_name: str, role_id: int) -> None:
        """Allow ``role_id`` to run ``command_name`` in the guild (stored, then cached).

        Adding a role to a command marked unrestricted replaces the marker: the command is then
        restricted to the roles added.
        """
        name = command_name.lower()
        if role_id == UNRESTRICTED:
            raise ValueError("role id 0 is the 'unrestricted' marker; use set_unrestricted()")
        if (await self.guild_rules(guild_id)).get(name) == [UNRESTRICTED]:
            await self.db.clear_command_roles(guild_id, name)
        await self.db.add_command_role(guild_id, name, role_id)
        self._guild_rules.pop(guild_id, None)

    async def clear(self, guild_id: int, command_name: str) -> None:
        """Remove the guild's rule for ``command_name``: config.json's default (if any) applies again."""
        await self.db.clear_command_roles(guild_id, command_name.lower())
        self._guild_rules.pop(guild_id, None)

    async def set_unrestricted(self, guild_id: int, command_name: str) -> None:
        """Let everyone run ``command_name`` in the guild, whatever config.json's default says."""
        name = command_name.lower()
        await self.db.clear_command_roles(guild_id, name)
        await self.db.add_command_role(guild_id, name, UNRESTRICTED)
        self._guild_rules.pop(guild_id, None)

    async def rule_for(self, guild_id: int, command_name: str) -> tuple[str, list[RoleRef] | None]:
        """The rule in force and where it comes from: ``("guild"|"default"|"none", roles or None)``.

        A subcommand (``"config prefix"``) without a rule of its own follows its parent's (``"config"``).
        """
        own_rules = await self.guild_rules(guild_id)
        if not own_rules and not self.defaults:
            return "none", None  # the common case, on every command: no rule anywhere
        parts = command_name.lower().split()
        while parts:
            name = " ".join(parts)
            own = own_rules.get(name)
            if own:
                if UNRESTRICTED in own:
                    return "guild", None
                return "guild", list(own)
            default = self.defaults.get(name)
            if default:
                return "default", list(default)
            parts.pop()
        return "none", None

    async def required_roles(self, guild: discord.Guild, command_name: str) -> list[RoleRef] | None:
        """The role references that may run the command in ``guild``; None when unrestricted."""
        return (await self.rule_for(guild.id, command_name))[1]

    async def describe_rules(self, guild: discord.Guild) -> dict[str, list[str] | Literal["everyone"]]:
        """Every command with a rule in ``guild`` -> the role names allowed, or ``"everyone"`` for an
        explicit unrestricted marker. Guild rules replace config.json defaults. Sorted by command."""
        own_rules = await self.guild_rules(guild.id)
        described: dict[str, list[str] | Literal["everyone"]] = {}
        for name in sorted(set(own_rules) | set(self.defaults)):
            own = own_rules.get(name)
            if own and UNRESTRICTED in own:
                described[name] = "everyone"
            elif own:
                described[name] = self.describe(guild, own)
            else:
                described[name] = self.describe(guild, self.defaults[name])
        return described

    @staticmethod
    def member_has_any(member: discord.Member, refs: Sequence[RoleRef]) -> bool:
        """Whether the member holds a role named or numbered in ``refs`` (names match case-insensitively)."""
        ids = {ref for ref in refs if isinstance(ref, int)}
        names = {ref.casefold() for ref in refs if isinstance(ref, str)}
        return any(role.id in ids or role.name.casefold() in names for role in member.roles)

    @staticmethod
    def describe(guild: discord.Guild, refs: Sequence[RoleRef]) -> list[str]:
        """Readable role names for a refusal message."""
        names = []
        for ref in refs:
            role = guild.get_role(ref) if isinstance(ref, int) else _role_named(guild, ref)
            names.append(role.name if role else str(ref))
        return names


def _role_named(guild: discord.Guild, name: str) -> discord.Role | None:
    """The guild's first role called ``name``, compared case-insensitively."""
    folded = name.casefold()
    return next((role for role in guild.roles if role.name.casefold() == folded), None)


async def resolve_member(guild: discord.Guild, user: discord.abc.User) -> discord.Member | None:
    """``user`` as a member of ``guild``: the object itself, the cache, else one REST fetch.

    Messages and interactions bring their author's member (with roles), so the fetch only happens for a
    bare ``discord.User`` whose member discord.py does not cache (the default ``cache.members``). None
    when they are not in the guild or Discord cannot be asked.
    """
    if isinstance(user, discord.Member) and user.guild.id == guild.id:
        return user
    cached = guild.get_member(user.id)
    if cached is not None:
        return cached
    try:
        return await guild.fetch_member(user.id)
    except discord.NotFound:
        return None
    except (discord.HTTPException, ConnectionError) as error:
        log.warning("Could not fetch member %s of guild %s: %s", user.id, guild.id, error)
        return None


async def check_role_rules(
    bot: TuiBot, user: discord.abc.User, guild: discord.Guild | None, name: str
) -> None:
    """Bot owner, then guild owner, then the guild's role rules for command ``name``.

    Raises MissingConfiguredRole when a rule exists and the member satisfies none of it.
    """
    if guild is None or await bot.is_owner(user) or guild.owner_id == user.id:
        return
    rules = bot.permission_rules
    refs = await rules.required_roles(guild, name)
    if refs is None:
        return
    # Only now, with a rule to apply, is the member's role list needed (fetched if not at hand).
    member = await resolve_member(guild, user)
    if member is not None and rules.member_has_any(member, refs):
        return
    raise MissingConfiguredRole(name, rules.describe(guild, refs))


async def role_rule_check(ctx: commands.Context[TuiBot]) -> bool:
    """The bot-wide check of prefix and hybrid commands: owners, then the guild's role rules.

    Discord permission checks declared on the command (``has_permissions``) run after this, as usual.
    """
    if ctx.command is None:
        return True
    await check_role_rules(ctx.bot, ctx.author, ctx.guild, ctx.command.qualified_name)
    return True
