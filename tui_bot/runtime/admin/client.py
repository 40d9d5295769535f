"""The client side of the admin endpoint: connect, say hello, ask, and hear what the bot pushes.

``tui-bot attach`` (and the tests) use :class:`AdminClient`. Connecting either succeeds or raises
:class:`AdminRefused` whose message is the one line to show (no socket, permission denied, wrong
token...). Afterwards a request raises :class:`AdminError` for a refused request and
:class:`ConnectionLost` once the bot has gone away.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import itertools
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tui_bot.runtime.admin.protocol import MAX_REPLY_BYTES, PROTOCOL_VERSION, ProtocolError, decode, encode

CONNECT_SECONDS = 10.0
REQUEST_SECONDS = 120.0  # an action may wait on Discord and on every worker of a cluster

EventHandler = Callable[[dict[str, Any]], object]


class AdminRefused(Exception):
    """The bot cannot be attached to; ``str(error)`` is one line saying why and what to do."""


class AdminError(Exception):
    """The bot answered a request with an error (a bad argument, the bot closing)."""


class ConnectionLost(ConnectionError):
    """The connection to the bot ended."""


@dataclass(frozen=True)
class Target:
    """Where a bot's admin endpoint is: a Unix socket ``path``, or ``host``:``port`` over TCP."""

    path: Path | None = None
    host: str = ""
    port: int = 0

    @property
    def over_tcp(self) -> bool:
        return self.path is None

    def __str__(self) -> str:
        return str(self.path) if self.path is not None else f"tcp://{self.host}:{self.port}"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_target(text: str) -> Target:
    """``tcp://127.0.0.1:8790``, or a socket path (``unix:///srv/bot/data/admin.sock`` too).

    Raises ValueError with a message for a malformed or non-loopback URL: the token would cross the
    network in clear text (use an SSH tunnel, which makes it a loopback address here)."""
    if text.startswith("unix://"):
        return Target(path=Path(text.removeprefix("unix://")))
    if "://" not in text:
        return Target(path=Path(text))
    scheme, _, rest = text.partition("://")
    host, colon, port = rest.rstrip("/").rpartition(":")
    if scheme != "tcp" or not colon or not port.isdigit() or not 0 < int(port) < 65536 or not host:
        raise ValueError(f"{text!r} is neither a socket path nor tcp://127.0.0.1:PORT")
    host = host.strip("[]")
    if not is_loopback(host):
        raise ValueError(
            f"{host} is not this machine: the admin endpoint listens on loopback only. Tunnel it with "
            f"ssh -L {port}:127.0.0.1:{port} HOST, then attach to tcp://127.0.0.1:{port}"
        )
    return Target(host=host, port=int(port))


def _connect_problem(target: Target, error: OSError) -> str:
    where = str(target)
    if target.over_tcp:
        if isinstance(error, ConnectionRefusedError):
            return (
                f"nothing listens on {where}: is the bot running with admin.tcp_port {target.port} (and "
                "ADMIN_TOKEN set), or the SSH tunnel up?"
            )
        return f"cannot connect to {where}: {error.strerror or error}"
    if isinstance(error, FileNotFoundError):
        return f"no bot is running here: {where} does not exist (start the bot, or name its socket)"
    if isinstance(error, PermissionError):
        return (
            f"permission denied on {where}: only the user the bot runs as may attach (run attach as that "
            "user, e.g. sudo -u USER tui-bot attach)"
        )
    if isinstance(error, ConnectionRefusedError) or error.errno == errno.ECONNREFUSED:
        return f"no bot is listening at {where} (a socket left by a bot that stopped)"
    return f"cannot connect to {where}: {error.strerror or error}"


