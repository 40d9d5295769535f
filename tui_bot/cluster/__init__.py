"""Cluster mode: several processes, each serving a range of shards, coordinated through one PostgreSQL.

Every piece of coordination is a table or a channel of the database the bot already uses, so there is
no home-made IPC: shard claims and worker status (:mod:`.membership`), cluster-wide IDENTIFY spacing
(:mod:`.identify`), guild-setting changes (:mod:`.invalidation`) and owner actions on every worker
(:mod:`.bus`). Nothing here imports the bot: the core hands in callbacks.
"""

from tui_bot.cluster.bus import ActionBus, WorkerReply
from tui_bot.cluster.identify import IdentifyGate
from tui_bot.cluster.invalidation import GuildChangeListener
from tui_bot.cluster.membership import ShardClaimError, WorkerRegistry, WorkerStatus, read_workers
from tui_bot.cluster.node import ClusterNode, listener_connector
from tui_bot.cluster.schema import ensure_schema

__all__ = [
    "ActionBus",
    "ClusterNode",
    "GuildChangeListener",
    "IdentifyGate",
    "ShardClaimError",
    "WorkerRegistry",
    "WorkerReply",
    "WorkerStatus",
    "ensure_schema",
    "listener_connector",
    "read_workers",
]
