"""REST fault injection: forced 429s, 5xx answers and slow responses, on one route pattern or all.

The REST middleware asks :meth:`FaultInjector.intercept` about every API request before its handler
runs. Gateway faults (dropped connections, RECONNECT, INVALID_SESSION) live on the
:class:`~tui_bot.sandbox.gateway.GatewayHub`; the ``Sandbox`` API drives both. Every fault is recorded
in the event log (:attr:`EventKind.FAULT`) when it is set, each time it is hit and when it is cleared;
a forced 429 is also recorded as :attr:`EventKind.RATE_LIMITED` with ``forced: True``.

discord.py 2.7 retries a 429 after the body's ``retry_after`` and a 500/502/504/524 after
``1 + 2 * tries`` seconds (at most 5 tries); any other 5xx raises ``DiscordServerError`` at once.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from http import HTTPStatus

from aiohttp import web

from .events import EventKind, EventLog
from .ratelimits import Decision, RoutePattern, api_path, bucket_of, too_many_requests
from .world import Json

DEFAULT_RETRY_AFTER = 0.05  # seconds: short, so a test retrying a forced 429 stays fast

_fault_ids = itertools.count(1)


@dataclass
class Fault:
    """One injected REST fault. ``remaining`` counts the requests it still affects (None: until cleared)."""

    kind: str  # "429", "status" or "delay"
    pattern: RoutePattern | None  # None: every route
    remaining: int | None
    status: int = 429
    retry_after: float = DEFAULT_RETRY_AFTER
    scope: str = "user"
    delay_ms: float = 0.0
    hits: int = 0
    id: int = field(default_factory=lambda: next(_fault_ids))

    def applies_to(self, method: str, path: str) -> bool:
        return (self.remaining is None or self.remaining > 0) and (
            self.pattern is None or self.pattern.matches(method, path)
        )

    def describe(self) -> Json:
        """What the event log records about this fault."""
        data: Json = {
            "fault_id": self.id,
            "fault": {"429": "force_429", "status": "fail_route", "delay": "delay_route"}[self.kind],
            "route": None if self.pattern is None else self.pattern.text,
            "remaining": self.remaining,
        }
        if self.kind == "429":
            data.update(retry_after=self.retry_after, scope=self.scope)
        elif self.kind == "status":
            data.update(status=self.status)
        else:
            data.update(ms=self.delay_ms)
        return data


def server_error(status: int) -> web.Response:
    """A Discord-shaped 5xx: ``{"message": "500: Internal Server Error", "code": 0}``."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Server Error"
    body = f'{{"message":"{status}: {phrase}","code":0}}'.encode()
    return web.Response(body=body, status=status, headers={"Content-Type": "application/json"})


class FaultInjector:
    """The active REST faults, oldest first, and how a request is answered while they apply."""

    def __init__(self, events: EventLog) -> None:
        self.events = events
        self.faults: list[Fault] = []

    def _add(self, fault: Fault) -> Fault:
        self.faults.append(fault)
        self.events.record(EventKind.FAULT, {**fault.describe(), "action": "set"})
        return fault

    def force_429(
        self,
        count: int = 1,
        *,
        route: str | None = None,
        global_: bool = False,
        retry_after: float = DEFAULT_RETRY_AFTER,
    ) -> Fault:
        """Answer the next ``count`` requests (matching ``route``, a :class:`RoutePattern`) with 429."""
        if count < 1:
            raise ValueError("count must be at least 1")
        pattern = None if route is None else RoutePattern(route)
        scope = "global" if global_ else "user"
        return self._add(Fault("429", pattern, count, retry_after=retry_after, scope=scope))

    def fail_route(self, pattern: str | None, status: int = 500, count: int | None = None) -> Fault:
        """Answer requests matching ``pattern`` (None: all) with ``status``, ``count`` times or for good."""
        if not 500 <= status <= 599:
            raise ValueError("fail_route injects server errors: status must be 5xx")
        route = None if pattern is None else RoutePattern(pattern)
        return self._add(Fault("status", route, count, status=status))

    def delay_route(self, pattern: str | None, ms: float, count: int | None = None) -> Fault:
        """Hold requests matching ``pattern`` (None: all) for ``ms`` before handling them."""
        if ms < 0:
            raise ValueError("ms must not be negative")
        route = None if pattern is None else RoutePattern(pattern)
        return self._add(Fault("delay", route, count, delay_ms=ms))

    def clear(self, fault: Fault | None = None) -> None:
        """Remove one fault, or every fault."""
        removed = self.faults if fault is None else [f for f in self.faults if f is fault]
        self.faults = [] if fault is None else [f for f in self.faults if f is not fault]
        for each in removed:
            self.events.record(EventKind.FAULT, {**each.describe(), "action": "cleared"})

    def _hit(self, fault: Fault, request: web.Request) -> None:
        fault.hits += 1
        if fault.remaining is not None:
            fault.remaining -= 1
        self.events.record(
            EventKind.FAULT,
            {**fault.describe(), "action": "hit", "method": request.method, "path": request.path},
        )
        if fault.remaining == 0:
            self.faults.remove(fault)

    async def intercept(self, request: web.Request) -> web.Response | None:
        """Apply delays, then return the forced response for ``request`` if a fault answers it."""
        if not self.faults:
            return None
        method, path = request.method, api_path(request)
        delay = 0.0
        for fault in [f for f in self.faults if f.kind == "delay" and f.applies_to(method, path)]:
            delay += fault.delay_ms
            self._hit(fault, request)
        if delay:
            await asyncio.sleep(delay / 1000)
        fault = next(
            (f for f in self.faults if f.kind != "delay" and f.applies_to(method, path)),
            None,
        )
        if fault is None:
            return None
        self._hit(fault, request)
        if fault.kind == "status":
            return server_error(fault.status)
        self.events.record(
            EventKind.RATE_LIMITED,
            {
                "method": method,
                "path": request.path,
                "scope": fault.scope,
                "retry_after": fault.retry_after,
                "forced": True,
            },
        )
        bucket, _major = bucket_of(request)
        decision = None if fault.scope == "global" else Decision(bucket, 1, 0, fault.retry_after)
        return too_many_requests(fault.retry_after, scope=fault.scope, decision=decision)
