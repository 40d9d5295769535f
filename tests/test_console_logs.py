"""The Logs pane: level colours, level and text filters, a view that holds still when scrolled up,
bounded memory, and a 10,000-line burst that neither starves the bot nor freezes the console."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

from console_harness import GREETER, console, running  # noqa: F401 - console is a fixture
from helpers.waiting import wait_until
from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import Input, Select

from tui_bot.tui.app import ConsoleApp
from tui_bot.tui.log_buffer import BufferedLogHandler, LogEntry
from tui_bot.tui.panes import LogsPane
from tui_bot.tui.panes.logs import CONTINUATION, LevelHighlighter


def entry(level: int, message: str, logger: str = "tui_bot.test") -> LogEntry:
    text = f"12:00:00 {logging.getLevelName(level):<8} {logger}: {message}"
    return LogEntry(level, logger, 0.0, message, text)


class LogsHost(App[None]):
    """The pane alone: these tests need no bot."""

    CSS_PATH = ConsoleApp.CSS_PATH

    def __init__(self, pane: LogsPane) -> None:
        super().__init__()
        self.pane = pane

    def compose(self) -> ComposeResult:
        yield self.pane


def test_lines_are_coloured_by_level() -> None:
    highlighter = LevelHighlighter()
    error = highlighter(Text("12:00:00 ERROR    tui_bot.errors: it broke"))
    styles = {error.plain[span.start : span.end]: str(span.style) for span in error.spans}
    assert styles["ERROR"] == "bold red"
    assert styles["it broke"] == "red"
    info = highlighter(Text("12:00:00 INFO     tui_bot.bot: hello"))
    assert {info.plain[s.start : s.end]: str(s.style) for s in info.spans}["INFO"] == "bold green"
    traceback = highlighter(Text(CONTINUATION + 'File "x.py", line 1'))
    assert [str(s.style) for s in traceback.spans] == ["dim"]


async def test_level_and_text_filters() -> None:
    pane = LogsPane()
    async with LogsHost(pane).run_test(size=(100, 20)) as pilot:
        pane.add(
            [
                entry(logging.INFO, "disk is fine"),
                entry(logging.WARNING, "disk is filling up"),
                entry(logging.ERROR, "network down\nTraceback (most recent call last):\nOSError: gone"),
                entry(logging.INFO, "network back"),
            ]
        )
        lines = pane.log_view.lines
        assert len(lines) == 6  # the traceback's lines are kept, marked as continuation
        assert lines[3] == CONTINUATION + "Traceback (most recent call last):"

        pane.query_one(Select).value = logging.WARNING
        await pilot.pause()
        assert [line.split(": ", 1)[1] for line in lines if not line.startswith(CONTINUATION)] == [
            "disk is filling up",
            "network down",
        ]

        pane.query_one(Select).value = logging.DEBUG
        await pilot.press("slash", *"NETWORK")  # "/" focuses the filter; the match ignores case
        assert isinstance(pilot.app.focused, Input)
        await pilot.pause()
        assert [line.split(": ", 1)[1] for line in lines if not line.startswith(CONTINUATION)] == [
            "network down",
            "network back",
        ]
        # New lines are filtered the same way as they arrive.
        pane.add([entry(logging.INFO, "disk again"), entry(logging.INFO, "network again")])
        assert lines[-1].endswith("network again") and not any("disk" in line for line in lines)


async def test_the_view_holds_still_when_scrolled_up_and_follows_at_the_bottom() -> None:
    pane = LogsPane(max_lines=300)
    async with LogsHost(pane).run_test(size=(100, 20)) as pilot:
        log = pane.log_view
        pane.add([entry(logging.INFO, f"line {n}") for n in range(200)])
        await pilot.pause()
        assert log.follow and log.is_vertical_scroll_end

        log.scroll_to(y=50, animate=False, immediate=True)
        await pilot.pause()
        assert not log.follow
        top_line = log.lines[int(log.scroll_y)]
        # New lines arrive, and the oldest are pruned (300 lines at most): the same line stays on top.
        pane.add([entry(logging.INFO, f"line {n}") for n in range(200, 350)])
        await pilot.pause()
        assert len(log.lines) == 300
        assert log.lines[int(log.scroll_y)] == top_line
        assert not log.follow and log.new_below == 150
        assert "held · 150 new below" in str(pane.query_one("#log-follow").render())

        log.focus()
        await pilot.press("end")  # back at the bottom: follow again
        await pilot.pause()
        assert log.follow
        pane.add([entry(logging.INFO, "the newest")])
        await pilot.pause()
        assert log.is_vertical_scroll_end and log.lines[-1].endswith("the newest")
        assert "following" in str(pane.query_one("#log-follow").render())


async def test_memory_is_bounded() -> None:
    pane = LogsPane(max_entries=100, max_lines=150)
    async with LogsHost(pane).run_test(size=(100, 20)):
        for start in range(0, 5_000, 500):
            pane.add([entry(logging.INFO, f"line {n}\nsecond line") for n in range(start, start + 500)])
        assert len(pane.entries) == 100
        assert len(pane.log_view.lines) == 150
        assert pane.log_view.lines[-2].endswith("line 4999")

    handler = BufferedLogHandler(capacity=10)
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "message", None, None)
    for _ in range(15):
        handler.emit(record)
    assert len(handler.entries) == 10 and handler.take_dropped() == 5 and handler.dropped == 0


async def test_a_burst_of_10000_log_lines_starves_neither_the_bot_nor_the_console(console) -> None:  # noqa: F811
    console.write_extension("greeter", GREETER)
    app = console.build()
    async with running(app) as pilot:
        sandbox = app.runtime.sandbox
        chatty = logging.getLogger("tui_bot.test.burst")
        started = threading.Event()

        def burst() -> None:
            # Like discord.py's heartbeat thread: logging from outside the event loop.
            started.set()
            for n in range(10_000):
                chatty.info("burst line %d", n)

        # How late the event loop wakes up during the burst (the heartbeat and commands need it).
        lag = 0.0

        async def watch_loop() -> None:
            nonlocal lag
            while True:
                before = time.perf_counter()
                await asyncio.sleep(0.01)
                lag = max(lag, time.perf_counter() - before - 0.01)

        watcher = asyncio.create_task(watch_loop())
        thread = threading.Thread(target=burst)
        thread.start()
        await asyncio.to_thread(started.wait)
        # A prefix command during the burst still gets its reply...
        await sandbox.send_message("alice", "general", "!ping")
        assert (await sandbox.wait_for_bot_message(timeout=10)).content == "pong"
        # ...and the console still answers keys.
        await pilot.press("2")
        assert app.tabs.active == "metrics"
        await asyncio.to_thread(thread.join)
        log_lines = app.query_one(LogsPane).log_view.lines
        await wait_until(lambda: any(line.endswith("burst line 9999") for line in log_lines))
        watcher.cancel()
        assert lag < 1.0, f"the event loop stalled for {lag:.2f} s"
        # Nothing was lost: the handler (10,000 records) absorbed the burst and the pane drained it.
        assert app.query_one(LogsPane).skipped == 0
        assert sum("burst line" in line for line in log_lines) == 10_000
        assert app.bot is not None and app.bot.latency < 1.0  # heartbeats kept being acknowledged
