"""One error handler for prefix commands, hybrid commands used as slash commands, and app commands.

Every failure a user can fix gets a specific reply (an error embed): a missing or bad argument with the
command's usage, a missing permission or role naming it, a cooldown with the time left. A mistyped
command name gets no reply at all. Anything unexpected is logged with its traceback under a short error
id, and the user is shown only that id, never the exception text (it could hold a secret).

A command or cog with its own error handler is trusted to have answered: nothing is sent twice.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from tui_bot.core.cooldowns import first_refusal_in_window
from tui_bot.core.framework import is_tui_bot
from tui_bot.core.permissions import check_interaction
from tui_bot.core.replies import send_interaction_reply, send_reply
from tui_bot.core.responses import error_embed, warning_embed
from tui_bot.core.role_rules import MissingConfiguredRole
from tui_bot.logs.redaction import SecretRedactor

if TYPE_CHECKING:
    from discord.http import HTTPClient

    from tui_bot.core.bot import TuiBot
    from tui_bot.core.metrics import Metrics

log = logging.getLogger("tui_bot.errors")


class RefusedByRules(app_commands.CheckFailure):
    """An app command refused by the framework's rules; ``original`` is the ``commands`` failure."""

    def __init__(self, original: commands.CheckFailure) -> None:
        self.original = original
        super().__init__(str(original))


@dataclass(frozen=True)
class ErrorReply:
    """What to tell the user: an embed title and text; ``warning`` for the yellow cooldown style."""

    title: str
    description: str
    warning: bool = False

    def embed(self) -> discord.Embed:
        return (warning_embed if self.warning else error_embed)(self.title, self.description)


def new_error_id() -> str:
    """8 hex characters: short enough to read out, unique enough to grep the logs for."""
    return secrets.token_hex(4)


_PERMISSION_NAMES = {"manage_guild": "Manage Server", "administrator": "Administrator"}


def permission_names(perms: list[str]) -> str:
    """``["ban_members", "manage_guild"]`` -> ``Ban Members, Manage Server`` (as Discord's UI names them)."""
    names = [_PERMISSION_NAMES.get(p, p.replace("_", " ").replace("guild", "server").title()) for p in perms]
    return ", ".join(names)


_EXPECTED = {
    int: "a whole number",
    float: "a number",
    bool: "yes or no",
    str: "some text",
    discord.Member: "a member of this server (mention, id or name)",
    discord.User: "a user (mention, id or name)",
    discord.Role: "a role (mention, id or name)",
    discord.TextChannel: "a text channel (mention, id or name)",
    discord.abc.GuildChannel: "a channel (mention, id or name)",
    discord.Emoji: "an emoji of this server",
    discord.Colour: "a colour such as #ff0000",
}


# What an app command option failed to become (TransformerError.type). A user option fails only when a
# member was needed (the user is not in the server); the others fail in an extension's own transformer.
_OPTION_EXPECTED = {
    discord.AppCommandOptionType.user: "a member of this server",
    discord.AppCommandOptionType.role: "a role of this server",
    discord.AppCommandOptionType.channel: "a channel of the kind this option accepts",
    discord.AppCommandOptionType.mentionable: "a member or a role of this server",
    discord.AppCommandOptionType.attachment: "a file this command accepts",
}


def expected_for(converter: Any) -> str:
    """A readable description of what a parameter's converter accepts."""
    if isinstance(converter, commands.Range):  # type: ignore[arg-type]  # a class only at runtime
        low, high = converter.min, converter.max
        if converter.annotation is str:
            return f"text of {low if low is not None else 0} to {high} characters"
        number = "a whole number" if converter.annotation is int else "a number"
        if low is None or high is None:
            return f"{number} of at least {low}" if high is None else f"{number} of at most {high}"
        return f"{number} from {low} to {high}"
    if isinstance(converter, discord.AppCommandOptionType):
        return _OPTION_EXPECTED.get(converter, "valid for this option")
    if converter in _EXPECTED:
        return _EXPECTED[converter]
    for kind, text in _EXPECTED.items():
        if isinstance(converter, type) and isinstance(kind, type) and issubclass(converter, kind):
            return text
    name = getattr(converter, "__name__", None) or type(converter).__name__
    return f"a {name.removesuffix('Converter')}"


