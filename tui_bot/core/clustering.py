"""The bot as a cluster worker: what the cluster layer needs from it, handed over as callbacks.

Built by the runtime when the database is PostgreSQL and this process serves a range of shards
(``sharding.shard_ids`` / ``--shard-ids``). The bot then claims its shards before connecting, waits for
its bucket's turn before each IDENTIFY, keeps only the guild settings of the guilds it serves (reloaded
when another process changes them) and runs owner actions on every worker.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import discord

from tui_bot import __version__
from tui_bot.cluster import ClusterNode, WorkerReply, listener_connector
from tui_bot.core.results import ALL_EXTENSIONS, ActionResult

if TYPE_CHECKING:
    from tui_bot.core.bot import TuiBot

log = logging.getLogger("tui_bot.cluster")


class SessionStartsExhausted(RuntimeError):
    """Discord's ``session_start_limit`` has fewer starts left than this worker needs."""


def shard_of(guild_id: int, shard_count: int) -> int:
    """The shard Discord sends a guild's events to."""
    return (guild_id >> 22) % shard_count


@dataclass(frozen=True)
class ClusterActionResult(ActionResult):
    """An owner action run on every worker: one reply per worker (a silent one says so)."""

    action: str
    name: str
    replies: list[WorkerReply] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.replies) and all(reply.ok for reply in self.replies)

    def describe(self) -> str:
        done = sum(reply.ok for reply in self.replies)
        head = f"{self.action} {self.name}: {done}/{len(self.replies)} worker(s) ok"
        return head + "".join(f"\n{reply.describe()}" for reply in self.replies)


@dataclass(frozen=True)
class ClusterSettings:
    """How this worker joins: its shards and the timings (short ones make tests fast)."""

    shard_ids: tuple[int, ...]
    shard_count: int
    heartbeat: float = 3.0
    stale_after: float = 15.0
    identify_window: float = 5.0
    action_timeout: float = 10.0
    force_session_starts: bool = False


class BotClusterMember:
    """Connects a :class:`TuiBot` to a :class:`ClusterNode`."""

    def __init__(self, bot: TuiBot, dsn: str, settings: ClusterSettings) -> None:
        self.bot = bot
        self.settings = settings
        self.node = ClusterNode(
            pool=bot.db.pool,
            connect=listener_connector(dsn),
            shard_ids=settings.shard_ids,
            shard_count=settings.shard_count,
            version=__version__,
            state=self.state,
            run_action=self._run_here,
            serves=self.serves,
            reload_guild=self.reload_guild,
            heartbeat=settings.heartbeat,
            stale_after=settings.stale_after,
            identify_window=settings.identify_window,
            action_timeout=settings.action_timeout,
        )

    @property
    def shard_ids(self) -> Sequence[int]:
        return self.settings.shard_ids

    def serves(self, guild_id: int) -> bool:
        return shard_of(guild_id, self.settings.shard_count) in self.settings.shard_ids

    async def join(self) -> None:
        """Before the gateway: claim the shards (ShardClaimError if taken) and check session starts."""
        await self.node.start()
        try:
            limits = await self.bot.http.get_bot_gateway()
        except discord.HTTPException as error:
            log.warning(
                "Cluster: could not read gateway/bot (%s); IDENTIFYs spaced for max_concurrency 1", error
            )
            await self.node.prepare_identify(1)
            return
        start_limit: dict[str, Any] = dict(limits[2])
        remaining = int(start_limit.get("remaining", 0))
        needed = len(self.settings.shard_ids)
        if remaining < needed and not self.settings.force_session_starts:
            await self.node.close()
            reset = float(start_limit.get("reset_after", 0)) / 1000
            raise SessionStartsExhausted(
                f"Discord allows {remaining} more session start(s) before its limit resets in "
                f"{reset / 3600:.1f} h, "
                f"and this worker needs {needed}. Wait for the reset, or pass --force-session-starts."
            )
        await self.node.prepare_identify(int(start_limit.get("max_concurrency", 1)))

    async def wait_identify_turn(self, shard_id: int | None) -> None:
        await self.node.wait_identify_turn(shard_id or 0)

    def state(self) -> dict[str, Any]:
        """What the status table shows of this worker: per-shard state and latency, guild count."""
        bot = self.bot
        shards: dict[str, dict[str, Any]] = {}
        infos = getattr(bot, "shards", {}) or {}
        for shard_id in self.settings.shard_ids:
            info = infos.get(shard_id)
            if info is None:
                shards[str(shard_id)] = {"state": "connecting", "latency_ms": None}
                continue
            latency = info.latency
            state = "closed" if info.is_closed() else ("ready" if bot.is_ready() else "connecting")
            shards[str(shard_id)] = {
                "state": state,
                "latency_ms": None
                if latency != latency or latency == float("inf")
                else round(latency * 1000, 1),
            }
        return {"shards": shards, "guilds": len(bot.guilds), "ready": bot.is_ready()}

    async def _run_here(self, verb: str, name: str) -> tuple[bool, str]:
        actions = self.bot.actions
        redact = self.bot.error_handler.redact
        if verb == "reload" and name == ALL_EXTENSIONS:
            batch = await actions.reload_all()
            return batch.ok, redact(batch.describe())
        run = {"load": actions.load, "unload": actions.unload, "reload": actions.reload}[verb]
        result = await run(name)
        text = result.describe() if result.ok else (result.error or result.describe())
        return result.ok, redact(text)

    async def everywhere(self, verb: str, name: str) -> ClusterActionResult:
        replies = await self.node.request(verb, name)
        result = ClusterActionResult(verb, name, replies)
        (log.info if result.ok else log.warning)("Cluster %s", result.describe())
        return result

    async def reload_guild(self, guild_id: int | None) -> None:
        """Drop the cached settings of one served guild (or all) and read them again."""
        bot = self.bot
        if guild_id is None:
            prefixes = await bot.db.get_all_guild_prefixes()
            bot.guild_prefixes = {gid: p for gid, p in prefixes.items() if self.serves(gid)}
            bot.permission_rules.forget(None)
            log.info("Cluster: guild settings reloaded for every served guild")
            return
        prefix = await bot.db.get_guild_prefix(guild_id)
        if prefix is None:
            bot.guild_prefixes.pop(guild_id, None)
        else:
            bot.guild_prefixes[guild_id] = prefix
        bot.permission_rules.forget(guild_id)

    async def leave(self) -> None:
        await self.node.close()
