"""The Cluster pane: every worker of the cluster this bot belongs to, read from PostgreSQL.

Shown only when the bot is a cluster worker (the console adds it once the bot has claimed its shards).
It reads the status table every few seconds while it is on screen, in a Textual worker: the query
never holds up the screen, and a database that does not answer is said on the pane, not raised.
Stale workers (not seen for ``stale_after`` seconds: killed, frozen, their host gone) are in red.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from tui_bot.cluster.membership import WorkerStatus
from tui_bot.cluster.status import ClusterStatus, ago_text, ids_text, shard_summary
from tui_bot.logs.redaction import redact
from tui_bot.tui.panes.tables import Cell, sync_rows

REFRESH_SECONDS = 2.0
# A worker that stopped cleanly stays listed this long (the operator sees it left), then drops off:
# every restart adds a row, and `tui-bot cluster status --all` has the whole history.
STOPPED_SHOWN_SECONDS = 600.0

STATUS_STYLES = {"up": "bold green", "stale": "bold red", "stopped": "dim"}
ROW_STYLES = {"up": "", "stale": "red", "stopped": "dim"}

ReadWorkers = Callable[[], Awaitable[list[WorkerStatus]]]


def shown_workers(workers: Sequence[WorkerStatus]) -> list[WorkerStatus]:
    """Running and stale workers, and the ones that stopped in the last few minutes."""
    return [w for w in workers if not w.stopped or w.seconds_since_seen <= STOPPED_SHOWN_SECONDS]


def worker_row(worker: WorkerStatus, this_worker: str) -> tuple[str, list[Cell]]:
    """A table row: the worker's cells, all of a stale one in red (its status in bold)."""
    style = ROW_STYLES[worker.label]
    name = worker.worker_id + (" (this)" if worker.worker_id == this_worker else "")
    cells: list[Cell] = [
        Text(name, style=style),
        Text(worker.label, style=STATUS_STYLES[worker.label]),
        Text(ids_text(worker.shard_ids), style=style),
        Text(str(worker.guilds), style=style),
        Text(ago_text(worker.seconds_since_seen), style=style),
        Text(worker.version, style=style),
        Text(shard_summary(worker), style=style),
    ]
    return worker.worker_id, cells


def summary_text(status: ClusterStatus) -> Text:
    """``● 2 workers up · 1 stale · 4/4 shards · 3 servers``, green when healthy, else red."""
    text = Text()
    text.append("● ", style="bold green" if status.healthy else "bold red")
    text.append(status.totals(), style="bold")
    if status.stale:
        stale = ", ".join(w.worker_id for w in status.stale)
        text.append(f"   stale: {stale} (a worker started for its shards takes them over)", style="red")
    return text


class ClusterPane(Vertical):
    """A one-line summary, a table of workers, and where the numbers come from."""

    def __init__(self, read: ReadWorkers, *, this_worker: str, stale_after: float, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.read = read
        self.this_worker = this_worker
        self.stale_after = stale_after
        self.last_read: float | None = None  # time.monotonic() of the last successful read
        self.problem: str | None = None

    def compose(self) -> ComposeResult:
        yield Static("Reading the cluster status…", id="cluster-summary")
        yield DataTable(id="cluster-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="cluster-note")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for label, key in (
            ("Worker", "worker"),
            ("Status", "status"),
            ("Shards", "shards"),
            ("Guilds", "guilds"),
            ("Last seen", "seen"),
            ("Version", "version"),
            ("Shard states (latency)", "states"),
        ):
            table.add_column(label, key=key)
        self.set_interval(REFRESH_SECONDS, self._tick)
        self.refresh_status()

    def on_show(self) -> None:
        self.refresh_status()  # shown again: fresh numbers now, not at the next tick

    def _tick(self) -> None:
        if self.is_on_screen:  # hidden behind another tab: no query
            self.refresh_status()

    @work(exclusive=True, group="cluster-status", exit_on_error=False)
    async def refresh_status(self) -> None:
        try:
            workers = await self.read()
        except Exception as error:  # PostgreSQL away or restarting: say so, try again next tick
            self.show_problem(f"{type(error).__name__}: {error}" if str(error) else type(error).__name__)
            return
        self.show_status(ClusterStatus(workers))

    def show_status(self, status: ClusterStatus) -> None:
        self.problem = None
        self.last_read = time.monotonic()
        sync_rows(
            self.query_one(DataTable),
            [worker_row(worker, self.this_worker) for worker in shown_workers(status.workers)],
        )
        if not status.workers:
            self.query_one("#cluster-summary", Static).update("No worker has joined this cluster yet.")
        else:
            self.query_one("#cluster-summary", Static).update(summary_text(status))
        self.query_one("#cluster-note", Static).update(
            Text(
                f"Read from PostgreSQL every {REFRESH_SECONDS:g} s. A worker not seen for "
                f"{self.stale_after:g} s is stale. `tui-bot cluster status --all` lists stopped workers too.",
                style="dim",
            )
        )

    def show_problem(self, problem: str) -> None:
        """The last read failed: keep the rows (marked as old) and say why."""
        self.problem = redact(problem)
        when = (
            "never read"
            if self.last_read is None
            else f"last read {ago_text(time.monotonic() - self.last_read)}"
        )
        self.query_one("#cluster-note", Static).update(
            Text(f"The cluster status could not be read ({self.problem}); {when}. Retrying.", style="red")
        )
