"""In-memory counters for the console and ``!stats``: ``bot.metrics.get_stats()``.

Everything is O(1) per message and per command and allocates nothing per message: integer counters, a
fixed ring of 60 per-minute buckets and, per command, a fixed ring of the last latencies. The counts
are of this run; all-time usage lives in the database (``await bot.metrics.top_commands_all_time()``).

Every invocation counts as processed (and in the per-minute ring). Uses and latencies count only the
invocations that ran to completion, the same ones the database counts, so this run's top commands
and the all-time ones agree. A failed invocation is either a refusal (the bot said no: a missing
role, a cooldown, a bad argument) or an error (an exception the user saw an error id for).

For Prometheus (``tui_bot/runtime/prometheus.py`` reads them at scrape time) it also keeps each
invocation's outcome per command (ok, refused, cooldown, error), a latency histogram per command (the
completed invocations), and the durations of the database's usage-count flushes. ``bot.health``
(gateway and rate limits, :mod:`tui_bot.core.health`) is part of :meth:`Metrics.get_stats`.
"""

from __future__ import annotations

import bisect
import math
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from tui_bot.core.health import BotHealth

if TYPE_CHECKING:
    import discord

    from tui_bot.storage.base import BotDatabase

LATENCY_SAMPLES = 128  # per command, for the p95
MINUTES = 60  # the per-minute ring: the last hour
# Histogram bounds in seconds (Prometheus' ``le``): a command's latency, and one usage-count flush.
COMMAND_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
FLUSH_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
OUTCOMES = ("ok", "refused", "cooldown", "error")
UNKNOWN_COMMAND = "unknown"  # an app command error without a command (it was not found)


def format_duration(seconds: float) -> str:
    """``93784`` -> ``1d 2h 3m 4s``: an uptime as people read it (leading zero units dropped)."""
    remaining = max(int(seconds), 0)
    days, remaining = divmod(remaining, 86_400)
    hours, remaining = divmod(remaining, 3_600)
    minutes, secs = divmod(remaining, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m")]
    while parts and parts[0][0] == 0:
        parts.pop(0)
    return " ".join(f"{value}{unit}" for value, unit in parts) + (" " if parts else "") + f"{secs}s"


class Histogram:
    """Counts per bucket (``bounds``, then +Inf), the sum and the count: a Prometheus histogram's data."""

    __slots__ = ("bounds", "buckets", "count", "total")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.buckets = [0] * (len(bounds) + 1)  # not cumulative; the last one is above every bound
        self.count = 0
        self.total = 0.0

    def observe(self, seconds: float) -> None:
        self.buckets[bisect.bisect_left(self.bounds, seconds)] += 1
        self.count += 1
        self.total += seconds

    def cumulative(self) -> list[tuple[float, int]]:
        """``[(le, count of observations <= le), ..., (inf, count)]``."""
        running, pairs = 0, []
        for bound, count in zip((*self.bounds, math.inf), self.buckets, strict=True):
            running += count
            pairs.append((bound, running))
        return pairs


class CommandTiming:
    """Latency of one command: count, total, max, the last LATENCY_SAMPLES samples (for p95), and a
    histogram for Prometheus."""

    __slots__ = ("_next", "count", "histogram", "max", "samples", "total")

    def __init__(self) -> None:
        self.count = 0
        self.total = 0.0
        self.max = 0.0
        self.samples: list[float] = []
        self._next = 0
        self.histogram = Histogram(COMMAND_BUCKETS)

    def add(self, seconds: float) -> None:
        self.count += 1
        self.total += seconds
        self.histogram.observe(seconds)
        if seconds > self.max:
            self.max = seconds
        if len(self.samples) < LATENCY_SAMPLES:
            self.samples.append(seconds)
        else:
            self.samples[self._next] = seconds
            self._next = (self._next + 1) % LATENCY_SAMPLES

    def summary(self) -> dict[str, float | int]:
        ordered = sorted(self.samples)
        p95 = ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)] if ordered else 0.0
        return {
            "count": self.count,
            "avg_ms": round(self.total / self.count * 1000, 3) if self.count else 0.0,
            "max_ms": round(self.max * 1000, 3),
            "p95_ms": round(p95 * 1000, 3),
        }


class ConnectionView(Protocol):
    """What the counters read from the connected client (a ``discord.Client``): guilds and latency."""

    @property
    def guilds(self) -> Sequence[discord.Guild]: ...

    @property
    def latency(self) -> float: ...


