"""The sandbox gateway hub: Discord's websocket protocol (v10, JSON) on ``GET /gateway``.

The :class:`GatewayHub` accepts connections, runs the protocol (IDENTIFY, RESUME, heartbeats, presence,
member requests), fans dispatches out to sessions (each shard gets only its guilds) and injects gateway
faults (dropped connections, RECONNECT, INVALID_SESSION). A :class:`~.gateway_session.GatewaySession`
is one Discord session; it outlives a dropped connection for :attr:`GatewayHub.resume_timeout` seconds,
buffering dispatches, and RESUME (op 6) replays them on the new connection. The protocol's constants and
payload shapes are in ``gateway_protocol``.

Transport compression (``compress=`` in the URL, see ``compression.py``): zlib-stream, and zstd-stream
(discord.py 2.7's choice when zstandard is installed) when a zstd module is importable, as binary frames
so the client's real decompression path runs; plain text frames when none is asked for, or zstd-stream
cannot be spoken (:attr:`GatewayHub.compressions`); a close 4000 for an undocumented value.

Discord's limits on starting sessions (``identify_limits``): an IDENTIFY that breaks the
``max_concurrency`` bucket rule gets op 9 INVALID_SESSION (``d`` false), one beyond the session start
limit a close 4004; both are recorded (``identify_refused`` events). Guild events go to the sessions
whose shard is ``(guild_id >> 22) % shard_count``; DM events, which have no guild, to shard 0 only.

What clients send is held to Discord's rules (``gateway_guard``): more than 120 payloads in 60 s on a
connection closes it with 4008, no heartbeat for an interval and a grace closes it with 4009 (both
resumable). Heartbeat faults withhold ACKs or ask for a heartbeat (op 1). Every frame both ways is
recorded in :attr:`GatewayHub.transcript` (``transcript``), a bounded ring.

Over 400 lines because the hub is one job, a state machine over one list of sessions: accepting
connections, the protocol's handlers, expiry, faults, the session limits and dispatch (by shard) all read
and change it. The parts that need no session list are elsewhere (``gateway_protocol``,
``gateway_session``, ``gateway_guard``, ``identify_limits``, ``compression``, ``transcript``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from aiohttp import WSMsgType, web

from .compression import UnknownCompression, choose_compressor, spoken_compressions
from .events import (
    EventKind,
    EventLog,
)
from .gateway_guard import AckWithholding, ConnectionGuard, GatewayRules
from .gateway_protocol import (
    CLOSE_REASONS,
    DIRECT_MESSAGES,
    GUILD_MEMBERS,
    GUILD_MESSAGES,
    MESSAGE_CONTENT,
    TRACE,
    CloseCode,
    Op,
    gateway_url_for,
    member_chunks,
    parse_payload,
    presence_from,
    ready_payload,
)
from .gateway_session import GatewaySession
from .identify_limits import IdentifyLimits, IdentifyRefusal, RefusalReason
from .payloads import guild_create_payload, message_payload
from .transcript import Transcript
from .world import (
    PRIVILEGED_INTENTS,
    Json,
    Message,
    World,
)

log = logging.getLogger(__name__)

# Seconds between receiving a HEARTBEAT and sending its ACK: a stand-in for Discord's network delay,
# several times the interpreter's thread switch interval (5 ms) so discord.py's keep-alive thread has
# recorded its send by then (see _on_payload). It is most of the latency a bot shows on the sandbox.
HEARTBEAT_ACK_DELAY = 0.02

DEFAULT_RESUME_TIMEOUT = 60.0  # seconds a disconnected session stays resumable


class GatewayHub:
    """Accepts gateway connections, speaks the protocol and dispatches events to sessions.

    :attr:`sessions` holds every session with a live connection plus identified sessions whose
    connection went away less than :attr:`resume_timeout` seconds ago (they buffer dispatches for a
    RESUME). :attr:`recommended_shards` is what ``GET gateway/bot`` reports. :attr:`compressions` is the
    set of ``compress=`` values honoured for new connections (remove ``"zstd-stream"`` to have zstd
    clients served plain text frames). :attr:`heartbeat_ack_delay` is how long (s) a HEARTBEAT_ACK waits.
    :attr:`limits` holds the IDENTIFY rate limit and the session start limit; :attr:`rules` the send
    limit and zombie detection (``gateway_guard``). :attr:`transcript` records recent frames.
    """

    def __init__(
        self,
        world: World,
        events: EventLog,
        *,
        heartbeat_interval_ms: int = 41250,
        limits: IdentifyLimits | None = None,
        rules: GatewayRules | None = None,
    ) -> None:
        self.world = world
        self.events = events
        self.limits = limits if limits is not None else IdentifyLimits()
        self.rules = rules if rules is not None else GatewayRules()
        self.rules.check()
        self.transcript = Transcript()
        self.ack_withholding = AckWithholding()
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.heartbeat_ack_delay = HEARTBEAT_ACK_DELAY
        self.sessions: list[GatewaySession] = []
        self.resume_timeout = DEFAULT_RESUME_TIMEOUT
        self.recommended_shards = 1
        self.compressions: frozenset[str] = spoken_compressions()
        # Cleared by hold(): new connections wait for HELLO until release() (an outage that lasts).
        self._open = asyncio.Event()
        self._open.set()

    @property
    def identified_sessions(self) -> list[GatewaySession]:
        self._forget_expired()
        return [s for s in self.sessions if s.identified]

    def session(self, session_id: str) -> GatewaySession | None:
        """A live or resumable session by id."""
        self._forget_expired()
        return next((s for s in self.sessions if s.session_id == session_id), None)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """The ``GET /gateway`` handler: upgrade, HELLO, then read payloads until the socket closes."""
        ws = web.WebSocketResponse(max_msg_size=0)
        if not ws.can_prepare(request).ok:
            body = {"code": 0, "message": "This is the sandbox gateway: connect with a websocket."}
            return web.json_response(body, status=400, content_type="application/json")
        await ws.prepare(request)
        try:
            compressor = choose_compressor(request.query.get("compress"), self.compressions)
        except UnknownCompression as exc:
            log.warning("gateway connection refused: unknown compression %r", str(exc))
            await ws.close(code=CloseCode.UNKNOWN_ERROR, message=b"Unknown compression.")
            return ws
        if not self._open.is_set():
            log.info("gateway connection held: no HELLO until the sandbox releases the gateway")
            await self._open.wait()
            if ws.closed:
                return ws
        session = GatewaySession(
            ws, compressor=compressor, transport=request.transport, transcript=self.transcript
        )
        self.sessions.append(session)
        guard = ConnectionGuard(self.rules, ws, session, heartbeat_interval=self.heartbeat_interval_ms / 1000)
        log.debug(
            "gateway connection %s (%s; frames: %s)",
            session.session_id,
            request.query_string,
            session.compression or "plain text",
        )
        try:
            await session.send(
                Op.HELLO, {"heartbeat_interval": self.heartbeat_interval_ms, "_trace": [TRACE]}
            )
            guard.start(self._zombie)
            async for msg in ws:
                if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    self.transcript.received(session.session_id, msg.data)
                    if not guard.admit():
                        await self._close_by_rule(guard, CloseCode.RATE_LIMITED)
                        break
                if msg.type is WSMsgType.TEXT:
                    parsed = parse_payload(msg.data)
                    if parsed is None:
                        await self._close(session, CloseCode.DECODE_ERROR)
                        break
                    if parsed[0] is Op.RESUME:
                        # A successful RESUME moves this connection onto the resumed session.
                        session = guard.session = await self._resume(session, parsed[1] or {})
                        continue
                    if parsed[0] is Op.HEARTBEAT:
                        guard.beat()
                    await self._on_payload(session, *parsed, request)
                elif msg.type is WSMsgType.BINARY:
                    # Discord would expect ETF here; the sandbox only speaks JSON.
                    await self._close(session, CloseCode.DECODE_ERROR)
                    break
        finally:
            guard.stop()
            self._connection_closed(session, ws, guard.closed_with)
        return ws

    def _connection_closed(
        self, session: GatewaySession, ws: web.WebSocketResponse, closed_with: int | None = None
    ) -> None:
        # closed_with: the code the sandbox closed with under its rules (the client's answer may differ).
        code = ws.close_code if closed_with is None else int(closed_with)
        reason = None if closed_with is None else CLOSE_REASONS.get(CloseCode(closed_with), "")
        self.transcript.closed(session.session_id, code, reason)
        log.debug("gateway connection %s closed (code %s)", session.session_id, code)
        if session.ws is ws:  # not already detached by a fault, nor moved to a newer connection
            session.detach()
            # As on Discord, a client closing with 1000 or 1001 ends its session; other closes are
            # resumable. (A close the server started was detached first, whatever the client answers.)
            if ws.close_code in (1000, 1001):
                session.resumable = False
        elif session.ws is not None:
            return  # resumed on another connection: nothing ended
        if not session.identified or not session.resumable:
            self._forget(session)
        if session.identified:
            data: Json = {"session_id": session.session_id, "code": code, "resumable": session.resumable}
            if reason is not None:
                data["reason"] = reason
            self.events.record(EventKind.GATEWAY_CLOSED, data)

    def _forget(self, session: GatewaySession) -> None:
        if session in self.sessions:
            self.sessions.remove(session)

    def _forget_expired(self) -> None:
        deadline = time.monotonic() - self.resume_timeout
        expired = [s for s in self.sessions if s.disconnected_at is not None and s.disconnected_at < deadline]
        for session in expired:
            log.info(
                "gateway session %s expired (not resumed within %ss)", session.session_id, self.resume_timeout
            )
            self._forget(session)

    async def close_all(self, code: int = 1001) -> None:
        """Close every connection and end every session, resumable or not (server shutdown)."""
        self.release()  # a held connection is answered (and then closed by the server's shutdown)
        sessions, self.sessions = list(self.sessions), []
        for session in sessions:
            session.resumable = False
        await asyncio.gather(
            *(s.close(code, "Sandbox shutting down.") for s in sessions if s.connected),
            return_exceptions=True,
        )

    # -- faults (see faults.py for the REST side) --

    def _fault_targets(self, shard_id: int | None) -> list[GatewaySession]:
        return [
            s
            for s in self.identified_sessions
            if s.connected and (shard_id is None or s.shard[0] == shard_id)
        ]

    async def drop(self, *, code: int | None = None, shard_id: int | None = None) -> list[str]:
        """Drop the connections of identified sessions (one shard or all); the sessions stay resumable.

        ``code`` None aborts the TCP connection (no close frame, like a network failure); otherwise the
        server sends a close frame with ``code`` (use a resumable one, e.g. 4000). Each session is
        detached before this returns, so anything dispatched afterwards waits in its replay buffer.
        Returns the dropped session ids.
        """
        targets = self._fault_targets(shard_id)
        await asyncio.gather(*(s.disconnect(code) for s in targets))
        ids = [s.session_id for s in targets]
        self.events.record(
            EventKind.FAULT, {"fault": "drop_gateway", "action": "hit", "code": code, "session_ids": ids}
        )
        return ids

    @property
    def held(self) -> bool:
        """Whether new connections are held (see :meth:`hold`)."""
        return not self._open.is_set()

    def hold(self) -> None:
        """Hold new connections: each is accepted but gets no HELLO until :meth:`release` (an outage that
        lasts: discord.py waits up to 60 s for HELLO, then connects again). Live sessions go on."""
        self._open.clear()
        self.events.record(EventKind.FAULT, {"fault": "hold_gateway", "action": "hit"})

    def release(self) -> None:
        """End :meth:`hold`: held connections get their HELLO now (and RESUME or IDENTIFY)."""
        if not self._open.is_set():
            self._open.set()
            self.events.record(EventKind.FAULT, {"fault": "hold_gateway", "action": "released"})

    async def send_reconnect(self, *, shard_id: int | None = None) -> list[str]:
        """Send RECONNECT (op 7): the client closes and RESUMEs. Returns the session ids told."""
        targets = self._fault_targets(shard_id)
        await asyncio.gather(*(s.send(Op.RECONNECT) for s in targets))
        ids = [s.session_id for s in targets]
        self.events.record(EventKind.FAULT, {"fault": "reconnect", "action": "hit", "session_ids": ids})
        return ids

    async def invalidate(self, resumable: bool, *, shard_id: int | None = None) -> list[str]:
        """Send INVALID_SESSION (op 9) with ``d=resumable``; a non-resumable session is ended here.

        discord.py answers ``true`` with a RESUME on a new connection and ``false`` with a new
        IDENTIFY (after ``before_identify_hook``). Returns the session ids told.
        """
        targets = self._fault_targets(shard_id)
        for session in targets:
            session.resumable = session.resumable and resumable
        await asyncio.gather(*(s.send(Op.INVALID_SESSION, resumable) for s in targets))
        ids = [s.session_id for s in targets]
        self.events.record(
            EventKind.FAULT,
            {"fault": "invalid_session", "action": "hit", "resumable": resumable, "session_ids": ids},
        )
        return ids

    # -- heartbeats: faults, requests and zombies (see gateway_guard) --

    def withhold_acks(self, count: int | None = None, *, shard_id: int | None = None) -> None:
        """Answer the next ``count`` heartbeats (None: all until :meth:`release_acks`) with no ACK, on
        every connection or one shard's sessions: the client's zombie detection should reconnect."""
        self.ack_withholding.set(count, shard_id)
        self.events.record(
            EventKind.FAULT, {"fault": "withhold_acks", "action": "set", "count": count, "shard_id": shard_id}
        )

    def release_acks(self) -> None:
        """End :meth:`withhold_acks`: heartbeats are ACKed again."""
        if self.ack_withholding.release():
            self.events.record(EventKind.FAULT, {"fault": "withhold_acks", "action": "released"})

    async def request_heartbeat(self, *, shard_id: int | None = None) -> list[str]:
        """Send op 1 HEARTBEAT, which the client must answer at once with a heartbeat (recorded as a
        ``fault`` event, ``"request_heartbeat"``, ``"answered"``). Returns the session ids asked."""
        targets = self._fault_targets(shard_id)
        now = time.monotonic()
        for session in targets:
            session.heartbeat_requested_at = now
        await asyncio.gather(*(s.send(Op.HEARTBEAT) for s in targets))
        ids = [s.session_id for s in targets]
        self.events.record(
            EventKind.FAULT, {"fault": "request_heartbeat", "action": "hit", "session_ids": ids}
        )
        return ids

    async def _zombie(self, guard: ConnectionGuard) -> None:
        log.warning(
            "gateway session %s sent no heartbeat for %.1fs: closing it as a zombie (4009, resumable)",
            guard.session.session_id,
            time.monotonic() - guard.last_beat,
        )
        await self._close_by_rule(guard, CloseCode.SESSION_TIMED_OUT)

    async def _close_by_rule(self, guard: ConnectionGuard, code: CloseCode) -> None:
        """Close ``guard``'s connection with ``code``; its session (if identified) stays resumable."""
        guard.closed_with = code
        session = guard.session
        if code is CloseCode.RATE_LIMITED:
            log.warning(
                "gateway session %s sent more than %s payloads in %ss: closed with 4008 (resumable)",
                session.session_id,
                self.rules.send_limit,
                self.rules.send_window,
            )
        if session.identified and session.ws is guard.ws:
            await session.disconnect(code, CLOSE_REASONS[code])  # detached first: it stays resumable
        else:  # not identified, or its session has moved to a newer connection already
            await guard.ws.close(code=code, message=CLOSE_REASONS[code].encode())

    # -- protocol --

    async def _close(self, session: GatewaySession, code: CloseCode) -> None:
        log.info(
            "gateway session %s closed with %d %s", session.session_id, code, CLOSE_REASONS.get(code, "")
        )
        await session.close(code, CLOSE_REASONS.get(code, ""))

    async def _resume(self, fresh: GatewaySession, d: Json) -> GatewaySession:
        """Handle RESUME on ``fresh``'s connection; the session now bound to it is returned."""
        if fresh.identified:
            await self._close(fresh, CloseCode.ALREADY_AUTHENTICATED)
            return fresh
        user = self.world.user_for_token(d.get("token"))
        if user is None:
            await self._close(fresh, CloseCode.AUTHENTICATION_FAILED)
            return fresh
        session_id = str(d.get("session_id"))
        raw_seq = d.get("seq")
        seq = raw_seq if isinstance(raw_seq, int) else 0
        old = self.session(session_id)
        reason = None
        if old is None or not old.identified:
            reason = "unknown or expired session"
        elif old.user is None or old.user.id != user.id:
            reason = "session belongs to another user"
        elif not old.resumable:
            reason = "session was invalidated"
        elif not old.can_replay_from(seq):
            reason = f"cannot replay from seq {seq} (session at {old.sequence})"
        if old is None or reason is not None:
            log.info("gateway: RESUME of %s refused: %s", session_id, reason)
            self.events.record(EventKind.RESUME_REJECTED, {"session_id": session_id, "reason": reason})
            await fresh.send(Op.INVALID_SESSION, False)
            return fresh
        if old.connected:
            # The session's previous connection is still open: it ends now (aborted, so nothing waits
            # for its client to answer a close frame).
            await old.disconnect(None)
        self._forget(fresh)
        replayed = await old.take_over(fresh, seq)
        self.events.record(
            EventKind.RESUME,
            {"session_id": old.session_id, "user_id": user.id, "seq": seq, "replayed": replayed},
        )
        log.info("gateway session %s resumed from seq %d (%d replayed)", old.session_id, seq, replayed)
        return old

    async def _on_payload(self, session: GatewaySession, op: Op | int, d: Any, request: web.Request) -> None:
        if op is Op.HEARTBEAT:
            session.heartbeats += 1
            if session.heartbeat_requested_at is not None:
                after = time.monotonic() - session.heartbeat_requested_at
                session.heartbeat_requested_at = None
                self.events.record(
                    EventKind.FAULT,
                    {
                        "fault": "request_heartbeat",
                        "action": "answered",
                        "session_id": session.session_id,
                        "after": round(after, 4),
                    },
                )
            if self.ack_withholding.take(session):
                self.events.record(
                    EventKind.FAULT,
                    {"fault": "withhold_acks", "action": "hit", "session_id": session.session_id},
                )
                return
            # discord.py records when it sent a heartbeat (KeepAliveHandler._last_send) in its keep-alive
            # thread, only after the loop has finished the send and the thread has got the GIL back. An ACK
            # answered at once over loopback can be handled on the loop first: latency is then measured
            # from the previous heartbeat (~41 s, "Can't keep up ... behind"). Discord's network delay
            # covers that gap; this pause plays its part. Awaited here rather than in a task, so
            # the ACK still leaves before anything this client sends next is handled (a RESUME moves
            # the connection onto another session).
            await asyncio.sleep(self.heartbeat_ack_delay)
            await session.send(Op.HEARTBEAT_ACK)
        elif op is Op.IDENTIFY:
            await self._identify(session, d or {}, request)
        elif not session.identified and op in (Op.PRESENCE_UPDATE, Op.REQUEST_GUILD_MEMBERS):
            await self._close(session, CloseCode.NOT_AUTHENTICATED)
        elif op is Op.PRESENCE_UPDATE:
            self._record_presence(session, d or {}, source="op3")
        elif op is Op.REQUEST_GUILD_MEMBERS:
            await self._member_chunk(session, d or {})
        elif op is Op.VOICE_STATE_UPDATE:
            log.debug("gateway session %s: voice is not simulated; ignoring op 4", session.session_id)
        else:
            log.warning("gateway session %s: ignoring unknown op %r", session.session_id, op)

    async def _identify(self, session: GatewaySession, d: Json, request: web.Request) -> None:
        if session.identified:
            await self._close(session, CloseCode.ALREADY_AUTHENTICATED)
            return
        user = self.world.user_for_token(d.get("token"))
        if user is None:
            await self._close(session, CloseCode.AUTHENTICATION_FAILED)
            return
        shard = d.get("shard") or [0, 1]
        if not (isinstance(shard, list) and len(shard) == 2 and 0 <= shard[0] < shard[1]):
            await self._close(session, CloseCode.INVALID_SHARD)
            return
        intents = d.get("intents")
        if not isinstance(intents, int) or intents < 0 or intents >= 1 << 26:
            await self._close(session, CloseCode.INVALID_INTENTS)
            return
        app_flags = self.world.application.flags
        if any(intents & bit and not app_flags & allowed for bit, allowed in PRIVILEGED_INTENTS.items()):
            await self._close(session, CloseCode.DISALLOWED_INTENTS)
            return
        refusal = self.limits.admit(session.session_id, user.id, (shard[0], shard[1]))
        if refusal is not None:
            await self._refuse_identify(session, refusal)
            return

        session.user, session.intents, session.shard = user, intents, (shard[0], shard[1])
        self.events.record(
            EventKind.IDENTIFY,
            {
                "session_id": session.session_id,
                "user_id": user.id,
                "intents": intents,
                "shard": list(session.shard),
            },
        )
        if d.get("presence"):
            self._record_presence(session, d["presence"], source="identify")

        guilds = [
            g for g in self.world.guilds.values() if user.id in g.members and session.handles_guild(g.id)
        ]
        ready = ready_payload(
            self.world,
            user,
            session.session_id,
            guilds,
            resume_gateway_url=gateway_url_for(request),
            shard=session.shard if d.get("shard") else None,
        )
        await session.send(Op.DISPATCH, ready, "READY")
        for guild in guilds:
            await session.send(
                Op.DISPATCH, guild_create_payload(guild, me=user.id, intents=intents), "GUILD_CREATE"
            )
        self.events.record(
            EventKind.READY,
            {"session_id": session.session_id, "user_id": user.id, "guild_ids": [g.id for g in guilds]},
        )
        log.info("gateway session %s ready as %s (intents %d)", session.session_id, user.username, intents)

    async def _refuse_identify(self, session: GatewaySession, refusal: IdentifyRefusal) -> None:
        self.events.record(EventKind.IDENTIFY_REFUSED, refusal.as_json())
        log.warning("gateway: %s", self.limits.explain(refusal))
        if refusal.reason is RefusalReason.MAX_CONCURRENCY:
            await session.send(Op.INVALID_SESSION, False)  # discord.py IDENTIFYs again 5 s later
        else:
            await self._close(session, CloseCode.AUTHENTICATION_FAILED)

    def _record_presence(self, session: GatewaySession, d: Json, *, source: str) -> None:
        presence = presence_from(d)
        session.presence = presence
        self.events.record(
            EventKind.PRESENCE_UPDATE, {"session_id": session.session_id, "source": source, **presence}
        )

    async def _member_chunk(self, session: GatewaySession, d: Json) -> None:
        guild = self.world.guilds.get(int(d.get("guild_id") or 0))
        if guild is None or session.user is None or session.user.id not in guild.members:
            return
        chunks = member_chunks(guild, d, has_members_intent=session.has_intent(GUILD_MEMBERS))
        if chunks is None:
            log.warning("session %s: whole member list asked without GUILD_MEMBERS", session.session_id)
            return
        for chunk in chunks:
            await session.send(Op.DISPATCH, chunk, "GUILD_MEMBERS_CHUNK")

    # -- dispatching to bots --

    async def dispatch(
        self, event: str, guild_id: int, build: Callable[[GatewaySession], Json], *, intent: int | None = None
    ) -> None:
        """Send ``event`` to every session whose bot is in the guild, on the right shard, with ``intent``."""
        await self.send_to(self.targets(guild_id, intent=intent), event, build)

    def targets(self, guild_id: int, *, intent: int | None = None) -> list[GatewaySession]:
        """The sessions (connected or resumable) that get ``guild_id``'s events needing ``intent``."""
        guild = self.world.guilds.get(guild_id)
        if guild is None:
            return []
        return [
            s
            for s in self.identified_sessions
            if s.user is not None
            and s.user.id in guild.members
            and s.handles_guild(guild_id)
            and (intent is None or s.has_intent(intent))
        ]

    async def send_to(
        self, targets: list[GatewaySession], event: str, build: Callable[[GatewaySession], Json]
    ) -> None:
        """Dispatch ``event`` to ``targets``, each with its own payload from ``build``."""
        if len(targets) == 1:
            # The usual case, one bot: gather would wrap the send in a task, a third of its cost.
            await targets[0].send(Op.DISPATCH, build(targets[0]), event)
        else:
            await asyncio.gather(*(s.send(Op.DISPATCH, build(s), event) for s in targets))

    def dm_targets(self, channel_id: int) -> list[GatewaySession]:
        """The sessions that get a DM channel's events: its bot's sessions on shard 0 with DIRECT_MESSAGES.

        Discord sends events without a ``guild_id`` to the first shard only.
        """
        channel = self.world.dm_channels.get(channel_id)
        if channel is None:
            return []
        return [
            s
            for s in self.identified_sessions
            if s.user is not None
            and s.user.id == channel.bot_id
            and s.shard[0] == 0
            and s.has_intent(DIRECT_MESSAGES)
        ]

    async def dispatch_message(self, event: str, message: Message) -> None:
        """MESSAGE_CREATE or MESSAGE_UPDATE, with content hidden from sessions lacking MESSAGE_CONTENT."""
        full = message_payload(self.world, message, gateway=True)
        if message.guild_id is None:
            # A DM: its content is exempt from MESSAGE_CONTENT ("Content in DMs with the app").
            await self.send_to(self.dm_targets(message.channel_id), event, lambda _s: full)
            return

        def build(session: GatewaySession) -> Json:
            assert session.user is not None
            me = session.user.id
            if session.has_intent(MESSAGE_CONTENT) or message.author.id == me or me in message.mentions:
                return full
            # As on Discord: without the intent these arrive empty (own messages and mentions excepted).
            return {**full, "content": "", "embeds": [], "attachments": [], "components": []}

        await self.dispatch(event, message.guild_id, build, intent=GUILD_MESSAGES)

    async def dispatch_message_delete(self, message: Message) -> None:
        if message.guild_id is None:
            deleted = {"id": str(message.id), "channel_id": str(message.channel_id)}
            await self.send_to(self.dm_targets(message.channel_id), "MESSAGE_DELETE", lambda _s: deleted)
            return
        payload = {
            "id": str(message.id),
            "channel_id": str(message.channel_id),
            "guild_id": str(message.guild_id),
        }
        await self.dispatch("MESSAGE_DELETE", message.guild_id, lambda _s: payload, intent=GUILD_MESSAGES)
