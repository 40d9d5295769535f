"""The fixed set of things an attached console may ask: snapshots of the bot and the operator's actions.

Each verb is a method here, picked from :data:`AdminVerbs.table` by name; its arguments are checked (type
and size) before anything runs. There is no verb that evaluates, imports or runs what a client sends:
the actions are the same ``bot.actions`` calls the console keys and the owner commands make (load,
unload and reload on every worker of a cluster, as the keys do).
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from tui_bot import __version__
from tui_bot.runtime.admin.connection import ConnectionTracker
from tui_bot.runtime.reader import BotReader

if TYPE_CHECKING:
    from tui_bot.core.bot import TuiBot

MAX_NAME_CHARS = 200
MODERATION = "moderation"  # the starter extension whose commands need kick, ban and manage messages

Verb = Callable[[Mapping[str, Any]], Awaitable[Any]]


class VerbError(ValueError):
    """A request that cannot be answered (unknown verb, bad argument, the bot closing); said to the client."""


def _name(arguments: Mapping[str, Any]) -> str:
    name = arguments.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME_CHARS:
        raise VerbError(f"'name' must be an extension name (text of 1 to {MAX_NAME_CHARS} characters)")
    return name.strip()


def _guild_id(arguments: Mapping[str, Any], *, required: bool) -> int | None:
    guild_id = arguments.get("guild_id")
    if guild_id is None and not required:
        return None
    if isinstance(guild_id, bool) or not isinstance(guild_id, int) or not 0 < guild_id < 2**64:
        raise VerbError("'guild_id' must be a guild id (a positive whole number)")
    return guild_id


def _flag(arguments: Mapping[str, Any], key: str) -> bool:
    value = arguments.get(key, False)
    if not isinstance(value, bool):
        raise VerbError(f"'{key}' must be true or false")
    return value


class AdminVerbs:
    """Answers the verbs for one bot."""

    def __init__(
        self, bot: TuiBot, reader: BotReader, tracker: ConnectionTracker, *, target: str, instance: str
    ) -> None:
        self.bot = bot
        self.reader = reader
        self.tracker = tracker
        self.target = target
        self.instance = instance
        self.table: dict[str, Verb] = {
            "status": self.status,
            "stats": self.stats,
            "guilds": self.guilds,
            "guild_details": self.guild_details,
            "extensions": self.extensions,
            "invite_info": self.invite_info,
            "cluster_workers": self.cluster_workers,
            "load": self.load,
            "unload": self.unload,
            "reload": self.reload,
            "reload_all": self.reload_all,
            "plan_sync": self.plan_sync,
            "sync": self.sync,
            "set_auto_reload": self.set_auto_reload,
            "backup": self.backup,
            "atomictest": self.atomictest,
        }

    async def run(self, op: str, arguments: Mapping[str, Any]) -> Any:
        verb = self.table.get(op)
        if verb is None:
            raise VerbError(f"unknown request {op[:40]!r}")
        return await verb(arguments)

    def hello(self) -> dict[str, Any]:
        """Who answers: sent once, in reply to the client's hello."""
        return {
            "instance": self.instance,
            "pid": os.getpid(),
            "version": __version__,
            "target": self.target,
        }

    # -- snapshots -----------------------------------------------------------------------------

    def _cluster(self) -> dict[str, Any] | None:
        cluster = self.bot.cluster
        if cluster is None or not cluster.node.started:
            return None
        return {"worker_id": cluster.node.worker_id, "stale_after": cluster.node.stale_after}

    async def status(self, _arguments: Mapping[str, Any]) -> dict[str, Any]:
        bot, reader = self.bot, self.reader
        return {
            "instance": self.instance,
            "target": self.target,
            "user": None if bot.user is None else str(bot.user),
            "closed": bot.is_closed(),
            "connection": self.tracker.current(),
            "shards": {str(shard): state for shard, state in self.tracker.shards.items()},
            "latency_ms": reader.gateway_latency_ms(),
            "shard_count": reader.shard_count(),
            "shard_ids": reader.shard_ids(),
            "guilds": len(bot.guilds),
            "auto_reload": reader.auto_reload(),
            "application_id": bot.application_id,
            "cluster": self._cluster(),
        }

    async def stats(self, _arguments: Mapping[str, Any]) -> dict[str, Any]:
        return self.reader.stats()

    async def guilds(self, _arguments: Mapping[str, Any]) -> Any:
        return self.reader.guilds()

    async def guild_details(self, arguments: Mapping[str, Any]) -> Any:
        guild_id = _guild_id(arguments, required=True)
        assert guild_id is not None
        return await self.reader.guild_details(guild_id)

    async def extensions(self, _arguments: Mapping[str, Any]) -> Any:
        return self.reader.extensions()

    async def invite_info(self, _arguments: Mapping[str, Any]) -> dict[str, Any]:
        """What the invite link is made of: the application id and whether moderation is enabled."""
        manager = self.bot.extension_manager
        moderation = MODERATION in manager.discover() and not manager.is_blacklisted(MODERATION)
        return {"application_id": self.bot.application_id, "moderation": moderation}

    async def cluster_workers(self, _arguments: Mapping[str, Any]) -> Any:
        cluster = self.bot.cluster
        if cluster is None or not cluster.node.started:
            raise VerbError("this bot is not a cluster worker")
        return await cluster.node.workers()

    # -- actions -------------------------------------------------------------------------------

    def _open(self) -> None:
        if self.bot.is_closed():
            raise VerbError("the bot is shutting down")

    async def load(self, arguments: Mapping[str, Any]) -> Any:
        self._open()
        return await self.bot.actions.everywhere("load", _name(arguments))

    async def unload(self, arguments: Mapping[str, Any]) -> Any:
        self._open()
        return await self.bot.actions.everywhere("unload", _name(arguments))

    async def reload(self, arguments: Mapping[str, Any]) -> Any:
        self._open()
        return await self.bot.actions.everywhere("reload", _name(arguments))

    async def reload_all(self, _arguments: Mapping[str, Any]) -> Any:
        self._open()
        return await self.bot.actions.reload_all_everywhere()

    async def plan_sync(self, arguments: Mapping[str, Any]) -> Any:
        self._open()
        return await self.bot.actions.plan_sync(_guild_id(arguments, required=False))

    async def sync(self, arguments: Mapping[str, Any]) -> Any:
        self._open()
        guild_id = _guild_id(arguments, required=False)
        return await self.bot.actions.sync(guild_id, force=_flag(arguments, "force"))

    async def set_auto_reload(self, arguments: Mapping[str, Any]) -> Any:
        self._open()
        return await self.bot.actions.set_auto_reload(_flag(arguments, "on"))

    async def backup(self, _arguments: Mapping[str, Any]) -> Any:
        self._open()
        return await self.bot.actions.backup()

    async def atomictest(self, _arguments: Mapping[str, Any]) -> Any:
        self._open()
        return await self.bot.actions.atomictest()
