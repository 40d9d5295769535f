"""The cluster at a glance: which shards are served by a live worker, and each worker's own report.

Read by ``tui-bot cluster status``, ``!stats`` (cluster totals) and the console's Cluster pane.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tui_bot.cluster.membership import STALE_AFTER_SECONDS, WorkerStatus, read_workers


def ids_text(shard_ids: tuple[int, ...]) -> str:
    """``0-3`` for a contiguous run, else ``0,2,4``."""
    if not shard_ids:
        return "-"
    ordered = sorted(shard_ids)
    if len(ordered) > 1 and ordered == list(range(ordered[0], ordered[-1] + 1)):
        return f"{ordered[0]}-{ordered[-1]}"
    return ",".join(map(str, ordered))


def ago_text(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s ago"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.1f} h ago"


def shard_summary(worker: WorkerStatus) -> str:
    """``0 ready 3 ms, 1 connecting``: each shard's state and latency as the worker last reported."""
    parts = []
    for shard_id, info in sorted(worker.state.get("shards", {}).items(), key=lambda item: int(item[0])):
        latency = info.get("latency_ms")
        parts.append(
            f"{shard_id} {info.get('state', '?')}" + (f" {latency:g} ms" if latency is not None else "")
        )
    return ", ".join(parts) or "-"


@dataclass(frozen=True)
class ClusterStatus:
    workers: list[WorkerStatus]

    @property
    def live(self) -> list[WorkerStatus]:
        return [w for w in self.workers if w.live]

    @property
    def shard_count(self) -> int | None:
        live = self.live or [w for w in self.workers if not w.stopped]
        return live[0].shard_count if live else None

    @property
    def served(self) -> set[int]:
        return {shard for worker in self.live for shard in worker.shard_ids}

    @property
    def unserved(self) -> list[int]:
        count = self.shard_count
        return [] if count is None else sorted(set(range(count)) - self.served)

    @property
    def stale(self) -> list[WorkerStatus]:
        return [w for w in self.workers if w.stale and not w.stopped]

    @property
    def guilds(self) -> int:
        return sum(worker.guilds for worker in self.live)

    @property
    def healthy(self) -> bool:
        return bool(self.live) and not self.unserved and not self.stale

    def shown(self, include_stopped: bool) -> list[WorkerStatus]:
        return [w for w in self.workers if include_stopped or not w.stopped]

    def totals(self) -> str:
        """One line for ``!stats``: ``3 workers up · 1 stale · 6/6 shards · 14 servers``."""
        up, stale = len(self.live), len(self.stale)
        count = self.shard_count
        parts = [f"{up} worker{'s' if up != 1 else ''} up"]
        if stale:
            parts.append(f"{stale} stale")
        parts.append(f"{len(self.served)}/{count} shards" if count is not None else "no shard served")
        parts.append(f"{self.guilds} server{'s' if self.guilds != 1 else ''}")
        if self.unserved:
            parts.append(f"not served: {ids_text(tuple(self.unserved))}")
        return " · ".join(parts)

    def summary(self) -> str:
        if not self.workers:
            return "No worker has joined this cluster yet."
        count = self.shard_count
        served = f"{len(self.served)}/{count} shards served" if count is not None else "no live worker"
        text = f"{len(self.live)} worker(s) up, {len(self.stale)} stale; {served}; {self.guilds} guild(s)"
        if self.unserved:
            text += f"; NOT SERVED: shard(s) {ids_text(tuple(self.unserved))}"
        return text

    def lines(self, *, include_stopped: bool = False) -> list[str]:
        rows = [("WORKER", "STATUS", "SHARDS", "GUILDS", "LAST SEEN", "VERSION", "SHARD STATES")]
        for w in self.shown(include_stopped):
            rows.append(
                (
                    w.worker_id,
                    w.label,
                    ids_text(w.shard_ids),
                    str(w.guilds),
                    ago_text(w.seconds_since_seen),
                    w.version,
                    shard_summary(w),
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
        table = [
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[-1]
            for row in rows
        ]
        return [self.summary(), "", *table] if len(rows) > 1 else [self.summary()]

    def to_json(self, *, include_stopped: bool = False) -> dict[str, Any]:
        return {
            "healthy": self.healthy,
            "shard_count": self.shard_count,
            "shards_served": sorted(self.served),
            "shards_not_served": self.unserved,
            "guilds": self.guilds,
            "workers": [w.to_json() for w in self.shown(include_stopped)],
        }


async def read_cluster_status(url: str, *, stale_after: float = STALE_AFTER_SECONDS) -> ClusterStatus:
    """Connect once, read the status table (an empty cluster if no worker ever joined), disconnect."""
    import asyncpg

    connection = await asyncpg.connect(url, timeout=10)
    try:
        exists = await connection.fetchval("SELECT to_regclass('tui_cluster_workers') IS NOT NULL")
        if not exists:
            return ClusterStatus([])
        return ClusterStatus(await read_workers(connection, stale_after=stale_after))
    finally:
        await connection.close()
