"""Who may run a command: one answer for prefix commands, slash commands and components.

The order, for everyone: a disabled command runs for nobody; ``guild_only``/``dm_only`` hold for
everyone. Then bot owners may run everything (they also pass the command's user permission checks,
see ``checks.allow_owners``). Then the guild owner passes every role rule. Then role rules: a guild's
own rules (stored in the database, set with ``!config``) take precedence over the defaults in
config.json's ``command_permissions``, which name roles by name or id so one default fits every guild;
a guild can also mark a command explicitly unrestricted (role id 0 in ``command_permissions``) even
when config.json has a default for it. A subcommand without a rule of its own follows its parent's.
Rules are cached per guild after the first lookup: no query per message.

Then the command's own checks (``has_permissions`` and friends, cog checks, global checks).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from tui_bot.core.checks import identify_check, original_check

if TYPE_CHECKING:
    from tui_bot.storage.database import Database

log = logging.getLogger("tui_bot.permissions")

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

    def __init__(self, db: Database, defaults: Mapping[str, Sequence[RoleRef]]) -> None:
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
            role = (
                guild.get_role(ref)
                if isinstance(ref, int)
                else discord.utils.find(lambda r, ref=ref: r.name.casefold() == ref.casefold(), guild.roles)
            )
            names.append(role.name if role else str(ref))
        return names


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


async def check_role_rules(bot: Any, user: discord.abc.User, guild: discord.Guild | None, name: str) -> None:
    """Bot owner, then guild owner, then the guild's role rules for command ``name``.

    Raises MissingConfiguredRole when a rule exists and the member satisfies none of it.
    """
    if guild is None or await bot.is_owner(user) or guild.owner_id == user.id:
        return
    rules: PermissionRules = bot.permission_rules
    refs = await rules.required_roles(guild, name)
    if refs is None:
        return
    # Only now, with a rule to apply, is the member's role list needed (fetched if not at hand).
    member = await resolve_member(guild, user)
    if member is not None and rules.member_has_any(member, refs):
        return
    raise MissingConfiguredRole(name, rules.describe(guild, refs))


async def role_rule_check(ctx: commands.Context) -> bool:
    """The bot-wide check of prefix and hybrid commands: owners, then the guild's role rules.

    Discord permission checks declared on the command (``has_permissions``) run after this, as usual.
    """
    if ctx.command is None:
        return True
    await check_role_rules(ctx.bot, ctx.author, ctx.guild, ctx.command.qualified_name)
    return True


# ---------------------------------------------------------------------------------------------
# Answering "may this user run this command?" without invoking it (help menu, components, slash).

AnyCommand = commands.Command | app_commands.Command | app_commands.ContextMenu | app_commands.Group


class _Probe:
    """Stands in for a ``commands.Context`` and a ``discord.Interaction`` so that checks can be asked
    about a user, a guild and a channel without an invocation (nothing is sent, no cooldown used)."""

    def __init__(self, bot: Any, user: Any, guild: Any, channel: Any, command: Any) -> None:
        self.bot = self.client = bot
        self.author = self.user = user
        self.guild = guild
        self.guild_id = guild.id if guild is not None else None
        self.channel = channel
        self.command = command
        self.cog = getattr(command, "cog", None) or getattr(command, "binding", None)
        self.me = guild.me if guild is not None else bot.user
        self.message = self.interaction = self.prefix = self.invoked_with = None

    def _for(self, who: Any) -> discord.Permissions:
        if self.guild is None or who is None:
            return discord.Permissions._dm_permissions()
        if isinstance(self.channel, discord.abc.GuildChannel):
            return self.channel.permissions_for(who)
        return who.guild_permissions

    @property
    def permissions(self) -> discord.Permissions:
        return self._for(self.author if isinstance(self.author, discord.Member) else None)

    @property
    def bot_permissions(self) -> discord.Permissions:
        return self._for(self.me)

    app_permissions = bot_permissions


_APP_TO_EXT: dict[type[Exception], Any] = {
    app_commands.MissingPermissions: lambda e: commands.MissingPermissions(e.missing_permissions),
    app_commands.BotMissingPermissions: lambda e: commands.BotMissingPermissions(e.missing_permissions),
    app_commands.MissingRole: lambda e: commands.MissingRole(e.missing_role),
    app_commands.MissingAnyRole: lambda e: commands.MissingAnyRole(e.missing_roles),
    app_commands.NoPrivateMessage: lambda e: commands.NoPrivateMessage(str(e)),
}


def as_ext_failure(error: app_commands.CheckFailure) -> commands.CheckFailure:
    """The ``commands`` exception matching an ``app_commands`` check failure (one family for callers)."""
    convert = _APP_TO_EXT.get(type(error))
    return convert(error) if convert else commands.CheckFailure(str(error))


async def _run_check(predicate: Any, probe: _Probe, name: str) -> None:
    try:
        passed = await discord.utils.maybe_coroutine(predicate, probe)
    except commands.CheckFailure:
        raise
    except app_commands.CheckFailure as error:
        raise as_ext_failure(error) from error
    except (AttributeError, TypeError) as error:
        # A custom check that needs a real invocation (ctx.message...): it decides at invocation time.
        log.debug("Check %r of %s cannot be evaluated ahead of invocation: %s", predicate, name, error)
        return
    if not passed:
        raise commands.CheckFailure(f"You cannot use `{name}` here.")


def _command_chain(command: Any) -> list[Any]:
    chain = [command]
    parent = getattr(command, "parent", None)
    while parent is not None:
        chain.append(parent)
        parent = getattr(parent, "parent", None)
    return list(reversed(chain))


def _resolve_command(bot: Any, command: AnyCommand | str, guild: discord.Guild | None) -> AnyCommand | None:
    if not isinstance(command, str):
        return command
    found = bot.get_command(command)
    if found is None:
        found = bot.tree.get_command(command, guild=guild) if guild is not None else None
        found = found or bot.tree.get_command(command)
    return found


async def ensure_can_use(
    bot: Any,
    user: discord.abc.User,
    guild: discord.Guild | None,
    channel: Any,
    command: AnyCommand | str,
) -> None:
    """Raise the ``commands.CheckFailure`` subclass an invocation would raise, or return if allowed.

    ``command`` is a command object or its qualified name; a name that matches no command (a button's
    action, say) is judged by the owner hierarchy and role rules alone. Checks about the bot itself
    (``bot_has_permissions``) and cooldowns are not evaluated: they are about the invocation, not the
    user. Custom checks that need a real invocation (``ctx.message``) are given the benefit of the doubt.
    """
    resolved = _resolve_command(bot, command, guild)
    name = command if isinstance(command, str) else command.qualified_name
    if resolved is None:
        await check_role_rules(bot, user, guild, name)
        return
    name = resolved.qualified_name
    chain = _command_chain(resolved)
    probe = _Probe(bot, user, guild, channel, resolved)
    if guild is not None and not isinstance(user, discord.Member):
        # Permission checks need the member's roles; callers asking about many commands (the help
        # menu) pass the member they already have, so this fetch is once per question at most.
        probe.author = probe.user = await resolve_member(guild, user) or user

    # Everyone, owners included: disabled commands and where the command may run.
    for part in chain:
        if getattr(part, "enabled", True) is False:
            raise commands.DisabledCommand(f"{part.name} command is disabled")
        if guild is None and getattr(part, "guild_only", False) is True:
            raise commands.NoPrivateMessage()
    checks = [(part, predicate) for part in chain for predicate in getattr(part, "checks", ())]
    for _part, predicate in checks:
        known = identify_check(predicate)
        if known is not None and known.kind in ("guild_only", "dm_only", "is_nsfw"):
            await _run_check(original_check(predicate), probe, name)

    if await bot.is_owner(user):
        return
    await check_role_rules(bot, probe.author, guild, name)

    if isinstance(resolved, commands.Command):
        for check in [*getattr(bot, "_check_once", ()), *getattr(bot, "_checks", ())]:
            if check is not role_rule_check:
                await _run_check(check, probe, name)
        cog = resolved.cog
        if cog is not None:
            local = commands.Cog._get_overridden_method(cog.cog_check)
            if local is not None:
                await _run_check(local, probe, name)
    else:
        await _check_default_permissions(resolved, probe, name)

    for _part, predicate in checks:
        known = identify_check(predicate)
        if known is not None and (known.about_bot or known.kind in ("guild_only", "dm_only", "is_nsfw")):
            continue
        await _run_check(original_check(predicate), probe, name)


async def _check_default_permissions(command: Any, probe: _Probe, name: str) -> None:
    # Discord itself hides an app command from members without its default_member_permissions.
    required: discord.Permissions | None = None
    for part in _command_chain(command):
        required = getattr(part, "default_permissions", None) or required
    if required is None or probe.guild is None:
        return
    have = probe.permissions
    if have.administrator:
        return
    missing = [perm for perm, value in required if value and not getattr(have, perm)]
    if missing:
        raise commands.MissingPermissions(missing)


async def can_use_command(
    bot: Any,
    member_or_user: discord.abc.User,
    guild: discord.Guild | None,
    channel: Any,
    command: AnyCommand | str,
) -> bool:
    """Whether ``member_or_user`` may run ``command`` in ``channel`` of ``guild`` (None: a DM).

    Never raises; the help menu uses it to list only what the viewer may run. Same rules as
    :func:`ensure_can_use`. Does not consume a cooldown.
    """
    try:
        await ensure_can_use(bot, member_or_user, guild, channel, command)
    except commands.CommandError:
        return False
    except Exception:
        log.exception("Deciding whether %s may use %s failed; refusing", member_or_user, command)
        return False
    return True


async def check_interaction(interaction: discord.Interaction, command_name: str) -> bool:
    """For a component or a slash command: True if ``interaction.user`` may use ``command_name``.

    Raises the same ``commands.CheckFailure`` subclasses as a prefix invocation (MissingConfiguredRole,
    MissingPermissions, NotOwner...). Use :func:`tui_bot.core.errors.interaction_allowed` in a
    ``View.interaction_check`` to get the ephemeral refusal sent for you.
    """
    await ensure_can_use(
        interaction.client, interaction.user, interaction.guild, interaction.channel, command_name
    )
    return True
