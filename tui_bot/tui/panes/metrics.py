"""The Metrics pane: counters, gateway and rate-limit health, commands per minute over the last hour,
top commands and latencies.

It renders one ``bot.metrics.get_stats()`` snapshot at a time (the app reads it every second while
the pane is shown) and only touches the widgets whose data changed. Its layout (console.tcss) fits
120x36 and 80x24: there the cards lose their borders and the top-commands table narrows, so every
latency column stays in view.
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Grid, Horizontal, Vertical
from textual.widgets import DataTable, Label, Sparkline, Static

from tui_bot.tui.panes.metrics_health import HealthRow


def format_duration(seconds: float) -> str:
    """``3723.4`` -> ``1h 02m 03s``; ``45`` -> ``45s``."""
    total = int(seconds)
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}h {minutes:02d}m"
    if hours:
        return f"{hours}h {minutes:02d}m {secs:02d}s"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def format_ms(value: float | None) -> str:
    return "–" if value is None else f"{format_ms_number(value)} ms"


def format_ms_number(value: float) -> str:
    """A latency in ms without its unit (the table's title names it): ``8.2``, ``22``, ``1,234``."""
    return f"{value:,.0f}" if value >= 10 else f"{value:.1f}"


NAME_WIDTH = 17  # command names are cut to this (with "…") so that a long one cannot push columns out


def short_name(name: str) -> str:
    """``name``, or its start and "…" when it is longer than NAME_WIDTH."""
    return name if len(name) <= NAME_WIDTH else name[: NAME_WIDTH - 1] + "…"


class StatCard(Vertical):
    """A labelled number."""

    def __init__(self, label: str, *, id: str) -> None:
        super().__init__(id=id, classes="card")
        self.label = label

    def compose(self) -> ComposeResult:
        yield Label(self.label, classes="card-label")
        yield Static("–", classes="card-value")

    def show(self, value: str) -> None:
        self.query_one(".card-value", Static).update(value)


CARDS = [
    ("uptime", "Uptime"),
    ("latency", "Gateway latency"),
    ("commands", "Commands run"),
    ("messages", "Messages seen"),
    ("refusals", "Refusals"),
    ("errors", "Errors"),
    ("guilds", "Guilds · users"),
]


class MetricsPane(Vertical):
    """Seven cards, the gateway and rate-limit health, a sparkline, and two tables."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._shown: dict[str, Any] = {}

    def compose(self) -> ComposeResult:
        with Grid(id="metric-cards"):
            for key, label in CARDS:
                yield StatCard(label, id=f"card-{key}")
        yield HealthRow(id="health-row")
        yield Label("Commands per minute, last 60 minutes", id="cpm-label")
        yield Sparkline([0] * 60, id="cpm")
        with Horizontal(id="metric-tables"):
            with Vertical(id="top-commands-box", classes="metric-table"):
                yield Label("Top commands (this run)", classes="table-title")
                yield DataTable(id="top-commands", cursor_type="none", zebra_stripes=True)
            with Vertical(id="command-latency-box", classes="metric-table"):
                yield Label("Latency per command (ms)", classes="table-title")
                yield DataTable(id="command-latency", cursor_type="none", zebra_stripes=True)

    def on_mount(self) -> None:
        self.query_one("#top-commands", DataTable).add_columns("Command", "Uses")
        self.query_one("#command-latency", DataTable).add_columns("Command", "Runs", "Avg", "p95", "Max")

    def _changed(self, key: str, value: Any) -> bool:
        if self._shown.get(key) == value:
            return False
        self._shown[key] = value
        return True

    def show_stats(self, stats: dict[str, Any], latency_ms: float | None) -> None:
        """Render one snapshot of ``bot.metrics.get_stats()`` (plus the gateway latency)."""
        values = {
            "uptime": format_duration(stats["uptime"]),
            "latency": format_ms(latency_ms),
            "commands": f"{stats['commands_processed']:,}",
            "messages": f"{stats['messages_seen']:,}",
            "refusals": f"{stats['refusal_count']:,}",
            "errors": f"{stats['error_count']:,}",
            "guilds": f"{stats['guilds']:,} · {stats['users']:,}",
        }
        for key, value in values.items():
            if self._changed(f"card-{key}", value):
                self.query_one(f"#card-{key}", StatCard).show(value)
                self.query_one(f"#card-{key}").set_class(key == "errors" and value != "0", "-alert")

        self.query_one(HealthRow).show(stats.get("gateway") or {}, stats.get("rate_limits") or {})

        per_minute = list(stats["commands_per_minute"])
        if self._changed("cpm", per_minute):
            self.query_one("#cpm", Sparkline).data = per_minute
            now, peak = per_minute[-1], max(per_minute)
            self.query_one("#cpm-label", Label).update(
                f"Commands per minute, last 60 minutes · this minute {now} · peak {peak}"
            )

        top = list(stats["top_commands"].items())
        if self._changed("top", top):
            table = self.query_one("#top-commands", DataTable)
            table.clear()
            table.add_rows([(short_name(name), f"{uses:,}") for name, uses in top])

        latency = [
            (name, t["count"], t["avg_ms"], t["p95_ms"], t["max_ms"]) for name, t in stats["latency"].items()
        ]
        if self._changed("latency", latency):
            table = self.query_one("#command-latency", DataTable)
            table.clear()
            table.add_rows(
                [
                    (
                        short_name(name),
                        f"{count:,}",
                        format_ms_number(avg),
                        format_ms_number(p95),
                        format_ms_number(top_ms),
                    )
                    for name, count, avg, p95, top_ms in latency
                ]
            )
