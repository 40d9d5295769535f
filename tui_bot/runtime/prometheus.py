"""The bot's numbers in Prometheus' terms: a Collector that reads ``bot.metrics`` and ``bot.health`` when
scraped, in a registry of the bot's own.

Nothing is counted twice: the bot keeps its counters in memory (core/metrics.py, core/health.py), the
Metrics pane and ``!stats`` read them as ``get_stats()``, and this collector turns the same counters into
metric families at scrape time. Each bot has its own ``CollectorRegistry`` (never the process-global
one), so several bots in one process (the tests) do not collide. Labels are bounded: command names (the
bot's own commands), route templates (at most 200, then ``other``), status codes, shard ids. In cluster
mode every ``tui_bot_`` sample also has a ``worker`` label: the shards this worker serves (``0-1``),
which stays the same when the worker restarts; ``tui_bot_worker_info`` has its volatile worker id.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import discord
from prometheus_client import GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry
from prometheus_client.utils import floatToGoString

from tui_bot import __version__
from tui_bot.cluster.status import ids_text
from tui_bot.core.health import STATES
from tui_bot.core.metrics import Histogram

if TYPE_CHECKING:
    from tui_bot.core.bot import TuiBot

PREFIX = "tui_bot_"


def _buckets(histogram: Histogram) -> list[tuple[str, float]]:
    return [(floatToGoString(bound), count) for bound, count in histogram.cumulative()]


class BotCollector(Collector):
    """Every ``tui_bot_*`` metric of one bot, read at scrape time."""

    def __init__(self, bot: TuiBot) -> None:
        self.bot = bot
        self.started = time.time()

    def _worker(self) -> tuple[list[str], list[str]]:
        """The extra label name and value of every sample: ``worker`` in cluster mode, else none."""
        cluster = self.bot.cluster
        if cluster is None:
            return [], []
        return ["worker"], [ids_text(cluster.settings.shard_ids)]

    def collect(self) -> Iterator[Metric]:
        names, values = self._worker()
        yield from self._info(names, values)
        yield from self._commands(names, values)
        yield from self._gateway(names, values)
        yield from self._rest(names, values)
        yield from self._database(names, values)

    def _info(self, names: list[str], values: list[str]) -> Iterator[Metric]:
        info = InfoMetricFamily(PREFIX + "build", "tui-bot and discord.py versions", labels=names)
        info.add_metric(values, {"version": __version__, "discord_py": discord.__version__})
        yield info
        start = GaugeMetricFamily(
            PREFIX + "start_time_seconds", "When this bot process started (Unix time)", labels=names
        )
        start.add_metric(values, self.started)
        yield start
        cluster = self.bot.cluster
        if cluster is not None:
            worker = InfoMetricFamily(PREFIX + "worker", "This cluster worker", labels=names)
            worker.add_metric(
                values,
                {"worker_id": cluster.node.worker_id, "shard_count": str(cluster.settings.shard_count)},
            )
            yield worker

    def _commands(self, names: list[str], values: list[str]) -> Iterator[Metric]:
        metrics = self.bot.metrics
        commands = CounterMetricFamily(
            PREFIX + "commands",
            "Command invocations by command and outcome (ok, refused, cooldown, error)",
            labels=[*names, "command", "outcome"],
        )
        for (command, outcome), count in sorted(metrics.outcomes.items()):
            commands.add_metric([*values, command, outcome], count)
        yield commands
        latency = HistogramMetricFamily(
            PREFIX + "command_duration_seconds",
            "How long the command invocations that ran to completion took",
            labels=[*names, "command"],
        )
        for command, timing in sorted(metrics.command_timings().items()):
            histogram = timing.histogram
            latency.add_metric([*values, command], _buckets(histogram), histogram.total)
        yield latency
        yield _single(
            CounterMetricFamily,
            "messages_seen",
            "Messages the bot received",
            names,
            values,
            metrics.messages_seen,
        )
        yield _single(
            CounterMetricFamily,
            "replies_failed",
            "Command replies given up after transient REST failures",
            names,
            values,
            metrics.replies_failed,
        )
        yield _single(
            GaugeMetricFamily, "guilds", "Guilds this process serves", names, values, len(self.bot.guilds)
        )

    def _gateway(self, names: list[str], values: list[str]) -> Iterator[Metric]:
        health = self.bot.health.gateway
        shard_labels = [*names, "shard"]
        latency = GaugeMetricFamily(
            PREFIX + "gateway_latency_seconds", "Last heartbeat round trip per shard", labels=shard_labels
        )
        state = GaugeMetricFamily(
            PREFIX + "gateway_state",
            "1 for each shard's current state (connecting, ready, resuming, disconnected), 0 for the others",
            labels=[*shard_labels, "state"],
        )
        counters = {
            kind: CounterMetricFamily(PREFIX + f"gateway_{kind}", text, labels=shard_labels)
            for kind, text in (
                ("identifies", "Sessions started (READY after an IDENTIFY) per shard"),
                ("resumes", "Sessions resumed per shard"),
                ("reconnects", "Connections lost (reconnects begun) per shard"),
            )
        }
        latencies = health.latencies()
        for shard_id in health.expected_shards():
            shard = health.shards.get(shard_id)
            current = shard.state if shard is not None else "connecting"
            labels = [*values, str(shard_id)]
            seconds = latencies.get(shard_id)
            if seconds is not None and current == "ready":
                latency.add_metric(labels, seconds)
            for each in STATES:
                state.add_metric([*labels, each], 1.0 if each == current else 0.0)
            for kind, family in counters.items():
                family.add_metric(labels, getattr(shard, kind).total if shard is not None else 0)
        yield latency
        yield state
        yield from counters.values()

    def _rest(self, names: list[str], values: list[str]) -> Iterator[Metric]:
        rest = self.bot.health.rest
        requests = CounterMetricFamily(
            PREFIX + "rest_requests",
            "REST responses by route template and status (error: no response)",
            labels=[*names, "route", "status"],
        )
        for (route, status), count in sorted(rest.requests.items()):
            requests.add_metric([*values, route, status], count)
        yield requests
        limited = CounterMetricFamily(
            PREFIX + "rest_ratelimited",
            "429 responses by route template and scope (route, global, shared)",
            labels=[*names, "route", "scope"],
        )
        for (route, scope), count in sorted(rest.limited.items()):
            limited.add_metric([*values, route, scope], count)
        yield limited
        waited = CounterMetricFamily(
            PREFIX + "ratelimit_wait_seconds",
            "Seconds REST calls were held by rate limits: after a 429 (retry_after), or an exhausted bucket",
            labels=[*names, "reason"],
        )
        for reason, seconds in sorted(rest.wait_seconds.items()):
            waited.add_metric([*values, reason], seconds)
        yield waited
        yield _single(
            GaugeMetricFamily,
            "ratelimit_global_active",
            "1 while a global rate limit is in force",
            names,
            values,
            1.0 if rest.global_until > rest.clock() else 0.0,
        )

    def _database(self, names: list[str], values: list[str]) -> Iterator[Metric]:
        metrics = self.bot.metrics
        flushes = HistogramMetricFamily(
            PREFIX + "db_flush_duration_seconds",
            "How long each write of the command usage counts to the database took",
            labels=names,
        )
        flushes.add_metric(values, _buckets(metrics.flushes), metrics.flushes.total)
        yield flushes
        yield _single(
            CounterMetricFamily,
            "db_flush_failures",
            "Writes of the usage counts that failed (the counts are kept and retried)",
            names,
            values,
            metrics.flush_failures,
        )


def _single(
    kind: type[CounterMetricFamily] | type[GaugeMetricFamily],
    name: str,
    text: str,
    names: list[str],
    values: list[str],
    value: float,
) -> Metric:
    family = kind(PREFIX + name, text, labels=names)
    family.add_metric(values, value)
    return family


def bot_registry(bot: TuiBot) -> CollectorRegistry:
    """A registry of the bot's own: its metrics, plus the process, platform and GC collectors."""
    registry = CollectorRegistry()
    registry.register(BotCollector(bot))
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry
