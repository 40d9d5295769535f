"""The bot's log records for attached consoles: captured as they are logged, sent in batches.

:class:`LogCapture` is a logging handler on the root logger: it only formats a copy of the record (redacted by
the process's redactor, as every handler's are) and appends it to a bounded ring, because records arrive from
discord.py's heartbeat thread as well as the event loop. The server takes what is new ten times a second
and hands each subscribed client its copy in :class:`ClientLogQueue`, bounded too: a client that reads
slowly loses its oldest records (counted, and told), never holds up the bot or the other clients.
"""

from __future__ import annotations

import copy
import itertools
import logging
from collections import deque
from typing import Any

from tui_bot.logs.redaction import PROCESS_REDACTOR

HISTORY_RECORDS = 2_000  # what a console that attaches gets of what was logged before
CLIENT_QUEUE_RECORDS = 5_000  # per client, waiting to be sent
BATCH_RECORDS = 500  # records per message at most
MAX_TEXT_CHARS = 16_000  # a record longer than this (a huge traceback) is cut, to bound a message
# The console's own line format (tui_bot.tui.log_buffer's): the time of day is enough on screen.
CONSOLE_FORMAT = "%(asctime)s %(levelname)-8s %(name)s: %(message)s"
CONSOLE_DATE_FORMAT = "%H:%M:%S"


def _cut(text: str) -> str:
    if len(text) <= MAX_TEXT_CHARS:
        return text
    return text[:MAX_TEXT_CHARS] + f"… ({len(text) - MAX_TEXT_CHARS:,} characters cut)"


class LogCapture(logging.Handler):
    """Keeps the newest :data:`HISTORY_RECORDS` records as plain dicts, each with a sequence number."""

    def __init__(self, capacity: int = HISTORY_RECORDS) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter(CONSOLE_FORMAT, CONSOLE_DATE_FORMAT))
        self.records: deque[dict[str, Any]] = deque(maxlen=capacity)
        self._numbers = itertools.count(1)  # next() is atomic in CPython: safe from any thread

    def emit(self, record: logging.LogRecord) -> None:
        try:
            # Redacted as every handler's records are, on a copy: the redactor rewrites the record, and
            # the other handlers of the root logger (a test's caplog) must see it as it was logged.
            record = copy.copy(record)
            PROCESS_REDACTOR.filter(record)
            text = self.format(record)
            self.records.append(
                {
                    "seq": next(self._numbers),
                    "level": record.levelno,
                    "logger": record.name,
                    "created": record.created,
                    "message": _cut(record.getMessage()),
                    "text": _cut(text),
                }
            )
        except Exception:
            self.handleError(record)

    def install(self) -> None:
        """Start capturing (on the root logger)."""
        root = logging.getLogger()
        if self not in root.handlers:
            root.addHandler(self)

    def remove(self) -> None:
        logging.getLogger().removeHandler(self)

    @property
    def last_seq(self) -> int:
        """The sequence number of the newest record (0: none yet)."""
        try:
            return int(self.records[-1]["seq"])
        except IndexError:
            return 0

    def since(self, seq: int) -> tuple[list[dict[str, Any]], int]:
        """The records after ``seq``, and how many after it are gone from the ring already."""
        records = list(self.records)  # a copy: another thread may append meanwhile
        start = len(records)
        while start > 0 and records[start - 1]["seq"] > seq:
            start -= 1
        newer = records[start:]
        lost = newer[0]["seq"] - seq - 1 if newer and seq > 0 else 0
        return newer, max(0, lost)


class ClientLogQueue:
    """One client's records waiting to be sent: the oldest are dropped (and counted) when it is full."""

    def __init__(self, capacity: int = CLIENT_QUEUE_RECORDS) -> None:
        self.records: deque[dict[str, Any]] = deque(maxlen=capacity)
        self.dropped = 0

    def extend(self, records: list[dict[str, Any]], lost: int = 0) -> None:
        overflow = len(self.records) + len(records) - (self.records.maxlen or 0)
        self.dropped += lost + max(0, overflow)
        self.records.extend(records)

    def take(self, limit: int = BATCH_RECORDS) -> tuple[list[dict[str, Any]], int]:
        """Up to ``limit`` of the oldest records, and the count dropped since the last take."""
        batch = [self.records.popleft() for _ in range(min(limit, len(self.records)))]
        dropped, self.dropped = self.dropped, 0
        return batch, dropped

    def __len__(self) -> int:
        return len(self.records)
