"""The Logs pane's view: a ``Log`` that wraps long lines, and holds still while the operator reads.

Textual's ``Log`` keeps plain strings and renders only the rows on screen, which is what keeps a
10,000-line burst cheap, but it cannot wrap. ``RichLog`` can, by rendering each line with Rich as it
is written and keeping the result: far slower in a burst, and it never re-wraps when the terminal is
resized. So this ``Log`` wraps itself, lazily: when lines arrive it only counts the rows each takes
at the view's width (most lines fit on one: measuring them is all it costs), and a screen row is
mapped back to its line and piece of line with a bisection when that row is drawn.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable

from rich.cells import cell_len
from textual import events
from textual.cache import LRUCache
from textual.geometry import Size
from textual.reactive import var
from textual.strip import Strip
from textual.widgets import Log


def row_starts(text: str, width: int) -> list[int]:
    """Where the second and later rows of ``text`` start (cell offsets) when wrapped at ``width``.

    Breaks after the row's last space, like word wrap, when that keeps the row at least half full;
    else the row is cut mid-word (a long URL or id does not leave a gap by moving down whole). Text
    with wide or zero-width characters is cut every ``width`` cells (no word breaks: character and
    cell offsets differ there, and such lines are rare in logs).
    """
    cells = cell_len(text)
    if cells <= width:
        return []
    if cells != len(text):
        return list(range(width, cells, width))
    starts: list[int] = []
    start = 0
    while cells - start > width:
        space = text.rfind(" ", start + width // 2, start + width + 1)
        start = space + 1 if space >= 0 else start + width
        starts.append(start)
    return starts


class WrappingLog(Log):
    """A ``Log`` whose long lines wrap onto several rows while ``wrap`` is true.

    Rows are counted per line in ``_row_ends`` (running totals since the last clear); pruning old
    lines from the top advances ``_rows_pruned`` instead of renumbering everything.
    """

    DEFAULT_CSS = """
    WrappingLog.-wrap {
        overflow-x: hidden;
    }
    """

    wrap: var[bool] = var(True, init=False, toggle_class="-wrap")
    """Whether long lines wrap (else they run on behind a horizontal scrollbar)."""

    def __init__(
        self,
        *,
        wrap: bool = True,
        highlight: bool = False,
        max_lines: int | None = None,
        id: str | None = None,
    ) -> None:
        super().__init__(highlight=highlight, max_lines=max_lines, id=id)
        self._wrap_width = 0  # cells per row while wrapping; 0: one row per line
        self._row_ends: list[int] = []  # per line: the running row total at its end
        self._rows_pruned = 0  # rows of the lines pruned from the top since the last clear
        self._lines_pruned = 0  # lines pruned since the last clear (keys of _strips stay valid)
        # Every row of a wrapped line is cut from the same rendered line: render it once.
        self._strips: LRUCache[int, Strip] = LRUCache(256)
        self.set_reactive(WrappingLog.wrap, wrap)
        self.set_class(wrap, "-wrap", update=False)

    # -- rows ----------------------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        """Rows the lines take at the current width (the virtual height)."""
        return self._row_ends[-1] - self._rows_pruned if self._row_ends else 0

    def first_row_of(self, index: int) -> int:
        """The row a line starts on."""
        return (self._row_ends[index - 1] if index else self._rows_pruned) - self._rows_pruned

    def line_at_row(self, row: int) -> int:
        """The index of the line shown on a row (the last line for rows past the end)."""
        return min(bisect_right(self._row_ends, row + self._rows_pruned), len(self._row_ends) - 1)

    def _row_starts(self, line: str) -> list[int]:
        return row_starts(self._process_line(line), self._wrap_width) if self._wrap_width else []

    def _count_rows(self, lines: Iterable[str]) -> None:
        total = self._row_ends[-1] if self._row_ends else self._rows_pruned
        ends = self._row_ends
        width = self._wrap_width
        for line in lines:
            # Most lines are this short: one row, without measuring (a character is at most 2 cells).
            short = 2 * len(line) <= width and "\t" not in line
            total += 1 if short else 1 + len(self._row_starts(line))
            ends.append(total)

    def _wanted_wrap_width(self) -> int:
        if not self.wrap:
            return 0
        width = self.scrollable_content_region.width
        # Not laid out (or hidden in another tab): keep the width it had.
        return width if width > 0 else self._wrap_width

    def _set_virtual_size(self) -> None:
        self.virtual_size = Size(self._wrap_width or self._width, self.row_count)

    def _rewrap(self) -> None:
        """Count every line's rows again at the current width; keep the same line on top."""
        width = self._wanted_wrap_width()
        if width == self._wrap_width:
            return
        at_end = self.is_vertical_scroll_end
        top = self.line_at_row(round(self.scroll_y)) if self._row_ends else 0
        self._wrap_width = width
        self._row_ends = []
        self._rows_pruned = 0
        self._count_rows(self._lines)
        self._set_virtual_size()
        if at_end:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        elif self._row_ends:
            self.scroll_to(y=self.first_row_of(top), animate=False, immediate=True)
        self.refresh()

    def watch_wrap(self) -> None:
        self._rewrap()

    def on_resize(self, event: events.Resize) -> None:
        self._rewrap()

    # -- writing -------------------------------------------------------------------------------

    def write(self, data: str, scroll_end: bool | None = None) -> WrappingLog:
        """Textual's ``write`` (text that may continue the last line), with the rows recounted."""
        self._row_ends = []  # recounted below: pruning must not use them meanwhile
        self._rows_pruned = 0
        self._strips.clear()  # the last line may have grown
        super().write(data, scroll_end=False)
        self._count_rows(self._lines)
        self._set_virtual_size()
        if self.auto_scroll if scroll_end is None else scroll_end:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        return self

    def write_lines(self, lines: Iterable[str], scroll_end: bool | None = None) -> WrappingLog:
        """Append lines; one refresh for the whole batch. Follows the end as ``Log`` does."""
        was_at_end = self.is_vertical_scroll_end
        follow = self.auto_scroll if scroll_end is None else scroll_end
        new_lines = [part for line in lines for part in line.splitlines()]
        if not new_lines:
            return self
        if self.wrap and not self._wrap_width:
            self._rewrap()  # written before the first layout: the width is known now, maybe
        self._lines.extend(new_lines)
        self._count_rows(new_lines)
        self._prune_max_lines()
        self._update_size(self._updates, new_lines)  # the widest line, for scrolling unwrapped
        self._set_virtual_size()
        if follow and was_at_end and not self.is_vertical_scrollbar_grabbed:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        else:
            self.refresh()
        return self

    def _prune_max_lines(self) -> None:
        if self.max_lines is None:
            return
        remove = len(self._lines) - self.max_lines
        if remove > 0:
            super()._prune_max_lines()
            self._lines_pruned += remove
            if self._row_ends:
                self._rows_pruned = self._row_ends[remove - 1]
                del self._row_ends[:remove]

    def _update_maximum_width(self, updates: int, size: int) -> None:
        # Log's version sets the virtual height to the line count: here it is the row count.
        if updates == self._updates:
            self._width = max(size, self._width)
            self._set_virtual_size()

    def clear(self) -> WrappingLog:
        super().clear()
        self._row_ends = []
        self._rows_pruned = 0
        self._lines_pruned = 0
        self._strips.clear()
        return self

    # -- drawing -------------------------------------------------------------------------------

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()

    def _render_line(self, y: int, scroll_x: int, width: int) -> Strip:
        if not self._wrap_width:
            return super()._render_line(y, scroll_x, width)
        rich_style = self.rich_style
        if y >= self.row_count:
            return Strip.blank(width, rich_style)
        index = self.line_at_row(y)
        strip = self._line_strip(index)
        starts = [0, *self._row_starts(self._lines[index]), strip.cell_length]
        piece = y - self.first_row_of(index)
        start, end = starts[piece], min(starts[piece + 1], starts[piece] + self._wrap_width)
        row = strip.crop(start, end).extend_cell_length(width, rich_style)
        # Offsets map a click or a selection back to the line and column it shows.
        return row.apply_offsets(start, index)

    def _line_strip(self, index: int) -> Strip:
        if self.text_selection is not None:
            return self._render_line_strip(index, self.rich_style)
        key = index + self._lines_pruned
        strip = self._strips.get(key)
        if strip is None:
            strip = self._render_line_strip(index, self.rich_style)
            self._strips[key] = strip
        return strip


