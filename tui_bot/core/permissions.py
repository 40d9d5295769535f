"""Role rules: which roles may run a command in a guild.

A guild's own rules (stored in the database, set with ``!config``) take precedence over the defaults
in config.json's ``command_permissions``, which name roles by name or id so one default fits every
guild. Rules are cached per guild after the first lookup: no query per message.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

import discord
from discord.ext import commands

from tui_bot.storage.database import Database


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

    def __init__(self, db: Database, defaults: Mapping[str, Sequence[RoleRef]]) -> None:
        self.db = db
        self.defaults = {name.lower(): tuple(roles) for name, roles in defaults.items()}
        self._guild_rules: dict[int, dict[str, list[int]]] = {}
        self._lock = asyncio.Lock()

    async def guild_rules(self, guild_id: int) -> dict[str, list[int]]:
        """The guild's own rules (command name -> role ids), loaded once and cached."""
        rules = self._guild_rules.get(guild_id)
        if rules is None:
            async with self._lock:
                rules = self._guild_rules.get(guild_id)
                if rules is None:
                    rules = await self.db.get_command_roles(guild_id)
                    self._guild_rules[guild_id] = rules
        return rules

    async def add_role(self, guild_id: int, command_name: str, role_id: int) -> None:
        """Allow ``role_id`` to run ``command_name`` in the guild (stored, then cached)."""
        await self.db.add_command_role(guild_id, command_name.lower(), role_id)
        self._guild_rules.pop(guild_id, None)

    async def clear(self, guild_id: int, command_name: str) -> None:
        """Remove the guild's rule for ``command_name``."""
        await self.db.clear_command_roles(guild_id, command_name.lower())
        self._guild_rules.pop(guild_id, None)

    async def required_roles(self, guild: discord.Guild, command_name: str) -> list[RoleRef] | None:
        """The role references that may run the command in ``guild``; None when unrestricted."""
        name = command_name.lower()
        own = (await self.guild_rules(guild.id)).get(name)
        if own:
            return list(own)
        default = self.defaults.get(name)
        return list(default) if default else None

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
            role = (
                guild.get_role(ref)
                if isinstance(ref, int)
                else discord.utils.find(lambda r, ref=ref: r.name.casefold() == ref.casefold(), guild.roles)
            )
            names.append(role.name if role else str(ref))
        return names


async def role_rule_check(ctx: commands.Context) -> bool:
    """The bot-wide check: bot owner, then guild owner, then the guild's role rules.

    Raises MissingConfiguredRole when a rule exists and the member satisfies none of it. Discord
    permission checks declared on the command (``has_permissions``) run after this, as usual.
    """
    bot = ctx.bot
    if await bot.is_owner(ctx.author):
        return True
    if ctx.guild is None or ctx.command is None or not isinstance(ctx.author, discord.Member):
        return True
    if ctx.guild.owner_id == ctx.author.id:
        return True
    rules: PermissionRules = bot.permission_rules
    refs = await rules.required_roles(ctx.guild, ctx.command.qualified_name)
    if refs is None or rules.member_has_any(ctx.author, refs):
        return True
    raise MissingConfiguredRole(ctx.command.qualified_name, rules.describe(ctx.guild, refs))
