"""One attached console, as the server sees it: its hello, its requests, and what is pushed to it.

Requests are answered concurrently (a sync waiting on Discord does not hold up the status polls), at most
:data:`IN_FLIGHT` at once; a client that sends more simply waits. Everything written to a client goes
through :meth:`AdminSession.send`, one message at a time, with a deadline: a client that stops reading for
:data:`WRITE_SECONDS` is dropped. A line that is not a request ends the session with a log line.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tui_bot.runtime.admin.log_stream import ClientLogQueue, LogCapture
from tui_bot.runtime.admin.protocol import HELLO_SECONDS, PROTOCOL_VERSION, ProtocolError, decode, encode
from tui_bot.runtime.admin.verbs import AdminVerbs, VerbError

log = logging.getLogger("tui_bot.admin")

IN_FLIGHT = 8
WRITE_SECONDS = 10.0
MAX_PENDING_EVENTS = 200


class Refused(Exception):
    """The connection is refused; ``str(error)`` is told to the client and logged."""


@dataclass(frozen=True)
class Peer:
    """Who connected: ``name`` for the log; ``needs_token`` over TCP."""

    name: str
    needs_token: bool


class AdminSession:
    """Serves one client until it leaves, misbehaves or the server stops."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        peer: Peer,
        *,
        verbs: Callable[[], AdminVerbs],
        capture: LogCapture,
        token: str | None,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.peer = peer
        self._verbs = verbs
        self._capture = capture
        self._token = token
        self.logs: ClientLogQueue | None = None
        self.log_seq = 0  # the newest record this client has been given
        self._events: deque[dict[str, Any]] = deque(maxlen=MAX_PENDING_EVENTS)
        self._wake = asyncio.Event()
        self._write_lock = asyncio.Lock()
        self._slots = asyncio.Semaphore(IN_FLIGHT)
        self._tasks: set[asyncio.Task[None]] = set()
        self.closed = False

    # -- writing -------------------------------------------------------------------------------

    async def send(self, message: dict[str, Any]) -> None:
        data = encode(message)
        async with self._write_lock:
            if self.closed:
                raise ConnectionResetError("closed")
            self.writer.write(data)
            try:
                async with asyncio.timeout(WRITE_SECONDS):
                    await self.writer.drain()
            except TimeoutError:
                log.warning(
                    "Admin endpoint: dropped %s: it read nothing for %.0f s", self.peer.name, WRITE_SECONDS
                )
                self.close()
                raise ConnectionResetError("too slow") from None

    def push_event(self, event: dict[str, Any]) -> None:
        """Queue a pushed message (bounded: a client far behind loses the oldest)."""
        self._events.append(event)
        self._wake.set()

    def offer_logs(self, records: list[dict[str, Any]], lost: int) -> None:
        """New records from the server's pump, for a client that subscribed."""
        if self.logs is None:
            return
        newer = [record for record in records if record["seq"] > self.log_seq]
        if newer or lost:
            self.logs.extend(newer, lost)
            if newer:
                self.log_seq = newer[-1]["seq"]
            self._wake.set()

    async def _push(self) -> None:
        while not self.closed:
            await self._wake.wait()
            self._wake.clear()
            while self._events:
                await self.send(self._events.popleft())
            logs = self.logs
            while logs is not None and (len(logs) or logs.dropped):
                records, dropped = logs.take()
                await self.send({"event": "logs", "records": records, "dropped": dropped})

    # -- reading -------------------------------------------------------------------------------

    async def serve(self) -> None:
        """Hello, then requests until the client leaves; never raises."""
        pusher: asyncio.Task[None] | None = None
        try:
            await self._hello()
            pusher = asyncio.create_task(self._push(), name="tui-bot:admin-push")
            await self._requests()
        except Refused as refusal:
            log.warning("Admin endpoint: refused %s: %s", self.peer.name, refusal)
        except ProtocolError as error:
            log.warning(
                "Admin endpoint: dropped %s: it sent something that is not a request (%s)",
                self.peer.name,
                error,
            )
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            pass  # it went away; said below
        except Exception:
            log.exception("Admin endpoint: the session with %s failed", self.peer.name)
        finally:
            self.close()
            for task in [*self._tasks, *([pusher] if pusher is not None else [])]:
                task.cancel()
            for task in [*self._tasks, *([pusher] if pusher is not None else [])]:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _line(self) -> bytes:
        try:
            return await self.reader.readline()
        except ValueError:  # asyncio's LimitOverrunError, re-raised as ValueError by readline
            raise ProtocolError("a line longer than the limit") from None

    async def _hello(self) -> None:
        try:
            async with asyncio.timeout(HELLO_SECONDS):
                line = await self._line()
        except TimeoutError:
            raise Refused(f"it said nothing within {HELLO_SECONDS:.0f} s") from None
        if not line:
            raise ConnectionResetError("left before hello")
        message = decode(line)
        ident = message.get("id")
        if message.get("op") != "hello":
            raise ProtocolError("the first request must be hello")
        if self.peer.needs_token:
            given = message.get("token")
            expected = self._token or ""
            if (
                not isinstance(given, str)
                or not expected
                or not hmac.compare_digest(given.encode(), expected.encode())
            ):
                await self._refuse(ident, "wrong admin token (ADMIN_TOKEN in the bot's .env)")
        version = message.get("version")
        if version != PROTOCOL_VERSION:
            await self._refuse(
                ident,
                f"this bot speaks admin protocol {PROTOCOL_VERSION}, the client {version!r}: use the same "
                "tui-bot version",
            )
        await self.send({"id": ident, "ok": True, "result": self._verbs().hello()})
        log.info("Admin endpoint: console attached (%s)", self.peer.name)

    async def _refuse(self, ident: Any, reason: str) -> None:
        with contextlib.suppress(ConnectionError):
            await self.send({"id": ident, "ok": False, "refused": True, "error": reason})
        raise Refused(reason)

    async def _requests(self) -> None:
        while not self.closed:
            line = await self._line()
            if not line:
                log.info("Admin endpoint: console detached (%s)", self.peer.name)
                return
            message = decode(line)
            ident, op = message.get("id"), message.get("op")
            if isinstance(ident, bool) or not isinstance(ident, int) or not isinstance(op, str):
                raise ProtocolError("a request needs an integer id and an op")
            await self._slots.acquire()
            task = asyncio.create_task(self._answer(ident, op, message), name=f"tui-bot:admin-{op[:20]}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _answer(self, ident: int, op: str, arguments: dict[str, Any]) -> None:
        try:
            try:
                if op == "subscribe_logs":
                    result = self._subscribe(arguments)
                else:
                    result = await self._verbs().run(op, arguments)
                reply: dict[str, Any] = {"id": ident, "ok": True, "result": result}
            except VerbError as error:
                reply = {"id": ident, "ok": False, "error": str(error)}
            except Exception as error:
                log.exception("Admin endpoint: %s from %s failed", op, self.peer.name)
                reply = {"id": ident, "ok": False, "error": f"{op} failed: {type(error).__name__}: {error}"}
            with contextlib.suppress(ConnectionError):
                await self.send(reply)
        finally:
            self._slots.release()

    def _subscribe(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """Start the log stream: what was logged after ``after`` (of the same bot ``instance``), or the
        recent history, then every new record."""
        verbs = self._verbs()
        after = arguments.get("after")
        same_bot = arguments.get("instance") == verbs.instance
        start = after if same_bot and isinstance(after, int) and not isinstance(after, bool) else 0
        queue = self.logs or ClientLogQueue()
        records, lost = self._capture.since(max(start, self.log_seq))
        queue.extend(records, lost)
        if records:
            self.log_seq = records[-1]["seq"]
        self.logs = queue
        self._wake.set()
        return {"instance": verbs.instance}

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._wake.set()
            self.writer.close()
