"""The Extensions pane: every extension's state, load time, last reload and last error; the
highlighted one's commands, or its traceback when it failed.

Errors and tracebacks are the operator's to read in full, but redacted: an exception message may quote
the token (an extension that failed with it in hand).
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Static

from tui_bot.logs.redaction import redact
from tui_bot.tui.panes.tables import selected_key, sync_rows
from tui_bot.tui.reader import ExtensionRow

STATUS_STYLE = {"loaded": "green", "failed": "bold red", "blacklisted": "yellow", "unloaded": "dim"}
ERROR_COLUMN_WIDTH = 48


def _cells(row: ExtensionRow) -> tuple[str | Text, ...]:
    error = redact(row.last_error or "")
    if len(error) > ERROR_COLUMN_WIDTH:
        error = error[: ERROR_COLUMN_WIDTH - 1] + "…"
    return (
        row.name,
        Text(row.status, style=STATUS_STYLE.get(row.status, "")),
        "–" if row.load_ms is None else f"{row.load_ms:,.0f} ms",
        row.last_loaded or "–",
        Text(error, style="red") if error else "",
    )


def describe_extension(row: ExtensionRow) -> Text:
    """The detail panel's text for one extension."""
    text = Text()
    text.append(row.name, style="bold")
    text.append(f"  {row.status}\n", style=STATUS_STYLE.get(row.status, ""))
    if row.status == "failed" or (row.traceback and row.status != "loaded"):
        text.append(redact(row.last_error or "failed") + "\n\n", style="bold red")
        text.append(redact(row.traceback or "(no traceback recorded)"), style="red")
        return text
    if row.status == "blacklisted":
        text.append("In extensions.blacklist (config.json): not loaded at start-up. Load it with l.\n")
    elif row.status == "unloaded":
        text.append("Not loaded. Load it with l.\n")
    if row.commands:
        text.append(f"\nCommands ({len(row.commands)}): ", style="bold")
        text.append(", ".join(row.commands) + "\n")
    if row.status == "loaded" and row.last_error:
        # A failed reload keeps the previous version running: say so, with the reason.
        text.append("\nThe last reload failed; the previous version is still running:\n", style="yellow")
        text.append(redact(row.traceback or row.last_error), style="red")
    return text


class ExtensionsPane(Vertical):
    """A table of extensions above the highlighted one's details."""

    class ExtensionHighlighted(Message):
        """The operator moved to another extension (``name`` None: the table is empty)."""

        def __init__(self, name: str | None) -> None:
            super().__init__()
            self.name = name

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.rows: dict[str, ExtensionRow] = {}

    def compose(self) -> ComposeResult:
        yield DataTable(id="extension-table", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(id="extension-details"):
            yield Static("No extension selected.", id="extension-detail-text")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for label in ("Extension", "State", "Load time", "Last reload", "Last error"):
            table.add_column(label, key=label.lower())

    @property
    def selected_extension(self) -> str | None:
        return selected_key(self.query_one(DataTable))

    def show_rows(self, rows: list[ExtensionRow]) -> None:
        """Show the current extensions, keeping the cursor on the same one."""
        changed = {r.name: r for r in rows} != self.rows
        self.rows = {r.name: r for r in rows}
        sync_rows(self.query_one(DataTable), [(r.name, _cells(r)) for r in rows])
        if changed:
            self._show_details()

    def _show_details(self) -> None:
        name = self.selected_extension
        row = None if name is None else self.rows.get(name)
        self.query_one("#extension-detail-text", Static).update(
            "No extension selected." if row is None else describe_extension(row)
        )

    @on(DataTable.RowHighlighted, "#extension-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        self._show_details()
        self.post_message(self.ExtensionHighlighted(event.row_key.value))
