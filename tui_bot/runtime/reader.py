"""Reads the live bot into plain rows for the console's panes: the one place they look inside the bot.

Panes render these dataclasses and never touch discord.py objects, so a test can freeze the volatile
values (uptime, latencies, load times, clock times) by subclassing :class:`BotReader`, and a snapshot
of the screen is the same on every run and machine. It lives in the runtime, not in the console,
because the admin endpoint (:mod:`tui_bot.runtime.admin`) reads the same rows for an attached console
in a process that never imports Textual.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import discord

if TYPE_CHECKING:
    from tui_bot.core.bot import TuiBot


@dataclass(frozen=True)
class GuildRow:
    """One line of the Guilds table."""

    id: int
    name: str
    members: int
    prefix: str
    shard: int


@dataclass(frozen=True)
class GuildDetails:
    """What the Guilds pane shows for the selected guild."""

    row: GuildRow
    owner: str
    channels: list[str]
    roles: list[str]
    rules: dict[str, list[str] | Literal["everyone"]]


@dataclass(frozen=True)
class ExtensionRow:
    """One line of the Extensions table; ``last_loaded`` is already a clock time (or "")."""

    name: str
    status: str
    load_ms: float | None
    last_loaded: str
    last_error: str | None
    traceback: str | None
    commands: list[str] = field(default_factory=list)


def local_clock(timestamp: float) -> str:
    """A wall-clock timestamp as the operator's local time of day."""
    return time.strftime("%H:%M:%S", time.localtime(timestamp))


class BotReader:
    """Snapshots of one bot, taken on the console's timers (cheap: in-memory reads, but for one REST
    fetch per guild of its owner's name when the member cache does not hold it)."""

    def __init__(self, bot: TuiBot, *, clock_text: Callable[[float], str] = local_clock) -> None:
        self.bot = bot
        self.clock_text = clock_text
        # (guild id, owner id) -> the owner's name: asked of Discord once, not on every refresh.
        self._owner_names: dict[tuple[int, int], str] = {}

    # -- metrics and connection ----------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """``bot.metrics.get_stats()``: counters, top commands, per-command latency, per-minute counts."""
        return self.bot.metrics.get_stats()

    def gateway_latency_ms(self) -> float | None:
        """The last heartbeat round trip, or None before the first one."""
        return self.bot.metrics.gateway_latency_ms()

    def shard_count(self) -> int:
        return self.bot.shard_count or 1

    def shard_ids(self) -> tuple[int, ...] | None:
        """The shards this process runs when it runs only some (a cluster worker, ``--shard-ids``)."""
        ids = getattr(self.bot, "shard_ids", None)
        return tuple(sorted(ids)) if ids else None

    def auto_reload(self) -> bool:
        """Whether hot reload is on (the saved setting; the watcher follows it)."""
        return bool(self.bot.config.model.auto_reload)

    # -- guilds --------------------------------------------------------------------------------

    def _row(self, guild: discord.Guild) -> GuildRow:
        return GuildRow(
            id=guild.id,
            name=guild.name,
            # Discord's count from GUILD_CREATE (kept current by join/leave events when cache.members is
            # "all"); never len(guild.members), which only counts the members discord.py caches.
            members=guild.member_count or 0,
            prefix=self.bot.prefix_for_guild(guild.id),
            shard=guild.shard_id,
        )

    def guilds(self) -> list[GuildRow]:
        """Every guild the bot is in, by name."""
        return sorted((self._row(g) for g in self.bot.guilds), key=lambda r: (r.name.casefold(), r.id))

    async def guild_details(self, guild_id: int) -> GuildDetails | None:
        """Channels, roles and permission rules of one guild (the rules may need the database once)."""
        guild = self.bot.get_guild(guild_id)
        if guild is None:
            return None
        rules = await self.bot.permission_rules.describe_rules(guild)
        channels = [
            f"#{channel.name}" if isinstance(channel, discord.TextChannel) else channel.name
            for channel in sorted(guild.channels, key=lambda c: (c.position, c.id))
            if not isinstance(channel, discord.CategoryChannel)
        ]
        roles = [role.name for role in reversed(guild.roles) if not role.is_default()]
        return GuildDetails(self._row(guild), await self._owner_name(guild), channels, roles, rules)

    async def _owner_name(self, guild: discord.Guild) -> str:
        """The owner's name: from the member cache if it holds them, else fetched once and remembered."""
        if guild.owner is not None:
            return str(guild.owner)
        if guild.owner_id is None:
            return "?"
        key = (guild.id, guild.owner_id)
        name = self._owner_names.get(key)
        if name is None:
            try:
                name = str(await guild.fetch_member(guild.owner_id))
            except (discord.HTTPException, ConnectionError):
                name = str(guild.owner_id)  # remembered too: the panel refreshes every second
            self._owner_names[key] = name
        return name

    # -- extensions ----------------------------------------------------------------------------

    def extension_commands(self, name: str) -> list[str]:
        """The prefix/hybrid commands an extension added (its cogs' and its module's own)."""
        qualified = self.bot.extension_manager.qualified(name)
        return sorted(
            command.qualified_name
            for command in self.bot.walk_commands()
            if command.module == qualified or command.module.startswith(qualified + ".")
        )

    def extensions(self) -> list[ExtensionRow]:
        """One row per extension, by name."""
        rows = []
        manager = self.bot.extension_manager
        states = manager.states
        for name in manager.known_names():
            state = states.get(name)
            rows.append(
                ExtensionRow(
                    name=name,
                    status=manager.status_of(name).value,
                    load_ms=None
                    if state is None or state.load_seconds is None
                    else state.load_seconds * 1000,
                    last_loaded=""
                    if state is None or state.last_loaded_at is None
                    else self.clock_text(state.last_loaded_at),
                    last_error=None if state is None else state.last_error,
                    traceback=None if state is None else state.traceback,
                    commands=self.extension_commands(name),
                )
            )
        return rows
