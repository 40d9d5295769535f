"""Commands in flight, and a shutdown that lets them finish.

Every invocation (prefix, hybrid used as slash, pure slash) runs inside :meth:`Lifecycle.track`, which
also counts it in ``bot.metrics`` and, when it succeeded, records its latency and counts the use in
memory and in the database *before* the invocation is considered finished. (discord.py's
``on_command_completion`` is dispatched as a separate task, which could run after the database closed;
counting here means a command that finished during shutdown is never lost.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tui_bot.core.metrics import Metrics
    from tui_bot.storage.base import BotDatabase

log = logging.getLogger("tui_bot.lifecycle")

DEFAULT_SHUTDOWN_TIMEOUT = 10.0
CANCEL_GRACE_SECONDS = 1.0  # how long cancelled commands get to run their cleanup


class Invocation:
    """One tracked invocation: set ``name`` (the command's qualified name) and ``ok`` before it ends."""

    __slots__ = ("name", "ok")

    def __init__(self) -> None:
        self.name: str | None = None
        self.ok = False


class Lifecycle:
    """Whether new commands are accepted, and how many are running.

    A finished invocation is counted in ``metrics``; when it succeeded, its latency and its use are
    recorded there and the use is counted in ``database`` (both count the same thing).
    """

    def __init__(self, metrics: Metrics, database: BotDatabase) -> None:
        self._metrics = metrics
        self._database = database
        self.accepting = True
        self.running = 0
        # time.monotonic() at which shutdown stops waiting for running commands (None: not shutting down).
        self.drain_deadline: float | None = None
        self._tasks: dict[asyncio.Task[Any], int] = {}  # task -> invocations it is running (nesting)
        self._idle = asyncio.Event()
        self._idle.set()

    def begin(self) -> float:
        """Count an invocation as running (from the current task); returns its start time for :meth:`end`.

        ``begin``/``end`` are the allocation-free form of :meth:`track` for the per-command path.
        """
        task = asyncio.current_task()
        if task is not None:
            tasks = self._tasks
            tasks[task] = tasks.get(task, 0) + 1
        self.running += 1
        self._idle.clear()
        return time.perf_counter()

    async def end(self, started: float, name: str | None, ok: bool) -> None:
        """The invocation begun at ``started`` ended: count it and, if ``ok``, its latency and use."""
        seconds = time.perf_counter() - started
        try:
            if name is not None:
                self._metrics.command_finished(name, seconds, ok)
                if ok:
                    await self._database.increment_command_usage(name)
        finally:
            self.running -= 1
            task = asyncio.current_task()
            if task is not None:
                count = self._tasks.get(task, 0)
                if count <= 1:
                    self._tasks.pop(task, None)
                else:
                    self._tasks[task] = count - 1
            if self.running == 0:
                self._idle.set()

    @contextlib.asynccontextmanager
    async def track(self) -> AsyncIterator[Invocation]:
        """Count an invocation as running; on exit count it and, if ``ok``, its latency and use."""
        invocation = Invocation()
        started = self.begin()
        try:
            yield invocation
        finally:
            await self.end(started, invocation.name, invocation.ok)

    def stop_accepting(self) -> None:
        """From now on new commands are ignored (prefix) or answered "shutting down" (interactions)."""
        self.accepting = False

    async def drain(self, timeout: float) -> int:  # noqa: ASYNC109 - a bound, not a cancellation
        """Wait up to ``timeout`` seconds for running commands to finish; return how many still run."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), timeout)
        return self.running

    async def shutdown(self, timeout: float, stop_rest: Callable[[], Awaitable[None]]) -> None:  # noqa: ASYNC109
        """Stop taking commands, let running ones finish (up to ``timeout`` s), then ``stop_rest()``.

        Commands still running after ``timeout`` are cancelled (they would otherwise run on against a
        closed connection and database).
        """
        self.stop_accepting()
        self.drain_deadline = time.monotonic() + timeout
        if self.running:
            log.info("Shutting down: waiting up to %.0f s for %d running command(s)", timeout, self.running)
            left = await self.drain(timeout)
            if left:
                log.warning("%d command(s) still running after %.0f s; cancelling them", left, timeout)
                await self._cancel_running()
        await stop_rest()

    async def _cancel_running(self) -> None:
        current = asyncio.current_task()
        tasks = [task for task in self._tasks if task is not current and not task.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=CANCEL_GRACE_SECONDS)
