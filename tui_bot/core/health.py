"""Gateway and REST rate-limit health: ``bot.health``, read by the Metrics pane, ``!stats`` and Prometheus.

**Gateway**, per shard (a bot without shards is shard 0), from discord.py's own events: ``on_connect``
(READY: a new session, so an IDENTIFY went through), ``on_ready``, ``on_resumed`` and ``on_disconnect``,
or their ``on_shard_*`` twins on a sharded bot. Each shard has a state (connecting, ready, resuming,
disconnected) and the times of its identifies, resumes and reconnects (disconnects) of the last 24 hours,
in bounded rings (a shard reconnecting in a loop cannot grow memory), with the totals counted apart.

**REST**, from aiohttp's tracing (discord.py's public ``http_trace`` option), never from discord.py's
internals: every response counted by route template and status (:mod:`tui_bot.core.rest_routes`), every
429 with its time (for the last hour), its route and whether it was global, and the seconds the bot was
told to wait. discord.py sleeps the 429 body's ``retry_after`` before retrying (``http.py``,
``HTTPClient.request``), and after a response that leaves a bucket at ``X-RateLimit-Remaining: 0`` it
sleeps ``X-RateLimit-Reset-After`` before the call returns (``Ratelimit.__aexit__``): both are counted,
as ``429`` and ``bucket`` waits. A global 429 means no request may go out for ``retry_after`` seconds:
that is "a global limit in force".

Every method called per event or per response is O(1). :meth:`BotHealth.summary` is JSON-serialisable
(``bot.metrics.get_stats()`` carries it to an attached console).
"""

from __future__ import annotations

import json
import math
import time
from collections import deque
from collections.abc import Callable, Coroutine, Iterable
from typing import TYPE_CHECKING, Any

import aiohttp
import discord
from discord.ext import commands

from tui_bot.core.rest_routes import RouteLabels

if TYPE_CHECKING:
    from types import SimpleNamespace

DAY = 86_400.0
HOUR = 3_600.0
EVENTS_KEPT = 1_000  # timestamps kept per shard and kind, and of 429s: the newest ones
ROUTES_SHOWN = 5  # the routes with the most 429s in the last hour, in the summary
STATES = ("connecting", "ready", "resuming", "disconnected")
READ_LIMIT = 64 * 1024  # a 429's JSON body is tiny; never read anything large in the trace


class EventTimes:
    """Times of one kind of event: the newest :data:`EVENTS_KEPT` of them, and how many in all."""

    __slots__ = ("_dropped_at", "times", "total")

    def __init__(self) -> None:
        self.times: deque[float] = deque(maxlen=EVENTS_KEPT)
        self.total = 0
        self._dropped_at = -math.inf  # the newest time pushed out of the ring

    def add(self, at: float) -> None:
        self.total += 1
        if len(self.times) == EVENTS_KEPT:
            self._dropped_at = self.times[0]
        self.times.append(at)

    def within(self, window: float, now: float) -> tuple[int, bool]:
        """``(count in the last window seconds, whether more happened than the ring kept)``; forgets the
        times before the window (so reading stays cheap). The same ``window`` on every call."""
        start = now - window
        times = self.times
        while times and times[0] < start:  # oldest first: what left the window never comes back
            times.popleft()
        return len(times), self._dropped_at >= start

    @property
    def last(self) -> float | None:
        return self.times[-1] if self.times else None


class ShardHealth:
    """One shard's connection: its state since when, and its identifies, resumes and reconnects."""

    __slots__ = ("identifies", "reconnects", "resumes", "since", "state")

    def __init__(self, now: float) -> None:
        self.state = "connecting"
        self.since = now
        self.identifies = EventTimes()
        self.resumes = EventTimes()
        self.reconnects = EventTimes()

    def set_state(self, state: str, now: float) -> None:
        if state != self.state:
            self.state = state
            self.since = now


def _finite(seconds: float | None) -> float | None:
    if seconds is None or math.isnan(seconds) or math.isinf(seconds):
        return None
    return seconds


