"""Cluster-wide IDENTIFY spacing: one IDENTIFY per bucket (``shard_id % max_concurrency``) per window.

Discord lets a bot start ``max_concurrency`` sessions per 5 seconds, one per bucket. One process spaces
its own shards (discord.py sleeps 5 s between them); several processes must share the buckets. Each
bucket is one row holding the earliest time the next IDENTIFY may go out. Taking a turn is a single
conditional UPDATE that moves that time one window ahead: a time-based token, so a process that crashes
right after taking its turn blocks the bucket for one window at most, never for ever. The database's
clock decides, so workers on several hosts agree.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

log = logging.getLogger("tui_bot.cluster")

DISCORD_IDENTIFY_WINDOW = 5.0  # seconds between two IDENTIFYs of one bucket, as Discord requires
_SAFETY_MARGIN = 0.1  # added to the window: clocks of the database and Discord are not one clock


class IdentifyGate:
    """Waits for a bucket's turn before each IDENTIFY (discord.py's ``before_identify_hook``)."""

    def __init__(
        self, pool: Any, *, max_concurrency: int = 1, window: float = DISCORD_IDENTIFY_WINDOW
    ) -> None:
        if max_concurrency < 1:
            raise ValueError(f"max_concurrency must be at least 1, not {max_concurrency}")
        self.pool = pool
        self.max_concurrency = max_concurrency
        self.window = window + _SAFETY_MARGIN
        self.turns_taken = 0

    def bucket(self, shard_id: int) -> int:
        return shard_id % self.max_concurrency

    async def prepare(self) -> None:
        """Create the bucket rows (idempotent; the oldest possible time: the first turn is free)."""
        async with self.pool.acquire() as connection:
            await connection.executemany(
                "INSERT INTO tui_cluster_identify (bucket, next_allowed) VALUES ($1, '-infinity') "
                "ON CONFLICT (bucket) DO NOTHING",
                [(bucket,) for bucket in range(self.max_concurrency)],
            )

    async def wait_turn(self, shard_id: int) -> None:
        """Return once this process may IDENTIFY ``shard_id``: the bucket's turn is taken atomically."""
        bucket = self.bucket(shard_id)
        while True:
            async with self.pool.acquire() as connection:
                taken = await connection.fetchval(
                    "UPDATE tui_cluster_identify "
                    "SET next_allowed = clock_timestamp() + make_interval(secs => $2) "
                    "WHERE bucket = $1 AND next_allowed <= clock_timestamp() RETURNING true",
                    bucket,
                    self.window,
                )
                if taken:
                    self.turns_taken += 1
                    log.debug("IDENTIFY turn taken for shard %s (bucket %s)", shard_id, bucket)
                    return
                wait = await connection.fetchval(
                    "SELECT GREATEST(EXTRACT(EPOCH FROM next_allowed - clock_timestamp()), 0)::float8 "
                    "FROM tui_cluster_identify WHERE bucket = $1",
                    bucket,
                )
            if wait is None:  # the row vanished (a tool reset the table): recreate and retry
                await self.prepare()
                continue
            # Cap the sleep: a changed window or a reset row is noticed within a second.
            await asyncio.sleep(min(float(wait), 1.0) + 0.01)
