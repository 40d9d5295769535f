"""The process always ends: the bounds of a shutdown, a second signal, and what is left behind.

Each mechanism covers what the one before it cannot:

- ``BotRuntime.stop()`` gives the bot's ``close()`` ``shutdown_timeout`` + :data:`CLOSE_GRACE_SECONDS`;
  past that it saves what it still can (the usage counts), logs what it could not, and stops waiting.
- :class:`ProcessDeadline`: a daemon thread, armed when a shutdown starts, that ends the process at
  ``shutdown_timeout`` + :data:`PROCESS_GRACE_SECONDS` whatever the event loop is doing (blocked by an
  extension, stuck in a clean-up that ignores cancellation). Only the entry points install it, so the
  bots that tests run inside pytest's process are never ended by it.
- :class:`StopSignals`: SIGINT/SIGTERM. The first asks for a clean shutdown; a second ends the process
  at once. Python-level handlers run in the main thread between bytecodes, so both work even while an
  extension blocks the loop.

After a clean shutdown, non-daemon threads an extension started and never stopped would keep the
interpreter alive for ever: they are named in the log and the process ends with :func:`hard_exit`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import logging.handlers
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import NoReturn

from tui_bot import exit_codes

log = logging.getLogger("tui_bot.shutdown")

CLOSE_GRACE_SECONDS = 6.0  # beyond the drain, for unloading extensions, disconnecting and the backup
PROCESS_GRACE_SECONDS = 10.0  # beyond the drain, until the process is ended regardless
TEARDOWN_GRACE_SECONDS = 5.0  # once the bot has stopped: the event loop's own clean-up
LEFTOVER_TASK_GRACE_SECONDS = 1.0  # how long tasks still running after the bot stopped get to end
LOG_FLUSH_SECONDS = 1.0

Reporter = Callable[[], list[str]]


def flush_logging(timeout: float = LOG_FLUSH_SECONDS) -> None:
    """Let queued records reach their handlers (a QueueListener thread writes them), then flush and
    close every handler (``logging.shutdown()``)."""
    deadline = time.monotonic() + timeout
    for handler in logging.getLogger().handlers:
        empty = getattr(getattr(handler, "queue", None), "empty", None)
        if isinstance(handler, logging.handlers.QueueHandler) and callable(empty):
            while not empty() and time.monotonic() < deadline:
                time.sleep(0.01)
    time.sleep(0.05)  # the last record taken off the queue may still be being written
    logging.shutdown()


def hard_exit(code: int) -> NoReturn:
    """End the process now with ``code`` once the logs and stdio are written out; nothing else runs
    (``os._exit``): no clean-up, no waiting for threads."""
    with contextlib.suppress(Exception):
        flush_logging()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def leftover_threads() -> list[threading.Thread]:
    """Live non-daemon threads besides the main one: the interpreter would wait for them at exit."""
    main = threading.main_thread()
    return [t for t in threading.enumerate() if t is not main and not t.daemon and t.is_alive()]


def report_leftover_threads() -> bool:
    """Log the threads that would keep the process alive after the shutdown; whether there are any."""
    threads = leftover_threads()
    if threads:
        log.warning(
            "Still running after the shutdown, not waited for: thread(s) %s; ending the process without "
            "them. (Threads an extension starts should be daemon threads, or be stopped in cog_unload.)",
            ", ".join(repr(thread.name) for thread in threads),
        )
    return bool(threads)


class ProcessDeadline:
    """Ends the process (exit code 124) if it is still alive when an armed deadline passes.

    ``reporters`` say, when it fires, what was still going on (where the loop is stuck, what was not
    saved); they run in the deadline's thread, so they only read.
    """

    def __init__(self) -> None:
        self.reporters: list[Reporter] = []
        self._deadline: float | None = None
        self._seconds = 0.0
        self._what = ""
        self._armed = threading.Event()
        self._thread = threading.Thread(target=self._wait, name="tui-bot:shutdown-deadline", daemon=True)
        self._thread.start()

    @property
    def armed(self) -> bool:
        """Whether a deadline is set."""
        return self._armed.is_set()

    def arm(self, seconds: float, what: str) -> None:
        """End the process if it is still alive ``seconds`` from now; an earlier deadline stays.

        Safe in a signal handler: no lock is taken once armed.
        """
        deadline = time.monotonic() + seconds
        if self._deadline is None or deadline < self._deadline:
            self._seconds, self._what = seconds, what
            self._deadline = deadline
        if not self._armed.is_set():
            self._armed.set()

    def _wait(self) -> None:
        self._armed.wait()
        while True:
            deadline = self._deadline
            if deadline is not None and time.monotonic() >= deadline:
                self._fire()
            time.sleep(0.05)

    def describe_unfinished(self) -> list[str]:
        """What the reporters say is still going on, and the threads that would keep the process alive."""
        lines: list[str] = []
        for reporter in list(self.reporters):
            with contextlib.suppress(Exception):
                lines.extend(reporter())
        threads = leftover_threads()
        if threads:
            lines.append("threads still running: " + ", ".join(repr(thread.name) for thread in threads))
        return lines

    def _fire(self) -> NoReturn:
        details = " ".join(f"{line.rstrip('.')}." for line in self.describe_unfinished())
        log.critical(
            "%s did not end within %.0f s: ending the process now (exit code %d). %s",
            self._what[:1].upper() + self._what[1:],
            self._seconds,
            exit_codes.SHUTDOWN_FORCED,
            details,
        )
        hard_exit(exit_codes.SHUTDOWN_FORCED)


_process_deadline: ProcessDeadline | None = None


def install_process_deadline() -> ProcessDeadline:
    """Let shutdowns in this process be bounded (the entry points call this; tests' bots do not)."""
    global _process_deadline
    if _process_deadline is None:
        _process_deadline = ProcessDeadline()
    return _process_deadline


def process_deadline() -> ProcessDeadline | None:
    """The installed deadline, if any."""
    return _process_deadline


def arm_process_deadline(seconds: float, what: str) -> None:
    """Arm the process deadline if one is installed (a no-op otherwise)."""
    if _process_deadline is not None:
        _process_deadline.arm(seconds, what)


class StopSignals:
    """SIGINT and SIGTERM: the first one calls ``request_stop`` on the loop and arms the process
    deadline (``bound()`` seconds); a second one ends the process at once, with 128 + its number."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, request_stop: Callable[[str], None], bound: Callable[[], float]
    ) -> None:
        self.loop = loop
        self.request_stop = request_stop
        self.bound = bound
        self.received: str | None = None
        self._previous: dict[int, object] = {}

    def install(self) -> None:
        """Handle SIGINT and SIGTERM from now on (main thread only)."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError, OSError):  # not the main thread, or not on this platform
                self._previous[sig] = signal.signal(sig, self._handle)

    def restore(self) -> None:
        """Put the previous handlers back."""
        for sig, previous in self._previous.items():
            with contextlib.suppress(ValueError, OSError, TypeError):
                signal.signal(sig, previous)  # type: ignore[arg-type]
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if self.received is not None:
            code = exit_codes.for_signal(signum)
            deadline = process_deadline()
            unfinished = deadline.describe_unfinished() if deadline is not None else []
            log.warning(
                "%s again during the shutdown: ending the process now (exit code %d)%s",
                name,
                code,
                "; " + "; ".join(unfinished) if unfinished else "",
            )
            hard_exit(code)
        self.received = name
        arm_process_deadline(self.bound(), f"the shutdown after {name}")
        with contextlib.suppress(RuntimeError):  # the loop has already closed
            self.loop.call_soon_threadsafe(self.request_stop, name)
