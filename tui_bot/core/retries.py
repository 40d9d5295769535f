"""Delivering a reply through transient REST faults: what is retried, how long to wait, when to give up.

discord.py retries a request by itself only a little: a 429 five times, a 500/502/504 after 1, 3, 5 and
7 seconds, a 503 not at all. A long rate-limit storm or a Discord outage of a few seconds would lose
the reply with a WARNING in the log. :func:`deliver` retries a send on the failures worth retrying
until the ``replies.retry_deadline`` (config.json) has passed, then gives up: logged at ERROR (the
console shows it as a notification), counted in ``bot.metrics`` (``replies_failed``) and raised.

Retrying is only safe when the repeat cannot post the message twice: a channel message carries a
nonce that Discord deduplicates (see core/context.py); an interaction response or follow-up cannot,
so those are repeated only when the first request certainly changed nothing (``refuse_repeat``).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import aiohttp
import discord

from tui_bot.core.framework import is_tui_bot

log = logging.getLogger("tui_bot.replies")

T = TypeVar("T")

DEFAULT_RETRY_DEADLINE = 60.0  # seconds; config.json's replies.retry_deadline
BACKOFF_INITIAL = 0.5  # seconds before the first retry; doubled each time, with jitter
BACKOFF_MAX = 8.0
# During shutdown: give up this long before the drain deadline, so the give-up is logged and counted
# before the lifecycle cancels the command.
SHUTDOWN_MARGIN = 0.25

# OSErrors that are about local files (a discord.File), not the connection: retrying cannot help.
_LOCAL_OS_ERRORS = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)


def is_transient(error: BaseException) -> bool:
    """A failure that may succeed if tried again: 429 (after discord.py's own retries), 5xx, a
    connection error or a timeout. A 4xx (403 Missing Permissions, 404, 50035 Invalid Form Body) is not."""
    if isinstance(error, discord.RateLimited):
        return True
    if isinstance(error, discord.HTTPException):
        return error.status == 429 or error.status >= 500
    if isinstance(error, aiohttp.ClientConnectionError | TimeoutError):  # asyncio.TimeoutError too
        return True
    return isinstance(error, OSError) and not isinstance(error, _LOCAL_OS_ERRORS)


def never_processed(error: BaseException) -> bool:
    """Whether the failed request certainly changed nothing on Discord's side, so that repeating a
    request without a nonce cannot duplicate it: a 429 (refused before handling) or a connection that
    was never established. A 5xx, a timeout or a reset mid-request may have been handled."""
    if isinstance(error, discord.RateLimited):
        return True
    if isinstance(error, discord.HTTPException):
        return error.status == 429
    return isinstance(error, aiohttp.ClientConnectorError)


def unless_never_processed(error: BaseException) -> str | None:
    """``refuse_repeat`` for a request without a nonce (an interaction response or follow-up)."""
    if never_processed(error):
        return None
    return "not safe to repeat: it may have been delivered, and an interaction reply has no nonce"


def server_retry_after(error: BaseException) -> float | None:
    """How long Discord asked us to wait, if it said: a 429's bucket reset, or a ``Retry-After``."""
    if isinstance(error, discord.RateLimited):
        return error.retry_after
    if not isinstance(error, discord.HTTPException):
        return None
    headers = getattr(error.response, "headers", None) or {}
    names = ("X-RateLimit-Reset-After", "Retry-After") if error.status == 429 else ("Retry-After",)
    for name in names:
        try:
            return max(float(headers[name]), 0.0)
        except (KeyError, TypeError, ValueError):
            continue
    return None


def backoff_delay(retry: int, *, rng: random.Random | None = None) -> float:
    """Seconds before retry number ``retry`` (1-based): 0.5, 1, 2, 4, 8, 8... each scaled by a random
    factor in [0.5, 1] so replies failing together do not all come back at the same instant."""
    base = min(BACKOFF_MAX, BACKOFF_INITIAL * 2 ** (retry - 1))
    return base * (rng or random).uniform(0.5, 1.0)


def retry_deadline(bot: discord.Client) -> float:
    """config.json's ``replies.retry_deadline`` (seconds), or the default for a plain discord.py bot."""
    if not is_tui_bot(bot):
        return DEFAULT_RETRY_DEADLINE
    return float(bot.config.model.replies.retry_deadline)


def _drain_deadline(bot: discord.Client) -> float | None:
    """When the shutdown stops waiting for running commands (None: not shutting down)."""
    return bot.lifecycle.drain_deadline if is_tui_bot(bot) else None


def _give_up_at(bot: discord.Client, started: float) -> tuple[float, str]:
    """When to stop retrying, and why: the reply's own deadline, or the shutdown's drain deadline if
    that comes first."""
    end, why = started + retry_deadline(bot), "retry deadline reached"
    drain = _drain_deadline(bot)
    if drain is not None and drain - SHUTDOWN_MARGIN < end:
        end, why = drain - SHUTDOWN_MARGIN, "shutting down: the drain deadline"
    return end, why


def _next_wait(
    bot: discord.Client, started: float, now: float, attempts: int, error: BaseException
) -> tuple[float, str]:
    """``(seconds, "")`` to wait before the next try, or ``(0, why)`` when it is time to give up."""
    end, end_why = _give_up_at(bot, started)
    hint = server_retry_after(error)
    if hint is not None and error_is_rate_limit(error):
        wait = hint  # Discord said exactly when: an extra backoff would only lose time
    else:
        wait = max(backoff_delay(attempts), hint or 0.0)
    if now >= end or (hint is not None and now + wait > end):
        return 0.0, end_why  # past the deadline, or Discord asks for a wait beyond it
    return min(wait, end - now), ""  # a backoff beyond the deadline: one last try at the deadline


def _cancelled_why(bot: discord.Client) -> str:
    draining = _drain_deadline(bot) is not None
    return "cancelled while waiting to retry" + (": the shutdown's drain deadline" if draining else "")


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}".replace("\n", " ")


