"""Console log burst: how late the event loop runs while the console takes a burst of log lines.

Run ``python bench/console_log_burst.py [--lines N] [--rounds R]``. The console runs headless (120x36)
with the bot connected to the sandbox, logging set up exactly as ``tui-bot`` does it (files, the queue
listener thread, the console's buffered handler). Each round logs N lines, once from a thread (as
discord.py's heartbeat thread does) and once from a coroutine on the event loop, while a probe
measures how late a 5 ms sleep wakes up (the loop lag the gateway heartbeat and commands would see)
and a member runs ``!ping``. Not collected by pytest (``testpaths`` is ``tests``).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from tui_bot.config import ConfigStore, Secrets
from tui_bot.logs.setup import configure_logging
from tui_bot.runtime import BotRuntime
from tui_bot.tui import ConsoleApp, make_console
from tui_bot.tui.connection import ConnectionState
from tui_bot.tui.log_buffer import BufferedLogHandler, console_formatter
from tui_bot.tui.panes import LogsPane

PING = """
from discord.ext import commands

@commands.command()
async def ping(ctx):
    await ctx.send("pong")

async def setup(bot):
    bot.add_command(ping)
"""

PROBE_SECONDS = 0.005


class LagProbe:
    """Samples how late ``asyncio.sleep(PROBE_SECONDS)`` returns."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(PROBE_SECONDS)
            self.samples.append(time.perf_counter() - before - PROBE_SECONDS)

    def __enter__(self) -> LagProbe:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *_: object) -> None:
        assert self._task is not None
        self._task.cancel()

    def summary(self) -> str:
        ordered = sorted(self.samples) or [0.0]
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        return (
            f"loop lag median {statistics.median(ordered) * 1000:5.1f} ms, "
            f"p99 {p99 * 1000:5.1f} ms, max {ordered[-1] * 1000:5.1f} ms"
        )


async def _ping_round_trip(app: ConsoleApp) -> float:
    sandbox = app.runtime.sandbox
    assert sandbox is not None
    started = time.perf_counter()
    await sandbox.send_message("alice", "general", "!ping")
    await sandbox.wait_for_bot_message(check=lambda m: m.content == "pong", timeout=30)
    return time.perf_counter() - started


async def _poll(predicate: Callable[[], bool], timeout: float = 60.0) -> None:  # noqa: ASYNC109
    """Until ``predicate()`` holds (the UI has no event for "this line is on screen")."""
    deadline = time.perf_counter() + timeout
    while not predicate():
        if time.perf_counter() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.01)


async def _until_shown(app: ConsoleApp, marker: str) -> None:
    lines = app.query_one(LogsPane).log_view.lines
    await _poll(lambda: bool(lines) and lines[-1].endswith(marker))


async def _measure(app: ConsoleApp, name: str, burst: Callable[[], Awaitable[None]], marker: str) -> None:
    with LagProbe() as probe:
        started = time.perf_counter()
        burst_task = asyncio.create_task(burst())
        ping = await _ping_round_trip(app)
        await burst_task
        logged = time.perf_counter() - started
        await _until_shown(app, marker)
        shown = time.perf_counter() - started
    print(
        f"  {name:<22} logged in {logged:5.2f} s, all shown after {shown:5.2f} s, "
        f"!ping answered in {ping * 1000:6.1f} ms; {probe.summary()}"
    )


async def _bench(app: ConsoleApp, lines: int, rounds: int) -> None:
    async with app.run_test(size=(120, 36)):
        await _poll(lambda: app.connection is ConnectionState.READY)
        chatty = logging.getLogger("bench.chatty")
        with LagProbe() as idle:
            ping = await _ping_round_trip(app)
            await asyncio.sleep(1.0)
        print(f"  {'idle':<22} !ping answered in {ping * 1000:6.1f} ms; {idle.summary()}")
        for round_number in range(rounds):
            marker = f"thread burst {round_number} line {lines - 1}"

            def log_from_thread(r: int = round_number) -> None:
                for n in range(lines):
                    chatty.info("thread burst %d line %d", r, n)

            async def from_thread(fn: Callable[[], None] = log_from_thread) -> None:
                thread = threading.Thread(target=fn)
                thread.start()
                await asyncio.to_thread(thread.join)

            await _measure(app, f"{lines:,} lines, thread", from_thread, marker)

            async def from_loop(r: int = round_number) -> None:
                # A chatty coroutine: 500 lines at a time, yielding in between.
                for start in range(0, lines, 500):
                    for n in range(start, min(start + 500, lines)):
                        chatty.info("loop burst %d line %d", r, n)
                    await asyncio.sleep(0)

            await _measure(
                app, f"{lines:,} lines, event loop", from_loop, f"loop burst {round_number} line {lines - 1}"
            )
        print(f"  pane: {len(app.query_one(LogsPane).log_view.lines):,} lines kept (bounded)")
        await app.runtime.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=10_000, help="lines per burst (default 10,000)")
    parser.add_argument("--rounds", type=int, default=3, help="bursts of each kind (default 3)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)
        (Path(folder) / "extensions").mkdir()
        (Path(folder) / "extensions" / "ping.py").write_text(PING, encoding="utf-8")
        # No per-user cooldown: the bench sends !ping more often than the default 3 per 5 s.
        config = Path(folder) / "config.json"
        config.write_text('{"cooldowns": {"default_rate": 1000, "default_per": 1}}', encoding="utf-8")
        store = ConfigStore.load(config)
        handler = BufferedLogHandler()
        handler.setFormatter(console_formatter())
        session = configure_logging(store.model.logging, extra_handlers=[handler])
        try:
            app = make_console(BotRuntime(store, Secrets(), sandbox=True), log_handler=handler)
            print(f"Console log burst (Python {sys.version.split()[0]}, {os.cpu_count()} CPUs):")
            asyncio.run(_bench(app, args.lines, args.rounds))
        finally:
            session.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
