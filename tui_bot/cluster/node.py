"""This process as a member of the cluster: the one object the bot and the runtime talk to."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg

from tui_bot.cluster.bus import DEFAULT_TIMEOUT, ActionBus, ActionHandler, WorkerReply
from tui_bot.cluster.identify import DISCORD_IDENTIFY_WINDOW, IdentifyGate
from tui_bot.cluster.invalidation import GuildChangeListener
from tui_bot.cluster.listener import ClusterListener
from tui_bot.cluster.membership import (
    HEARTBEAT_SECONDS,
    STALE_AFTER_SECONDS,
    WorkerRegistry,
    WorkerStatus,
    read_workers,
)
from tui_bot.cluster.schema import ensure_schema

log = logging.getLogger("tui_bot.cluster")


class ClusterNode:
    """Claims the shards, heart-beats, spaces IDENTIFYs, applies guild changes and runs cluster actions.

    ``pool`` is the bot's asyncpg pool (``bot.db.pool``); ``connect`` opens the extra connection that
    listens. The bot hands in what only it knows as callbacks: its state for the status table, how to
    run an action locally, which guilds it serves and how to reload a guild's settings.
    """

    def __init__(
        self,
        *,
        pool: Any,
        connect: Callable[[], Awaitable[Any]],
        shard_ids: Sequence[int],
        shard_count: int,
        version: str,
        state: Callable[[], dict[str, Any]],
        run_action: ActionHandler,
        serves: Callable[[int], bool],
        reload_guild: Callable[[int | None], Awaitable[None]],
        heartbeat: float = HEARTBEAT_SECONDS,
        stale_after: float = STALE_AFTER_SECONDS,
        identify_window: float = DISCORD_IDENTIFY_WINDOW,
        action_timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.pool = pool
        self.shard_ids = tuple(shard_ids)
        self.shard_count = shard_count
        self.stale_after = stale_after
        self.identify_window = identify_window
        self.action_timeout = action_timeout
        self.registry = WorkerRegistry(
            pool,
            self.shard_ids,
            shard_count,
            version,
            state=state,
            interval=heartbeat,
            stale_after=stale_after,
        )
        self.listener = ClusterListener(connect)
        self.guild_changes = GuildChangeListener(self.listener, serves=serves, reload=reload_guild)
        self.bus = ActionBus(
            pool,
            self.listener,
            worker_id=self.registry.worker_id,
            handler=run_action,
            stale_after=stale_after,
        )
        self.identify: IdentifyGate | None = None
        self.started = False

    @property
    def worker_id(self) -> str:
        return self.registry.worker_id

    async def start(self) -> None:
        """Join: schema, claim (raises ShardClaimError), listen, heartbeat. Before connecting to Discord."""
        async with self.pool.acquire() as connection:
            await ensure_schema(connection)
        await self.registry.claim()
        await self.bus.prepare()
        await self.listener.start()
        self.registry.start()
        self.started = True

    async def prepare_identify(self, max_concurrency: int) -> IdentifyGate:
        gate = IdentifyGate(self.pool, max_concurrency=max_concurrency, window=self.identify_window)
        await gate.prepare()
        self.identify = gate
        return gate

    async def wait_identify_turn(self, shard_id: int) -> None:
        if self.identify is None:
            await self.prepare_identify(1)
        assert self.identify is not None
        await self.identify.wait_turn(shard_id)

    async def request(self, verb: str, argument: str) -> list[WorkerReply]:
        return await self.bus.request(verb, argument, wait_seconds=self.action_timeout)

    async def workers(self) -> list[WorkerStatus]:
        async with self.pool.acquire() as connection:
            return await read_workers(connection, stale_after=self.stale_after)

    async def close(self) -> None:
        if not self.started:
            return
        self.started = False
        await self.listener.close()
        await self.registry.release()


def listener_connector(dsn: str) -> Callable[[], Awaitable[Any]]:
    """Opens the listening connection (a short timeout: a reconnect loop retries)."""

    async def connect() -> Any:
        return await asyncpg.connect(dsn, timeout=10)

    return connect