def _roles(items: list[Any]) -> str:
    return ", ".join(str(item) for item in items)


def describe_check_failure(error: Exception, name: str) -> ErrorReply | None:
    """The reply for a refused invocation (either framework's exception), or None if not a refusal."""
    if isinstance(error, RefusedByRules):
        error = error.original
    if isinstance(error, MissingConfiguredRole):
        return ErrorReply("Missing role", str(error))
    if isinstance(error, commands.MissingPermissions | app_commands.MissingPermissions):
        perms = permission_names(error.missing_permissions)
        return ErrorReply("Missing permission", f"You need the **{perms}** permission to use `{name}`.")
    if isinstance(error, commands.BotMissingPermissions | app_commands.BotMissingPermissions):
        perms = permission_names(error.missing_permissions)
        return ErrorReply(
            "I am missing a permission",
            f"I need the **{perms}** permission here to run `{name}`. "
            "A server admin can grant it to my role.",
        )
    if isinstance(error, commands.MissingRole | app_commands.MissingRole):
        return ErrorReply("Missing role", f"You need the **{error.missing_role}** role to use `{name}`.")
    if isinstance(error, commands.MissingAnyRole | app_commands.MissingAnyRole):
        roles = _roles(error.missing_roles)
        return ErrorReply("Missing role", f"You need one of these roles to use `{name}`: **{roles}**.")
    if isinstance(error, commands.BotMissingRole | commands.BotMissingAnyRole):
        missing = getattr(error, "missing_role", None) or _roles(getattr(error, "missing_roles", []))
        return ErrorReply("I am missing a role", f"I need the role **{missing}** to run `{name}`.")
    if isinstance(error, commands.NotOwner):
        return ErrorReply("Owner only", f"Only the bot owner can use `{name}`.")
    if isinstance(error, commands.NoPrivateMessage | app_commands.NoPrivateMessage):
        return ErrorReply("Server only", f"`{name}` only works in a server, not in direct messages.")
    if isinstance(error, commands.PrivateMessageOnly):
        return ErrorReply("Direct messages only", f"`{name}` only works in direct messages with me.")
    if isinstance(error, commands.NSFWChannelRequired):
        return ErrorReply("NSFW channel only", f"`{name}` only works in channels marked NSFW.")
    if isinstance(error, commands.CheckAnyFailure):
        reasons = "; ".join(str(e) for e in error.errors if str(e)) or "no condition was met"
        return ErrorReply("Not allowed", f"You cannot use `{name}` here: {reasons}")
    if isinstance(error, commands.CheckFailure | app_commands.CheckFailure):
        text = str(error)
        # discord.py's text for a check that returned False says nothing useful to a user.
        if not text or text.startswith("The check functions for"):
            text = f"You cannot use `{name}` here."
        return ErrorReply("Not allowed", text)
    return None


def input_broke_a_builtin_converter(error: Exception) -> bool:
    """True when one of discord.py's own converters raised TypeError/ValueError on what a user typed.

    They do on some input instead of raising BadArgument: ``MemberConverter`` on an id beyond 64 bits
    (orjson refuses to send it in the gateway's member request) or on an empty quoted name (``""``).
    An extension's own converter raising is a bug, and stays an unexpected error.
    """
    return (
        isinstance(error, commands.ConversionError)
        and isinstance(error.original, TypeError | ValueError)
        and getattr(error.converter, "__module__", "").startswith("discord.")
    )


