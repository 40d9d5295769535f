"""Which worker serves which shards, and how each worker is doing.

A worker claims its shard ids in one transaction before it connects to Discord: a shard held by another
worker that was seen recently is refused with a message naming the holder; a shard whose holder stopped
heart-beating for ``stale_after`` seconds (killed, frozen, its host gone) is taken over. While it runs,
the worker writes its state every ``interval`` seconds (per-shard state and latency, guilds, version);
``tui-bot cluster status``, ``!stats`` and the console's Cluster pane read it back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("tui_bot.cluster")

HEARTBEAT_SECONDS = 3.0
STALE_AFTER_SECONDS = 15.0
CLAIM_LOCK_KEY = 0x7475_6962_6F74_0002


class ShardClaimError(RuntimeError):
    """Another live worker holds a shard this worker asked for, or the shard counts disagree."""


def new_worker_id() -> str:
    """Unique per process start, readable in a status table: host, pid and a short random tag."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True)
class WorkerStatus:
    """One row of the cluster status, as read from the database."""

    worker_id: str
    host: str
    pid: int
    shard_ids: tuple[int, ...]
    shard_count: int
    version: str
    state: dict[str, Any]
    seconds_since_seen: float
    stopped: bool
    stale: bool

    @property
    def guilds(self) -> int:
        return int(self.state.get("guilds", 0))

    @property
    def live(self) -> bool:
        return not self.stale and not self.stopped

    @property
    def label(self) -> str:
        if self.stopped:
            return "stopped"
        return "stale" if self.stale else "up"

    def to_json(self) -> dict[str, Any]:
        return {
            "worker_id": self.worker_id,
            "host": self.host,
            "pid": self.pid,
            "shard_ids": list(self.shard_ids),
            "shard_count": self.shard_count,
            "version": self.version,
            "status": self.label,
            "last_seen_seconds_ago": round(self.seconds_since_seen, 1),
            "guilds": self.guilds,
            "shards": self.state.get("shards", {}),
        }


async def read_workers(connection: Any, *, stale_after: float = STALE_AFTER_SECONDS) -> list[WorkerStatus]:
    """Every worker recorded, newest first; ``stale`` when not seen for ``stale_after`` seconds."""
    rows = await connection.fetch(
        "SELECT worker_id, host, pid, shard_ids, shard_count, version, state, stopped, "
        "EXTRACT(EPOCH FROM clock_timestamp() - last_seen)::float8 AS age "
        "FROM tui_cluster_workers ORDER BY shard_ids[1] NULLS LAST, started_at DESC"
    )
    workers = []
    for row in rows:
        state = row["state"]
        workers.append(
            WorkerStatus(
                worker_id=row["worker_id"],
                host=row["host"],
                pid=row["pid"],
                shard_ids=tuple(row["shard_ids"]),
                shard_count=row["shard_count"],
                version=row["version"],
                state=json.loads(state) if isinstance(state, str) else dict(state or {}),
                seconds_since_seen=row["age"],
                stopped=row["stopped"],
                stale=row["age"] > stale_after,
            )
        )
    return workers


