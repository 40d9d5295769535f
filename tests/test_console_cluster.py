"""The console's Cluster pane: every worker of the cluster, read from PostgreSQL, stale ones in red.

The bot is a real cluster worker (PostgreSQL, ``sharding.shard_count`` 2, short cluster timings) run by
the console against the sandbox. A second worker that stopped heart-beating five minutes ago is a row
inserted in ``tui_cluster_workers``, as a killed process leaves it.
"""

from __future__ import annotations

import json

import asyncpg
from console_harness import console, running  # noqa: F401 - console is a fixture
from helpers.postgres import postgres_url  # noqa: F401 - a fixture
from helpers.waiting import wait_until
from textual.app import App, ComposeResult
from textual.widgets import DataTable, Static

from tui_bot.cluster.membership import WorkerStatus, read_workers
from tui_bot.tui.panes import ClusterPane

GHOST = "ghost-host:4242:dead00"
CLUSTER_TIMINGS = {"heartbeat": 0.5, "stale_after": 3, "identify_window": 0.1, "action_timeout": 5}


async def insert_stale_worker(url: str) -> None:
    """A worker for shard 1 last seen five minutes ago: killed, its host gone, or frozen."""
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(
            "INSERT INTO tui_cluster_workers (worker_id, host, pid, shard_ids, shard_count, version, state, "
            "started_at, last_seen) VALUES ($1, 'ghost-host', 4242, '{1}', 2, '0.9.0', $2::jsonb, "
            "clock_timestamp() - interval '10 minutes', clock_timestamp() - interval '5 minutes')",
            GHOST,
            json.dumps({"shards": {"1": {"state": "ready", "latency_ms": 41.0}}, "guilds": 3}),
        )
    finally:
        await connection.close()


def row_text(table: DataTable, key: str) -> list[str]:
    return [str(cell) for cell in table.get_row(key)]


async def test_the_cluster_pane_lists_every_worker_and_marks_a_stale_one(
    console,  # noqa: F811
    postgres_url: str,  # noqa: F811
) -> None:
    console.write_config(database={"url": postgres_url}, sharding={"shard_count": 2}, cluster=CLUSTER_TIMINGS)
    app = console.build()
    async with running(app) as pilot:
        bot = app.bot
        assert bot is not None and bot.cluster is not None
        me = bot.cluster.node.worker_id
        await wait_until(lambda: bool(app.query("TabPane#cluster")), what="the Cluster tab", pilot=pilot)
        await insert_stale_worker(postgres_url)

        await pilot.press("6")
        assert app.tabs.active == "cluster"
        pane = app.query_one(ClusterPane)
        table = pane.query_one(DataTable)
        await wait_until(lambda: table.row_count == 2, what="two workers in the table", pilot=pilot)
        # This worker, serving both shards, each ready with its latency.
        await wait_until(
            lambda: "0 ready" in row_text(table, me)[6] and "1 ready" in row_text(table, me)[6],
            what="both shards ready",
            pilot=pilot,
        )
        mine = row_text(table, me)
        assert mine[:4] == [f"{me} (this)", "up", "0-1", "1"]
        assert mine[4].endswith(" s ago") and " ms" in mine[6]
        # The ghost: stale, in red, with what it last reported.
        ghost = table.get_row(GHOST)
        assert [str(cell) for cell in ghost] == [
            GHOST,
            "stale",
            "1",
            "3",
            "5 min ago",
            "0.9.0",
            "1 ready 41 ms",
        ]
        assert "red" in str(ghost[1].style) and "bold" in str(ghost[1].style)
        assert all("red" in str(cell.style) for cell in ghost)
        assert "red" not in str(table.get_row(me)[0].style)
        summary = str(pane.query_one("#cluster-summary", Static).render())
        assert "1 worker up · 1 stale · 2/2 shards · 1 server" in summary
        assert f"stale: {GHOST}" in summary
        note = str(pane.query_one("#cluster-note", Static).render())
        assert "A worker not seen for 3 s is stale" in note


async def test_a_bot_that_is_not_a_cluster_worker_has_no_cluster_pane(console) -> None:  # noqa: F811
    app = console.build()  # SQLite, one shard: no cluster
    async with running(app) as pilot:
        assert app.bot is not None and app.bot.cluster is None
        await pilot.press("6")
        await pilot.pause()
        assert not app.query("TabPane#cluster") and app.tabs.active == "logs"
        titles = {command.title for command in app.palette_commands()}
        assert "Show Cluster" not in titles and "Show Logs" in titles


class PaneOnly(App[None]):
    def __init__(self, pane: ClusterPane) -> None:
        super().__init__()
        self.pane = pane

    def compose(self) -> ComposeResult:
        yield self.pane


async def test_the_cluster_pane_says_when_the_database_cannot_be_read() -> None:
    # Nothing listens on port 1: the read fails as with PostgreSQL down. The password is never shown.
    async def read() -> list[WorkerStatus]:
        connection = await asyncpg.connect("postgresql://bot:hunter2secret@127.0.0.1:1/db", timeout=5)
        return await read_workers(connection)

    pane = ClusterPane(read, this_worker="me", stale_after=15)
    app = PaneOnly(pane)
    async with app.run_test() as pilot:
        note = pane.query_one("#cluster-note", Static)
        await wait_until(lambda: pane.problem is not None, what="the failed read", pilot=pilot)
        text = str(note.render())
        assert text.startswith("The cluster status could not be read (") and "never read" in text
        assert "hunter2secret" not in text
        assert str(pane.query_one("#cluster-summary", Static).render()) == "Reading the cluster status…"
