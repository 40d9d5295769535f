"""The Metrics pane's health row: each shard's gateway connection and the REST rate limits.

Both render the ``"gateway"`` and ``"rate_limits"`` parts of ``bot.metrics.get_stats()`` (see
``tui_bot/core/health.py``): plain JSON data, the same for the in-process console and an attached one.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Label, Static

STATE_STYLES = {"ready": "green", "connecting": "yellow", "resuming": "yellow", "disconnected": "red"}


def count_text(count: int, more: bool) -> str:
    """``1,024`` or, when more happened than the bot kept the times of, ``1,024+``."""
    return f"{count:,}+" if more else f"{count:,}"


def shard_rows(gateway: dict[str, dict[str, Any]]) -> list[tuple[str, Text, str, str, str]]:
    """One row per shard, by shard id: shard, state (coloured), latency, identifies and resumes (24 h)."""
    rows = []
    for shard, entry in sorted(gateway.items(), key=lambda item: int(item[0])):
        state = str(entry.get("state", "?"))
        latency = entry.get("latency_ms")
        rows.append(
            (
                shard,
                Text(state, style=STATE_STYLES.get(state, ""), justify="left"),
                "–" if latency is None else f"{latency:,.0f} ms",
                count_text(entry.get("identifies_24h", 0), bool(entry.get("identifies_24h_more"))),
                count_text(entry.get("resumes_24h", 0), bool(entry.get("resumes_24h_more"))),
            )
        )
    return rows


def rate_limit_lines(limits: dict[str, Any]) -> str:
    """Three short lines: 429s in the last hour (global ones among them), the global limit, the waits."""
    recent = count_text(limits.get("429_last_hour", 0), bool(limits.get("429_last_hour_more")))
    global_recent = limits.get("global_429_last_hour", 0)
    first = f"429s (1 h): {recent}" + (f" · {global_recent:,} global" if global_recent else "")
    in_force = "IN FORCE" if limits.get("global_limit_in_force") else "none"
    waited = sum((limits.get("wait_seconds") or {}).values())
    return f"{first}\nGlobal limit: {in_force}\nWaited: {waited:,.1f} s"


class HealthRow(Horizontal):
    """The gateway table (a row per shard) beside the rate-limit summary."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._shown: dict[str, Any] = {}

    def compose(self) -> ComposeResult:
        with Vertical(id="gateway-box", classes="health-box"):
            yield Label("Gateway · identifies and resumes: last 24 h", classes="table-title")
            yield DataTable(id="gateway-shards", cursor_type="none", zebra_stripes=True)
        with Vertical(id="rate-limit-box", classes="health-box"):
            yield Label("Rate limits", classes="table-title")
            yield Static("–", id="rate-limits")

    def on_mount(self) -> None:
        self.query_one("#gateway-shards", DataTable).add_columns(
            "Shard", "State", "Latency", "Identifies", "Resumes"
        )

    def show(self, gateway: dict[str, dict[str, Any]], limits: dict[str, Any]) -> None:
        """Render the ``gateway`` and ``rate_limits`` parts of one stats snapshot."""
        rows = shard_rows(gateway)
        plain = [(shard, state.plain, *rest) for shard, state, *rest in rows]
        if self._shown.get("gateway") != plain:
            self._shown["gateway"] = plain
            table = self.query_one("#gateway-shards", DataTable)
            table.clear()
            table.add_rows(rows)
            self.query_one("#gateway-box").set_class(
                any(state.plain != "ready" for _shard, state, *_rest in rows), "-alert"
            )
        text = rate_limit_lines(limits)
        if self._shown.get("limits") != text:
            self._shown["limits"] = text
            self.query_one("#rate-limits", Static).update(text)
            self.query_one("#rate-limit-box").set_class(bool(limits.get("global_limit_in_force")), "-alert")