class GatewayHealth:
    """Per-shard gateway state and history; :meth:`watch` feeds it from a bot's events."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.shards: dict[int, ShardHealth] = {}
        self._client: discord.Client | None = None

    def shard(self, shard_id: int) -> ShardHealth:
        health = self.shards.get(shard_id)
        if health is None:
            health = self.shards[shard_id] = ShardHealth(self.clock())
        return health

    # -- events ---------------------------------------------------------------------------------

    def identified(self, shard_id: int) -> None:
        """READY arrived: a new session (guilds are still arriving until on_ready)."""
        now = self.clock()
        health = self.shard(shard_id)
        health.identifies.add(now)
        health.set_state("connecting", now)

    def ready(self, shard_id: int) -> None:
        self.shard(shard_id).set_state("ready", self.clock())

    def resumed(self, shard_id: int) -> None:
        now = self.clock()
        health = self.shard(shard_id)
        health.resumes.add(now)
        health.set_state("ready", now)

    def disconnected(self, shard_id: int, *, closing: bool) -> None:
        """The connection dropped; discord.py reconnects (and tries to RESUME) unless the bot is closing."""
        now = self.clock()
        health = self.shard(shard_id)
        if closing:
            health.set_state("disconnected", now)
            return
        health.reconnects.add(now)
        health.set_state("resuming", now)

    def watch(self, bot: commands.Bot) -> None:
        """Listen to ``bot``'s connection events (its shard events when it is an AutoShardedClient)."""
        self._client = bot

        def closing() -> bool:
            return bot.is_closed()

        if isinstance(bot, discord.AutoShardedClient):

            async def on_shard_connect(shard_id: int) -> None:
                self.identified(shard_id)

            async def on_shard_ready(shard_id: int) -> None:
                self.ready(shard_id)

            async def on_shard_resumed(shard_id: int) -> None:
                self.resumed(shard_id)

            async def on_shard_disconnect(shard_id: int) -> None:
                self.disconnected(shard_id, closing=closing())

            listeners: list[Callable[..., Coroutine[Any, Any, None]]] = [
                on_shard_connect,
                on_shard_ready,
                on_shard_resumed,
                on_shard_disconnect,
            ]
        else:
            own = bot.shard_id or 0

            async def on_connect() -> None:
                self.identified(own)

            async def on_ready() -> None:
                self.ready(own)

            async def on_resumed() -> None:
                self.resumed(own)

            async def on_disconnect() -> None:
                self.disconnected(own, closing=closing())

            listeners = [on_connect, on_ready, on_resumed, on_disconnect]
        for listener in listeners:
            bot.add_listener(listener, listener.__name__)

    # -- reading --------------------------------------------------------------------------------

    def expected_shards(self) -> list[int]:
        """This process's shards: the client's own ids, else every shard seen so far."""
        client = self._client
        seen = set(self.shards)
        if client is None:
            return sorted(seen) or [0]
        if isinstance(client, discord.AutoShardedClient):
            ids = client.shard_ids
            if ids is None and isinstance(client.shard_count, int):
                ids = list(range(client.shard_count))
            return sorted(set(ids or ()) | seen) or [0]
        return sorted({client.shard_id or 0} | seen)

    def latencies(self) -> dict[int, float | None]:
        """Each shard's last heartbeat round trip in seconds (None: none yet, or disconnected)."""
        client = self._client
        if client is None:
            return {}
        if isinstance(client, discord.AutoShardedClient):
            return {shard_id: _finite(latency) for shard_id, latency in client.latencies}
        return {client.shard_id or 0: _finite(client.latency)}

    def summary(self) -> dict[str, dict[str, Any]]:
        """``{"0": {"state", "since", "latency_ms", "identifies_24h", ...}}``: shard ids as text (JSON)."""
        now = self.clock()
        latencies = self.latencies()
        shown: dict[str, dict[str, Any]] = {}
        for shard_id in self.expected_shards():
            health = self.shards.get(shard_id) or ShardHealth(now)
            latency = latencies.get(shard_id) if health.state == "ready" else None
            entry: dict[str, Any] = {
                "state": health.state,
                "since": round(health.since, 3),
                "latency_ms": None if latency is None else round(latency * 1000, 1),
            }
            for kinds, kind, times in (
                ("identifies", "identify", health.identifies),
                ("resumes", "resume", health.resumes),
                ("reconnects", "reconnect", health.reconnects),
            ):
                count, more = times.within(DAY, now)
                entry[f"{kinds}_24h"] = count
                entry[f"{kinds}_24h_more"] = more  # more than the ring keeps: at least that many
                entry[f"{kinds}_total"] = times.total
                entry[f"last_{kind}"] = times.last
            shown[str(shard_id)] = entry
        return shown

    def not_ready(self) -> dict[str, str]:
        """``{"2": "resuming"}``: the shards of this process that are not ready."""
        return {shard: entry["state"] for shard, entry in self.summary().items() if entry["state"] != "ready"}


