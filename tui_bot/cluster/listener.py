"""One dedicated connection that LISTENs for the cluster's notifications, and comes back after a loss.

PostgreSQL delivers a NOTIFY only to connections listening at that moment and never replays it, so a
worker whose listening connection dropped may have missed changes: after every reconnection the
``on_reconnect`` callbacks run (the guild caches are dropped, unanswered actions are looked up).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

log = logging.getLogger("tui_bot.cluster")

Handler = Callable[[str], Awaitable[None]]
RECONNECT_DELAYS = (0.2, 0.5, 1.0, 2.0, 5.0)


class ClusterListener:
    """LISTEN on channels over a connection of its own (a pooled one would be handed to others)."""

    def __init__(self, connect: Callable[[], Awaitable[Any]]) -> None:
        self._connect = connect
        self._handlers: dict[str, Handler] = {}
        self._reconnected: list[Callable[[], Awaitable[None]]] = []
        self._connection: Any = None
        self._lost = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Task[None]] = set()
        self.connections_made = 0

    def subscribe(self, channel: str, handler: Handler) -> None:
        self._handlers[channel] = handler

    def on_reconnect(self, callback: Callable[[], Awaitable[None]]) -> None:
        self._reconnected.append(callback)

    async def start(self) -> None:
        """Connect and listen now (so nothing sent after start() is missed), then watch the connection."""
        await self._listen()
        self._task = asyncio.create_task(self._keep_listening(), name="tui-bot:cluster-listener")

    async def _listen(self) -> None:
        connection = await self._connect()
        self._lost.clear()
        for channel in self._handlers:
            await connection.add_listener(channel, self._notified)
        connection.add_termination_listener(lambda _connection: self._lost.set())
        self._connection = connection
        self.connections_made += 1

    def _notified(self, _connection: Any, _pid: int, channel: str, payload: str) -> None:
        handler = self._handlers.get(channel)
        if handler is None:
            return
        task = asyncio.create_task(self._run(channel, handler, payload))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    @staticmethod
    async def _run(channel: str, handler: Handler, payload: str) -> None:
        try:
            await handler(payload)
        except Exception:
            log.exception("Cluster: handling a %s notification failed", channel)

    async def _keep_listening(self) -> None:
        while True:
            await self._lost.wait()
            log.warning("Cluster: the listening connection to PostgreSQL was lost; reconnecting")
            for attempt in range(10**9):
                await asyncio.sleep(RECONNECT_DELAYS[min(attempt, len(RECONNECT_DELAYS) - 1)])
                try:
                    await self._listen()
                    break
                except (TimeoutError, OSError, asyncpg.PostgresError) as error:
                    if attempt % 10 == 0:
                        log.warning("Cluster: PostgreSQL not reachable yet (%s)", type(error).__name__)
            log.info("Cluster: listening again; reloading what may have been missed")
            for callback in self._reconnected:
                try:
                    await callback()
                except Exception:
                    log.exception("Cluster: reloading after a reconnection failed")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for task in list(self._pending):
            task.cancel()
        if self._connection is not None and not self._connection.is_closed():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._connection.close(), timeout=2)

    async def drop_connection_for_test(self) -> None:
        """Terminate the listening connection as a network loss would (tests of the reload path)."""
        if self._connection is not None:
            self._connection.terminate()
