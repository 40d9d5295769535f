"""``!stats`` on a cluster worker: this worker's own numbers, which part of the cluster it is, and the
cluster's totals read from PostgreSQL (workers up and stale, shards served, servers)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from helpers.postgres import postgres_url  # noqa: F401 - a fixture
from test_builtins import embed_of, fields
from test_console_cluster import CLUSTER_TIMINGS, GHOST, insert_stale_worker

if TYPE_CHECKING:
    from conftest import BotHarness


async def test_stats_on_a_cluster_worker_shows_the_cluster_totals(
    postgres_url: str,  # noqa: F811 - first: dropped after the harness has stopped the bot
    harness: BotHarness,
) -> None:
    bot = await harness.start(
        database={"url": postgres_url}, sharding={"shard_count": 2}, cluster=CLUSTER_TIMINGS
    )
    assert bot.cluster is not None
    await insert_stale_worker(postgres_url)
    shown = fields(await embed_of(harness, "operator", "!stats"))
    assert shown["Servers"] == "1"  # this worker's own
    assert shown["This worker"] == f"shards 0-1 of 2 · `{bot.cluster.node.worker_id}`"
    assert shown["Cluster"] == "1 worker up · 1 stale · 2/2 shards · 1 server"
    assert GHOST not in shown["Cluster"]


async def test_stats_of_a_lone_bot_has_no_cluster_field(harness: BotHarness) -> None:
    await harness.start()
    shown = fields(await embed_of(harness, "operator", "!stats"))
    assert "Cluster" not in shown and "This worker" not in shown
