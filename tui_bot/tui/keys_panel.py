"""The keys panel (``?``): Textual's own help panel, a little wider.

It lists the keys that work now, with what each does: the focused pane's (a table's cursor keys, the log's
filter) and the console's (``l``, ``s``, ``q`` ...; another pane's keys are left out while it is open, see
``ConsoleApp.check_action``). Textual keeps it current as the focus and the enabled keys change.
"""

from __future__ import annotations

from textual.widgets import HelpPanel


class KeysPanel(HelpPanel):
    """Textual's HelpPanel, wide enough that most descriptions fit on one line."""

    DEFAULT_CSS = """
    KeysPanel {
        width: 45%;
        max-width: 72;
    }
    """
