"""The sandbox's knobs: gateway settings and faults, REST faults and rate limits, Discord's limits.

A part of :class:`~.server.Sandbox` (which inherits it), kept apart so that each file of the public
API stays one page. Gateway faults and settings live on the hub (``gateway``), REST faults and rate
limits on the REST API (``faults``, ``ratelimits``); these methods are the documented way to reach them.
"""

from __future__ import annotations

from .faults import DEFAULT_RETRY_AFTER, Fault
from .gateway import GatewayHub
from .gateway_guard import GatewayRules
from .identify_limits import IdentifyLimits, IdentifyRefusal
from .limits import CommandLimits
from .rest import RestApi
from .transcript import Transcript


class SandboxKnobs:
    """Gateway and REST faults, limits and settings of a :class:`~.server.Sandbox`."""

    hub: GatewayHub
    rest: RestApi

    @property
    def recommended_shards(self) -> int:
        """The shard count ``GET gateway/bot`` recommends (1 unless set); ``AutoShardedBot()`` uses it."""
        return self.hub.recommended_shards

    @recommended_shards.setter
    def recommended_shards(self, count: int) -> None:
        if count < 1:
            raise ValueError("recommended_shards must be at least 1")
        self.hub.recommended_shards = count

    @property
    def identify_limits(self) -> IdentifyLimits:
        """The IDENTIFY rate limit and session start limit; its settings may be changed at any time
        (``max_concurrency``, ``identify_window``, ``session_start_total``, ``session_reset_after``)."""
        return self.hub.limits

    @property
    def command_limits(self) -> CommandLimits:
        """Application-command limits (see ``limits``): ``chat_input``, ``user``, ``message`` per scope
        and ``daily_creates`` per ``daily_reset_after`` seconds; change them at any time
        (``sb.command_limits.daily_creates = 3``)."""
        return self.rest.command_limits

    @property
    def identify_refusals(self) -> list[IdentifyRefusal]:
        """Every IDENTIFY refused so far (bucket rule or session start limit), oldest first."""
        return list(self.hub.limits.refusals)

    @property
    def resume_timeout(self) -> float:
        """Seconds a disconnected session stays resumable, buffering its dispatches (60 unless set)."""
        return self.hub.resume_timeout

    @resume_timeout.setter
    def resume_timeout(self, seconds: float) -> None:
        self.hub.resume_timeout = seconds

    async def drop_gateway(
        self, *, code: int | None = None, shard_id: int | None = None, hold: bool = False
    ) -> list[str]:
        """Drop bot gateway connections (all, or one shard's); discord.py reconnects and RESUMEs.

        ``code`` None aborts the TCP connection without a close frame (a network failure); an int sends
        a close frame with that code (4000 is resumable; 4004 and 4010-4014 end the client). Dispatches
        made after this returns wait in the session's buffer and are replayed on RESUME. ``hold``: the
        drop lasts until :meth:`release_gateway` (new connections get no HELLO until then). Returns the
        dropped session ids.
        """
        if hold:
            self.hub.hold()
        return await self.hub.drop(code=code, shard_id=shard_id)

    def release_gateway(self) -> None:
        """End a held drop (``drop_gateway(hold=True)``): waiting connections get HELLO and RESUME."""
        self.hub.release()

    async def send_reconnect(self, *, shard_id: int | None = None) -> list[str]:
        """Send RECONNECT (op 7): discord.py closes the connection and RESUMEs. Returns the session ids."""
        return await self.hub.send_reconnect(shard_id=shard_id)

    async def invalidate_session(self, resumable: bool, *, shard_id: int | None = None) -> list[str]:
        """Send INVALID_SESSION (op 9): ``True`` makes discord.py RESUME, ``False`` IDENTIFY anew.

        discord.py waits ``before_identify_hook`` (5 s by default) before that new IDENTIFY.
        """
        return await self.hub.invalidate(resumable, shard_id=shard_id)

    @property
    def gateway_rules(self) -> GatewayRules:
        """The send limit and zombie detection (``send_limit``, ``send_window``, ``heartbeat_grace``);
        change them at any time."""
        return self.hub.rules

    @property
    def transcript(self) -> Transcript:
        """Recent gateway frames (both ways), gateway closes and REST calls: ``transcript.lines(50)``."""
        return self.hub.transcript

    def withhold_heartbeat_acks(self, count: int | None = None, *, shard_id: int | None = None) -> None:
        """Send no HEARTBEAT_ACK for the next ``count`` heartbeats (None: until
        :meth:`release_heartbeat_acks`), on every connection or one shard's. discord.py closes a
        connection that has received nothing for ``heartbeat_timeout`` seconds (a ``Client`` option,
        60 by default) and RESUMEs. Each withheld ACK is a ``fault`` event (``"withhold_acks"``)."""
        self.hub.withhold_acks(count, shard_id=shard_id)

    def release_heartbeat_acks(self) -> None:
        """End :meth:`withhold_heartbeat_acks`: heartbeats are ACKed again."""
        self.hub.release_acks()

    async def request_heartbeat(self, *, shard_id: int | None = None) -> list[str]:
        """Send op 1 HEARTBEAT, which a client must answer at once with a heartbeat; the answer is a
        ``fault`` event (``"request_heartbeat"``, ``"answered"``, ``after`` seconds). Returns the
        session ids asked."""
        return await self.hub.request_heartbeat(shard_id=shard_id)

    def force_429(
        self,
        count: int = 1,
        *,
        route: str | None = None,
        global_: bool = False,
        retry_after: float = DEFAULT_RETRY_AFTER,
    ) -> Fault:
        """Answer the next ``count`` requests (matching ``route``, e.g. ``"POST channels/*/messages"``)
        with a 429 that discord.py retries after ``retry_after`` seconds; ``global_`` makes it global."""
        return self.rest.faults.force_429(count, route=route, global_=global_, retry_after=retry_after)

    def fail_route(
        self,
        pattern: str | None,
        status: int | None = 500,
        count: int | None = None,
        *,
        every: int = 1,
        retry_after: float | None = None,
    ) -> Fault:
        """Answer requests matching ``pattern`` (None: every route) with a 5xx, ``count`` times or until
        cleared. discord.py retries 500/502/504/524 after 1, 3, 5, 7 s; other 5xx raise at once.
        ``every=2`` fails every other matching request; ``retry_after`` adds a ``Retry-After`` header;
        ``status=None`` drops the connection instead (before handling the request)."""
        return self.rest.faults.fail_route(pattern, status, count, every=every, retry_after=retry_after)

    def fail_after_create(
        self, pattern: str | None, status: int | None = 500, count: int | None = 1
    ) -> Fault:
        """Handle requests matching ``pattern`` (e.g. ``"POST channels/*/messages"``: the message is
        created and dispatched), then answer ``status`` instead, or drop the connection if it is None;
        ``count`` times (None: until cleared). A retry with the same nonce and ``enforce_nonce`` gets
        the message that was created (see nonces.py); a retry without one posts it twice."""
        return self.rest.faults.fail_after_create(pattern, status, count)

    def delay_route(self, pattern: str | None, ms: float, count: int | None = None) -> Fault:
        """Hold requests matching ``pattern`` (None: every route) ``ms`` milliseconds before handling."""
        return self.rest.faults.delay_route(pattern, ms, count)

    def clear_faults(self, fault: Fault | None = None) -> None:
        """Remove one REST fault, or all of them."""
        self.rest.faults.clear(fault)

    def set_rate_limit(self, route_pattern: str, limit: int, per_seconds: float = 1.0) -> None:
        """Allow ``limit`` requests per ``per_seconds`` in each bucket of routes matching ``route_pattern``
        (a ``RoutePattern``: ``"[METHOD ]path"`` with ``*``/``{name}`` for a segment, ``**`` for any)."""
        self.rest.rate_limits.set_route_limit(route_pattern, limit, per_seconds)

    def set_global_rate_limit(self, limit: int | None, per_seconds: float = 1.0) -> None:
        """Allow ``limit`` requests per ``per_seconds`` per bot across all routes (None: unlimited)."""
        self.rest.rate_limits.set_global_limit(limit, per_seconds)

    def reset_rate_limits(self) -> None:
        """Back to the generous default limits, with fresh counters."""
        self.rest.rate_limits.reset()
