"""Discord's REST rate limits, simulated: per-route buckets, a global limit and real 429s.

Every response carries Discord's ``X-RateLimit-*`` headers computed from real counters. A request
over a limit is answered 429 the way Discord does it, which is also what discord.py 2.7 needs to
retry instead of raising (``http.py``, ``HTTPClient.request``): a ``Via`` header (without it a 429 is
taken for a Cloudflare ban) and a JSON body with ``retry_after``.

Buckets are per route template (``POST /channels/{channel_id}/messages``) and major parameter
(channel, guild or webhook id), counted per bot over fixed windows, as Discord does. The default
limits are generous (:data:`DEFAULT_LIMIT` per second, per bucket and globally), so normal tests never
see them; :meth:`RateLimiter.set_route_limit` and :meth:`RateLimiter.set_global_limit` tighten them.
discord.py reads ``X-RateLimit-Remaining`` and waits *before* sending once a bucket is exhausted, so a
single well-behaved bot rarely gets a 429 from a tight limit: use ``Sandbox.force_429`` for that.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .events import EventKind, EventLog

API_PATH_PREFIX = "/api/v10/"
DEFAULT_LIMIT = 10_000  # requests per second, per bucket and globally: never reached by tests
MAX_WINDOWS = 10_000  # counters kept before expired ones are swept
MAJOR_PARAMETERS = ("channel_id", "guild_id", "webhook_id")
VIA = "1.1 google"  # what Discord's responses carry; discord.py retries a 429 only if Via is present


def api_path(request: web.Request) -> str:
    """The request path relative to the API root, e.g. ``channels/123/messages``."""
    return request.path.removeprefix(API_PATH_PREFIX).lstrip("/")


class RoutePattern:
    """Which requests a rule or fault applies to: ``"[METHOD ]path"``, matched against the real path.

    The path is relative to ``/api/v10`` (a leading ``/`` or ``/api/v10/`` is ignored). A segment
    ``*`` or ``{name}`` matches any one segment, ``**`` any number of segments (including none);
    other segments match literally. Without a method every method matches. Examples:
    ``"POST channels/{channel_id}/messages"``, ``"channels/*/messages/*"``, ``"guilds/**"``, ``"**"``.
    """

    def __init__(self, pattern: str) -> None:
        self.text = pattern.strip()
        method, _, path = self.text.rpartition(" ")
        self.method = method.strip().upper() or None
        path = path.removeprefix("/").removeprefix(API_PATH_PREFIX.lstrip("/")).strip("/")
        # Built against "/" + path, each segment bringing its own leading slash, so "a/**/b" also
        # matches "a/b" and "guilds/**" matches "guilds".
        regex = ""
        for segment in path.split("/") if path else []:
            if segment == "**":
                regex += "(?:/[^/]+)*"
            elif segment == "*" or (segment.startswith("{") and segment.endswith("}")):
                regex += "/[^/]+"
            else:
                regex += "/" + re.escape(segment)
        self._regex = re.compile(regex + r"\Z")

    def matches(self, method: str, path: str) -> bool:
        """Whether ``method path`` (path relative to the API root) is covered by this pattern."""
        if self.method is not None and self.method != method.upper():
            return False
        return self._regex.match("/" + path.strip("/") if path.strip("/") else "") is not None

    def __repr__(self) -> str:
        return f"RoutePattern({self.text!r})"


def bucket_of(request: web.Request) -> tuple[str, str]:
    """``(bucket hash, major parameter)``: one bucket per route template, like Discord's opaque hashes."""
    resource = request.match_info.route.resource
    template = resource.canonical if resource is not None else request.path
    bucket = hashlib.md5(f"{request.method} {template}".encode()).hexdigest()
    major = next((request.match_info[k] for k in MAJOR_PARAMETERS if k in request.match_info), "")
    return bucket, major


@dataclass
class Decision:
    """What the limiter decided for one request; it becomes the response's rate-limit headers."""

    bucket: str
    limit: int
    remaining: int
    reset_after: float


# Where admit() leaves its decision on the request: a typed key on aiohttp >= 3.12, a string before.
DECISION_KEY: Any = (
    web.RequestKey("tui_bot.sandbox.ratelimit", Decision)
    if hasattr(web, "RequestKey")
    else "tui_bot.sandbox.ratelimit"
)


def rate_limit_headers(decision: Decision) -> dict[str, str]:
    """Discord's per-bucket headers (``Reset`` is epoch seconds, ``Reset-After`` seconds from now)."""
    return {
        "X-RateLimit-Limit": str(decision.limit),
        "X-RateLimit-Remaining": str(decision.remaining),
        "X-RateLimit-Reset": f"{time.time() + decision.reset_after:.3f}",
        "X-RateLimit-Reset-After": f"{decision.reset_after:.3f}",
        "X-RateLimit-Bucket": decision.bucket,
    }