def describe_error(
    error: Exception, *, name: str, usage: str | None = None, parameter: Any = None
) -> ErrorReply | None:
    """The reply for a user-fixable error; None when the error is unexpected (log it with an id).

    ``parameter`` is the ``commands.Parameter`` being converted when a bad argument was found.
    """
    usage_line = f"\nUsage: `{usage}`" if usage else ""
    if isinstance(error, commands.HybridCommandError):
        error = error.original
    if isinstance(error, commands.CommandOnCooldown | app_commands.CommandOnCooldown):
        return ErrorReply(
            "Slow down", f"`{name}` is on cooldown: try again in {error.retry_after:.1f} s.", True
        )
    if isinstance(error, commands.MaxConcurrencyReached):
        return ErrorReply("Busy", f"`{name}` is already running as often as it may; try again shortly.", True)
    if isinstance(error, commands.DisabledCommand):
        return ErrorReply("Disabled", f"`{name}` is disabled at the moment.")
    refusal = describe_check_failure(error, name)
    if refusal is not None:
        return refusal
    if isinstance(error, commands.MissingRequiredArgument | commands.MissingRequiredAttachment):
        return ErrorReply("Missing argument", f"`{error.param.name}` is required.{usage_line}")
    if isinstance(error, commands.TooManyArguments):
        return ErrorReply("Too many arguments", f"`{name}` got more than it takes.{usage_line}")
    if isinstance(error, commands.BadArgument | commands.BadUnionArgument | commands.BadLiteralArgument):
        what = ""
        if parameter is not None:
            expected = (
                " or ".join(f"`{v}`" for v in error.literals)
                if isinstance(error, commands.BadLiteralArgument)
                else expected_for(parameter.converter)
            )
            what = f"\n`{parameter.name}` must be {expected}."
        return ErrorReply("Invalid argument", f"{error}{what}{usage_line}")
    if isinstance(error, commands.UserInputError):
        return ErrorReply("Invalid input", f"{error}{usage_line}")
    if input_broke_a_builtin_converter(error):
        what = f"`{parameter.name}` must be {expected_for(parameter.converter)}." if parameter else ""
        return ErrorReply("Invalid argument", f"{what}{usage_line}".strip())
    if isinstance(error, app_commands.TransformerError):
        return ErrorReply("Invalid argument", f"`{error.value}` is not {expected_for(error.type)}.")
    if isinstance(error, app_commands.CommandNotFound | app_commands.CommandSignatureMismatch):
        return ErrorReply(
            "Command out of date",
            "This command changed since Discord last saw it; the bot owner needs to sync.",
        )
    original = getattr(error, "original", None)
    if isinstance(original, discord.Forbidden):
        return ErrorReply(
            "Discord refused",
            "I am not allowed to do that here: I lack a permission, or the target's role is above mine.",
        )
    return None


def is_refusal(error: Exception) -> bool:
    """True when ``error`` is the bot saying no, not something going wrong.

    A refusal is every failure the handler explains to the user (a missing role or permission, a failed
    check, a cooldown, a missing or bad argument, Discord forbidding an action); an error is the rest,
    an exception the user is shown only an error id for. ``bot.metrics`` counts them apart, so that a
    member trying a command they may not use does not look like a bug to the operator.
    """
    return describe_error(error, name="") is not None


def is_cooldown(error: Exception) -> bool:
    """True when ``error`` (or the error a hybrid command wraps) is a command on cooldown."""
    if isinstance(error, commands.HybridCommandError):
        error = error.original
    return isinstance(error, commands.CommandOnCooldown | app_commands.CommandOnCooldown)