class HoldingLog(WrappingLog):
    """A wrapping log that follows new lines only while the view is at the bottom.

    When the operator scrolls up it holds still, also when old lines are pruned from the top (the
    view is moved up by as many rows as were pruned, so the same lines stay in view).
    """

    follow: var[bool] = var(True)
    """Whether new lines scroll the view (True while the view is at the bottom)."""
    new_below: var[int] = var(0)
    """Lines written below the view while it was held."""

    def write_lines(self, lines: Iterable[str], scroll_end: bool | None = None) -> HoldingLog:
        batch = list(lines)
        if not batch:
            return self
        follow = self.follow if scroll_end is None else scroll_end
        rows_pruned_before = self._rows_pruned
        super().write_lines(batch, scroll_end=False)
        if follow and not self.is_vertical_scrollbar_grabbed:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
        else:
            pruned = self._rows_pruned - rows_pruned_before
            if pruned > 0:
                self.scroll_to(y=max(0, self.scroll_y - pruned), animate=False, immediate=True)
            self.new_below += len(batch)
        return self

    def follow_end(self) -> None:
        """Jump to the newest line and follow again."""
        self.scroll_end(animate=False, immediate=True, x_axis=False)
        self.follow = True
        self.new_below = 0

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        at_end = self.is_vertical_scroll_end
        self.follow = at_end
        if at_end:
            self.new_below = 0
