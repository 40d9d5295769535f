"""The Logs pane: live log lines, coloured by level, filtered by level and text, in bounded memory.

Lines arrive in batches (the app drains :class:`~tui_bot.tui.log_buffer.BufferedLogHandler` on a
timer) and are written with ``Log.write_lines``: one refresh per batch, never one per line. The pane
keeps the newest records in a ring buffer so a filter change can redraw them; the widget keeps at
most ``MAX_LINES`` lines. Scrolled up, the view holds still while lines arrive; at the bottom (End)
it follows. Long lines wrap; ``w`` turns wrapping off and on (see :mod:`.log_view`).
"""

from __future__ import annotations

import logging
import re
from collections import deque
from typing import ClassVar

from rich.highlighter import Highlighter
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.reactive import var
from textual.widgets import Input, Select, Static

from tui_bot.tui.log_buffer import LogEntry
from tui_bot.tui.panes.log_view import HoldingLog

__all__ = ["CONTINUATION", "LEVEL_CHOICES", "FilterInput", "HoldingLog", "LevelHighlighter", "LogsPane"]

MAX_ENTRIES = 5_000  # records kept for re-filtering
MAX_LINES = 10_000  # lines in the widget (a traceback is several lines)
CONTINUATION = "  │ "  # prefix of a record's second and later lines (tracebacks)

# Short enough for the picker's width in console.tcss (#log-level) on one line, at any terminal
# width: a longer label wraps inside the Select and makes the whole toolbar taller.
LEVEL_CHOICES: list[tuple[str, int]] = [
    ("All levels", logging.DEBUG),
    ("INFO and up", logging.INFO),
    ("WARNING and up", logging.WARNING),
    ("ERROR and up", logging.ERROR),
]

_LEVEL = re.compile(r"\b(DEBUG|INFO|WARNING|ERROR|CRITICAL)\b")
_LEVEL_STYLE = {
    "DEBUG": "dim",
    "INFO": "bold green",
    "WARNING": "bold yellow",
    "ERROR": "bold red",
    "CRITICAL": "bold white on red",
}
_MESSAGE_STYLE = {"DEBUG": "dim", "WARNING": "yellow", "ERROR": "red", "CRITICAL": "bold red"}


class LevelHighlighter(Highlighter):
    """Colours a formatted log line by its level: the level word, and the message for notable levels."""

    def highlight(self, text: Text) -> None:
        plain = text.plain
        if plain.startswith(CONTINUATION):
            text.stylize("dim", 0, len(CONTINUATION))
            return
        # The level sits near the start ("12:00:01 ERROR    tui_bot.errors: ..."); never scan a long line.
        match = _LEVEL.search(plain, 0, 48)
        if match is None:
            return
        level = match.group(1)
        text.stylize("dim", 0, match.start())
        text.stylize(_LEVEL_STYLE[level], match.start(), match.end())
        colon = plain.find(": ", match.end())
        message_start = match.end() if colon < 0 else colon + 2
        if colon >= 0:
            text.stylize("italic dim", match.end(), colon + 1)
        if level in _MESSAGE_STYLE:
            text.stylize(_MESSAGE_STYLE[level], message_start)


def entry_lines(entry: LogEntry) -> list[str]:
    """The widget lines of one record: its first line, then the rest marked as continuation."""
    first, *rest = entry.text.split("\n")
    return [first, *(CONTINUATION + line for line in rest)]


