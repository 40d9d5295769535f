"""Which logged errors become notifications, so a failure anywhere in the bot is seen at once.

Every ERROR or CRITICAL record the console drains is a candidate: an unexpected error in a command
(``tui_bot.errors``, with its error id), an exception in an event handler (discord.py's ``on_error``
logs to ``discord.client``), an extension that fails to load or reload, a background task crashing.
Two rules keep it readable: an operator action's own errors are left out (its result is notified
already), and a burst of errors yields a few notifications and a count, not one toast each.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

from tui_bot.tui.log_buffer import LogEntry

# Loggers the action layer reports through; the action's result notification covers them.
ACTION_LOGGERS = ("tui_bot.extensions", "tui_bot.actions", "tui_bot.sync")
MAX_PER_BATCH = 3


@dataclass(frozen=True)
class Notice:
    title: str
    message: str


def _from_action_logger(logger: str) -> bool:
    return any(logger == name or logger.startswith(name + ".") for name in ACTION_LOGGERS)


class ErrorNotices:
    """Turns drained log entries into at most ``MAX_PER_BATCH`` notices per batch."""

    def __init__(self, *, max_per_batch: int = MAX_PER_BATCH) -> None:
        self.max_per_batch = max_per_batch
        self._windows: deque[list[float]] = deque(maxlen=32)  # [start, end] of recent operator actions

    @contextlib.contextmanager
    def operator_action(self) -> Iterator[None]:
        """Around a console action: errors it logs are its own and are not notified twice."""
        window = [time.time(), float("inf")]
        self._windows.append(window)
        try:
            yield
        finally:
            window[1] = time.time()

    def _during_action(self, created: float) -> bool:
        return any(start <= created <= end for start, end in self._windows)

    def select(self, entries: list[LogEntry]) -> list[Notice]:
        """The notices for one drained batch."""
        errors = [
            entry
            for entry in entries
            if entry.level >= logging.ERROR
            and not (_from_action_logger(entry.logger) and self._during_action(entry.created))
        ]
        notices = [
            Notice(f"{logging.getLevelName(e.level).title()} · {e.logger}", e.first_line)
            for e in errors[: self.max_per_batch]
        ]
        hidden = len(errors) - len(notices)
        if hidden > 0:
            notices.append(Notice("More errors", f"{hidden} more error(s) in the log."))
        return notices
