"""The Guilds pane: every guild with its prefix and shard; the highlighted one's channels, roles and
permission rules. A bot in no guild gets its invite link there instead."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Static

from tui_bot.tui.panes.tables import selected_key, sync_rows
from tui_bot.tui.reader import GuildDetails, GuildRow


def describe_guild(details: GuildDetails) -> Text:
    """The detail panel's text (built from Text parts, so names are never read as markup)."""
    row = details.row
    text = Text()
    text.append(row.name + "\n\n", style="bold")
    for label, value in (
        ("ID", str(row.id)),
        ("Owner", details.owner),
        ("Members", f"{row.members:,}"),
        ("Prefix", row.prefix),
        ("Shard", str(row.shard)),
    ):
        text.append(f"{label:<8} ", style="dim")
        text.append(value + "\n")
    text.append(f"\nChannels ({len(details.channels)})\n", style="bold")
    text.append(("  ".join(details.channels) or "none") + "\n")
    text.append(f"\nRoles ({len(details.roles)})\n", style="bold")
    text.append((", ".join(details.roles) or "none") + "\n")
    text.append("\nPermission rules\n", style="bold")
    if not details.rules:
        text.append("none: every command follows its own checks\n", style="dim")
    width = max((len(name) for name in details.rules), default=0)
    for command, roles in details.rules.items():
        allowed = "everyone (explicitly unrestricted)" if roles == "everyone" else ", ".join(roles)
        text.append(f"{command:<{width}}  ", style="bold")
        text.append(allowed + "\n")
    return text


def describe_no_guild(invite_url: str) -> Text:
    """The detail panel of a bot in no guild: what to do about it."""
    text = Text()
    text.append("The bot is in no guild yet.\n\n", style="bold")
    text.append("Open this link to add it to a server you manage (Ctrl+P, Invite link copies it):\n\n")
    text.append(invite_url, style="underline")
    return text


class GuildsPane(Vertical):
    """A table of guilds above (or beside) the highlighted guild's details."""

    class GuildHighlighted(Message):
        """The operator moved to another guild (``guild_id`` None: the table is empty)."""

        def __init__(self, guild_id: int | None) -> None:
            super().__init__()
            self.guild_id = guild_id

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        # Set by the console while the connected bot is in no guild: shown instead of a guild's details.
        self.invite_url: str | None = None

    def compose(self) -> ComposeResult:
        yield DataTable(id="guild-table", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(id="guild-details"):
            yield Static("No guild selected.", id="guild-detail-text")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("Name", key="name")
        table.add_column("ID", key="id")
        table.add_column("Members", key="members")
        table.add_column("Prefix", key="prefix")
        table.add_column("Shard", key="shard")

    @property
    def selected_guild(self) -> int | None:
        key = selected_key(self.query_one(DataTable))
        return None if key is None else int(key)

    def show_rows(self, rows: list[GuildRow]) -> None:
        """Show the current guilds, keeping the cursor on the same guild."""
        sync_rows(
            self.query_one(DataTable),
            [(str(r.id), (r.name, str(r.id), f"{r.members:,}", r.prefix, str(r.shard))) for r in rows],
        )
        if not rows:
            self.show_details(None)

    def show_details(self, details: GuildDetails | None) -> None:
        label = self.query_one("#guild-detail-text", Static)
        if details is None and self.invite_url is not None and self.query_one(DataTable).row_count == 0:
            label.update(describe_no_guild(self.invite_url))
        elif details is None:
            label.update("No guild selected." if self.selected_guild is None else "That guild is gone.")
        else:
            label.update(describe_guild(details))

    @on(DataTable.RowHighlighted, "#guild-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        key = event.row_key.value
        self.post_message(self.GuildHighlighted(None if key is None else int(key)))
