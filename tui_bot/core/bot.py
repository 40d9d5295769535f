"""The bot: discord.py's ``commands.Bot`` wired to config.json, the database and the extensions folder."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import discord
from discord.ext import commands

from tui_bot.config.store import ConfigStore
from tui_bot.core.actions import BotActions
from tui_bot.core.builtins import install_builtins
from tui_bot.core.checks import allow_owners
from tui_bot.core.cooldowns import apply_default_cooldown
from tui_bot.core.errors import ErrorHandler
from tui_bot.core.extensions import ExtensionManager
from tui_bot.core.help import install_help
from tui_bot.core.lifecycle import DEFAULT_SHUTDOWN_TIMEOUT, Lifecycle
from tui_bot.core.metrics import Metrics
from tui_bot.core.permissions import PermissionRules, role_rule_check
from tui_bot.core.presence import build_activity
from tui_bot.core.tree import TuiTree
from tui_bot.logs.setup import remove_old_logs
from tui_bot.storage import AtomicFileHandler, Database, global_file_handler

log = logging.getLogger("tui_bot.bot")

PRESENCE_REFRESH_SECONDS = 300.0
LOG_CLEANUP_SECONDS = 3600.0


def default_intents() -> discord.Intents:
    """What the framework uses: guild messages with their content (prefix commands) and members
    (permission rules need members' roles)."""
    intents = discord.Intents.default()
    intents.message_content = True
    intents.members = True
    return intents


class TuiBot(commands.Bot):
    """A ``commands.Bot`` whose settings come from config.json.

    Extension authors reach the framework through it: ``bot.db`` (and ``bot.db.conn`` for raw SQL),
    ``bot.file_handler`` (the shared atomic JSON handler), ``bot.config`` (dotted get/set),
    ``bot.extension_manager``, ``bot.permission_rules``, ``bot.actions`` (operator actions),
    ``bot.metrics`` (counters) and ``bot.error_handler``.

    ``shutdown_timeout``: how long ``close()`` waits for running commands to finish.
    """

    def __init__(
        self,
        config: ConfigStore,
        *,
        owner_ids: set[int] | None = None,
        database: Database | None = None,
        file_handler: AtomicFileHandler | None = None,
        intents: discord.Intents | None = None,
        shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT,
        **options: Any,
    ) -> None:
        # The framework has no voice features; don't warn at every start that voice libraries are missing.
        discord.VoiceClient.warn_nacl = False
        if hasattr(discord.VoiceClient, "warn_dave"):
            discord.VoiceClient.warn_dave = False
        settings = config.model
        # Set before discord.py's __init__, which registers its help command through add_command.
        self.config = config
        owners = set(settings.owner_ids) | set(owner_ids or ())
        if owners:
            # discord.py falls back to the application's owner when owner_ids is empty.
            options["owner_ids"] = owners
        shard_count = settings.sharding.shard_count
        if isinstance(shard_count, int):
            options.setdefault("shard_count", shard_count)  # "auto": discord.py asks Discord for the count
        super().__init__(
            command_prefix=self._prefix_for,
            intents=intents or default_intents(),
            # Echoed user input must never ping anyone unless a command opts in.
            allowed_mentions=discord.AllowedMentions.none(),
            case_insensitive=True,
            tree_cls=options.pop("tree_cls", TuiTree),
            **options,
        )
        self.db = database or Database(settings.database.path, backup_keep=settings.database.backup_keep)
        self.file_handler = file_handler or global_file_handler
        self.file_handler.cache_ttl = settings.cache_ttl
        self.guild_prefixes: dict[int, str] = {}
        self.permission_rules = PermissionRules(self.db, settings.command_permissions)
        self.extension_manager = ExtensionManager(
            self, settings.extensions.directory, settings.extensions.blacklist
        )
        self._background: list[asyncio.Task[None]] = []
        self.shutdown_timeout = shutdown_timeout
        self.metrics = Metrics(self)
        self.lifecycle = Lifecycle(self)
        self.actions = BotActions(self)
        self.error_handler = ErrorHandler(self)
        self._close_lock = asyncio.Lock()
        self.add_check(role_rule_check)
        install_help(self)
        install_builtins(self)

    # -- prefixes ---------------------------------------------------------------------------

    def prefix_for_guild(self, guild_id: int | None) -> str:
        """The prefix in force in a guild: its own, else config.json's ``prefix``."""
        if guild_id is not None and guild_id in self.guild_prefixes:
            return self.guild_prefixes[guild_id]
        return self.config.model.prefix

    @staticmethod
    async def _prefix_for(bot: TuiBot, message: discord.Message) -> list[str]:
        # Served from memory: the cache is filled at start-up and updated on every change.
        guild_id = message.guild.id if message.guild else None
        return commands.when_mentioned_or(bot.prefix_for_guild(guild_id))(bot, message)

    async def set_guild_prefix(self, guild_id: int, prefix: str | None) -> None:
        """Store a guild's prefix (None restores the default) and update the cache."""
        await self.db.set_guild_prefix(guild_id, prefix)
        if prefix is None:
            self.guild_prefixes.pop(guild_id, None)
        else:
            self.guild_prefixes[guild_id] = prefix

    # -- commands ---------------------------------------------------------------------------

    def add_command(self, command: commands.Command[Any, ..., Any], /) -> None:
        super().add_command(command)
        apply_default_cooldown(command, self.config.model.cooldowns)
        allow_owners(command)  # bot owners pass has_permissions/has_role & co.

    async def on_message(self, message: discord.Message) -> None:
        self.metrics.message_seen()
        if self.lifecycle.accepting:  # during shutdown new prefix commands are ignored
            await self.process_commands(message)

    async def invoke(self, ctx: commands.Context, /) -> None:
        """Run a prefix command, tracked: latency, usage count, and the graceful shutdown waits for it."""
        if ctx.command is None:
            await super().invoke(ctx)  # CommandNotFound, or not a command at all
            return
        if not self.lifecycle.accepting:
            return
        async with self.lifecycle.track() as invocation:
            invocation.name = ctx.command.qualified_name
            await super().invoke(ctx)
            invocation.ok = not ctx.command_failed

    async def on_command_error(self, ctx: commands.Context, error: commands.CommandError, /) -> None:
        await self.error_handler.on_command_error(ctx, error)

    # -- life cycle -------------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._background.append(task)

    async def setup_hook(self) -> None:
        await self.db.connect()
        self.guild_prefixes = await self.db.get_all_guild_prefixes()
        settings = self.config.model
        if settings.extensions.auto_load:
            await self.extension_manager.load_all()
        else:
            log.info("extensions.auto_load is false: no extension loaded at start-up")
        if settings.auto_reload:
            self.actions.start_watcher()
        self._spawn(self._refresh_presence_forever(), "tui-bot:presence")
        self._spawn(self._remove_old_logs_forever(), "tui-bot:log-cleanup")

    async def on_ready(self) -> None:
        log.info(
            "Connected as %s (id %s) to %d guild(s)",
            self.user,
            self.user.id if self.user else "?",
            len(self.guilds),
        )
        await self.refresh_presence()

    def presence_counts(self) -> dict[str, int]:
        """The numbers that ``status.text`` can show."""
        return {
            "guilds": len(self.guilds),
            "users": sum(guild.member_count or 0 for guild in self.guilds),
            "commands": len(self.commands),
        }

    async def refresh_presence(self) -> None:
        """Show ``status`` from config.json with the current counts."""
        if self.ws is None or self.is_closed():
            return
        activity = build_activity(self.config.model.status, **self.presence_counts())
        await self.change_presence(activity=activity)

    async def _refresh_presence_forever(self) -> None:
        await self.wait_until_ready()
        while not self.is_closed():
            await asyncio.sleep(PRESENCE_REFRESH_SECONDS)
            try:
                await self.refresh_presence()
            except (discord.HTTPException, ConnectionError) as error:
                log.warning("Could not refresh the presence: %s", error)

    async def _remove_old_logs_forever(self) -> None:
        directory = Path(self.config.model.logging.directory)
        while not self.is_closed():
            try:
                removed = await asyncio.to_thread(remove_old_logs, directory)
            except OSError as error:
                log.warning("Could not clean old logs in %s: %s", directory, error)
            else:
                for path in removed:
                    log.info("Removed log file older than 30 days: %s", path)
            await asyncio.sleep(LOG_CLEANUP_SECONDS)

    async def close(self) -> None:
        """Stop taking commands, let running ones finish (up to ``shutdown_timeout`` s), stop background
        work, disconnect, then flush stats and back up the database. Safe to call more than once."""
        async with self._close_lock:
            if self.is_closed() and self.db.connected is False:
                return
            await self.lifecycle.shutdown(self.shutdown_timeout, self._close_now)

    async def _close_now(self) -> None:
        await self.actions.stop_watcher()
        for task in self._background:
            task.cancel()
        for task in self._background:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._background.clear()
        await super().close()
        await self.db.close(backup=True)


class ShardedTuiBot(TuiBot, commands.AutoShardedBot):
    """The same bot on discord.py's AutoShardedBot: one gateway connection per shard, in one process."""


def create_bot(config: ConfigStore, **options: Any) -> TuiBot:
    """A TuiBot, sharded when config.json's ``sharding.shard_count`` is set (a number or "auto")."""
    if config.model.sharding.shard_count is None:
        return TuiBot(config, **options)
    return ShardedTuiBot(config, **options)