@dataclass
class WorkerRegistry:
    """This worker's claim on its shards and its heartbeat in the status table."""

    pool: Any
    shard_ids: Sequence[int]
    shard_count: int
    version: str
    state: Callable[[], dict[str, Any]] = dict
    interval: float = HEARTBEAT_SECONDS
    stale_after: float = STALE_AFTER_SECONDS
    worker_id: str = field(default_factory=new_worker_id)
    _task: asyncio.Task[None] | None = None

    async def claim(self) -> None:
        """Claim every shard id or none; raise ShardClaimError naming the live holder of a shard."""
        host, pid = self.worker_id.split(":")[0], os.getpid()
        async with self.pool.acquire() as connection, connection.transaction():
            # One claimer at a time: two workers asking for the same shard cannot both see it free.
            await connection.execute("SELECT pg_advisory_xact_lock($1)", CLAIM_LOCK_KEY)
            rows = await connection.fetch(
                "SELECT s.shard_id, s.shard_count, s.worker_id, "
                "EXTRACT(EPOCH FROM clock_timestamp() - s.last_seen)::float8 AS age "
                "FROM tui_cluster_shards s"
            )
            for row in rows:
                live = row["age"] <= self.stale_after and row["worker_id"] != self.worker_id
                if not live:
                    continue
                if row["shard_count"] != self.shard_count:
                    raise ShardClaimError(
                        f"the cluster runs {row['shard_count']} shards (worker {row['worker_id']} "
                        f"serves shard {row['shard_id']} of {row['shard_count']}), but this worker was "
                        f"started with --shard-count {self.shard_count}. Start every worker with the same "
                        "shard count."
                    )
                if row["shard_id"] in self.shard_ids:
                    raise ShardClaimError(
                        f"shard {row['shard_id']} is already served by worker {row['worker_id']} (seen "
                        f"{row['age']:.0f} s ago). Pick other --shard-ids, or stop that worker; a worker not "
                        f"seen for {self.stale_after:.0f} s is taken over."
                    )
            await connection.executemany(
                "INSERT INTO tui_cluster_shards (shard_id, shard_count, worker_id, last_seen) "
                "VALUES ($1, $2, $3, clock_timestamp()) ON CONFLICT (shard_id) DO UPDATE SET "
                "shard_count = EXCLUDED.shard_count, worker_id = EXCLUDED.worker_id, "
                "last_seen = EXCLUDED.last_seen",
                [(shard_id, self.shard_count, self.worker_id) for shard_id in self.shard_ids],
            )
            # Claims of shards beyond the new count belong to an older layout: forget them.
            await connection.execute("DELETE FROM tui_cluster_shards WHERE shard_id >= $1", self.shard_count)
            await connection.execute(
                "INSERT INTO tui_cluster_workers "
                "(worker_id, host, pid, shard_ids, shard_count, version, state) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)",
                self.worker_id,
                host,
                pid,
                list(self.shard_ids),
                self.shard_count,
                self.version,
                json.dumps({"shards": {}, "guilds": 0}),
            )
        log.info(
            "Cluster: worker %s claimed shard(s) %s of %d",
            self.worker_id,
            ", ".join(map(str, self.shard_ids)),
            self.shard_count,
        )

    async def beat(self) -> None:
        """Record this worker's state now and refresh its claims."""
        state = json.dumps(self.state(), default=str)
        async with self.pool.acquire() as connection:
            await connection.execute(
                "UPDATE tui_cluster_workers SET state = $2::jsonb, last_seen = clock_timestamp() "
                "WHERE worker_id = $1",
                self.worker_id,
                state,
            )
            kept = await connection.fetchval(
                "WITH kept AS (UPDATE tui_cluster_shards SET last_seen = clock_timestamp() "
                "WHERE worker_id = $1 RETURNING 1) SELECT count(*) FROM kept",
                self.worker_id,
            )
        if kept < len(self.shard_ids):
            log.error(
                "Cluster: %d of this worker's shard claims were taken over by another worker (this worker "
                "was not seen for over %.0f s); two workers may now serve the same shards",
                len(self.shard_ids) - kept,
                self.stale_after,
            )

    def start(self) -> None:
        self._task = asyncio.create_task(self._beat_forever(), name="tui-bot:cluster-heartbeat")

    async def _beat_forever(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.beat()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # a database hiccup: the next beat tries again
                log.warning("Cluster: heartbeat not recorded (%s); retrying in %.0f s", error, self.interval)

    async def release(self) -> None:
        """On a clean stop: free the shards at once and mark the worker stopped."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        try:
            async with self.pool.acquire() as connection:
                await connection.execute(
                    "DELETE FROM tui_cluster_shards WHERE worker_id = $1", self.worker_id
                )
                await connection.execute(
                    "UPDATE tui_cluster_workers SET stopped = TRUE, last_seen = clock_timestamp() "
                    "WHERE worker_id = $1",
                    self.worker_id,
                )
        except Exception as error:  # the claims go stale on their own
            log.warning("Cluster: could not release this worker's shards (%s)", error)
