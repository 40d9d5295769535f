"""Updating a DataTable from fresh rows without losing the operator's place in it."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import DataTable

Cell = str | Text


def selected_key(table: DataTable) -> str | None:
    """The key of the highlighted row, or None when the table is empty."""
    if table.row_count == 0 or not 0 <= table.cursor_row < table.row_count:
        return None
    return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value


def sync_rows(table: DataTable, rows: Sequence[tuple[str, Sequence[Cell]]]) -> bool:
    """Make ``table`` show ``rows`` (key, cells); return True if rows were added, removed or reordered.

    Unchanged tables are left alone (no refresh); changed cells are updated in place; a different
    set of rows rebuilds the table and puts the cursor back on the same key when it still exists.
    """
    keys = [key for key, _ in rows]
    if keys != [row_key.value for row_key in table.rows]:
        selected = selected_key(table)
        table.clear()
        for key, cells in rows:
            table.add_row(*cells, key=key)
        if selected in keys:
            table.move_cursor(row=keys.index(selected), animate=False)
        return True
    columns = list(table.columns)
    for key, cells in rows:
        for column, old, new in zip(columns, table.get_row(key), cells, strict=True):
            if old != new:
                # The column widens for a longer value: a column sized for "loaded" would cut "unloaded".
                table.update_cell(key, column, new, update_width=True)
    return False
