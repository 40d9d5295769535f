"""Prometheus metrics and the health check (config.json's ``metrics.port``): ``GET /metrics`` scraped
during sandbox traffic and parsed with prometheus-client's own parser, ``GET /healthz`` following a
gateway drop, a port already in use, a cluster worker's ``worker`` label, and the config keys."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest
from helpers.postgres import postgres_url  # noqa: F401 - a fixture
from helpers.waiting import wait_until
from prometheus_client.parser import text_string_to_metric_families
from test_console_cluster import CLUSTER_TIMINGS

from tui_bot import exit_codes
from tui_bot.config import ConfigStore, ConfigValueError, Secrets
from tui_bot.config.model import MetricsConfig
from tui_bot.config.validation import parse_config
from tui_bot.runtime import BotRuntime
from tui_bot.runtime.metrics_server import MetricsServer, metrics_port

if TYPE_CHECKING:
    from conftest import BotHarness

MESSAGES = "POST channels/*/messages"
MESSAGES_ROUTE = "POST /channels/{id}/messages"

LAB = """
from discord.ext import commands


class Lab(commands.Cog):
    @commands.command()
    async def ping(self, ctx):
        await ctx.send("pong")

    @commands.command()
    async def boom(self, ctx):
        raise ZeroDivisionError("on purpose")

    @commands.command()
    @commands.cooldown(1, 60, commands.BucketType.user)
    async def once(self, ctx):
        await ctx.send("once")

    @commands.command()
    async def locked(self, ctx):
        await ctx.send("unlocked")


async def setup(bot):
    await bot.add_cog(Lab())
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Scrape:
    """One parsed ``/metrics`` answer: ``value("tui_bot_commands_total", command="ping")``."""

    def __init__(self, text: str) -> None:
        families = list(text_string_to_metric_families(text))
        self.samples = [sample for family in families for sample in family.samples]
        # What a PromQL query can name: the family (a histogram, counters without _total) or a sample.
        self.names = {family.name for family in families} | {sample.name for sample in self.samples}

    def value(self, name: str, **labels: str) -> float:
        found = [s.value for s in self.samples if s.name == name and labels.items() <= s.labels.items()]
        assert len(found) == 1, f"{name} {labels}: {len(found)} samples"
        return found[0]

    def ours(self) -> list[Any]:
        return [sample for sample in self.samples if sample.name.startswith("tui_bot_")]


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


async def scrape(base: str) -> Scrape:
    status, text = await get(f"{base}/metrics")
    assert status == 200
    return Scrape(text)


async def healthz(base: str) -> tuple[int, dict[str, Any]]:
    status, text = await get(f"{base}/healthz")
    return status, json.loads(text)


def write_bot_folder(root: Path, **config: Any) -> ConfigStore:
    extensions = root / "lab_extensions"
    extensions.mkdir()
    (extensions / "lab.py").write_text(LAB, encoding="utf-8")
    raw = {
        "auto_reload": False,
        "logging": {"directory": "botlogs"},
        "extensions": {"directory": str(extensions)},
        "command_permissions": {"locked": ["Moderator"]},
        **config,
    }
    (root / "config.json").write_text(json.dumps(raw), encoding="utf-8")
    return ConfigStore.load(root / "config.json")


@asynccontextmanager
async def running_runtime(config: ConfigStore) -> AsyncIterator[BotRuntime]:
    """The runtime the CLI runs (sandbox mode), started until its bot is ready; stopped after."""
    runtime = BotRuntime(config, Secrets(), sandbox=True, bot_options={"guild_ready_timeout": 0.05})
    run = asyncio.create_task(runtime.run())
    try:
        await wait_until(lambda: runtime.bot is not None and runtime.bot.is_ready(), what="the bot ready")
        yield runtime
    finally:
        await runtime.stop()
        assert await asyncio.wait_for(run, 20) == exit_codes.OK


@contextmanager
def sandbox_bot_packages() -> Iterator[None]:
    """The lab extension's package name is shared by the tests here: forget it after each one."""
    import sys

    try:
        yield
    finally:
        for name in [m for m in sys.modules if m == "lab_extensions" or m.startswith("lab_extensions.")]:
            del sys.modules[name]


