"""Owner actions on every worker: ``!reload``, ``!load``, ``!unload`` and the console keys.

A request is a row (verb and extension name) plus a NOTIFY of its id; every worker runs the verb through
its own ``bot.actions`` and writes one result row; the requester waits for a result from every worker
that was live when it asked, up to a timeout, and names the workers that did not answer. Only the verbs
in :data:`VERBS` exist: a request carries a name, never code, and the extension manager validates the
name on each worker as it does for a local command.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from tui_bot.cluster.listener import ClusterListener
from tui_bot.cluster.membership import STALE_AFTER_SECONDS, read_workers
from tui_bot.cluster.schema import ACTION_CHANNEL

log = logging.getLogger("tui_bot.cluster")

VERBS = frozenset({"load", "unload", "reload"})
DEFAULT_TIMEOUT = 10.0
_POLL_SECONDS = 0.1
_KEEP_ACTIONS = "1 hour"

ActionHandler = Callable[[str, str], Awaitable[tuple[bool, str]]]


@dataclass(frozen=True)
class WorkerReply:
    """One worker's answer to a cluster-wide action (``answered`` False: none came in time)."""

    worker_id: str
    shard_ids: tuple[int, ...]
    ok: bool
    message: str
    answered: bool = True

    def describe(self) -> str:
        shards = ",".join(map(str, self.shard_ids))
        mark = "✅" if self.ok else ("⏱️" if not self.answered else "❌")
        return f"{mark} worker {self.worker_id} (shards {shards}): {self.message}"


class ActionBus:
    """Sends cluster-wide actions and runs the ones other workers send."""

    def __init__(
        self,
        pool: Any,
        listener: ClusterListener,
        *,
        worker_id: str,
        handler: ActionHandler,
        stale_after: float = STALE_AFTER_SECONDS,
    ) -> None:
        self.pool = pool
        self.worker_id = worker_id
        self.handler = handler
        self.stale_after = stale_after
        self._started_after = 0
        listener.subscribe(ACTION_CHANNEL, self._requested)
        listener.on_reconnect(self._answer_missed)

    async def prepare(self) -> None:
        """Remember where the action log stands: older actions are never run by this worker."""
        async with self.pool.acquire() as connection:
            self._started_after = await connection.fetchval(
                "SELECT COALESCE(max(action_id), 0) FROM tui_cluster_actions"
            )

    async def request(
        self, verb: str, argument: str, *, wait_seconds: float = DEFAULT_TIMEOUT
    ) -> list[WorkerReply]:
        """Run ``verb argument`` on every live worker; one reply per worker, in shard order."""
        if verb not in VERBS:
            raise ValueError(f"{verb!r} is not a cluster action (only {', '.join(sorted(VERBS))})")
        async with self.pool.acquire() as connection:
            workers = [w for w in await read_workers(connection, stale_after=self.stale_after) if w.live]
            async with connection.transaction():
                action_id = await connection.fetchval(
                    "INSERT INTO tui_cluster_actions (verb, argument, origin) VALUES ($1, $2, $3) "
                    "RETURNING action_id",
                    verb,
                    argument,
                    self.worker_id,
                )
                await connection.execute("SELECT pg_notify($1, $2)", ACTION_CHANNEL, str(action_id))
            await connection.execute(
                "DELETE FROM tui_cluster_actions "
                f"WHERE created_at < clock_timestamp() - interval '{_KEEP_ACTIONS}'"
            )
        expected = {worker.worker_id: worker for worker in workers}
        expected.setdefault(self.worker_id, None)  # type: ignore[arg-type]  # this worker always answers
        answers: dict[str, Any] = {}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_seconds
        while True:
            async with self.pool.acquire() as connection:
                rows = await connection.fetch(
                    "SELECT worker_id, ok, message FROM tui_cluster_action_results WHERE action_id = $1",
                    action_id,
                )
            answers = {row["worker_id"]: row for row in rows}
            if set(expected) <= set(answers) or loop.time() >= deadline:
                break
            await asyncio.sleep(_POLL_SECONDS)
        shards = {w.worker_id: w.shard_ids for w in workers}
        replies = [
            WorkerReply(worker_id, shards.get(worker_id, ()), row["ok"], row["message"])
            for worker_id, row in answers.items()
        ]
        silent = f"no answer within {wait_seconds:g} s"
        replies += [
            WorkerReply(worker_id, shards.get(worker_id, ()), False, silent, answered=False)
            for worker_id in expected
            if worker_id not in answers
        ]
        return sorted(replies, key=lambda reply: (reply.shard_ids or (10**9,), reply.worker_id))

    async def _requested(self, payload: str) -> None:
        try:
            action_id = int(payload)
        except ValueError:
            return
        await self._run(action_id)

    async def _run(self, action_id: int) -> None:
        async with self.pool.acquire() as connection:
            row = await connection.fetchrow(
                "SELECT verb, argument FROM tui_cluster_actions WHERE action_id = $1", action_id
            )
        if row is None or row["verb"] not in VERBS:
            return
        try:
            ok, message = await self.handler(row["verb"], row["argument"])
        except Exception as error:  # the handler reports failures itself; this is a last resort
            log.exception("Cluster: %s %s failed on this worker", row["verb"], row["argument"])
            ok, message = False, f"{type(error).__name__}"
        async with self.pool.acquire() as connection:
            await connection.execute(
                "INSERT INTO tui_cluster_action_results (action_id, worker_id, ok, message) "
                "VALUES ($1, $2, $3, $4) "
                "ON CONFLICT DO NOTHING",
                action_id,
                self.worker_id,
                ok,
                message[:1000],
            )

    async def _answer_missed(self) -> None:
        """After a reconnection: run recent actions this worker has not answered (their NOTIFY was lost)."""
        async with self.pool.acquire() as connection:
            missed = await connection.fetch(
                "SELECT a.action_id FROM tui_cluster_actions a WHERE a.action_id > $1 "
                "AND a.created_at > clock_timestamp() - make_interval(secs => $3) AND NOT EXISTS ("
                "SELECT 1 FROM tui_cluster_action_results r "
                "WHERE r.action_id = a.action_id AND r.worker_id = $2)",
                self._started_after,
                self.worker_id,
                DEFAULT_TIMEOUT,
            )
        for row in missed:
            await self._run(row["action_id"])
