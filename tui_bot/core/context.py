"""The bot's invocation context: every reply a command sends arrives exactly once, REST faults or not.

``TuiContext`` is what prefix and hybrid commands get as ``ctx`` (``TuiBot.get_context`` returns it), so
``await ctx.send(...)``/``ctx.reply(...)`` in any extension, and the framework's own replies
(core/replies.py), go through :meth:`TuiContext.send`:

* A channel message (prefix command, or a hybrid command whose interaction expired) gets one nonce for
  all its tries; discord.py then sends ``enforce_nonce: true`` (``http.py``
  ``handle_message_parameters``), so Discord returns the message already created instead of posting
  it again when a retry follows a failure that happened after the message was created (a 500, a timeout,
  a dropped connection). Transient failures are retried with backoff until ``replies.retry_deadline``
  (core/retries.py).
* An interaction response or follow-up (a hybrid command used as a slash command) carries no nonce:
  Discord's interaction callback and webhook routes have none. It is repeated only when the failed
  request certainly changed nothing (a 429, a connection never made); if the interaction turns out to
  have been answered, only the (idempotent) fetch of the answer is repeated.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import discord
from discord.ext import commands

from tui_bot.core.retries import deliver, is_transient, unless_never_processed

if TYPE_CHECKING:
    from tui_bot.core.bot import TuiBot  # noqa: F401 - the "TuiBot" of the base class below

# ``commands.Context.send`` bound to the context: what a retry repeats.
ParentSend = Callable[..., Awaitable[discord.Message]]


def new_nonce() -> int:
    """A random 64-bit nonce, as discord.py makes one (it makes a new one per call: we keep ours)."""
    return secrets.randbits(64)


def _files_closed(kwargs: dict[str, Any]) -> bool:
    """Whether a file of this send was closed by discord.py: one it opened from a path is closed after
    the first try, so such a reply cannot be sent again."""
    files = [*(kwargs.get("files") or ()), *([kwargs["file"]] if kwargs.get("file") is not None else [])]
    return any(file.fp.closed for file in files)


def _renew_files(kwargs: dict[str, Any]) -> None:
    """Rewind the (open) files of ``kwargs`` for another try, each in a new ``File``.

    discord.py restores a ``File``'s real ``close`` once a send is over; a new ``File`` over the same
    file object stubs it again, so aiohttp cannot close it during the upload, and starts where the
    first try started.
    """

    def renew(file: discord.File) -> discord.File:
        file.reset(seek=True)
        return discord.File(
            file.fp, filename=file.filename, spoiler=file.spoiler, description=file.description
        )

    if kwargs.get("file") is not None:
        kwargs["file"] = renew(kwargs["file"])
    if kwargs.get("files"):
        kwargs["files"] = [renew(file) for file in kwargs["files"]]


class TuiContext(commands.Context["TuiBot"]):
    """``commands.Context`` whose :meth:`send` (and so :meth:`reply`) delivers exactly once: one nonce
    for every try, transient failures retried until ``replies.retry_deadline``, then logged at ERROR,
    counted in ``bot.metrics`` (``replies_failed``) and raised as before."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        # Set once a reply of this invocation was lost: later replies (the error handler's, say) are
        # tried once instead of waiting out a second deadline against the same outage.
        self.reply_lost = False

    async def send(self, content: str | None = None, **kwargs: Any) -> discord.Message:
        """Send like ``commands.Context.send``, exactly once (see the module docstring)."""
        parent_send = super().send
        interaction = self.interaction
        try:
            if interaction is None or interaction.is_expired():
                return await self._send_to_channel(parent_send, content, kwargs)
            return await self._send_to_interaction(parent_send, content, kwargs, self._where())
        except Exception as error:
            if is_transient(error):
                self.reply_lost = True
            raise

    def _where(self) -> str:
        return f"in channel {getattr(self.channel, 'id', '?')}"

    async def _send_to_channel(
        self, parent_send: ParentSend, content: str | None, kwargs: dict[str, Any]
    ) -> discord.Message:
        if kwargs.get("nonce") is None:
            kwargs["nonce"] = new_nonce()
        # The first try, which nearly always succeeds, runs without any retry machinery around it.
        try:
            sent: discord.Message = await parent_send(content, **kwargs)
            return sent
        except Exception as error:
            if not is_transient(error):
                raise
            first_failure = error

        async def attempt() -> discord.Message:
            _renew_files(kwargs)
            message: discord.Message = await parent_send(content, **kwargs)
            return message

        def refuse_repeat(_error: BaseException) -> str | None:
            return (
                "its file was opened from a path, and discord.py closed it" if _files_closed(kwargs) else None
            )

        return await deliver(
            attempt,
            bot=self.bot,
            where=self._where(),
            refuse_repeat=refuse_repeat,
            retries_allowed=not self.reply_lost,
            first_failure=first_failure,
        )

    async def _send_to_interaction(
        self, parent_send: ParentSend, content: str | None, kwargs: dict[str, Any], where: str
    ) -> discord.Message:
        interaction = self.interaction
        assert interaction is not None
        delete_after = kwargs.get("delete_after")
        answered = False  # the callback went through although its request failed afterwards

        async def attempt() -> discord.Message:
            nonlocal answered
            if answered:
                # Repeat only the GET of the answer, never the callback (a second one would be refused).
                message = await interaction.original_response()
                if delete_after is not None:
                    await message.delete(delay=delete_after)
                return message
            done_before = interaction.response.is_done()
            try:
                sent: discord.Message = await parent_send(content, **kwargs)
                return sent
            except Exception:
                answered = not done_before and interaction.response.is_done()
                raise

        def refuse_repeat(error: BaseException) -> str | None:
            return None if answered else unless_never_processed(error)

        return await deliver(
            attempt,
            bot=self.bot,
            where=f"to interaction {interaction.id} ({where})",
            refuse_repeat=refuse_repeat,
            retries_allowed=not self.reply_lost,
        )
