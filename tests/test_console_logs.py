"""The Logs pane: level colours, level and text filters, a view that holds still when scrolled up,
bounded memory, and a 10,000-line burst that neither starves the bot nor freezes the console; the
level picker on one line at any width, Esc and End from the filter, long lines wrapped (w toggles)."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from pathlib import Path
from typing import Any

from console_harness import GREETER, console, running  # noqa: F401 - console is a fixture
from helpers.waiting import wait_until
from rich.text import Text
from textual.app import App, ComposeResult
from textual.widget import Widget
from textual.widgets import Footer, Input, Log, Select

from tui_bot.tui.app import ConsoleApp
from tui_bot.tui.log_buffer import BufferedLogHandler, LogEntry
from tui_bot.tui.panes import LogsPane
from tui_bot.tui.panes.logs import CONTINUATION, LEVEL_CHOICES, LevelHighlighter


def entry(level: int, message: str, logger: str = "tui_bot.test") -> LogEntry:
    text = f"12:00:00 {logging.getLevelName(level):<8} {logger}: {message}"
    return LogEntry(level, logger, 0.0, message, text)


class LogsHost(App[None]):
    """The pane alone, with the footer: these tests need no bot."""

    CSS_PATH = ConsoleApp.CSS_PATH

    def __init__(self, pane: LogsPane) -> None:
        super().__init__()
        self.pane = pane

    def compose(self) -> ComposeResult:
        yield self.pane
        yield Footer()


def screen_rows(app: App[Any], widget: Widget | None = None) -> list[str]:
    """The text on screen, row by row: what the user sees. Given a widget, only the rows and columns
    of its content (a log's without its scrollbars)."""
    # The compositor's own render, the one a screenshot is made of (Textual has no public text export).
    rows = ["".join(segment.text for segment in strip) for strip in app.screen._compositor.render_strips()]
    if widget is None:
        return rows
    region = widget.scrollable_content_region if isinstance(widget, Log) else widget.region
    return [row[region.x : region.right] for row in rows[region.y : region.bottom]]


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


async def test_every_level_choice_fits_the_picker_on_one_line_at_80_and_120_columns(console) -> None:  # noqa: F811
    app = console.build()
    async with running(app, size=(80, 24)) as pilot:
        pane = app.query_one(LogsPane)
        picker = pane.query_one("#log-level", Select)
        toolbar = pane.query_one("#log-toolbar")
        for size in ((80, 24), (120, 36)):
            await pilot.resize_terminal(*size)
            for label, level in LEVEL_CHOICES:
                picker.value = level
                await pilot.pause()
                # One row of controls (the bordered picker is 3 lines): a wrapped label makes it 4.
                assert toolbar.outer_size.height == 3, (size, label)
                label_row = screen_rows(app, picker)[1]
                assert label in label_row, (size, label_row)


async def test_esc_leaves_the_filter_for_the_log_and_keeps_the_filter() -> None:
    pane = LogsPane()
    async with LogsHost(pane).run_test(size=(80, 24)) as pilot:
        pane.add([entry(logging.INFO, "disk is fine"), entry(logging.INFO, "network down")])
        await pilot.press("slash", *"network")
        assert isinstance(pilot.app.focused, Input)
        assert "esc Back to log" in screen_rows(pilot.app)[-1]  # the footer says how to leave

        await pilot.press("escape")
        assert pilot.app.focused is pane.log_view
        assert pane.query_one("#log-filter", Input).value == "network"
        assert [line.split(": ", 1)[1] for line in pane.log_view.lines] == ["network down"]


async def test_end_follows_the_log_again_from_the_filter_and_from_the_log() -> None:
    pane = LogsPane()
    async with LogsHost(pane).run_test(size=(80, 24)) as pilot:
        log = pane.log_view
        follow_text = pane.query_one("#log-follow")
        pane.add([entry(logging.INFO, f"line {n}") for n in range(200)])
        await pilot.pause()

        for where in ("filter", "log"):
            log.scroll_to(y=20, animate=False, immediate=True)
            pane.add([entry(logging.INFO, f"more from {where}")])
            await pilot.pause()
            assert not log.follow and "End follows" in str(follow_text.render())
            if where == "filter":
                await pilot.press("slash")
                assert isinstance(pilot.app.focused, Input)
            else:
                log.focus()
            await pilot.press("end")
            await pilot.pause()
            assert log.follow and log.is_vertical_scroll_end, where
            assert "following" in str(follow_text.render())
            assert screen_rows(pilot.app, log)[-1].rstrip().endswith(f"tui_bot.test: more from {where}")
            pane.add([entry(logging.INFO, f"newest from {where}")])
            await pilot.pause()
            assert log.is_vertical_scroll_end, where
            assert f"newest from {where}" in screen_rows(pilot.app, log)[-1]


async def test_a_long_line_wraps_onto_several_rows_and_w_turns_wrapping_off() -> None:
    message = "".join(f"{n:03d}-" for n in range(75))  # 300 characters, each position recognisable
    long_line = f"12:00:00 INFO     tui_bot.test: {message}"
    pane = LogsPane()
    async with LogsHost(pane).run_test(size=(80, 24)) as pilot:
        log = pane.log_view
        pane.add([entry(logging.INFO, "before"), entry(logging.INFO, message), entry(logging.INFO, "after")])
        await pilot.pause()
        assert "w Wrap: on" in screen_rows(pilot.app)[-1]

        rows = [row.rstrip() for row in screen_rows(pilot.app, log)]
        start = next(n for n, row in enumerate(rows) if row.startswith(long_line[:40]))
        after = rows.index("12:00:00 INFO     tui_bot.test: after")
        assert after - start >= 4  # 332 characters at 78 columns
        assert "".join(rows[start:after]) == long_line  # all of it, in order, nothing cut
        assert not log.show_horizontal_scrollbar

        log.focus()
        await pilot.press("w")
        await pilot.pause()
        assert "w Wrap: off" in screen_rows(pilot.app)[-1]
        rows = [row.rstrip() for row in screen_rows(pilot.app, log)]
        assert rows[:3] == [
            "12:00:00 INFO     tui_bot.test: before",
            long_line[: len(rows[1])],
            "12:00:00 INFO     tui_bot.test: after",
        ]
        assert 70 < len(rows[1]) < 80 and message[-20:] not in "".join(rows)  # cut at the edge
        assert log.show_horizontal_scrollbar

        await pilot.press("w")  # and back
        await pilot.pause()
        assert "".join(row.rstrip() for row in screen_rows(pilot.app, log)[1:6]).startswith(long_line)


async def test_wrapped_lines_rewrap_on_resize_and_a_held_view_keeps_its_line_on_top() -> None:
    pane = LogsPane(max_lines=60)
    async with LogsHost(pane).run_test(size=(80, 24)) as pilot:
        log = pane.log_view
        pane.add([entry(logging.INFO, f"line {n:03d} " + "x" * 150) for n in range(50)])
        await pilot.pause()
        assert log.follow and log.is_vertical_scroll_end
        await pilot.resize_terminal(120, 24)
        await pilot.pause()
        assert log.is_vertical_scroll_end
        # 191 characters: two rows at 118 columns (three at 78), the newest line's at the bottom.
        assert screen_rows(pilot.app, log)[-2].startswith("12:00:00 INFO     tui_bot.test: line 049")

        log.scroll_to(y=61, animate=False, immediate=True)  # the second row of line 30
        await pilot.pause()
        top = screen_rows(pilot.app, log)[:2]
        assert not log.follow and top[0].startswith("xxxx") and "line 031" in top[1]
        # 30 more lines: 20 of the oldest are pruned (60 at most), 40 rows above the view go away.
        pane.add([entry(logging.INFO, f"line {n:03d} " + "x" * 150) for n in range(50, 80)])
        await pilot.pause()
        assert len(log.lines) == 60
        assert screen_rows(pilot.app, log)[:2] == top


def test_the_readme_lists_the_logs_pane_keys() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## The console", 1)[1].split("\n## ", 1)[0]
    rows = {line.split(" | ", 1)[0]: line for line in section.splitlines() if line.startswith("| `")}
    assert "`Esc`" in rows["| `/`"]
    assert "filter" in rows["| `End`"]
    assert "Wrap" in rows["| `w`"]


async def test_lines_logged_while_another_pane_is_shown_wrap_at_the_new_width_when_logs_comes_back(
    console,  # noqa: F811
) -> None:
    app = console.build()
    async with running(app, size=(120, 30)) as pilot:
        log = app.query_one(LogsPane).log_view
        await pilot.press("2")  # Metrics: the log is hidden
        logging.getLogger("tui_bot.test.hidden").warning("while hidden " + "y" * 200)
        await wait_until(lambda: any("while hidden" in line for line in log.lines))
        await pilot.resize_terminal(80, 30)
        await pilot.press("1")
        await pilot.pause()
        rows = [row.rstrip() for row in screen_rows(app, log)]
        first = next(n for n, row in enumerate(rows) if "while hidden" in row)
        line = next(line for line in log.lines if "while hidden" in line)
        # All of it in rows of 78 (word wrap may end a row with a space: compared without spaces).
        assert "".join(rows[first:]).replace(" ", "").startswith(line.replace(" ", ""))
        assert all(len(row) <= 78 for row in rows)