class ErrorHandler:
    """The bot's error handler: :meth:`on_command_error` and :meth:`on_app_command_error`.

    ``http``: the client's HTTP client, whose token (known once logged in) is masked in every reply;
    ``metrics``: where refusals and errors are counted (None: not counted).
    """

    def __init__(self, http: HTTPClient, metrics: Metrics | None = None) -> None:
        self._http = http
        self._metrics = metrics
        self._redactor = SecretRedactor()

    def redact(self, text: str) -> str:
        """``text`` with the bot token (and other known secrets) masked: safe to show a user."""
        self._redactor.add_secret(self._http.token)
        return self._redactor.redact(text)

    def _count(self, error: Exception, name: str | None) -> None:
        if self._metrics is None:
            return
        # Classified whoever answers it: a command's own handler may reply to a refusal too.
        if is_refusal(error):
            self._metrics.record_refusal(name, cooldown=is_cooldown(error))
        else:
            self._metrics.record_error(name)

    def _unexpected(self, name: str, error: BaseException, where: str) -> ErrorReply:
        error_id = new_error_id()
        cause = getattr(error, "original", None) or error
        log.error("Unexpected error in %s %s (error id %s)", where, name, error_id, exc_info=cause)
        return ErrorReply(
            "Something went wrong",
            f"Something went wrong (error id `{error_id}`); the bot owner can find it in the logs.",
        )

    async def on_command_error(self, ctx: commands.Context[Any], error: commands.CommandError) -> None:
        """Prefix commands and hybrid commands (also when used as slash commands)."""
        if isinstance(error, commands.CommandNotFound):
            return  # a typo or another bot's prefix: silence
        command = ctx.command
        self._count(error, command.qualified_name if command is not None else None)
        if command is not None and (
            command.has_error_handler() or (ctx.cog is not None and ctx.cog.has_error_handler())
        ):
            return  # the command's own handler answers
        name = command.qualified_name if command is not None else (ctx.invoked_with or "?")
        if (
            isinstance(error, commands.CommandOnCooldown)
            and ctx.interaction is None
            and not first_refusal_in_window(error)
        ):
            # One "slow down" per user and window: answering every spammed message would multiply the
            # spam (and its deletes) under Discord's per-channel limits. Slash users are always answered,
            # privately, since an interaction must be acknowledged.
            return
        usage = None
        if command is not None:
            usage = f"{ctx.clean_prefix}{command.qualified_name} {command.signature}".strip()
        parameter = (
            ctx.current_parameter
            if isinstance(error, commands.UserInputError) or input_broke_a_builtin_converter(error)
            else None
        )
        reply = describe_error(error, name=name, usage=usage, parameter=parameter)
        if reply is None:
            reply = self._unexpected(name, error, "command")
        else:
            log.info("Command %s refused for %s: %s", name, ctx.author, type(error).__name__)
        embed = ErrorReply(reply.title, self.redact(reply.description), reply.warning).embed()
        try:
            await send_reply(ctx, embed=embed, kind="error")
        except Exception as failure:  # e.g. the connection closed meanwhile: the handler must not raise
            log.warning("Could not send the error reply for %s: %s", name, failure)

    async def on_app_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        """Pure app commands (``bot.tree.on_error``); hybrid commands come through on_command_error."""
        # Hybrid commands reach this only for what discord.py does not pass to on_command_error (a
        # refusal by the tree's interaction_check, a signature mismatch): no reply is sent twice.
        command = interaction.command
        self._count(error, getattr(command, "qualified_name", None))
        if command is not None and command._has_any_error_handlers():
            return
        name = getattr(command, "qualified_name", None) or "this command"
        reply = describe_error(error, name=name)
        if reply is None:
            reply = self._unexpected(name, error, "app command")
        await self.refuse(interaction, reply)

    async def refuse(self, interaction: discord.Interaction, reply: ErrorReply) -> bool:
        """Send ``reply`` to the interaction's user only (ephemeral)."""
        embed = ErrorReply(reply.title, self.redact(reply.description), reply.warning).embed()
        return await send_interaction_reply(interaction, embed=embed, kind="error")


async def interaction_allowed(interaction: discord.Interaction[TuiBot], command_name: str) -> bool:
    """For ``View.interaction_check``: True if the user may use ``command_name``; otherwise the refusal
    (which roles or permissions are needed) is sent ephemerally and False is returned."""
    try:
        return await check_interaction(interaction, command_name)
    except commands.CheckFailure as error:
        reply = describe_check_failure(error, command_name) or ErrorReply("Not allowed", str(error))
        client = interaction.client
        # A plain discord.py bot has no handler of its own: a passing one still masks its token.
        handler = client.error_handler if is_tui_bot(client) else ErrorHandler(client.http)
        await handler.refuse(interaction, reply)
        return False
