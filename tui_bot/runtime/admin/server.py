"""The admin endpoint of a running bot: a Unix socket (and optionally loopback TCP) for ``tui-bot attach``.

Started by the runtime once the bot exists, stopped when the run ends. A failure to listen (a path too
long, another bot on the socket, a TCP port in use) is one log line: the bot runs on without it. Who may
connect: over the socket, only the bot's own user (the file is 0600, and on Linux the peer's uid is
checked as well); over TCP, only a client that presents ``ADMIN_TOKEN``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import struct
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from tui_bot.config.model import AdminConfig, BotConfig
from tui_bot.runtime.admin.connection import ConnectionTracker
from tui_bot.runtime.admin.log_stream import LogCapture
from tui_bot.runtime.admin.protocol import MAX_REQUEST_BYTES, encode, to_wire
from tui_bot.runtime.admin.session import AdminSession, Peer, Refused
from tui_bot.runtime.admin.socket_file import AdminSocketError, BoundSocket, bind_private_socket, socket_path
from tui_bot.runtime.admin.verbs import AdminVerbs
from tui_bot.runtime.reader import BotReader

if TYPE_CHECKING:
    from tui_bot.core.bot import TuiBot
    from tui_bot.core.extensions import ExtensionResult

log = logging.getLogger("tui_bot.admin")

MAX_CLIENTS = 16
PUMP_SECONDS = 0.1  # log records go out in batches, ten times a second
MIN_TOKEN_CHARS = 16


def peer_uid(writer: asyncio.StreamWriter) -> tuple[int, int] | None:
    """``(pid, uid)`` of the process at the other end of a Unix socket (Linux), else None."""
    sock = writer.get_extra_info("socket")
    option = getattr(socket, "SO_PEERCRED", None)
    if sock is None or option is None:
        return None
    try:
        raw = sock.getsockopt(socket.SOL_SOCKET, option, struct.calcsize("3i"))
    except OSError:
        return None
    pid, uid, _gid = struct.unpack("3i", raw)
    return pid, uid


class AdminServer:
    """Serves the admin endpoint of one bot; ``capture_logs`` first, ``start(bot)``, then ``stop()``."""

    def __init__(self, config: BotConfig, *, token: str | None, target: str) -> None:
        self.settings: AdminConfig = config.admin
        self.config = config
        self.token = token
        self.target = target
        self.capture = LogCapture()
        self.instance = f"{os.getpid()}-{time.time_ns()}"
        self.socket: BoundSocket | None = None
        self.tcp_address: tuple[str, int] | None = None
        self._servers: list[asyncio.Server] = []
        self._sessions: set[AdminSession] = set()
        self._session_tasks: set[asyncio.Task[None]] = set()
        self._verbs: AdminVerbs | None = None
        self._tracker: ConnectionTracker | None = None
        self._pump: asyncio.Task[None] | None = None
        self._pumped_seq = 0
        self._bot: TuiBot | None = None

    @property
    def enabled(self) -> bool:
        return self.settings.enabled

    def capture_logs(self) -> None:
        """Keep what is logged from now on, for the consoles that attach later (the start-up lines)."""
        if self.enabled:
            self.capture.install()

    async def start(self, bot: TuiBot) -> None:
        """Listen (as configured); problems are logged, never raised."""
        if not self.enabled:
            return
        self._bot = bot
        self._tracker = ConnectionTracker(bot, self._connection_changed)
        self._tracker.attach()
        self._verbs = AdminVerbs(
            bot, BotReader(bot), self._tracker, target=self.target, instance=self.instance
        )
        bot.actions.hot_reload_listeners.append(self._hot_reloaded)
        await self._listen_on_socket(bot)
        await self._listen_on_tcp(getattr(bot, "shard_ids", None))
        if self._servers:
            self._pump = asyncio.create_task(self._pump_logs(), name="tui-bot:admin-logs")

    async def _listen_on_socket(self, bot: TuiBot) -> None:
        if not hasattr(socket, "AF_UNIX"):
            log.warning("Admin endpoint: this system has no Unix sockets; only admin.tcp_port can serve it")
            return
        path = socket_path(self.config, getattr(bot, "shard_ids", None))
        try:
            bound = bind_private_socket(path)
        except AdminSocketError as error:
            log.error("Admin endpoint: %s", error)
            return
        try:
            server = await asyncio.start_unix_server(
                lambda r, w: self._accept(r, w, over_tcp=False), sock=bound.sock, limit=MAX_REQUEST_BYTES
            )
        except OSError as error:
            bound.sock.close()
            bound.remove_file()
            log.error("Admin endpoint: cannot listen on %s: %s", path, error)
            return
        self.socket = bound
        self._servers.append(server)
        log.info("Admin endpoint: listening on %s (tui-bot attach opens a console on it)", path)

    async def _listen_on_tcp(self, shard_ids: Sequence[int] | None) -> None:
        port, host = self.settings.tcp_port, self.settings.tcp_host
        if port is None:
            return
        if shard_ids:
            # A process running some shards (a cluster worker) adds its first shard id, as metrics.port
            # does: the workers of one host never take each other's port.
            port += min(shard_ids)
        if not self.token or len(self.token) < MIN_TOKEN_CHARS:
            log.error(
                "Admin endpoint: admin.tcp_port is set, but ADMIN_TOKEN in .env is %s: TCP stays off. Set it "
                "to a random value of at least %d characters (python -c 'import secrets; "
                "print(secrets.token_urlsafe(32))')",
                "missing" if not self.token else "too short",
                MIN_TOKEN_CHARS,
            )
            return
        try:
            server = await asyncio.start_server(
                lambda r, w: self._accept(r, w, over_tcp=True), host, port, limit=MAX_REQUEST_BYTES
            )
        except OSError as error:
            log.error(
                "Admin endpoint: cannot listen on %s:%d (%s): TCP stays off",
                host,
                port,
                error.strerror or error,
            )
            return
        self._servers.append(server)
        self.tcp_address = (host, port)
        log.info("Admin endpoint: listening on tcp://%s:%d (for clients with ADMIN_TOKEN)", host, port)

    # -- clients ---------------------------------------------------------------------------------

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, over_tcp: bool) -> None:
        task = asyncio.create_task(
            self._serve(reader, writer, over_tcp=over_tcp), name="tui-bot:admin-client"
        )
        self._session_tasks.add(task)
        task.add_done_callback(self._session_tasks.discard)

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, over_tcp: bool
    ) -> None:
        try:
            peer = self._peer(writer, over_tcp=over_tcp)
        except Refused as refusal:
            log.warning("Admin endpoint: refused a connection: %s", refusal)
            await self._tell_refused(reader, writer, str(refusal))
            return
        assert self._verbs is not None
        verbs = self._verbs
        session = AdminSession(
            reader, writer, peer, verbs=lambda: verbs, capture=self.capture, token=self.token
        )
        self._sessions.add(session)
        try:
            await session.serve()
        finally:
            self._sessions.discard(session)
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    def _peer(self, writer: asyncio.StreamWriter, *, over_tcp: bool) -> Peer:
        if len(self._sessions) >= MAX_CLIENTS:
            raise Refused(f"{MAX_CLIENTS} consoles are attached already")
        if over_tcp:
            address = writer.get_extra_info("peername")
            where = f"{address[0]}:{address[1]}" if isinstance(address, tuple) else "?"
            return Peer(f"a console over TCP from {where}", needs_token=True)
        credentials = peer_uid(writer)
        if credentials is None:
            return Peer("a console on the socket", needs_token=False)
        pid, uid = credentials
        if uid != os.geteuid():
            # The socket file is 0600, so only root gets here: defence in depth, should that ever change.
            raise Refused(f"a process of user id {uid} (pid {pid}) is not the bot's user ({os.geteuid()})")
        return Peer(f"a console on the socket, pid {pid}", needs_token=False)

    async def _tell_refused(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, reason: str
    ) -> None:
        # Take the client's hello first: closing with it unread would reset the connection, and a
        # client still writing its hello would then see a broken pipe instead of the reason.
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2):
                await reader.readline()
        with contextlib.suppress(Exception):
            writer.write(encode({"id": None, "ok": False, "refused": True, "error": reason}))
            async with asyncio.timeout(2):
                await writer.drain()
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()

    # -- pushes ----------------------------------------------------------------------------------

    async def _pump_logs(self) -> None:
        while True:
            await asyncio.sleep(PUMP_SECONDS)
            records, lost = self.capture.since(self._pumped_seq)
            if not records and not lost:
                continue
            if records:
                self._pumped_seq = records[-1]["seq"]
            for session in list(self._sessions):
                session.offer_logs(records, lost)

    def _broadcast(self, event: dict[str, object]) -> None:
        for session in list(self._sessions):
            session.push_event(event)

    def _connection_changed(self, state: str, shard_id: int | None) -> None:
        self._broadcast({"event": "connection", "state": state, "shard": shard_id})

    def _hot_reloaded(self, result: ExtensionResult) -> None:
        self._broadcast({"event": "hot_reload", "result": to_wire(result)})

    # -- stopping --------------------------------------------------------------------------------

    async def stop(self) -> None:
        """Close every session and listener, remove the socket file, stop capturing."""
        for server in self._servers:
            server.close()
        for session in list(self._sessions):
            session.close()
        if self._session_tasks:
            await asyncio.wait(set(self._session_tasks), timeout=2)
        for server in self._servers:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2):
                    await server.wait_closed()
        self._servers.clear()
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
            self._pump = None
        if self.socket is not None:
            self.socket.remove_file()
            self.socket = None
        if self._tracker is not None:
            self._tracker.detach()
        if self._bot is not None:
            with contextlib.suppress(ValueError):
                self._bot.actions.hot_reload_listeners.remove(self._hot_reloaded)
        self.capture.remove()