def too_many_requests(retry_after: float, *, scope: str, decision: Decision | None = None) -> web.Response:
    """A Discord 429: JSON body with ``retry_after``, ``Retry-After``, ``X-RateLimit-Scope`` and ``Via``.

    ``scope`` is ``"user"`` (a bucket), ``"global"`` or ``"shared"``; ``decision`` adds the bucket
    headers (Discord omits them on global 429s).
    """
    is_global = scope == "global"
    body = {
        "message": "You are being rate limited.",
        "retry_after": round(retry_after, 3),
        "global": is_global,
    }
    body["code"] = 0
    headers = {
        "Content-Type": "application/json",
        "Retry-After": str(max(1, math.ceil(retry_after))),
        "X-RateLimit-Scope": scope,
        "Via": VIA,
    }
    if is_global:
        headers["X-RateLimit-Global"] = "true"
    if decision is not None:
        headers.update(rate_limit_headers(decision))
    return web.Response(body=json.dumps(body, separators=(",", ":")).encode(), status=429, headers=headers)


@dataclass
class _Window:
    count: int
    resets_at: float


@dataclass
class _Rule:
    pattern: RoutePattern
    limit: int
    per: float


class RateLimiter:
    """Counts requests per bot, bucket and major parameter (and globally) and answers 429 past a limit."""

    def __init__(self, events: EventLog, clock: Callable[[], float] = time.monotonic) -> None:
        self.events = events
        self._clock = clock
        self._rules: list[_Rule] = []  # newest first: the first match wins
        self.default_limit: tuple[int, float] = (DEFAULT_LIMIT, 1.0)
        self.global_limit: tuple[int, float] | None = (DEFAULT_LIMIT, 1.0)
        self._windows: dict[tuple[object, ...], _Window] = {}

    def set_route_limit(self, pattern: str, limit: int, per_seconds: float = 1.0) -> None:
        """Allow ``limit`` requests per ``per_seconds`` in each bucket whose requests match ``pattern``.

        ``pattern`` is a :class:`RoutePattern`; each route template it covers keeps its own bucket.
        The most recently set matching rule wins; ``"**"`` changes the default for every route.
        """
        if limit < 1 or per_seconds <= 0:
            raise ValueError("a rate limit needs limit >= 1 and per_seconds > 0")
        self._rules.insert(0, _Rule(RoutePattern(pattern), limit, per_seconds))
        self._windows.clear()

    def set_global_limit(self, limit: int | None, per_seconds: float = 1.0) -> None:
        """Allow ``limit`` requests per ``per_seconds`` per bot across all routes (None: no global limit)."""
        if limit is not None and (limit < 1 or per_seconds <= 0):
            raise ValueError("a rate limit needs limit >= 1 and per_seconds > 0")
        self.global_limit = None if limit is None else (limit, per_seconds)
        self._windows = {k: w for k, w in self._windows.items() if k[0] != "global"}

    def reset(self) -> None:
        """Forget every rule and counter: back to the generous defaults."""
        self._rules.clear()
        self._windows.clear()
        self.default_limit = (DEFAULT_LIMIT, 1.0)
        self.global_limit = (DEFAULT_LIMIT, 1.0)

    def _limit_for(self, method: str, path: str) -> tuple[int, float]:
        rule = next((r for r in self._rules if r.pattern.matches(method, path)), None)
        return self.default_limit if rule is None else (rule.limit, rule.per)

    def _window(self, key: tuple[object, ...], per: float, now: float) -> _Window:
        window = self._windows.get(key)
        if window is None or window.resets_at <= now:
            if window is None and len(self._windows) >= MAX_WINDOWS:
                # Many channels over a long session: forget windows that have already reset.
                self._windows = {k: w for k, w in self._windows.items() if w.resets_at > now}
            window = self._windows[key] = _Window(0, now + per)
        return window

    def admit(self, request: web.Request, user_id: int) -> web.Response | None:
        """Count ``request``; return a 429 response if it is over a limit, else None (go ahead)."""
        now = self._clock()
        method, path = request.method, api_path(request)
        bucket, major = bucket_of(request)
        limit, per = self._limit_for(method, path)
        window = self._window(("route", user_id, bucket, major), per, now)
        global_window = None
        if self.global_limit is not None:
            global_limit, global_per = self.global_limit
            global_window = self._window(("global", user_id), global_per, now)
            if global_window.count >= global_limit:
                return self._limited(request, global_window.resets_at - now, "global", None)
        if window.count >= limit:
            decision = Decision(bucket, limit, 0, window.resets_at - now)
            return self._limited(request, decision.reset_after, "user", decision)
        window.count += 1
        if global_window is not None:
            global_window.count += 1
        request[DECISION_KEY] = Decision(bucket, limit, limit - window.count, window.resets_at - now)
        return None

    def _limited(
        self, request: web.Request, retry_after: float, scope: str, decision: Decision | None
    ) -> web.Response:
        self.events.record(
            EventKind.RATE_LIMITED,
            {
                "method": request.method,
                "path": request.path,
                "scope": scope,
                "retry_after": retry_after,
                "forced": False,
            },
        )
        return too_many_requests(retry_after, scope=scope, decision=decision)

    def add_headers(self, request: web.Request, response: web.StreamResponse) -> None:
        """Add the bucket headers to a response that does not have them yet."""
        if "X-RateLimit-Bucket" in response.headers:
            return
        decision = request.get(DECISION_KEY)
        if decision is None:  # not counted (no token, or answered by a fault): report a fresh bucket
            bucket, _major = bucket_of(request)
            limit, per = self._limit_for(request.method, api_path(request))
            decision = Decision(bucket, limit, limit, per)
        response.headers.update(rate_limit_headers(decision))