async def test_scraped_counters_match_the_commands_429s_and_a_resume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    port = free_port()
    config = write_bot_folder(tmp_path, metrics={"port": port})
    base = f"http://127.0.0.1:{port}"
    with sandbox_bot_packages():
        async with running_runtime(config) as runtime:
            sandbox, bot = runtime.sandbox, runtime.bot
            assert sandbox is not None and bot is not None
            assert (await healthz(base)) == (
                200,
                {"status": "ok", "shards": {"0": "ready"}, "database": "ok", "problems": []},
            )

            # Commands: 3 ok pings, through 2 route 429s and 1 global 429; an error; a cooldown; a refusal.
            sandbox.force_429(2, route=MESSAGES, retry_after=0.05)
            for author, content in [("alice", "!ping")] * 2:
                await sandbox.send_message(author, "general", content)
                assert (await sandbox.wait_for_bot_message()).content == "pong"
            sandbox.force_429(1, route=MESSAGES, global_=True, retry_after=0.05)
            for author, content in [
                ("alice", "!ping"),
                ("alice", "!boom"),
                ("alice", "!once"),
                ("alice", "!once"),
                ("bob", "!locked"),
            ]:
                await sandbox.send_message(author, "general", content)
                await sandbox.wait_for_bot_message()
            metrics = bot.metrics
            await wait_until(lambda: sum(metrics.outcomes.values()) == 7, what="the seven outcomes")

            # The gateway dropped, and kept down: unhealthy, with the reason.
            await sandbox.drop_gateway(hold=True)
            await wait_until(lambda: bot.health.gateway.not_ready(), what="the drop seen")
            status, report = await healthz(base)
            assert status == 503 and report["status"] == "unhealthy"
            assert report["shards"] == {"0": "resuming"} and report["problems"] == ["shard 0 is resuming"]
            sandbox.release_gateway()
            await wait_until(lambda: not bot.health.gateway.not_ready(), what="the resume")
            assert (await healthz(base))[0] == 200
            await wait_until(lambda: metrics.flushes.count > 0, what="a usage-count flush")

            seen = await scrape(base)
    # Stopped with the bot: nothing listens any more.
    with pytest.raises(aiohttp.ClientConnectionError):
        await get(f"{base}/metrics")

    commands = {
        (command, outcome): seen.value("tui_bot_commands_total", command=command, outcome=outcome)
        for command, outcome in [
            ("ping", "ok"),
            ("boom", "error"),
            ("once", "ok"),
            ("once", "cooldown"),
            ("locked", "refused"),
        ]
    }
    assert commands == {
        ("ping", "ok"): 3,
        ("boom", "error"): 1,
        ("once", "ok"): 1,
        ("once", "cooldown"): 1,
        ("locked", "refused"): 1,
    }
    assert seen.value("tui_bot_command_duration_seconds_count", command="ping") == 3
    assert seen.value("tui_bot_command_duration_seconds_bucket", command="ping", le="+Inf") == 3
    assert seen.value("tui_bot_messages_seen_total") >= 7
    assert seen.value("tui_bot_replies_failed_total") == 0
    assert seen.value("tui_bot_guilds") == 1

    assert seen.value("tui_bot_rest_ratelimited_total", route=MESSAGES_ROUTE, scope="route") == 2
    assert seen.value("tui_bot_rest_ratelimited_total", route=MESSAGES_ROUTE, scope="global") == 1
    assert seen.value("tui_bot_rest_requests_total", route=MESSAGES_ROUTE, status="429") == 3
    assert seen.value("tui_bot_rest_requests_total", route=MESSAGES_ROUTE, status="200") >= 7
    assert seen.value("tui_bot_ratelimit_wait_seconds_total", reason="429") == pytest.approx(0.15)
    assert seen.value("tui_bot_ratelimit_global_active") == 0

    assert seen.value("tui_bot_gateway_identifies_total", shard="0") == 1
    assert seen.value("tui_bot_gateway_resumes_total", shard="0") == 1
    assert seen.value("tui_bot_gateway_reconnects_total", shard="0") == 1
    assert seen.value("tui_bot_gateway_state", shard="0", state="ready") == 1
    assert seen.value("tui_bot_gateway_state", shard="0", state="resuming") == 0
    assert 0 < seen.value("tui_bot_gateway_latency_seconds", shard="0") < 5
    assert seen.value("tui_bot_db_flush_duration_seconds_count") >= 1
    assert seen.value("tui_bot_db_flush_failures_total") == 0
    assert all("worker" not in sample.labels for sample in seen.ours())  # not a cluster worker
    # No id, token or emoji in any route label: each one is a template.
    routes = {sample.labels["route"] for sample in seen.ours() if "route" in sample.labels}
    assert MESSAGES_ROUTE in routes and not [route for route in routes if re.search(r"\d{3,}", route)]

    # Every metric the README's table names is served (the worker's info only by a cluster worker).
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    table = readme.split("### Metrics for Prometheus", 1)[1].split("### Health checks", 1)[0]
    documented = set(re.findall(r"`(tui_bot_[a-z_]+)`", table)) - {"tui_bot_worker_info"}
    assert len(documented) >= 18 and documented <= seen.names, documented - seen.names