class FilterInput(Input):
    """The Logs pane's text filter. Esc goes back to the log (the text stays); End follows the log.

    End is taken from the input's own "go to the end of the text" (Ctrl+E still does that), because
    the pane promises "End follows" wherever the keyboard is.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back_to_log", "Back to log", tooltip="Keep the filter, move to the log"),
        Binding("end", "follow_log", "Follow", tooltip="Jump to the newest line and follow"),
    ]

    def action_back_to_log(self) -> None:
        self.query_ancestor(LogsPane).log_view.focus()

    def action_follow_log(self) -> None:
        self.query_ancestor(LogsPane).follow_end()


class LogsPane(Vertical):
    """Filter controls above a :class:`HoldingLog`."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "focus_filter", "Filter", tooltip="Filter the lines by text (Esc: back)"),
        # One key, two labels: the footer says what w does now (check_action shows one of them).
        Binding("w", "set_wrap(False)", "Wrap: on", tooltip="Long lines wrap; press w to cut them"),
        Binding("w", "set_wrap(True)", "Wrap: off", tooltip="Long lines are cut; press w to wrap them"),
        Binding("end", "follow_end", "Follow", show=False),
    ]

    level: var[int] = var(logging.DEBUG)
    text_filter: var[str] = var("")

    def __init__(
        self, *, max_entries: int = MAX_ENTRIES, max_lines: int = MAX_LINES, **kwargs: object
    ) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.max_entries = max_entries
        self.entries: deque[LogEntry] = deque(maxlen=max_entries)
        self.max_lines = max_lines
        self.skipped = 0  # records the handler dropped in bursts, shown in the indicator

    def compose(self) -> ComposeResult:
        with Horizontal(id="log-toolbar"):
            yield Select(LEVEL_CHOICES, value=logging.DEBUG, allow_blank=False, id="log-level")
            yield FilterInput(placeholder="Filter (text, case-insensitive)", id="log-filter")
            yield Static("", id="log-follow")
        log = HoldingLog(highlight=True, max_lines=self.max_lines, id="log")
        log.highlighter = LevelHighlighter()
        yield log

    @property
    def log_view(self) -> HoldingLog:
        return self.query_one(HoldingLog)

    def on_mount(self) -> None:
        log = self.log_view
        self.watch(log, "follow", self._show_follow, init=False)
        self.watch(log, "new_below", self._show_follow, init=False)
        self._show_follow()

    def _show_follow(self, _: object = None) -> None:
        log = self.log_view
        skipped = f" · {self.skipped:,} skipped in bursts" if self.skipped else ""
        if log.follow:
            text = f"[green]●[/] following{skipped}"
        else:
            text = f"[yellow]‖[/] held · {log.new_below:,} new below · End follows{skipped}"
        self.query_one("#log-follow", Static).update(text)

    def matches(self, entry: LogEntry) -> bool:
        """Whether a record passes the level and text filters."""
        if entry.level < self.level:
            return False
        return not self.text_filter or self.text_filter in entry.text.casefold()

    def add(self, entries: list[LogEntry], dropped: int = 0) -> None:
        """Append a batch of records (one widget refresh for the whole batch)."""
        if dropped:
            self.skipped += dropped
            self._show_follow()
        if not entries:
            return
        self.entries.extend(entries)
        lines: list[str] = []
        # Only the newest max_entries records can stay: skip the rest of a huge batch.
        for entry in entries[-self.max_entries :]:
            if self.matches(entry):
                lines.extend(entry_lines(entry))
        if lines:
            self.log_view.write_lines(lines[-self.max_lines :])

    def redraw(self) -> None:
        """Rewrite the widget from the ring buffer (after a filter change) and follow the end."""
        log = self.log_view
        log.clear()
        lines: list[str] = []
        for entry in self.entries:
            if self.matches(entry):
                lines.extend(entry_lines(entry))
        log.write_lines(lines[-self.max_lines :], scroll_end=True)
        log.follow = True
        log.new_below = 0

    def watch_level(self) -> None:
        if self.is_mounted:
            self.redraw()

    def watch_text_filter(self) -> None:
        if self.is_mounted:
            self.redraw()

    @on(Select.Changed, "#log-level")
    def _level_changed(self, event: Select.Changed) -> None:
        if isinstance(event.value, int):
            self.level = event.value

    @on(Input.Changed, "#log-filter")
    def _text_changed(self, event: Input.Changed) -> None:
        self.text_filter = event.value.strip().casefold()

    @on(Input.Submitted, "#log-filter")
    def _filter_done(self) -> None:
        self.log_view.focus()

    def action_focus_filter(self) -> None:
        self.query_one("#log-filter", Input).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "set_wrap":
            return parameters[0] != self.log_view.wrap  # only the binding that changes it
        return True

    def action_set_wrap(self, wrap: bool) -> None:
        self.log_view.wrap = wrap
        self.refresh_bindings()

    def action_follow_end(self) -> None:
        self.follow_end()

    def follow_end(self) -> None:
        """Jump to the newest line and follow again."""
        self.log_view.follow_end()