class AdminClient:
    """One connection to a bot's admin endpoint. ``on_event`` hears pushed messages (logs, connection
    changes, hot reloads); ``on_close`` that the connection ended."""

    def __init__(
        self,
        target: Target,
        *,
        token: str | None = None,
        on_event: EventHandler | None = None,
        on_close: Callable[[], object] | None = None,
    ) -> None:
        self.target = target
        self._token = token
        self.on_event = on_event
        self.on_close = on_close
        self.hello: dict[str, Any] = {}
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._ids = itertools.count(1)
        self.closed = asyncio.Event()

    def clone(self) -> AdminClient:
        """A new, unconnected client for the same bot (to reconnect), with the same token."""
        return AdminClient(self.target, token=self._token, on_event=self.on_event, on_close=self.on_close)

    @property
    def connected(self) -> bool:
        return self._writer is not None and not self.closed.is_set()

    async def connect(self) -> dict[str, Any]:
        """Open the connection and say hello; AdminRefused (one line) when that fails."""
        target = self.target
        try:
            async with asyncio.timeout(CONNECT_SECONDS):
                if target.path is not None:
                    if len(os.fsencode(target.path)) > 107:
                        raise AdminRefused(f"the socket path {target.path} is too long for a Unix socket")
                    reader, writer = await asyncio.open_unix_connection(target.path, limit=MAX_REPLY_BYTES)
                else:
                    reader, writer = await asyncio.open_connection(
                        target.host, target.port, limit=MAX_REPLY_BYTES
                    )
        except TimeoutError:
            raise AdminRefused(
                f"{target} did not accept the connection within {CONNECT_SECONDS:.0f} s"
            ) from None
        except OSError as error:
            raise AdminRefused(_connect_problem(target, error)) from None
        self._writer = writer
        self._reader_task = asyncio.create_task(self._read(reader), name="tui-bot:attach-read")
        hello: dict[str, Any] = {"version": PROTOCOL_VERSION}
        if target.over_tcp:
            hello["token"] = self._token or ""
        try:
            self.hello = await self.request("hello", within=CONNECT_SECONDS, **hello)
        except AdminError as error:
            await self.close()
            raise AdminRefused(f"the bot at {target} refused the connection: {error}") from None
        except (ConnectionLost, TimeoutError):
            await self.close()
            raise AdminRefused(
                f"the bot at {target} closed the connection without answering (is it a tui-bot admin "
                "endpoint?)"
            ) from None
        return self.hello

    async def request(self, op: str, *, within: float = REQUEST_SECONDS, **arguments: Any) -> Any:
        """Ask the bot; its result (plain JSON values), AdminError or ConnectionLost."""
        writer = self._writer
        if writer is None or self.closed.is_set():
            raise ConnectionLost("not connected")
        ident = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[ident] = future
        try:
            writer.write(encode({"id": ident, "op": op, **arguments}))
            await writer.drain()
            async with asyncio.timeout(within):
                return await future
        except OSError as error:
            # The bot may have answered before it closed (a refusal sent at once): the reader has it.
            try:
                async with asyncio.timeout(1):
                    return await future
            except TimeoutError:
                raise ConnectionLost(str(error)) from None
        finally:
            self._pending.pop(ident, None)

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                message = decode(line)
                ident = message.get("id")
                if "event" in message and ident is None:
                    if self.on_event is not None:
                        self.on_event(message)
                    continue
                future = self._pending.get(ident) if isinstance(ident, int) else None
                if future is None and message.get("refused"):
                    # Refused before hello could be answered (too many consoles, not the bot's user).
                    future = next(iter(self._pending.values()), None)
                if future is None or future.done():
                    continue
                if message.get("ok"):
                    future.set_result(message.get("result"))
                else:
                    future.set_exception(AdminError(str(message.get("error") or "refused")))
        except (OSError, ValueError, ProtocolError):
            pass  # the connection broke, or the other end is not a bot: either way it is over
        finally:
            self._lost()

    def _lost(self) -> None:
        if self.closed.is_set():
            return
        self.closed.set()
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ConnectionLost("the bot went away"))
        if self._writer is not None:
            self._writer.close()
        if self.on_close is not None:
            self.on_close()

    async def close(self) -> None:
        """Leave (the bot runs on)."""
        self._lost()
        if self._reader_task is not None:
            self._reader_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader_task
        if self._writer is not None:
            with contextlib.suppress(Exception):
                await self._writer.wait_closed()
