"""The admin endpoint: how ``tui-bot attach`` reaches a running bot (console, headless or cluster worker).

Transport: a Unix socket, by default ``admin.sock`` in the folder of ``database.path`` (mode 0600 from the
moment it exists; on Linux the peer's uid must be the bot's too), and optionally TCP on a loopback address
(``admin.tcp_port``), where the client must present ``ADMIN_TOKEN`` (compared in constant time).

Protocol: newline-delimited JSON over the stream, one object per line, UTF-8.

- The client's first line is ``{"id": 1, "op": "hello", "version": 1, "token": "..."}`` (the token over
  TCP only). The reply is ``{"id": 1, "ok": true, "result": {"instance", "pid", "version", "target"}}`` or
  ``{"ok": false, "refused": true, "error": "..."}`` and the connection is closed. No hello within 5 s:
  closed.
- Then requests ``{"id": N, "op": VERB, ...arguments}``, answered (in any order) by ``{"id": N, "ok": true,
  "result": ...}`` or ``{"id": N, "ok": false, "error": "..."}``. Verbs (:mod:`.verbs`, a fixed set; none
  runs code it is sent): snapshots ``status``, ``stats``, ``guilds``, ``guild_details`` (``guild_id``),
  ``extensions``, ``invite_info``, ``cluster_workers``; actions ``load``/``unload``/``reload`` (``name``; on
  every worker of a cluster), ``reload_all``, ``plan_sync`` and ``sync`` (``guild_id`` or null, ``force``),
  ``set_auto_reload`` (``on``), ``backup``, ``atomictest``; and ``subscribe_logs`` (``instance``,
  ``after``: resume after the last record seen of that same bot process, else the recent history).
- Pushed by the server, without an id: ``{"event": "logs", "records": [{"seq", "level", "logger",
  "created", "message", "text"}], "dropped": N}`` (about ten batches a second; a client's queue is bounded
  and ``dropped`` counts what it lost), ``{"event": "connection", "state", "shard"}`` and ``{"event":
  "hot_reload", "result"}``.
- Results and rows are typed objects ``{"$type": "SyncPlan", ...}`` (:mod:`.protocol`).

A line that is not a JSON object with an integer id and an op ends the session (logged); so does a client
that stops reading for 10 s. The bot never waits on a client.
"""

from tui_bot.runtime.admin.client import (
    AdminClient,
    AdminError,
    AdminRefused,
    ConnectionLost,
    Target,
    parse_target,
)
from tui_bot.runtime.admin.server import AdminServer
from tui_bot.runtime.admin.socket_file import socket_path

__all__ = [
    "AdminClient",
    "AdminError",
    "AdminRefused",
    "AdminServer",
    "ConnectionLost",
    "Target",
    "parse_target",
    "socket_path",
]
