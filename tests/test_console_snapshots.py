"""Snapshots of the console (pytest-textual-snapshot) at a fixed size, with the bot running against the
sandbox and every volatile value frozen: uptime, latencies, load times and clock times come from a
``FrozenReader``; the Logs pane shows fixed lines (its handler is not attached to the root logger);
the sandbox's ids are fixed by its demo world. Update with ``pytest --snapshot-update``.
"""

from __future__ import annotations

import logging
from typing import Any

from console_harness import (  # noqa: F401 - console is a fixture
    BROKEN,
    GREETER,
    QUIET,
    ConsoleHarness,
    RecordingConsoleApp,
    console,
)
from helpers.waiting import wait_until
from textual.pilot import Pilot
from textual.widgets import Static

from tui_bot.core.bot import TuiBot
from tui_bot.tui.connection import ConnectionState
from tui_bot.tui.log_buffer import BufferedLogHandler, LogEntry
from tui_bot.tui.reader import BotReader, ExtensionRow

FIXED_LOG = [
    (logging.INFO, "tui_bot.sandbox.server", "sandbox listening on http://127.0.0.1:8765/api/v10"),
    (logging.INFO, "tui_bot.storage.database", "Opened database data/bot.db"),
    (logging.INFO, "tui_bot.extensions", "Extension alpha: load ok in 3 ms"),
    (
        logging.ERROR,
        "tui_bot.extensions",
        "Extension broken: load failed: RuntimeError: broken on purpose\n"
        "Traceback (most recent call last):\n"
        '  File "extensions/broken.py", line 1, in <module>\n'
        "RuntimeError: broken on purpose",
    ),
    (logging.INFO, "tui_bot.extensions", "Extension quiet is blacklisted in config.json; not loaded"),
    (logging.INFO, "discord.gateway", "Shard ID None has connected to Gateway"),
    (logging.INFO, "tui_bot.bot", "Connected as tui-bot (id 1191168918421504000) to 1 guild(s)"),
    (logging.WARNING, "tui_bot.permissions", "Role rule for 'ban' names a role that no longer exists"),
    (logging.INFO, "tui_bot.actions", "Database backed up to data/bot.db.backup_20250101_120000"),
]


def fixed_log_handler() -> BufferedLogHandler:
    """A handler holding fixed lines, as the console's formatter would print them."""
    handler = BufferedLogHandler()
    for second, (level, logger, message) in enumerate(FIXED_LOG):
        text = f"12:00:{second:02d} {logging.getLevelName(level):<8} {logger}: {message}"
        handler.entries.append(LogEntry(level, logger, 0.0, message, text))
    return handler


def shard_health(state: str, latency_ms: float | None, *, identifies: int, resumes: int) -> dict[str, Any]:
    """One shard of ``get_stats()["gateway"]``, with fixed times."""
    return {
        "state": state,
        "since": 0.0,
        "latency_ms": latency_ms,
        "identifies_24h": identifies,
        "identifies_24h_more": False,
        "resumes_24h": resumes,
        "resumes_24h_more": False,
        "reconnects_24h": resumes,
        "reconnects_24h_more": False,
    }


def rate_limits(recent: int = 0, global_recent: int = 0, in_force: bool = False) -> dict[str, Any]:
    """``get_stats()["rate_limits"]`` with fixed numbers."""
    return {
        "429_last_hour": recent,
        "429_last_hour_more": False,
        "global_429_last_hour": global_recent,
        "429_by_route_last_hour": {},
        "429_total": recent,
        "global_limit_in_force": in_force,
        "global_limit_until": None,
        "wait_seconds": {"429": 0.0, "bucket": 0.0},
        "requests_total": 100,
        "last_429": None,
    }


class FrozenReader(BotReader):
    """The live bot's guilds and extensions, with every volatile number replaced by a fixed one."""

    def __init__(self, bot: TuiBot) -> None:
        super().__init__(bot, clock_text=lambda _: "12:00:02")

    def gateway_latency_ms(self) -> float | None:
        return 41.7

    def stats(self) -> dict[str, Any]:
        live = super().stats()
        per_minute = [0] * 40 + [1, 3, 2, 5, 8, 4, 0, 0, 2, 6, 9, 12, 7, 3, 1, 0, 2, 4, 3, 5]
        return {
            **live,
            "uptime": 3723.0,
            "commands_processed": 42,
            "messages_seen": 1234,
            "error_count": 1,
            "top_commands": {"ping": 30, "greet": 12},
            "latency": {
                "greet": {"count": 12, "avg_ms": 8.2, "max_ms": 31.0, "p95_ms": 22.5},
                "ping": {"count": 30, "avg_ms": 3.4, "max_ms": 12.9, "p95_ms": 7.1},
            },
            "commands_per_minute": per_minute,
            "gateway": {"0": shard_health("ready", 41.7, identifies=1, resumes=2)},
            "rate_limits": rate_limits(),
        }

    def extensions(self) -> list[ExtensionRow]:
        return [
            ExtensionRow(
                row.name,
                row.status,
                None if row.load_ms is None else 3.0,
                row.last_loaded,
                row.last_error,
                row.traceback,
                row.commands,
            )
            for row in super().extensions()
        ]


