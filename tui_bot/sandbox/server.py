"""The sandbox server and its Python API: start it, point discord.py at it, act as members, await the bot.

The server runs in the caller's event loop (``AppRunner`` + ``TCPSite``), so a bot, the console and
the sandbox share one loop and one clock, and tests can await bot behaviour without threads or sleeps.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from types import TracebackType
from typing import Self

from aiohttp import web

from tui_bot.core.endpoints import Endpoints, apply_endpoints, restore_endpoints

from .events import (
    EventKind,
    EventLog,
    SandboxEvent,
)
from .gateway import GatewayHub
from .rest import API_PREFIX, RestApi
from .world import (
    Json,
    Message,
    World,
)
from .world_file import (
    demo_world,
)

log = logging.getLogger(__name__)

MAX_UPLOAD = 26 * 1024 * 1024  # Discord's 25 MiB attachment limit, plus room for the form wrapping


class Sandbox:
    """A local Discord on loopback that the unmodified discord.py client connects to.

    ``async with Sandbox() as sb:`` starts it on a free port; ``sb.point_discord_py_here()`` makes
    discord.py use it (undone by :meth:`stop`); ``await bot.start(sb.token)`` logs a bot in.
    """

    def __init__(
        self,
        world: World | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        heartbeat_interval_ms: int = 41250,
    ) -> None:
        self.world = world if world is not None else demo_world()
        self.host = host
        self.port = port
        self.event_log = EventLog()
        self.hub = GatewayHub(self.world, self.event_log, heartbeat_interval_ms=heartbeat_interval_ms)
        self.rest = RestApi(self.world, self.event_log, self.hub)
        self._runner: web.AppRunner | None = None
        self._previous_endpoints: Endpoints | None = None
        # Event indexes already handed out by wait_for_bot_message / wait_for_presence (see _take).
        self._consumed: set[int] = set()
        self._unconsumed_from: dict[EventKind, int] = {}

    # -- lifecycle --

    async def start(self) -> None:
        """Listen on ``host:port`` (port 0 picks a free one; :attr:`port` then holds it)."""
        if self._runner is not None:
            return
        app = web.Application(client_max_size=MAX_UPLOAD)
        app.router.add_get("/gateway", self.hub.handle)
        self.rest.install(app)
        # No access log: every request is already in rest.requests, and the console has its own logs.
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        self._runner = runner
        self.port = runner.addresses[0][1]
        log.info("sandbox listening on %s (gateway %s)", self.api_base, self.gateway_url)

    async def stop(self) -> None:
        """Close gateway sessions, stop listening and restore discord.py's endpoints if we moved them."""
        self.restore_discord_py()
        if self._runner is None:
            return
        runner, self._runner = self._runner, None
        await self.hub.close_all()
        await runner.cleanup()
        log.info("sandbox stopped")

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # -- addresses --

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_base(self) -> str:
        """The REST base for discord.py's ``Route.BASE``, e.g. ``http://127.0.0.1:PORT/api/v10``."""
        return self.base_url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        """The gateway URL for ``DiscordWebSocket.DEFAULT_GATEWAY``, e.g. ``ws://127.0.0.1:PORT/gateway``."""
        return f"ws://{self.host}:{self.port}/gateway"

    @property
    def token(self) -> str:
        """The token of the world's bot (:data:`SANDBOX_TOKEN` in the demo world)."""
        bot_id = self.world.application.bot_id
        return next(token for token, user_id in self.world.tokens.items() if user_id == bot_id)

    def point_discord_py_here(self) -> None:
        """Set discord.py's REST base and default gateway to this sandbox (process-wide class attributes).

        :meth:`stop` (or :meth:`restore_discord_py`) puts the previous values back.
        """
        previous = apply_endpoints(self.api_base, self.gateway_url)
        if self._previous_endpoints is None:
            self._previous_endpoints = previous

    def restore_discord_py(self) -> None:
        """Undo :meth:`point_discord_py_here` (no-op if it was not called)."""
        if self._previous_endpoints is not None:
            restore_endpoints(self._previous_endpoints)
            self._previous_endpoints = None

    # -- what bots did --

    @property
    def events(self) -> list[SandboxEvent]:
        """Everything recorded so far, in order."""
        return list(self.event_log)

    @property
    def sent_messages(self) -> list[Message]:
        """Messages bots sent, in order (snapshots as sent; later edits are separate events)."""
        return [e.message for e in self.event_log if e.kind is EventKind.MESSAGE_CREATE and e.message]

    @property
    def requests(self) -> list[tuple[str, str, int]]:
        """Recent REST requests as (method, path and query, status)."""
        return list(self.rest.requests)

    async def wait_for_event(
        self,
        kind: EventKind | str,
        *,
        check: Callable[[SandboxEvent], bool] | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109 - part of the public test API
    ) -> SandboxEvent:
        """The first recorded event of ``kind`` (past or future) passing ``check``."""
        kind = EventKind(kind)
        return await self.event_log.wait_for(
            lambda e: e.kind is kind and (check is None or check(e)), timeout=timeout
        )

    async def wait_until_ready(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109 - public test API
        """Until a bot session has identified and been sent READY and all its GUILD_CREATEs.

        Anything the sandbox sends afterwards reaches that bot after its guilds (one ordered socket).
        discord.py fires ``on_ready`` later still, after ``guild_ready_timeout`` (2 s by default).
        """
        await self.wait_for_event(EventKind.READY, timeout=timeout)

    async def wait_for_bot_message(
        self,
        *,
        channel: str | int | None = None,
        check: Callable[[Message], bool] | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109 - part of the public test API
    ) -> Message:
        """The oldest bot message not yet returned by this method (in ``channel``, passing ``check``).

        Messages sent before the call count, so there is no race between acting and waiting.
        """
        channel_id = None if channel is None else self.world.find_channel(channel).id

        def wanted(event: SandboxEvent) -> bool:
            message = event.message
            return (
                message is not None
                and (channel_id is None or message.channel_id == channel_id)
                and (check is None or check(message))
            )

        event = await self._take(EventKind.MESSAGE_CREATE, wanted, timeout)
        assert event.message is not None
        return event.message

    @property
    def presence(self) -> Json | None:
        """The most recent presence a bot set (``status``, ``activities``, ``since``, ``afk``), if any."""
        latest = [e for e in self.event_log if e.kind is EventKind.PRESENCE_UPDATE]
        return dict(latest[-1].data) if latest else None

    async def wait_for_presence(
        self,
        *,
        check: Callable[[Json], bool] | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109 - part of the public test API
    ) -> Json:
        """The oldest presence update (from IDENTIFY or op 3) not yet returned by this method.

        Activities are Discord activity objects, e.g. ``{"type": 2, "name": "..."}``.
        """
        event = await self._take(EventKind.PRESENCE_UPDATE, lambda e: check is None or check(e.data), timeout)
        return dict(event.data)

    async def _take(
        self,
        kind: EventKind,
        predicate: Callable[[SandboxEvent], bool],
        timeout: float,  # noqa: ASYNC109 - passed through to EventLog.wait_for
    ) -> SandboxEvent:
        # Hand out each event of ``kind`` at most once, oldest first: a test can act, then wait, and
        # never miss what happened in between nor see the same event twice.
        start = self._unconsumed_from.get(kind, 0)
        event = await self.event_log.wait_for(
            lambda e: e.kind is kind and e.index not in self._consumed and predicate(e),
            start=start,
            timeout=timeout,
        )
        self._consumed.add(event.index)
        # Skip the fully consumed prefix so later waits do not rescan a long log from the start.
        index = start
        while index < len(self.event_log) and (
            self.event_log[index].kind is not kind or index in self._consumed
        ):
            index += 1
        self._unconsumed_from[kind] = index
        return event

    # -- acting as members --

    async def send_message(self, author: str | int, channel: str | int, content: str) -> Message:
        """Post ``content`` in ``channel`` as the member ``author`` (name or id) and dispatch it to bots.

        Returns once MESSAGE_CREATE has been written to every connected bot's socket.
        """
        target = self.world.find_channel(channel)
        member = self.world.find_member(self.world.guilds[target.guild_id], author)
        message = self.world.create_message(target, member.user, content)
        self.event_log.record(
            EventKind.USER_MESSAGE,
            {"channel_id": target.id, "message_id": message.id, "author_id": member.id},
            message=message,
        )
        await self.hub.dispatch_message("MESSAGE_CREATE", message)
        return message
