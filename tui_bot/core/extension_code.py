"""Running extension code contained: in its own task, under a time limit, process exits caught.

Every load, unload and reload of an extension (and the clean-up after one that failed) runs through
:meth:`ContainedRunner.attempt`. Code that does not finish in time is cancelled; code that ignores the
cancellation is left running in the background (referenced, so it is not garbage collected) instead of
holding the extension manager's lock. ``SystemExit`` and ``KeyboardInterrupt`` raised by extension code
are carried out of its task as ordinary failures: asyncio would otherwise re-raise them from the event
loop and end the bot.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Awaitable, Coroutine
from dataclasses import dataclass
from typing import Any

from discord.ext import commands

from tui_bot.core.watchdog import suspended_frames

log = logging.getLogger("tui_bot.extensions")

# How long cancelled extension code gets to run its own clean-up before it is left behind.
CANCEL_GRACE_SECONDS = 2.0
LOAD_TIMEOUT_KEY = "extensions.load_timeout"


class ExtensionTimeout(TimeoutError):
    """An extension's load, unload or reload did not finish in time (``extensions.load_timeout``, or
    at shutdown the time all extensions share to unload)."""

    def __init__(self, name: str, action: str, seconds: float, limit: str = LOAD_TIMEOUT_KEY) -> None:
        self.name = name
        self.action = action
        self.seconds = seconds
        verb = {"load": "loading", "unload": "unloading", "reload": "reloading"}.get(action, action)
        super().__init__(f"'{name}' did not finish {verb} within {seconds:g} s ({limit}) and was cancelled")


class _Escaped(Exception):
    """Carries a SystemExit or KeyboardInterrupt raised by extension code out of its task.

    asyncio re-raises those two from the event loop itself when they escape a task, which would end the
    bot; wrapped in an ordinary exception they are recorded like any other failure.
    """

    def __init__(self, original: BaseException) -> None:
        super().__init__(repr(original))
        self.original = original


async def _carry_process_exits(work: Awaitable[None]) -> None:
    try:
        await work
    except (SystemExit, KeyboardInterrupt) as error:
        raise _Escaped(error) from error


def root_cause(error: BaseException) -> BaseException:
    """The exception the extension raised: discord.py wraps errors raised while importing or in setup()
    in ExtensionFailed, and the operator wants the original one and its traceback."""
    while True:
        if isinstance(error, commands.ExtensionFailed | _Escaped):
            error = error.original
        else:
            return error


def describe_error(cause: BaseException) -> str:
    """``ValueError: bad`` for a log line or a reply; a process exit says it was contained."""
    message = f"{type(cause).__name__}: {cause}" if str(cause) else type(cause).__name__
    if isinstance(cause, SystemExit | KeyboardInterrupt):
        message += " (raised by the extension; it was stopped and the bot keeps running)"
    return message


def _stack_of(task: asyncio.Task[Any]) -> str:
    """Where a suspended task is waiting, innermost last, as a traceback shows it."""
    frames = suspended_frames(task)[1:]  # without _carry_process_exits
    if not frames:
        return ""
    summary = traceback.StackSummary.extract((frame, frame.f_lineno) for frame in frames)
    return "Stuck at (most recent call last):\n" + "".join(summary.format())


def _outcome(task: asyncio.Task[None]) -> BaseException | None:
    """A finished task's exception (retrieving it), or None; a task that cancelled itself (the extension
    raised CancelledError) counts as a failure, not as a cancellation of ours."""
    if task.cancelled():
        return asyncio.CancelledError("the extension's code raised CancelledError")
    return task.exception()


@dataclass
class Attempt:
    """How one piece of extension code ended: ``error`` None means it finished."""

    error: BaseException | None = None
    timed_out: bool = False
    stuck_at: str = ""
    caller_cancelled: asyncio.CancelledError | None = None

    @property
    def contained(self) -> bool:
        """Whether discord.py's own clean-up (which only runs for ``Exception``) was skipped."""
        if self.timed_out or self.caller_cancelled is not None:
            return True
        return self.error is not None and not isinstance(root_cause(self.error), Exception)


class ContainedRunner:
    """Runs pieces of extension code contained; ``abandoned`` holds the ones that ignored cancellation."""

    def __init__(self) -> None:
        # Extension code that ignored its cancellation, still running; kept referenced until it ends.
        self.abandoned: set[asyncio.Task[None]] = set()

    async def attempt(
        self,
        work: Coroutine[Any, Any, None],
        limit: float,
        name: str,
        action: str,
        limit_name: str = LOAD_TIMEOUT_KEY,
    ) -> Attempt:
        """Run extension code (a discord.py load, unload or reload) in its own task, for ``limit`` s at most.

        Its own task, so that code ignoring cancellation can be left behind instead of holding the lock.
        """
        task = asyncio.create_task(_carry_process_exits(work), name=f"tui-bot:extension:{action}:{name}")
        try:
            await asyncio.wait({task}, timeout=limit)
        except asyncio.CancelledError as cancelled:
            # The caller is being cancelled (a command cancelled at shutdown): stop the extension code
            # too; the caller cleans up, then lets the cancellation go on.
            task.cancel()
            await self._settle(task, name)
            return Attempt(error=cancelled, caller_cancelled=cancelled)
        if task.done():
            return Attempt(error=_outcome(task))
        stuck_at = _stack_of(task)
        task.cancel()
        await self._settle(task, name)
        error = ExtensionTimeout(name, action, limit, limit_name)
        return Attempt(error=error, timed_out=True, stuck_at=stuck_at)

    async def _settle(self, task: asyncio.Task[None], name: str) -> None:
        """Give cancelled extension code a moment to end; code that ignores cancellation is left behind."""
        await asyncio.wait({task}, timeout=CANCEL_GRACE_SECONDS)
        if task.done():
            _outcome(task)  # retrieved, so asyncio does not log "exception was never retrieved"
            return
        log.error(
            "Extension %s ignores cancellation: its code is left running in the background (task %s)",
            name,
            task.get_name(),
        )
        self.abandoned.add(task)
        task.add_done_callback(self._forget_abandoned)

    def _forget_abandoned(self, task: asyncio.Task[None]) -> None:
        self.abandoned.discard(task)
        _outcome(task)

    async def clean_up_step(
        self, work: Coroutine[Any, Any, None], name: str
    ) -> asyncio.CancelledError | None:
        attempt = await self.attempt(work, CANCEL_GRACE_SECONDS, name, "clean-up")
        if attempt.error is not None and attempt.caller_cancelled is None:
            log.warning(
                "Extension %s: clean-up did not finish: %s", name, describe_error(root_cause(attempt.error))
            )
        return attempt.caller_cancelled
