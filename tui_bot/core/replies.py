"""Sending a command's reply the same way for prefix commands, slash commands and components.

One helper decides the things every reply has to get right: prefix replies that report a success or
an error clean themselves up after ``replies.delete_after`` seconds (config.json, default 10, 0 =
never); in a slash invocation errors are ephemeral (only the invoker sees them); and no reply ever
pings anyone, including an ``@everyone`` echoed back from user input. Replies survive REST faults:
``ctx.send`` is ``TuiContext.send`` (core/context.py: a nonce, retries until ``replies.retry_deadline``),
and raw interaction replies are retried when that cannot duplicate them (core/retries.py).
"""

from __future__ import annotations

import logging
from typing import Any, Literal

import discord
from discord.ext import commands

from tui_bot.core.context import TuiContext
from tui_bot.core.framework import is_tui_bot
from tui_bot.core.retries import deliver, is_transient, unless_never_processed

log = logging.getLogger("tui_bot.replies")

ReplyKind = Literal["success", "error", "info"]

# Explicit on every reply: a bot-wide AllowedMentions could be changed by an extension, a reply must not.
NO_MENTIONS = discord.AllowedMentions.none()


def delete_after_for(bot: discord.Client, kind: ReplyKind) -> float | None:
    """Seconds after which a prefix reply of ``kind`` deletes itself; None keeps it (and a plain
    discord.py bot, without config.json, keeps every reply)."""
    if kind == "info":
        return None
    seconds = bot.config.model.replies.delete_after if is_tui_bot(bot) else 0.0
    return seconds if seconds > 0 else None


async def send_reply(
    ctx: commands.Context[Any],
    *,
    embed: discord.Embed | None = None,
    content: str | None = None,
    kind: ReplyKind = "info",
    view: discord.ui.View | None = None,
    ephemeral: bool | None = None,
) -> discord.Message | None:
    """Reply to a command invocation; returns the message, or None when Discord refused it.

    - Prefix invocation: ``success`` and ``error`` replies are deleted after ``replies.delete_after``
      seconds (not when a ``view`` is attached: its buttons must stay usable); ``info`` stays.
    - Slash invocation (``ctx.interaction``): ``ephemeral`` defaults to True for errors, False
      otherwise; the first reply answers the interaction, later ones are follow-ups.
    - Never pings: mentions in ``content`` are shown but not notified.

    A refusal from Discord (missing permission to send, deleted channel) is logged, not raised, so an
    error handler replying about one failure cannot fail again; so is a reply lost to REST faults
    after its retries (already logged at ERROR by ``TuiContext``).
    """
    if ctx.interaction is not None:
        private = (kind == "error") if ephemeral is None else ephemeral
        delete_after = None
    else:
        private = False
        delete_after = None if view is not None else delete_after_for(ctx.bot, kind)
    # Only what is set is passed: None is discord.py's default for each, and its overloads say so.
    options: dict[str, Any] = {"ephemeral": private, "allowed_mentions": NO_MENTIONS}
    if embed is not None:
        options["embed"] = embed
    if view is not None:
        options["view"] = view
    if delete_after is not None:
        options["delete_after"] = delete_after
    try:
        return await ctx.send(content=content, **options)
    except Exception as error:
        if not (isinstance(error, discord.HTTPException) or is_transient(error)):
            raise
        if not (isinstance(ctx, TuiContext) and is_transient(error)):  # else reported already
            log.warning("Could not reply in channel %s: %s", getattr(ctx.channel, "id", "?"), error)
        return None


async def send_interaction_reply(
    interaction: discord.Interaction,
    *,
    embed: discord.Embed | None = None,
    content: str | None = None,
    kind: ReplyKind = "info",
    view: discord.ui.View | None = None,
    ephemeral: bool | None = None,
) -> bool:
    """Answer a raw interaction (a pure slash command, a button, a select) like :func:`send_reply`.

    Errors are ephemeral by default. Answers the interaction if it is not answered yet, else sends a
    follow-up. Returns whether Discord accepted the reply (an expired interaction cannot be answered).
    A 429 or a connection that could not be made is retried until ``replies.retry_deadline``; other
    transient failures are not (the reply has no nonce: it may have arrived) and are logged at ERROR.
    """
    private = (kind == "error") if ephemeral is None else ephemeral
    kwargs: dict[str, Any] = {"ephemeral": private, "allowed_mentions": NO_MENTIONS}
    if content is not None:
        kwargs["content"] = content
    if embed is not None:
        kwargs["embed"] = embed
    if view is not None:
        kwargs["view"] = view

    async def attempt() -> None:
        if interaction.response.is_done():
            await interaction.followup.send(**kwargs)
        else:
            await interaction.response.send_message(**kwargs)

    try:
        await deliver(
            attempt,
            bot=interaction.client,
            where=f"to interaction {interaction.id}",
            refuse_repeat=unless_never_processed,
        )
    except Exception as error:
        if is_transient(error):
            return False  # deliver() logged it at ERROR and counted it
        if not isinstance(error, discord.HTTPException):
            raise
        log.warning("Could not answer interaction %s: %s", interaction.id, error)
        return False
    return True