class RestHealth:
    """REST requests, 429s and rate-limit waits, fed by aiohttp tracing (:meth:`trace_config`)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.routes = RouteLabels()
        self.requests: dict[tuple[str, str], int] = {}  # (route, status) -> responses
        self.limited: dict[tuple[str, str], int] = {}  # (route, scope) -> 429s; scope: route/global/shared
        self.recent_429: deque[tuple[float, str, bool]] = deque(maxlen=EVENTS_KEPT)  # (time, route, global)
        self.wait_seconds: dict[str, float] = {"429": 0.0, "bucket": 0.0}
        self.global_until = 0.0  # clock time until which a global limit is in force

    def trace_config(self, existing: aiohttp.TraceConfig | None = None) -> aiohttp.TraceConfig:
        """``existing`` (an ``http_trace`` the caller passed) or a new TraceConfig, with our callbacks."""
        trace = existing or aiohttp.TraceConfig()
        trace.on_request_end.append(self._on_request_end)
        trace.on_request_exception.append(self._on_request_exception)
        return trace

    # -- trace callbacks: they run inside discord.py's request, so they never raise ----------------

    async def _on_request_end(
        self,
        _session: aiohttp.ClientSession,
        _context: SimpleNamespace,
        params: aiohttp.TraceRequestEndParams,
    ) -> None:
        try:
            route = self.routes.label(params.method, params.url.path)
            if route is None:
                return
            response = params.response
            status = response.status
            key = (route, str(status))
            self.requests[key] = self.requests.get(key, 0) + 1
            headers = response.headers
            if status == 429:
                await self._rate_limited(route, response)
            elif headers.get("X-RateLimit-Remaining") == "0":
                # discord.py sleeps until the bucket resets before this call returns.
                self.wait_seconds["bucket"] += _seconds(headers.get("X-RateLimit-Reset-After"))
        except Exception:  # counting must never break a request
            pass

    async def _on_request_exception(
        self,
        _session: aiohttp.ClientSession,
        _context: SimpleNamespace,
        params: aiohttp.TraceRequestExceptionParams,
    ) -> None:
        try:
            route = self.routes.label(params.method, params.url.path)
            if route is not None:
                key = (route, "error")
                self.requests[key] = self.requests.get(key, 0) + 1
        except Exception:  # counting must never break a request
            pass

    async def _rate_limited(self, route: str, response: aiohttp.ClientResponse) -> None:
        headers = response.headers
        body: dict[str, Any] = {}
        if response.content_type == "application/json" and (response.content_length or 0) <= READ_LIMIT:
            # The body (cached by aiohttp, so discord.py reads the same bytes) has the exact retry_after;
            # the Retry-After header is whole seconds.
            parsed = json.loads(await response.read() or b"{}")
            body = parsed if isinstance(parsed, dict) else {}
        is_global = bool(body.get("global")) or headers.get("X-RateLimit-Global", "").lower() == "true"
        retry_after = _seconds(body.get("retry_after"))
        if retry_after == 0.0:
            retry_after = _seconds(headers.get("X-RateLimit-Reset-After") or headers.get("Retry-After"))
        shared = headers.get("X-RateLimit-Scope") == "shared"
        scope = "global" if is_global else ("shared" if shared else "route")
        self.record_429(route, scope=scope, retry_after=retry_after)

    def record_429(self, route: str, *, scope: str, retry_after: float) -> None:
        """Count one 429 on ``route`` (``scope``: route, global or shared) asking for ``retry_after`` s."""
        now = self.clock()
        key = (route, scope)
        self.limited[key] = self.limited.get(key, 0) + 1
        is_global = scope == "global"
        self.recent_429.append((now, route, is_global))
        self.wait_seconds["429"] += retry_after
        if is_global:
            self.global_until = max(self.global_until, now + retry_after)

    # -- reading --------------------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        """429s of the last hour (in all, global, the worst routes), the global limit, waits, totals."""
        now = self.clock()
        start = now - HOUR
        while self.recent_429 and self.recent_429[0][0] < start:
            self.recent_429.popleft()
        recent = [(route, is_global) for _at, route, is_global in self.recent_429]
        per_route: dict[str, int] = {}
        for route, _is_global in recent:
            per_route[route] = per_route.get(route, 0) + 1
        worst = sorted(per_route.items(), key=lambda item: (-item[1], item[0]))[:ROUTES_SHOWN]
        oldest_kept = self.recent_429[0][0] if self.recent_429 else now
        in_force = self.global_until > now
        return {
            "429_last_hour": len(recent),
            "429_last_hour_more": len(self.recent_429) == EVENTS_KEPT and oldest_kept >= start,
            "global_429_last_hour": sum(is_global for _route, is_global in recent),
            "429_by_route_last_hour": dict(worst),
            "429_total": sum(self.limited.values()),
            "global_limit_in_force": in_force,
            "global_limit_until": round(self.global_until, 3) if in_force else None,
            "wait_seconds": {reason: round(seconds, 3) for reason, seconds in self.wait_seconds.items()},
            "requests_total": sum(self.requests.values()),
            "last_429": self.recent_429[-1][0] if self.recent_429 else None,
        }


def _seconds(value: Any) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return 0.0
    return seconds if math.isfinite(seconds) and seconds > 0 else 0.0


class BotHealth:
    """The gateway and REST health of one bot (``bot.health``)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.gateway = GatewayHealth(clock)
        self.rest = RestHealth(clock)

    def summary(self) -> dict[str, Any]:
        """``{"gateway": {shard: {...}}, "rate_limits": {...}}``, JSON-serialisable."""
        return {"gateway": self.gateway.summary(), "rate_limits": self.rest.summary()}


def states_text(states: Iterable[str]) -> str:
    """``["ready", "ready", "resuming"]`` -> ``"2 ready, 1 resuming"`` (in :data:`STATES` order)."""
    listed = list(states)
    return ", ".join(f"{listed.count(state)} {state}" for state in STATES if state in listed)
