"""A logging handler that only appends to a bounded buffer; the console drains it on a timer.

discord.py logs from its heartbeat thread as well as from the event loop, so the handler must never
touch a widget: it formats the line and appends it to a deque (thread-safe for append and popleft).
"""

from __future__ import annotations

import logging
from collections import deque

BUFFER_LINES = 10_000


class BufferedLogHandler(logging.Handler):
    """Keeps the newest ``capacity`` formatted log lines until the console takes them."""

    def __init__(self, capacity: int = BUFFER_LINES) -> None:
        super().__init__()
        self.lines: deque[tuple[int, str]] = deque(maxlen=capacity)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append((record.levelno, self.format(record)))
        except Exception:
            self.handleError(record)

    def drain(self, limit: int = 2_000) -> list[tuple[int, str]]:
        """Take up to ``limit`` of the oldest pending lines."""
        taken = []
        while self.lines and len(taken) < limit:
            taken.append(self.lines.popleft())
        return taken
