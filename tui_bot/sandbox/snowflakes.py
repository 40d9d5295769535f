"""Discord snowflakes and timestamps: minting ids, reading their time, Discord's timestamp format."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

DISCORD_EPOCH_MS = 1420070400000


def snowflake_time(snowflake: int) -> datetime:
    """When a snowflake was minted (its top 42 bits are milliseconds since the Discord epoch)."""
    return datetime.fromtimestamp(((snowflake >> 22) + DISCORD_EPOCH_MS) / 1000, tz=UTC)


def iso(moment: datetime | None) -> str | None:
    """Discord's timestamp format: ISO-8601 with microseconds and an explicit UTC offset."""
    return None if moment is None else moment.astimezone(UTC).isoformat(timespec="microseconds")


class SnowflakeGenerator:
    """Time-based, strictly increasing, unique snowflakes (Discord epoch, worker 1, process 0).

    Within one millisecond the low 12 bits count up; past 4096 ids in one millisecond the carry runs
    into the worker/process bits and then the time, so ids stay unique and ordered (discord.py sorts
    and paginates by id) at the cost of running slightly ahead of the clock.
    """

    def __init__(
        self, clock: Callable[[], float] = time.time, worker_id: int = 1, process_id: int = 0
    ) -> None:
        self._clock = clock
        self._prefix = ((worker_id & 0x1F) << 17) | ((process_id & 0x1F) << 12)
        self._last = 0

    def __call__(self) -> int:
        now_ms = int(self._clock() * 1000)
        candidate = ((now_ms - DISCORD_EPOCH_MS) << 22) | self._prefix
        self._last = max(candidate, self._last + 1)
        return self._last

    def observe(self, snowflake: int) -> None:
        """Never mint an id at or below ``snowflake`` (ids loaded from a world file)."""
        self._last = max(self._last, snowflake)
