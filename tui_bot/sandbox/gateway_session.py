"""One Discord gateway session: identity, sequence numbers and a replay buffer, over its connections.

The hub (``gateway``) creates a session per connection and runs the protocol; a session sends frames
(in order, through its connection's compression stream) and survives a dropped connection, buffering
dispatches until a RESUME replays them (:meth:`GatewaySession.take_over`).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import deque
from typing import Any

from aiohttp import web

from .compression import StreamCompressor
from .gateway_protocol import TRACE, CloseCode, Op
from .json_text import compact_json
from .transcript import Transcript
from .world import Json, User

log = logging.getLogger(__name__)

SEND_BUFFER_SIZE = 1000  # dispatches kept per session for RESUME replay


class GatewaySession:
    """A Discord gateway session: identity, sequence numbers and a replay buffer, over its connections.

    A session starts with a connection (HELLO). Once identified it outlives that connection: dispatches
    that happen while it is disconnected are numbered and buffered, and a RESUME on a new connection
    (:meth:`take_over`) replays everything after the client's last sequence number, then RESUMED.
    """

    def __init__(
        self,
        ws: web.WebSocketResponse,
        *,
        compressor: StreamCompressor | None = None,
        transport: Any = None,
        transcript: Transcript | None = None,
    ) -> None:
        self.ws: web.WebSocketResponse | None = ws
        self.transport = transport  # the connection's transport, for abrupt drops (see disconnect)
        self.session_id = secrets.token_hex(16)
        self.user: User | None = None
        self.intents = 0
        self.shard: tuple[int, int] = (0, 1)
        self.presence: Json | None = None
        self.sequence = 0
        self.heartbeats = 0
        self.sent: deque[Json] = deque(maxlen=SEND_BUFFER_SIZE)
        self.resumable = True  # False once invalidated: a later RESUME gets INVALID_SESSION(false)
        self.disconnected_at: float | None = None  # time.monotonic() when its connection went away
        self.resumes = 0
        # When the sandbox last sent op 1 HEARTBEAT asking for a heartbeat at once (None: not waiting).
        self.heartbeat_requested_at: float | None = None
        self.transcript = transcript  # every frame written is recorded there (see transcript.py)
        # Frames must leave in the order their sequence numbers (and the compression stream) were produced.
        self._lock = asyncio.Lock()
        self._compressor = compressor  # this connection's zlib/zstd stream; None: plain text frames

    @property
    def identified(self) -> bool:
        """Whether IDENTIFY succeeded (the session has a user); RESUME needs an identified session."""
        return self.user is not None

    @property
    def connected(self) -> bool:
        """Whether the session has an open connection now (else it buffers dispatches for a RESUME)."""
        return self.ws is not None and not self.ws.closed

    @property
    def compression(self) -> str | None:
        """The current connection's transport compression (``"zlib-stream"``...), None for plain text."""
        return None if self._compressor is None else self._compressor.name

    def has_intent(self, intent: int) -> bool:
        """Whether the client asked for ``intent`` (a bit) in IDENTIFY."""
        return bool(self.intents & intent)

    def handles_guild(self, guild_id: int) -> bool:
        """Whether ``guild_id`` belongs to this session's shard (Discord's ``(id >> 22) % count``)."""
        shard_id, shard_count = self.shard
        return (guild_id >> 22) % shard_count == shard_id

    async def send(self, op: Op, d: Any = None, event: str | None = None) -> None:
        """Send one payload; dispatches (op 0) get the next sequence number and are buffered.

        While disconnected, dispatches are only numbered and buffered (a RESUME replays them); other
        opcodes are dropped, as they would be on Discord.
        """
        async with self._lock:
            payload: Json = {"op": int(op), "d": d, "s": None, "t": None}
            if op is Op.DISPATCH:
                self.sequence += 1
                payload.update(s=self.sequence, t=event)
                self.sent.append(payload)
            if self.ws is not None and not self.ws.closed:
                await self._write(payload)

    async def _write(self, payload: Json) -> None:
        assert self.ws is not None
        text = compact_json(payload)
        if self.transcript is not None:
            self.transcript.sent(self.session_id, text)
        try:
            if self._compressor is None:
                await self.ws.send_str(text)
            else:
                await self.ws.send_bytes(self._compressor.compress(text))
        except (ConnectionError, RuntimeError) as exc:
            # The client went away mid-send; its handler will notice the closed socket, and the
            # payload stays in the buffer for a RESUME.
            log.debug("gateway session %s: send failed: %s", self.session_id, exc)

    def can_replay_from(self, seq: int) -> bool:
        """Whether every dispatch after ``seq`` is still buffered (and ``seq`` is not in the future)."""
        if seq > self.sequence:
            return False
        return not self.sent or seq >= self.sent[0]["s"] - 1

    async def take_over(self, fresh: GatewaySession, seq: int) -> int:
        """RESUME: continue on ``fresh``'s connection, replay dispatches after ``seq``, then RESUMED.

        ``fresh`` is the not-yet-identified session its connection started with; its compression stream
        is kept, since the client already decompressed HELLO from it. Returns how many dispatches were
        replayed.
        """
        async with self._lock:
            self.ws, self.transport, self._compressor = fresh.ws, fresh.transport, fresh._compressor
            self.disconnected_at = None
            self.resumes += 1
            replay = [p for p in self.sent if p["s"] > seq]
            for payload in replay:
                await self._write(payload)
            self.sequence += 1
            resumed: Json = {"op": int(Op.DISPATCH), "d": {"_trace": [TRACE]}, "s": self.sequence}
            resumed["t"] = "RESUMED"
            await self._write(resumed)  # numbered, but not buffered: a later RESUME does not replay it
        return len(replay)

    def detach(self) -> None:
        """Forget the connection (it closed or is being dropped); later dispatches are buffered."""
        self.ws = self.transport = None
        self.disconnected_at = time.monotonic()

    async def disconnect(self, code: int | None, reason: str = "Sandbox fault: connection dropped.") -> None:
        """Drop the connection, the session staying resumable: a close frame with ``code`` and
        ``reason``, or (``code`` None) an abrupt transport abort."""
        async with self._lock:  # no frame may be half-written when the socket goes
            ws, transport = self.ws, self.transport
            self.detach()
        if ws is None or ws.closed:
            return
        if code is None and transport is not None:
            transport.abort()
        else:
            await ws.close(code=code or CloseCode.UNKNOWN_ERROR, message=reason.encode())

    async def close(self, code: int, reason: str = "") -> None:
        """Close the connection with ``code`` and ``reason`` (the session's fate is the hub's business)."""
        if self.ws is not None:
            await self.ws.close(code=code, message=reason.encode())
