"""Who may run a command: one answer for prefix commands, slash commands and components.

The order, for everyone: a disabled command runs for nobody; ``guild_only``/``dm_only`` hold for
everyone. Then bot owners may run everything (they also pass the command's user permission checks,
see ``checks.allow_owners``). Then the guild owner passes every role rule. Then the role rules
(:mod:`tui_bot.core.role_rules`: a guild's own rules over config.json's defaults). Then the command's
own checks (``has_permissions`` and friends, cog checks, global checks).

This module answers the question without invoking anything (:func:`can_use_command`,
:func:`ensure_can_use`): the help menu, components and slash commands ask it ahead of time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from tui_bot.core.checks import AnyCommand, identify_check, original_check
from tui_bot.core.role_rules import check_role_rules, resolve_member, role_rule_check

if TYPE_CHECKING:
    from tui_bot.core.bot import TuiBot

log = logging.getLogger("tui_bot.permissions")

# Where the question is asked: a context's or an interaction's channel (None when unknown).
ChannelLike = discord.abc.Snowflake | None


class _Probe:
    """Stands in for a ``commands.Context`` and a ``discord.Interaction`` so that checks can be asked
    about a user, a guild and a channel without an invocation (nothing is sent, no cooldown used)."""

    def __init__(
        self,
        bot: TuiBot,
        user: discord.abc.User,
        guild: discord.Guild | None,
        channel: ChannelLike,
        command: AnyCommand,
    ) -> None:
        self.bot = self.client = bot
        self.author = self.user = user
        self.guild = guild
        self.guild_id = guild.id if guild is not None else None
        self.channel = channel
        self.command = command
        self.cog = getattr(command, "cog", None) or getattr(command, "binding", None)
        self.me: discord.Member | discord.ClientUser | None = guild.me if guild is not None else bot.user
        self.message = self.interaction = self.prefix = self.invoked_with = None

    def _for(self, who: discord.Member | discord.ClientUser | None) -> discord.Permissions:
        # Outside a guild (or for someone not a member of it) only what a DM allows.
        if self.guild is None or not isinstance(who, discord.Member):
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


_APP_TO_EXT: dict[type[app_commands.CheckFailure], Callable[[Any], commands.CheckFailure]] = {
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


async def _run_check(predicate: Callable[..., Any], probe: _Probe, name: str) -> None:
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


def _command_chain(command: AnyCommand) -> list[AnyCommand]:
    chain = [command]
    parent = getattr(command, "parent", None)
    while parent is not None:
        chain.append(parent)
        parent = getattr(parent, "parent", None)
    return list(reversed(chain))


def _resolve_command(
    bot: TuiBot, command: AnyCommand | str, guild: discord.Guild | None
) -> AnyCommand | None:
    if not isinstance(command, str):
        return command
    found: AnyCommand | None = bot.get_command(command)
    if found is None:
        found = bot.tree.get_command(command, guild=guild) if guild is not None else None
        found = found or bot.tree.get_command(command)
    return found


async def ensure_can_use(
    bot: TuiBot,
    user: discord.abc.User,
    guild: discord.Guild | None,
    channel: ChannelLike,
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


async def _check_default_permissions(command: AnyCommand, probe: _Probe, name: str) -> None:
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
    bot: TuiBot,
    member_or_user: discord.abc.User,
    guild: discord.Guild | None,
    channel: ChannelLike,
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


async def check_interaction(interaction: discord.Interaction[TuiBot], command_name: str) -> bool:
    """For a component or a slash command: True if ``interaction.user`` may use ``command_name``.

    Raises the same ``commands.CheckFailure`` subclasses as a prefix invocation (MissingConfiguredRole,
    MissingPermissions, NotOwner...). Use :func:`tui_bot.core.errors.interaction_allowed` in a
    ``View.interaction_check`` to get the ephemeral refusal sent for you.
    """
    await ensure_can_use(
        interaction.client, interaction.user, interaction.guild, interaction.channel, command_name
    )
    return True