async def test_a_port_in_use_is_one_log_line_and_the_bot_runs_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.chdir(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = int(taken.getsockname()[1])
        config = write_bot_folder(tmp_path, metrics={"port": port})
        with sandbox_bot_packages(), caplog.at_level(logging.INFO, logger="tui_bot.metrics"):
            async with running_runtime(config) as runtime:
                assert runtime.metrics_server is None
                sandbox = runtime.sandbox
                assert sandbox is not None
                await sandbox.send_message("alice", "general", "!ping")
                assert (await sandbox.wait_for_bot_message()).content == "pong"
    lines = [r for r in caplog.records if r.name == "tui_bot.metrics"]
    assert [r.levelname for r in lines] == ["ERROR"]
    assert lines[0].getMessage() == (
        f"Metrics: cannot listen on 127.0.0.1:{port}: the port is already in use (by another process, "
        "or a bot with the same metrics.port). The bot runs without /metrics and /healthz; set "
        "metrics.port (and metrics.host) in config.json to a free address."
    )
    assert lines[0].exc_info is None


def test_a_process_running_some_shards_adds_its_first_shard_to_the_port() -> None:
    settings = MetricsConfig(port=9100)
    assert metrics_port(SimpleNamespace(shard_ids=None), settings) == 9100  # type: ignore[arg-type]
    assert metrics_port(SimpleNamespace(shard_ids=[4, 5]), settings) == 9104  # type: ignore[arg-type]
    assert metrics_port(SimpleNamespace(), settings) == 9100  # type: ignore[arg-type] - no shards
    assert metrics_port(SimpleNamespace(shard_ids=[4]), MetricsConfig()) is None  # type: ignore[arg-type]


async def test_a_cluster_workers_samples_carry_its_worker_label(
    postgres_url: str,  # noqa: F811 - first: dropped after the harness has stopped the bot
    harness: BotHarness,
) -> None:
    bot = await harness.start(
        database={"url": postgres_url}, sharding={"shard_count": 2}, cluster=CLUSTER_TIMINGS
    )
    assert bot.cluster is not None
    await wait_until(lambda: not bot.health.gateway.not_ready(), what="both shards ready")
    server = MetricsServer(bot, "127.0.0.1", free_port())
    assert await server.start()
    try:
        status, report = await healthz(server.url)
        assert status == 200 and report["shards"] == {"0": "ready", "1": "ready"}
        seen = await scrape(server.url)
    finally:
        await server.stop()
    ours = seen.ours()
    assert ours and all(sample.labels.get("worker") == "0-1" for sample in ours)
    info = seen.value("tui_bot_worker_info", worker="0-1", worker_id=bot.cluster.node.worker_id)
    assert info == 1
    assert seen.value("tui_bot_gateway_identifies_total", shard="1", worker="0-1") == 1


async def test_healthz_says_when_the_database_does_not_answer(harness: BotHarness) -> None:
    bot = await harness.start()
    server = MetricsServer(bot, "127.0.0.1", free_port())
    assert await server.start()
    try:
        await bot.db.close(backup=False)
        status, report = await healthz(server.url)
    finally:
        await server.stop()
    assert status == 503
    assert report == {
        "status": "unhealthy",
        "shards": {"0": "ready"},
        "database": "not connected",
        "problems": ["database: not connected"],
    }


@pytest.mark.parametrize(
    ("metrics", "message"),
    [
        (
            {"port": 0},
            "config key 'metrics.port' has the value 0, but it must be null (no metrics) or a port number "
            "from 1 to 65535",
        ),
        (
            {"port": "9100"},
            "config key 'metrics.port' has the value \"9100\", but it must be null (no metrics) or a port "
            "number from 1 to 65535",
        ),
        (
            {"port": 9100, "host": " "},
            "config key 'metrics.host' has the value \" \", but it must be a host name or address to listen "
            'on, e.g. "127.0.0.1" (at most 253 characters)',
        ),
    ],
)
def test_bad_metrics_keys_are_refused_saying_what_to_write(metrics: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigValueError) as caught:
        parse_config({"metrics": metrics})
    assert str(caught.value).rstrip(".") == message


def test_metrics_are_off_by_default_and_on_loopback_when_turned_on() -> None:
    assert parse_config({}).metrics == MetricsConfig(port=None, host="127.0.0.1")
    assert parse_config({"metrics": {"port": 9100}}).metrics == MetricsConfig(port=9100, host="127.0.0.1")
    chosen = parse_config({"metrics": {"port": 9100, "host": "0.0.0.0"}}).metrics
    assert (chosen.port, chosen.host) == (9100, "0.0.0.0")