def give_up(
    bot: discord.Client, where: str, attempts: int, seconds: float, error: BaseException, why: str
) -> None:
    """Log a lost reply at ERROR and count it in ``bot.metrics.replies_failed``."""
    log.error(
        "Reply %s lost after %d attempt(s) in %.1f s (%s): %s",
        where,
        attempts,
        seconds,
        why,
        _describe(error),
    )
    if is_tui_bot(bot):
        bot.metrics.reply_failed()


def error_is_rate_limit(error: BaseException) -> bool:
    """A 429 (after discord.py's own retries) or discord.py's RateLimited."""
    return isinstance(error, discord.RateLimited) or (
        isinstance(error, discord.HTTPException) and error.status == 429
    )


async def deliver(
    attempt: Callable[[], Awaitable[T]],
    *,
    bot: discord.Client,
    where: str,
    refuse_repeat: Callable[[BaseException], str | None] = lambda _error: None,
    retries_allowed: bool = True,
    first_failure: BaseException | None = None,
) -> T:
    """Run ``attempt`` until it succeeds, retrying transient failures until the deadline.

    Non-transient failures are raised at once, untouched. A transient failure for which
    ``refuse_repeat`` gives a reason not to repeat the request, or one still failing at the deadline
    (or the shutdown's drain deadline, or once the bot is closed), is given up: see :func:`give_up`,
    then raised. ``retries_allowed=False`` makes one attempt. ``first_failure``: the transient failure
    of a first try the caller made itself (the fast path), counted as attempt 1.
    The waits are ``asyncio.sleep``: the loop keeps running other commands meanwhile.
    """
    started = time.monotonic()
    attempts = 0
    failure = first_failure
    while True:
        attempts += 1
        if failure is None:
            try:
                return await attempt()
            except Exception as raised:
                if not is_transient(raised):
                    raise
                failure = raised
        error, failure = failure, None
        now = time.monotonic()
        why = ""
        wait = 0.0
        if not retries_allowed:
            why = "an earlier reply of this command was already lost"
        elif refused := refuse_repeat(error):
            why = refused
        elif bot.is_closed():
            why = "the bot is closed"
        else:
            wait, why = _next_wait(bot, started, now, attempts, error)
        if why:
            give_up(bot, where, attempts, now - started, error, why)
            raise error
        log.debug("Reply %s failed (attempt %d: %s); retrying in %.2f s", where, attempts, error, wait)
        try:
            await asyncio.sleep(wait)
        except asyncio.CancelledError:
            # E.g. the shutdown cancelling commands still running at its drain deadline: the reply
            # is lost all the same, and must show as such.
            give_up(bot, where, attempts, time.monotonic() - started, error, _cancelled_why(bot))
            raise
