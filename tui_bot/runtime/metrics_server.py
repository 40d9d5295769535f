"""``GET /metrics`` (Prometheus' text format) and ``GET /healthz`` for one running bot, with aiohttp.web.

Off unless config.json's ``metrics.port`` is set; bound to ``metrics.host`` (127.0.0.1 by default). It
runs in the bot's own event loop: a scrape reads in-memory counters, and the health check's database
query has a short timeout, so neither holds the loop. A port already in use is one clear log line, and
the bot runs on without it.
"""

from __future__ import annotations

import errno
import logging
from typing import TYPE_CHECKING

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from tui_bot.core.health_check import health_report
from tui_bot.runtime.prometheus import bot_registry

if TYPE_CHECKING:
    from tui_bot.config.model import MetricsConfig
    from tui_bot.core.bot import TuiBot

log = logging.getLogger("tui_bot.metrics")

MAX_PORT = 65535


def metrics_port(bot: TuiBot, settings: MetricsConfig) -> int | None:
    """The port to listen on: ``metrics.port``, plus this process's first shard id when it runs only
    some shards (``--shard-ids``: the workers of one host then never ask for the same port)."""
    if settings.port is None:
        return None
    shard_ids = getattr(bot, "shard_ids", None)
    return settings.port + (min(shard_ids) if shard_ids else 0)


class MetricsServer:
    """Serves one bot's ``/metrics`` and ``/healthz`` on ``host``:``port`` between start() and stop()."""

    def __init__(self, bot: TuiBot, host: str, port: int) -> None:
        self.bot = bot
        self.host = host
        self.port = port
        self.registry = bot_registry(bot)
        self._runner: web.AppRunner | None = None

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/healthz", self._healthz)
        return app

    async def _metrics(self, _request: web.Request) -> web.Response:
        body = generate_latest(self.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _healthz(self, _request: web.Request) -> web.Response:
        report = await health_report(self.bot)
        return web.json_response(report, status=200 if report["status"] == "ok" else 503)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> bool:
        """Listen; False (after one log line saying why) when the address cannot be had."""
        runner = web.AppRunner(self._app(), access_log=None, handle_signals=False)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port)
            await site.start()
        except OSError as error:
            await runner.cleanup()
            if error.errno == errno.EADDRINUSE:
                why = "the port is already in use (by another process, or a bot with the same metrics.port)"
            else:
                why = error.strerror or str(error)
            log.error(
                "Metrics: cannot listen on %s:%d: %s. The bot runs without /metrics and /healthz; "
                "set metrics.port (and metrics.host) in config.json to a free address.",
                self.host,
                self.port,
                why,
            )
            return False
        self._runner = runner
        log.info("Metrics: %s/metrics and %s/healthz", self.url, self.url)
        return True

    async def stop(self) -> None:
        """Stop listening (idempotent)."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()


async def start_metrics_server(bot: TuiBot, settings: MetricsConfig) -> MetricsServer | None:
    """The bot's metrics server, listening, when ``metrics.port`` is set and the address is free."""
    port = metrics_port(bot, settings)
    if port is None:
        return None
    if port > MAX_PORT:
        log.error(
            "Metrics: port %d (metrics.port %d + this process's first shard id) is beyond %d: lower "
            "metrics.port in config.json. The bot runs without /metrics and /healthz.",
            port,
            settings.port,
            MAX_PORT,
        )
        return None
    server = MetricsServer(bot, settings.host, port)
    return server if await server.start() else None
