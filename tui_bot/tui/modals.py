"""Modal screens: the slash command sync plan, confirmed before anything is sent to Discord."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from tui_bot.core.sync import SyncPlan


def describe_plan(plan: SyncPlan) -> Text:
    """The difference between the local commands and Discord's, one command per line."""
    text = Text()
    if not plan.has_changes:
        text.append(f"Nothing to change: {plan.unchanged} command(s) are up to date on Discord.\n")
        text.append(
            "Syncing anyway sends the same commands again (it uses the sync rate limit).", style="dim"
        )
        return text
    for label, names, style, mark in (
        ("added", plan.added, "green", "+"),
        ("changed", plan.changed, "yellow", "~"),
        ("removed", plan.removed, "red", "-"),
    ):
        text.append(f"{len(names)} {label}\n", style="bold")
        for name in names:
            text.append(f"  {mark} {name}\n", style=style)
    text.append(f"{plan.unchanged} unchanged", style="dim")
    return text


class SyncPlanScreen(ModalScreen[bool]):
    """Shows what a sync would change; dismisses with True to sync, False to cancel."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "confirm", "Sync"),
        Binding("escape,n", "cancel", "Cancel"),
    ]

    def __init__(self, plan: SyncPlan) -> None:
        super().__init__()
        self.plan = plan

    def compose(self) -> ComposeResult:
        with Vertical(id="sync-dialog"):
            yield Label(f"Sync slash commands: {self.plan.scope}", id="sync-title")
            with VerticalScroll(id="sync-diff"):
                yield Static(describe_plan(self.plan), id="sync-plan")
            with Horizontal(id="sync-buttons"):
                label = "Sync" if self.plan.has_changes else "Sync anyway"
                yield Button(f"{label} (y)", variant="primary", id="sync-confirm")
                yield Button("Cancel (n)", id="sync-cancel")

    def on_mount(self) -> None:
        self.query_one("#sync-cancel", Button).focus()  # Enter on the default does nothing risky

    @on(Button.Pressed, "#sync-confirm")
    def action_confirm(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#sync-cancel")
    def action_cancel(self) -> None:
        self.dismiss(False)
