"""The console's link to a bot running elsewhere, over its admin endpoint (``tui-bot attach``).

Reads are served from a cache, so the panes render synchronously as they do in-process: a background
loop (the app's bot worker runs :meth:`RemoteLink.run`) asks for the status every second, and for the
stats, guild rows and extension rows while a pane has asked for them in the last few seconds (a pane's
first read wakes the loop at once, and :class:`~tui_bot.tui.link.LinkRefreshed` tells the app to show
the answer). Log records the bot pushes go straight into the console's log buffer, so the Logs pane
drains them like its own. A bot that goes away is said (:class:`~tui_bot.tui.link.LinkLost`), and the
link keeps reconnecting until the operator quits; quitting leaves the bot running.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from tui_bot import exit_codes
from tui_bot.cluster.membership import WorkerStatus
from tui_bot.core.actions import ExtensionVerb, PlainResult
from tui_bot.core.results import ActionResult
from tui_bot.core.sync import SyncPlan
from tui_bot.runtime.admin import AdminClient, AdminError, AdminRefused, ConnectionLost
from tui_bot.runtime.admin.protocol import ProtocolError, from_wire
from tui_bot.runtime.reader import ExtensionRow, GuildDetails, GuildRow
from tui_bot.scaffold import invite_permissions, invite_url
from tui_bot.tui.connection import ConnectionChanged, ConnectionState
from tui_bot.tui.link import BotLink, ClusterView, LinkLost, LinkRefreshed, LinkRestored, Post
from tui_bot.tui.log_buffer import BufferedLogHandler, LogEntry
from tui_bot.tui.messages import HotReloaded

log = logging.getLogger("tui_bot.console")

REFRESH_SECONDS = 1.0
WANTED_SECONDS = 3.0  # a pane that read something this recently is kept fresh
RECONNECT_SECONDS = (0.5, 1.0, 2.0, 3.0, 5.0)  # then every 5 s
PANE_DATA = ("stats", "guilds", "extensions")


def _state(value: Any) -> ConnectionState | None:
    try:
        return ConnectionState(value)
    except ValueError:
        return None


class RemoteLink(BotLink):
    """A client of one bot's admin endpoint, given already connected (``tui-bot attach`` connects
    first, so that a refused connection is one line before any screen)."""

    def __init__(
        self,
        client: AdminClient,
        *,
        log_handler: BufferedLogHandler,
        client_factory: Callable[[], AdminClient] | None = None,
    ) -> None:
        self.client = client
        self.log_handler = log_handler
        self.attached_to = str(client.target)
        self.target = f"{client.hello.get('target', 'bot')}, attached"
        self._client_factory = client_factory or client.clone
        self._post: Post = lambda _message: None
        self._status: dict[str, Any] | None = None
        self._data: dict[str, Any] = {}
        self._wanted: dict[str, float] = {}
        self._invite: tuple[int, str] | None = None  # (application id, link)
        self._wake = asyncio.Event()
        self._news = False  # something a pane waits for arrived: tell the app after this round
        self._stopping = False
        self._lost = False
        self._instance = str(client.hello.get("instance", ""))
        self._log_seq = 0
        self._subscribed = False
        self._shards: dict[int, ConnectionState] = {}
        self._connection: ConnectionState | None = None
        self._hook(client)

    def _hook(self, client: AdminClient) -> None:
        client.on_event = self._event
        client.on_close = self._wake.set

    # -- life --------------------------------------------------------------------------------------

    def start(self, post: Post) -> None:
        self._post = post

    async def run(self) -> int:
        attempt = 0
        while not self._stopping:
            if not self.client.connected:
                self._went_away()
                if not await self._reconnect():
                    await self._pause(RECONNECT_SECONDS[min(attempt, len(RECONNECT_SECONDS) - 1)])
                    attempt += 1
                    continue
                attempt = 0
            try:
                await self._round()
            except (ConnectionLost, TimeoutError):
                continue  # seen at the top of the loop
            except (AdminError, ProtocolError) as error:
                log.warning("The attached bot's answer could not be used: %s", error)
            await self._pause(REFRESH_SECONDS)
        return exit_codes.OK

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()
        self._wake.clear()

    def _went_away(self) -> None:
        if self._lost or self._stopping:
            return
        self._lost = True
        self._status = None
        self._shards.clear()
        self._connection = ConnectionState.DISCONNECTED
        self._post(
            LinkLost(f"The bot at {self.attached_to} went away (it stopped, or the connection broke).")
        )

    async def _reconnect(self) -> bool:
        client = self._client_factory()
        self._hook(client)
        try:
            hello = await client.connect()
        except AdminRefused:
            return False
        self.client = client
        instance = str(hello.get("instance", ""))
        if instance != self._instance:  # the bot was restarted: a new process, new history
            self._instance, self._log_seq = instance, 0
            self._data.clear()
        self._subscribed = False
        self._lost = False
        self._post(LinkRestored())
        return True

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        await self.client.close()

    @property
    def exit_code(self) -> int:
        return exit_codes.OK

    # -- the background round --------------------------------------------------------------------------

    async def _round(self) -> None:
        client = self.client
        if not self._subscribed:
            await client.request("subscribe_logs", instance=self._instance, after=self._log_seq)
            self._subscribed = True
        self._apply_status(await client.request("status"))
        now = time.monotonic()
        for kind in PANE_DATA:
            if now - self._wanted.get(kind, -WANTED_SECONDS) < WANTED_SECONDS:
                self._data[kind] = from_wire(await client.request(kind))
        application_id = self.application_id
        if application_id is not None and (self._invite is None or self._invite[0] != application_id):
            info = await client.request("invite_info")
            permissions = invite_permissions(moderation=bool(info.get("moderation")))
            self._invite = (application_id, invite_url(application_id, permissions))
        if self._news:
            self._news = False
            self._post(LinkRefreshed())

    def _apply_status(self, status: dict[str, Any]) -> None:
        first = self._status is None
        self._status = status
        state = _state(status.get("connection"))
        if state is not None and (state is not self._connection or first):
            self._connection = state
            self._post(ConnectionChanged(state))
        for key, value in (status.get("shards") or {}).items():
            shard, shard_state = int(key), _state(value)
            if shard_state is not None and self._shards.get(shard) is not shard_state:
                self._shards[shard] = shard_state
                self._post(ConnectionChanged(shard_state, shard))
        if first:
            self._news = True

    def _event(self, message: dict[str, Any]) -> None:
        kind = message.get("event")
        if kind == "logs":
            self._take_logs(message)
        elif kind == "connection":
            state, shard = _state(message.get("state")), message.get("shard")
            if state is None:
                return
            if isinstance(shard, int):
                self._shards[shard] = state
            else:
                self._connection = state
            self._post(ConnectionChanged(state, shard if isinstance(shard, int) else None))
        elif kind == "hot_reload":
            with contextlib.suppress(ProtocolError):
                self._post(HotReloaded(from_wire(message.get("result"))))
            self._want_soon("extensions")

    def _take_logs(self, message: dict[str, Any]) -> None:
        handler = self.log_handler
        entries = handler.entries
        dropped = message.get("dropped")
        if isinstance(dropped, int) and dropped > 0:
            handler.dropped += dropped
        for record in message.get("records") or []:
            try:
                entry = LogEntry(
                    int(record["level"]),
                    str(record["logger"]),
                    float(record["created"]),
                    str(record["message"]),
                    str(record["text"]),
                )
                seq = int(record["seq"])
            except (KeyError, TypeError, ValueError):
                continue
            if len(entries) == entries.maxlen:
                handler.dropped += 1
            entries.append(entry)
            self._log_seq = max(self._log_seq, seq)

    def _want(self, kind: str) -> Any:
        """A pane reads ``kind``: keep it fresh; its first read wakes the loop instead of waiting."""
        now = time.monotonic()
        if now - self._wanted.get(kind, -WANTED_SECONDS) >= WANTED_SECONDS:
            self._news = True
            self._wake.set()
        self._wanted[kind] = now
        return self._data.get(kind)

    def _want_soon(self, kind: str) -> None:
        self._wanted[kind] = time.monotonic()
        self._news = True
        self._wake.set()

    # -- reads ---------------------------------------------------------------------------------------

    def _field(self, key: str, default: Any = None) -> Any:
        return default if self._status is None else self._status.get(key, default)

    @property
    def ready(self) -> bool:
        return self._status is not None

    @property
    def usable(self) -> bool:
        return self._status is not None and self.client.connected and not self._status.get("closed")

    def stats(self) -> dict[str, Any] | None:
        stats = self._want("stats")
        return stats if isinstance(stats, dict) else None

    def gateway_latency_ms(self) -> float | None:
        latency = self._field("latency_ms")
        return float(latency) if isinstance(latency, int | float) else None

    def shard_count(self) -> int:
        return int(self._field("shard_count", 1) or 1)

    def shard_ids(self) -> tuple[int, ...] | None:
        ids = self._field("shard_ids")
        if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
            return None
        return tuple(ids) or None

    def guild_count(self) -> int:
        return int(self._field("guilds", 0) or 0)

    def auto_reload(self) -> bool:
        return bool(self._field("auto_reload", False))

    def guilds(self) -> list[GuildRow]:
        rows = self._want("guilds")
        return [row for row in rows or [] if isinstance(row, GuildRow)]

    def extensions(self) -> list[ExtensionRow]:
        rows = self._want("extensions")
        return [row for row in rows or [] if isinstance(row, ExtensionRow)]

    async def guild_details(self, guild_id: int) -> GuildDetails | None:
        try:
            details = from_wire(await self.client.request("guild_details", guild_id=guild_id))
        except (AdminError, ConnectionLost, ProtocolError, TimeoutError):
            return None
        return details if isinstance(details, GuildDetails) else None

    def is_loaded(self, name: str) -> bool:
        return any(row.name == name and row.status == "loaded" for row in self.extensions())

    @property
    def application_id(self) -> int | None:
        value = self._field("application_id")
        return value if isinstance(value, int) else None

    def invite_link(self) -> str | None:
        application_id = self.application_id
        if self._invite is None or application_id is None or self._invite[0] != application_id:
            return None
        return self._invite[1]

    def cluster_view(self) -> ClusterView | None:
        cluster = self._field("cluster")
        if not isinstance(cluster, dict):
            return None
        return ClusterView(
            str(cluster.get("worker_id")), float(cluster.get("stale_after", 15)), self._workers
        )

    async def _workers(self) -> list[WorkerStatus]:
        workers = from_wire(await self.client.request("cluster_workers"))
        return [worker for worker in workers if isinstance(worker, WorkerStatus)]

    # -- actions -------------------------------------------------------------------------------------

    async def _act(self, op: str, label: str, **arguments: Any) -> Any:
        try:
            result = from_wire(await self.client.request(op, **arguments))
        except AdminError as error:
            return PlainResult(label, False, str(error))
        except (ConnectionLost, TimeoutError):
            return PlainResult(label, False, "the bot went away before answering")
        except ProtocolError as error:
            return PlainResult(label, False, f"the bot's answer could not be read: {error}")
        self._want_soon("extensions")  # show what the action changed without waiting for the next round
        return result

    async def _action(self, op: str, label: str, **arguments: Any) -> ActionResult:
        result = await self._act(op, label, **arguments)
        if isinstance(result, ActionResult):
            return result
        return PlainResult(label, False, "the bot answered with something that is not a result")

    async def extension(self, verb: ExtensionVerb, name: str) -> ActionResult:
        return await self._action(verb, f"{verb} {name}", name=name)

    async def reload_all(self) -> ActionResult:
        return await self._action("reload_all", "reload all")

    async def set_auto_reload(self, on: bool) -> ActionResult:
        return await self._action("set_auto_reload", "auto reload", on=on)

    async def backup(self) -> ActionResult:
        return await self._action("backup", "backup")

    async def atomictest(self) -> ActionResult:
        return await self._action("atomictest", "atomictest")

    async def plan_sync(self, guild_id: int | None) -> SyncPlan | ActionResult:
        return await self._action("plan_sync", "plan sync", guild_id=guild_id)

    async def sync(self, guild_id: int | None, *, force: bool) -> ActionResult:
        return await self._action("sync", "sync", guild_id=guild_id, force=force)
