"""REST fault injection: forced 429s, 5xx answers, slow responses and failures after the work was done.

The REST middleware asks :meth:`FaultInjector.intercept` about every API request before its handler
runs, and :meth:`FaultInjector.after_success` once a handler succeeded (``fail_after_create``: the
message is created and dispatched, then the bot gets a 5xx or a dropped connection instead of the
answer, so a client that retries without a nonce posts it twice). Gateway faults (dropped
connections, RECONNECT, INVALID_SESSION) live on the :class:`~tui_bot.sandbox.gateway.GatewayHub`;
the ``Sandbox`` API drives both. Every fault is recorded
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

    kind: str  # "429", "status", "delay" or "after" (fail_after_create)
    pattern: RoutePattern | None  # None: every route
    remaining: int | None
    status: int | None = 429  # "status"/"after" with None: drop the connection instead of answering
    retry_after: float | None = DEFAULT_RETRY_AFTER  # "status"/"after": a Retry-After header, or None
    scope: str = "user"
    delay_ms: float = 0.0
    every: int = 1  # "status": fail only every n-th matching request (2: every other one)
    seen: int = 0  # matching requests so far, for ``every``
    hits: int = 0
    id: int = field(default_factory=lambda: next(_fault_ids))

    def applies_to(self, method: str, path: str) -> bool:
        return (self.remaining is None or self.remaining > 0) and (
            self.pattern is None or self.pattern.matches(method, path)
        )

    def takes_this_one(self) -> bool:
        """Count a matching request; whether this one is failed (``every``: 1 in n)."""
        self.seen += 1
        return self.seen % self.every == 0

    def describe(self) -> Json:
        """What the event log records about this fault."""
        data: Json = {
            "fault_id": self.id,
            "fault": FAULT_NAMES[self.kind],
            "route": None if self.pattern is None else self.pattern.text,
            "remaining": self.remaining,
        }
        if self.kind == "429":
            data.update(retry_after=self.retry_after, scope=self.scope)
        elif self.kind == "status":
            data.update(status=self.status, every=self.every, retry_after=self.retry_after)
        elif self.kind == "after":
            data.update(status=self.status, retry_after=self.retry_after)
        else:
            data.update(ms=self.delay_ms)
        return data


FAULT_NAMES = {
    "429": "force_429",
    "status": "fail_route",
    "delay": "delay_route",
    "after": "fail_after_create",
}


def server_error(status: int, retry_after: float | None = None) -> web.Response:
    """A Discord-shaped 5xx: ``{"message": "500: Internal Server Error", "code": 0}``, with a
    ``Retry-After`` header (seconds, as a 503 from a load balancer may carry) when ``retry_after`` is set."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Server Error"
    body = f'{{"message":"{status}: {phrase}","code":0}}'.encode()
    headers = {"Content-Type": "application/json"}
    if retry_after is not None:
        headers["Retry-After"] = f"{retry_after:g}"
    return web.Response(body=body, status=status, headers=headers)


def drop_connection(request: web.Request) -> web.Response:
    """Close the request's connection without an answer (the client sees the server disconnect).

    Returns an empty response of status 0, which is what the request log then shows; aiohttp cannot
    write it to the closed transport.
    """
    if request.transport is not None:
        request.transport.close()
    return web.Response(status=0)


def _server_status(status: int) -> None:
    if not 500 <= status <= 599:
        raise ValueError("this fault injects server errors: status must be 5xx")


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

    def fail_route(
        self,
        pattern: str | None,
        status: int | None = 500,
        count: int | None = None,
        *,
        every: int = 1,
        retry_after: float | None = None,
    ) -> Fault:
        """Answer requests matching ``pattern`` (None: all) with ``status``, ``count`` times or for good.

        ``status`` None drops the connection instead, before the request is handled. ``every=2`` fails
        every other matching request (``count`` counts the failed ones); ``retry_after`` adds a
        ``Retry-After`` header (seconds) to each failure.
        """
        if status is not None:
            _server_status(status)
        if every < 1:
            raise ValueError("every must be at least 1")
        if retry_after is not None and retry_after < 0:
            raise ValueError("retry_after must not be negative")
        route = None if pattern is None else RoutePattern(pattern)
        return self._add(Fault("status", route, count, status=status, every=every, retry_after=retry_after))

    def fail_after_create(
        self, pattern: str | None, status: int | None = 500, count: int | None = 1
    ) -> Fault:
        """Let requests matching ``pattern`` (None: all) succeed (the message is created and dispatched),
        then answer ``status`` instead of the result, or drop the connection when ``status`` is None;
        ``count`` times (None: until cleared). A client retrying such a request without a nonce posts twice.
        """
        if status is not None:
            _server_status(status)
        route = None if pattern is None else RoutePattern(pattern)
        return self._add(Fault("after", route, count, status=status, retry_after=None))

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
        for delayed in [f for f in self.faults if f.kind == "delay" and f.applies_to(method, path)]:
            delay += delayed.delay_ms
            self._hit(delayed, request)
        if delay:
            await asyncio.sleep(delay / 1000)
        fault = next(
            (
                f
                for f in self.faults
                if f.kind in ("429", "status") and f.applies_to(method, path) and f.takes_this_one()
            ),
            None,
        )
        if fault is None:
            return None
        self._hit(fault, request)
        if fault.kind == "status":
            if fault.status is None:
                return drop_connection(request)
            return server_error(fault.status, fault.retry_after)
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
        retry_after = DEFAULT_RETRY_AFTER if fault.retry_after is None else fault.retry_after
        decision = None if fault.scope == "global" else Decision(bucket, 1, 0, retry_after)
        return too_many_requests(retry_after, scope=fault.scope, decision=decision)

    def wants_after_success(self, request: web.Request) -> bool:
        """Whether a ``fail_after_create`` fault would replace this request's successful answer.

        Handlers that write their answer early (before recording the event) ask this first and leave
        the answer to :meth:`after_success` when it is True.
        """
        if not self.faults:  # the common case: every message create asks
            return False
        method, path = request.method, api_path(request)
        return any(f.kind == "after" and f.applies_to(method, path) for f in self.faults)

    def after_success(self, request: web.Request) -> web.Response | None:
        """The handler did its work; the 5xx to answer instead, or None to answer normally.

        A connection-dropping fault closes the connection instead (see :func:`drop_connection`).
        """
        if not self.faults:  # the common case: every successful request asks
            return None
        method, path = request.method, api_path(request)
        fault = next((f for f in self.faults if f.kind == "after" and f.applies_to(method, path)), None)
        if fault is None:
            return None
        self._hit(fault, request)
        if fault.status is None:
            return drop_connection(request)
        return server_error(fault.status)
