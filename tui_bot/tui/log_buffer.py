"""A logging handler that only appends to a bounded buffer; the console drains it on a timer.

discord.py logs from its heartbeat thread as well as from the event loop, and in the console every
record reaches this handler from the logging listener thread, so the handler must never touch a
widget: it formats the record and appends one entry to a deque (thread-safe for append and popleft).
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass

BUFFER_LINES = 10_000
# The console's own line format: the time of day is enough on screen (the files keep the date).
CONSOLE_FORMAT = "%(asctime)s %(levelname)-8s %(name)s: %(message)s"
CONSOLE_DATE_FORMAT = "%H:%M:%S"


def console_formatter() -> logging.Formatter:
    """The formatter the console's log pane uses."""
    return logging.Formatter(CONSOLE_FORMAT, CONSOLE_DATE_FORMAT)


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One formatted record: ``text`` may span several lines (a traceback)."""

    level: int
    logger: str
    created: float  # time.time() when the record was made
    message: str  # the record's message alone (no time, level or traceback): for notifications
    text: str

    @property
    def first_line(self) -> str:
        return self.message.partition("\n")[0]


class BufferedLogHandler(logging.Handler):
    """Keeps the newest ``capacity`` formatted records until the console takes them.

    When the console falls behind (a burst of logging), the oldest pending records are dropped and
    counted in ``dropped``, so memory stays bounded and the pane can say how many it skipped.
    """

    def __init__(self, capacity: int = BUFFER_LINES) -> None:
        super().__init__()
        self.entries: deque[LogEntry] = deque(maxlen=capacity)
        self.dropped = 0

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
            if len(self.entries) == self.entries.maxlen:
                self.dropped += 1
            self.entries.append(
                LogEntry(record.levelno, record.name, record.created, record.getMessage(), text)
            )
        except Exception:
            self.handleError(record)

    def drain(self, limit: int = 2_000) -> list[LogEntry]:
        """Take up to ``limit`` of the oldest pending records."""
        taken: list[LogEntry] = []
        entries = self.entries
        while entries and len(taken) < limit:
            taken.append(entries.popleft())
        return taken

    def take_dropped(self) -> int:
        """How many records were dropped since the last call (and reset the count)."""
        dropped, self.dropped = self.dropped, 0
        return dropped