def frozen_app(harness: ConsoleHarness) -> RecordingConsoleApp:
    harness.write_extension("alpha", GREETER)
    harness.write_extension("broken", BROKEN)
    harness.write_extension("quiet", QUIET)
    harness.write_config(extensions={"blacklist": ["quiet"]}, command_permissions={"ping": ["Moderator"]})
    app = harness.build(reader_factory=FrozenReader)
    app.log_handler = fixed_log_handler()  # only the fixed lines: real ones carry times and ports
    return app


async def until_ready(pilot: Pilot[Any]) -> None:
    app = pilot.app
    await wait_until(lambda: app.connection is ConnectionState.READY)  # type: ignore[attr-defined]
    await wait_until(lambda: len(app.log_handler.entries) == 0)  # type: ignore[attr-defined]
    await pilot.pause()


def test_main_screen_logs(console, snap_compare) -> None:  # noqa: F811
    assert snap_compare(frozen_app(console), terminal_size=(120, 36), run_before=until_ready)


def test_main_screen_logs_small_terminal(console, snap_compare) -> None:  # noqa: F811
    assert snap_compare(frozen_app(console), terminal_size=(80, 24), run_before=until_ready)


def test_metrics_pane(console, snap_compare) -> None:  # noqa: F811
    async def show_metrics(pilot: Pilot[Any]) -> None:
        await until_ready(pilot)
        await pilot.press("2")
        await pilot.pause()

    assert snap_compare(frozen_app(console), terminal_size=(120, 36), run_before=show_metrics)


def test_guilds_pane(console, snap_compare) -> None:  # noqa: F811
    async def show_guilds(pilot: Pilot[Any]) -> None:
        await until_ready(pilot)
        await pilot.press("3")
        details = pilot.app.query_one("#guild-detail-text", Static)
        await wait_until(lambda: "Permission rules" in str(details.render()))
        await pilot.pause()

    assert snap_compare(frozen_app(console), terminal_size=(120, 36), run_before=show_guilds)


def test_extensions_pane(console, snap_compare) -> None:  # noqa: F811
    async def show_extensions(pilot: Pilot[Any]) -> None:
        await until_ready(pilot)
        await pilot.press("4")
        await pilot.pause()

    assert snap_compare(frozen_app(console), terminal_size=(120, 36), run_before=show_extensions)


class BusyReader(FrozenReader):
    """The frozen numbers plus the widest a row usually gets: the longest built-in command name,
    a thousand runs, latencies over a second, and refusals beside the error; three shards, two of them
    not ready, and 429s with a global limit in force."""

    def stats(self) -> dict[str, Any]:
        stats = super().stats()
        slow = {"count": 1_234, "avg_ms": 412.0, "max_ms": 2_345.6, "p95_ms": 1_234.5}
        return {
            **stats,
            "refusal_count": 3,
            "top_commands": {"discordbotframework": 1_234, **stats["top_commands"]},
            "latency": {"discordbotframework": slow, **stats["latency"]},
            # A shard resuming after a drop, another one not connected yet, and a global limit in force.
            "gateway": {
                "0": shard_health("ready", 41.7, identifies=1, resumes=0),
                "1": shard_health("resuming", None, identifies=1, resumes=3),
                "2": shard_health("connecting", None, identifies=0, resumes=0),
            },
            "rate_limits": {**rate_limits(12, 1, True), "wait_seconds": {"429": 2.25, "bucket": 0.5}},
        }


def test_metrics_pane_small_terminal(console, snap_compare) -> None:  # noqa: F811
    async def show_metrics(pilot: Pilot[Any]) -> None:
        await until_ready(pilot)
        await pilot.press("2")
        await pilot.pause()

    app = frozen_app(console)
    app.reader_factory = BusyReader
    assert snap_compare(app, terminal_size=(80, 24), run_before=show_metrics)
