"""The status bar: connection state, shards, latency, guilds, hot reload, and sandbox or Discord."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from tui_bot.config.shards import format_shard_ids
from tui_bot.tui.connection import ConnectionState
from tui_bot.tui.panes.metrics import format_ms

STATE_STYLE = {
    ConnectionState.CONNECTING: "bold yellow",
    ConnectionState.READY: "bold green",
    ConnectionState.RESUMING: "bold dark_orange",
    ConnectionState.DISCONNECTED: "bold red",
}


class StatusBar(Widget):
    """One line at the bottom of the screen; every field is a reactive the app sets."""

    state: reactive[ConnectionState] = reactive(ConnectionState.CONNECTING)
    target = reactive("Discord")  # "sandbox" or "Discord"
    note = reactive("")  # e.g. "shutting down…", shown after the state
    shard_count = reactive(1)
    # The shards this process runs when it runs only some (a cluster worker): None for all of them.
    shard_ids: reactive[tuple[int, ...] | None] = reactive(None)
    shard_states: reactive[dict[int, ConnectionState]] = reactive(dict, always_update=True)
    latency_ms: reactive[float | None] = reactive(None)
    guilds = reactive(0)
    auto_reload: reactive[bool | None] = reactive(None)

    def render(self) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append("● ", style=STATE_STYLE[self.state])
        text.append(self.state.value, style=STATE_STYLE[self.state])
        if self.note:
            text.append(f" ({self.note})", style="italic")
        parts = [self.target]
        ids = self.shard_ids
        if ids and len(ids) < self.shard_count:
            # A worker: its own shards, and how many of those are ready (not "2/4", as if two were down).
            ready = sum(self.shard_states.get(i) is ConnectionState.READY for i in ids)
            own = f"shards {format_shard_ids(ids)} of {self.shard_count}"
            parts.append(f"{own}: {ready}/{len(ids)} ready" if self.shard_states else own)
        elif self.shard_states:
            ready = sum(state is ConnectionState.READY for state in self.shard_states.values())
            parts.append(f"shards {ready}/{self.shard_count} ready")
        else:
            parts.append("1 shard" if self.shard_count == 1 else f"{self.shard_count} shards")
        parts.append(f"latency {format_ms(self.latency_ms)}")
        parts.append(f"{self.guilds} guild" + ("" if self.guilds == 1 else "s"))
        if self.auto_reload is not None:
            parts.append(f"auto-reload {'on' if self.auto_reload else 'off'}")
        for part in parts:
            text.append(" │ ", style="dim")
            text.append(part)
        return text