class Metrics:
    """Counters of one run. ``client``: the connection whose guilds and heartbeat are reported;
    ``database``: where all-time usage is read (None: no all-time counts). ``clock`` (monotonic
    seconds) is injectable for tests."""

    def __init__(
        self,
        client: ConnectionView,
        *,
        database: BotDatabase | None = None,
        health: BotHealth | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self.health = health or BotHealth()
        self._database = database
        self._clock = clock
        self.started = clock()
        self.messages_seen = 0
        self.commands_processed = 0
        self.error_count = 0
        self.refusal_count = 0
        self.replies_failed = 0
        self._uses: dict[str, int] = {}
        self._timings: dict[str, CommandTiming] = {}
        self.outcomes: dict[tuple[str, str], int] = {}  # (command, outcome) -> invocations
        self.flushes = Histogram(FLUSH_BUCKETS)  # the database's usage-count writes
        self.flush_failures = 0
        self._per_minute = [0] * MINUTES
        self._minute_of = [-1] * MINUTES  # which absolute minute each bucket holds

    # -- hooks (called by the bot) ------------------------------------------------------------

    def message_seen(self) -> None:
        """A MESSAGE_CREATE reached the bot."""
        self.messages_seen += 1

    def _outcome(self, name: str | None, outcome: str) -> None:
        key = (name or UNKNOWN_COMMAND, outcome)
        self.outcomes[key] = self.outcomes.get(key, 0) + 1

    def record_error(self, name: str | None = None) -> None:
        """Command ``name`` failed unexpectedly (an exception; the user was shown an error id)."""
        self.error_count += 1
        self._outcome(name, "error")

    def record_refusal(self, name: str | None = None, *, cooldown: bool = False) -> None:
        """The bot refused command ``name`` and told the user why (role, permission, cooldown,
        argument...); ``cooldown``: it was on cooldown (a refusal with an outcome of its own)."""
        self.refusal_count += 1
        self._outcome(name, "cooldown" if cooldown else "refused")

    def flush_finished(self, seconds: float, ok: bool) -> None:
        """The database wrote (``ok``) or failed to write the usage counts, in ``seconds``."""
        self.flushes.observe(seconds)
        if not ok:
            self.flush_failures += 1

    def reply_failed(self) -> None:
        """A command's reply was given up after transient REST failures (see core/context.py)."""
        self.replies_failed += 1

    def command_finished(self, name: str, seconds: float, ok: bool = True) -> None:
        """A command invocation (prefix or slash) ended after ``seconds``; ``ok``: it ran to completion
        (refused or failed ones count as processed, not as uses, and their latency is not kept)."""
        self.commands_processed += 1
        if ok:
            self._outcome(name, "ok")
            self._uses[name] = self._uses.get(name, 0) + 1
            timing = self._timings.get(name)
            if timing is None:
                timing = self._timings[name] = CommandTiming()
            timing.add(seconds)
        minute = int(self._clock() // 60)
        slot = minute % MINUTES
        if self._minute_of[slot] != minute:
            self._minute_of[slot] = minute
            self._per_minute[slot] = 0
        self._per_minute[slot] += 1

    # -- reading -----------------------------------------------------------------------------

    def commands_per_minute(self) -> list[int]:
        """Commands in each of the last 60 minutes, oldest first; the last entry is the current minute."""
        now = int(self._clock() // 60)
        counts = []
        for minute in range(now - MINUTES + 1, now + 1):
            slot = minute % MINUTES
            counts.append(self._per_minute[slot] if self._minute_of[slot] == minute else 0)
        return counts

    def top_commands(self, limit: int | None = 10) -> dict[str, int]:
        """This run's completed uses per command, most used first (ties by name)."""
        ordered = sorted(self._uses.items(), key=lambda item: (-item[1], item[0]))
        return dict(ordered if limit is None else ordered[:limit])

    async def top_commands_all_time(self, limit: int | None = 10) -> dict[str, int]:
        """Successful uses per command over every run (the database), most used first."""
        if self._database is None:
            return {}
        return dict(await self._database.get_command_stats(limit))

    def gateway_latency_ms(self) -> float | None:
        """The last heartbeat round trip in ms; None before the first heartbeat or when disconnected."""
        latency = self._client.latency
        if latency is None or math.isnan(latency) or math.isinf(latency):
            return None
        return round(latency * 1000, 3)

    def command_timings(self) -> dict[str, CommandTiming]:
        """Each command's timing (completed invocations), by name: read, never change."""
        return self._timings

    def get_stats(self) -> dict[str, Any]:
        """A snapshot; cheap enough to call every second (see the README's metrics keys). JSON-
        serialisable: an attached console receives it as JSON."""
        guilds = list(self._client.guilds)
        health = self.health.summary()
        return {
            "uptime": round(self._clock() - self.started, 3),
            "commands_processed": self.commands_processed,
            "messages_seen": self.messages_seen,
            "error_count": self.error_count,
            "refusal_count": self.refusal_count,
            "replies_failed": self.replies_failed,
            "top_commands": self.top_commands(),
            "latency": {name: timing.summary() for name, timing in sorted(self._timings.items())},
            "gateway_latency_ms": self.gateway_latency_ms(),
            "guilds": len(guilds),
            "users": sum(guild.member_count or 0 for guild in guilds),
            "commands_per_minute": self.commands_per_minute(),
            "gateway": health["gateway"],
            "rate_limits": health["rate_limits"],
        }
