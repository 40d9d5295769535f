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

from tui_bot.config.model import CacheConfig
from tui_bot.config.store import ConfigStore
from tui_bot.core.actions import BotActions
from tui_bot.core.builtins import install_builtins
from tui_bot.core.checks import allow_owners
from tui_bot.core.clustering import BotClusterMember, ClusterSettings
from tui_bot.core.context import TuiContext
from tui_bot.core.cooldowns import install_cooldowns
from tui_bot.core.errors import ErrorHandler
from tui_bot.core.extensions import ExtensionManager
from tui_bot.core.framework import FrameworkBot
from tui_bot.core.gc_tuning import GcTuning
from tui_bot.core.health import BotHealth
from tui_bot.core.help import install_help
from tui_bot.core.lifecycle import DEFAULT_SHUTDOWN_TIMEOUT, Lifecycle
from tui_bot.core.metrics import Metrics
from tui_bot.core.presence import build_activity
from tui_bot.core.redaction import install_http_redaction
from tui_bot.core.role_rules import PermissionRules, role_rule_check
from tui_bot.core.tree import TuiTree
from tui_bot.logs.redaction import PROCESS_REDACTOR
from tui_bot.logs.setup import remove_old_logs
from tui_bot.storage import AtomicFileHandler, BotDatabase, DatabaseError, global_file_handler, open_database

log = logging.getLogger("tui_bot.bot")

PRESENCE_REFRESH_SECONDS = 300.0
LOG_CLEANUP_SECONDS = 3600.0


def default_intents(cache: CacheConfig | None = None) -> discord.Intents:
    """What the framework uses: guild messages with their content (prefix commands).

    The privileged members intent only when config.json's ``cache.members`` is "all": role rules and
    permission checks read the roles that arrive with each message and interaction, not a member cache.
    """
    intents = discord.Intents.default()
    intents.message_content = True
    intents.members = cache is not None and cache.keeps_all_members
    return intents


def cache_options(cache: CacheConfig, intents: discord.Intents) -> dict[str, Any]:
    """discord.py's cache options for ``cache`` (config.json) under ``intents``.

    Members are cached in full only when the config asks for it *and* the members intent is on (an
    explicit ``intents=`` without it wins: discord.py could not keep the cache up to date). Members in
    voice channels stay cached as discord.py does by default (``voice_states``): they are few.
    """
    keep_all = cache.keeps_all_members and intents.members
    flags = discord.MemberCacheFlags.from_intents(intents)
    flags.joined = keep_all
    return {
        "member_cache_flags": flags,
        "chunk_guilds_at_startup": keep_all and cache.chunk_guilds_at_startup,
        # discord.py reads max_messages=0 as its default of 1000; None is what disables the cache.
        "max_messages": cache.max_messages or None,
    }


class _HandledInDispatch:
    """Hides ``commands.Bot.on_message`` from discord.py's dispatch (see ``TuiBot.dispatch``)."""

    def __get__(self, instance: object, owner: type | None = None) -> Any:
        raise AttributeError("TuiBot handles messages in dispatch(); use a listener for on_message")


class TuiBot(FrameworkBot, commands.Bot):
    """A ``commands.Bot`` whose settings come from config.json.

    Extension authors reach the framework through it: ``bot.db`` (raw SQL: ``bot.db.fetch``/``execute`` on
    either engine, ``bot.db.conn`` on SQLite, ``bot.db.pool`` on PostgreSQL),
    ``bot.file_handler`` (the shared atomic JSON handler), ``bot.config`` (dotted get/set),
    ``bot.extension_manager``, ``bot.permission_rules``, ``bot.actions`` (operator actions),
    ``bot.metrics`` (counters), ``bot.health`` (gateway and rate limits) and ``bot.error_handler``.

    ``shutdown_timeout``: how long ``close()`` waits for running commands to finish. ``database_url``:
    ``DATABASE_URL`` from .env or the environment, which wins over config.json's ``database.url``.
    """

    def __init__(
        self,
        config: ConfigStore,
        *,
        owner_ids: set[int] | None = None,
        database: BotDatabase | None = None,
        database_url: str | None = None,
        file_handler: AtomicFileHandler | None = None,
        intents: discord.Intents | None = None,
        shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT,
        force_session_starts: bool = False,
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
        if "shard_count" not in options and "shard_ids" not in options:
            # config.json's shards, unless the caller (the command line's --shard-count/--shard-ids)
            # chose them: the count and the ids go together, both from one place.
            sharding = settings.sharding
            if isinstance(sharding.shard_count, int):  # "auto": discord.py asks Discord for the count
                options["shard_count"] = sharding.shard_count
            if sharding.shard_ids is not None:
                options["shard_ids"] = list(sharding.shard_ids)
        intents = intents or default_intents(settings.cache)
        if settings.cache.keeps_all_members and not intents.members:
            log.warning('cache.members is "all" but the intents given lack members: only a minimal cache')
        for name, value in cache_options(settings.cache, intents).items():
            options.setdefault(name, value)  # an explicit option (a test's, say) wins over config.json
        # Gateway and REST health (core/health.py): REST through discord.py's public http_trace option.
        self.health = BotHealth()
        options["http_trace"] = self.health.rest.trace_config(options.get("http_trace"))
        super().__init__(
            command_prefix=self._prefix_for,
            intents=intents,
            # Echoed user input must never ping anyone unless a command opts in.
            allowed_mentions=discord.AllowedMentions.none(),
            case_insensitive=True,
            tree_cls=options.pop("tree_cls", TuiTree),
            **options,
        )
        install_http_redaction()  # no secret leaves in a message, embed or interaction reply
        # PostgreSQL when DATABASE_URL (``database_url``) or database.url is set, else the SQLite file.
        self.db = database or open_database(settings.database, url=database_url)
        PROCESS_REDACTOR.add_secrets(self.db.secrets)  # a password in database.url is never shown
        self.file_handler = file_handler or global_file_handler
        self.file_handler.cache_ttl = settings.cache_ttl
        self.guild_prefixes: dict[int, str] = {}
        # prefix -> ([mention forms..., prefix], the same as a tuple for str.startswith)
        self._prefix_cache: dict[str, tuple[list[str], tuple[str, ...]]] = {}
        self.permission_rules = PermissionRules(self.db, settings.command_permissions)
        self.extension_manager = ExtensionManager(
            self,
            settings.extensions.directory,
            settings.extensions.blacklist,
            load_timeout=settings.extensions.load_timeout,
        )
        self._background: list[asyncio.Task[None]] = []
        self.shutdown_timeout = shutdown_timeout
        self.health.gateway.watch(self)
        self.metrics = Metrics(self, database=self.db, health=self.health)
        self.db.flush_listeners.append(self.metrics.flush_finished)
        self.lifecycle = Lifecycle(self.metrics, self.db)
        self.actions = BotActions(self)
        self.error_handler = ErrorHandler(self.http, self.metrics)
        self.gc_tuning = GcTuning()
        # Set in setup_hook when this process is a cluster worker (PostgreSQL and a numeric shard count).
        self.cluster: BotClusterMember | None = None
        self.force_session_starts = force_session_starts
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

    def _prepared_prefixes(self, message: discord.Message) -> tuple[list[str], tuple[str, ...]]:
        # Served from memory (the guild prefixes are loaded at start-up and updated on every change) as
        # one prepared list per prefix: the mention forms plus the prefix, as discord.py's
        # when_mentioned_or builds them, without rebuilding them for every message.
        guild = message.guild
        prefix = self.prefix_for_guild(guild.id if guild is not None else None)
        prepared = self._prefix_cache.get(prefix)
        if prepared is None:
            listed = commands.when_mentioned_or(prefix)(self, message)
            prepared = (listed, tuple(listed))
            if self.user is not None:  # the mention forms need the bot's id
                self._prefix_cache[prefix] = prepared
        return prepared

    @staticmethod
    def _prefix_for(bot: TuiBot, message: discord.Message) -> list[str]:
        return bot._prepared_prefixes(message)[0]

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
        install_cooldowns(command, self.config.model.cooldowns)  # O(1) buckets, the config default
        allow_owners(command)  # bot owners pass has_permissions/has_role & co.

    # discord.py schedules a task for ``on_message`` for every message, the bot's own echoes and plain
    # chat included. The bot decides in ``dispatch`` instead, synchronously, whether a message can be a
    # command at all (not from a bot, starts with a prefix in force) and only then starts a task for
    # it. Listeners (``@commands.Cog.listener()``) and ``wait_for`` still see every message.
    on_message = _HandledInDispatch()

    def dispatch(self, event_name: str, /, *args: Any, **kwargs: Any) -> None:
        if event_name == "message":
            message: discord.Message = args[0]
            self.metrics.message_seen()
            if self.lifecycle.accepting and self._may_be_command(message):
                asyncio.create_task(self._process_message(message))  # noqa: RUF006 - like discord.py's events
        super().dispatch(event_name, *args, **kwargs)

    def _may_be_command(self, message: discord.Message) -> bool:
        if message.author.bot:
            return False  # discord.py's process_commands ignores bots too
        if self.command_prefix is not TuiBot._prefix_for:
            return True  # an extension replaced the prefix: let discord.py decide
        return message.content.startswith(self._prepared_prefixes(message)[1])

    async def _process_message(self, message: discord.Message) -> None:
        try:
            await self.process_commands(message)
        except Exception:
            await self.on_error("on_message", message)

    async def invoke(self, ctx: commands.Context, /) -> None:
        """Run a prefix command, tracked: latency, usage count, and the graceful shutdown waits for it."""
        if ctx.command is None:
            await super().invoke(ctx)  # CommandNotFound, or not a command at all
            return
        if not self.lifecycle.accepting:
            return
        lifecycle = self.lifecycle
        name = ctx.command.qualified_name
        started = lifecycle.begin()
        ok = False
        try:
            await super().invoke(ctx)
            ok = not ctx.command_failed
        finally:
            await lifecycle.end(started, name, ok)

    async def on_command_error(self, ctx: commands.Context, error: commands.CommandError, /) -> None:
        await self.error_handler.on_command_error(ctx, error)

    async def get_context(
        self, origin: discord.Message | discord.Interaction, /, *, cls: Any = TuiContext
    ) -> Any:
        """Every invocation gets a TuiContext: its replies arrive exactly once (core/context.py)."""
        return await super().get_context(origin, cls=cls)

    # -- life cycle -------------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._background.append(task)

    async def setup_hook(self) -> None:
        await self.db.connect()
        self.cluster = self._cluster_member()
        if self.cluster is not None:
            # Before the gateway: claim the shards (refused if another live worker holds one).
            await self.cluster.join()
            await self.cluster.reload_guild(None)  # only the served guilds' settings are kept
        else:
            self.guild_prefixes = await self.db.get_all_guild_prefixes()
        settings = self.config.model
        if settings.extensions.auto_load:
            await self.extension_manager.load_all()
        else:
            log.info("extensions.auto_load is false: no extension loaded at start-up")
        if settings.auto_reload:
            self.actions.start_watcher()
        self._spawn(self._refresh_presence_forever(), "tui-bot:presence")
        self._spawn(self.gc_tuning.run_refreezes(), "tui-bot:gc-refreeze")
        self._spawn(self._remove_old_logs_forever(), "tui-bot:log-cleanup")

    def _cluster_member(self) -> BotClusterMember | None:
        """A cluster worker when the database is PostgreSQL and the shard count is a number."""
        url = getattr(self.db, "url", None)
        shard_count = self.shard_count
        if url is None or not isinstance(shard_count, int):
            return None
        shard_ids = tuple(getattr(self, "shard_ids", None) or range(shard_count))
        timings = self.config.model.cluster
        settings = ClusterSettings(
            shard_ids=shard_ids,
            shard_count=shard_count,
            heartbeat=timings.heartbeat,
            stale_after=timings.stale_after,
            identify_window=timings.identify_window,
            action_timeout=timings.action_timeout,
            force_session_starts=self.force_session_starts,
        )
        return BotClusterMember(self, url, settings)

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """In a cluster: wait for the shard's bucket turn, cluster-wide; else discord.py's own spacing."""
        if self.cluster is not None:
            await self.cluster.wait_identify_turn(shard_id)
            return
        await super().before_identify_hook(shard_id, initial=initial)

    async def on_ready(self) -> None:
        log.info(
            "Connected as %s (id %s) to %d guild(s)",
            self.user,
            self.user.id if self.user else "?",
            len(self.guilds),
        )
        self.gc_tuning.apply()  # the start-up heap (modules, caches) is frozen out of collections
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
        # The usage counts are saved before extension code runs again (a cog_unload that blocks for good
        # would lose them); db.close() retries and reports a failure.
        with contextlib.suppress(DatabaseError):
            await self.db.flush_stats()
        # Within a few seconds in all: discord.py's own unloading (in super().close()) has no time limit,
        # and a hung cog_unload there would keep the database from being closed.
        await self.extension_manager.unload_all()
        await super().close()
        if self.cluster is not None:
            await self.cluster.leave()  # frees the shards at once for a replacement worker
        await self.db.close(backup=True)
        if self.gc_tuning.applied:
            self.gc_tuning.restore_defaults()  # the process may go on (the console, tests)


class ShardedTuiBot(TuiBot, commands.AutoShardedBot):
    """The same bot on discord.py's AutoShardedBot: one gateway connection per shard, in one process."""


def create_bot(config: ConfigStore, **options: Any) -> TuiBot:
    """A TuiBot, sharded when config.json's ``sharding.shard_count`` is set (a number or "auto") or the
    caller passes ``shard_count``/``shard_ids`` (which then replace config.json's ``sharding``)."""
    sharded = "shard_count" in options or "shard_ids" in options
    if config.model.sharding.shard_count is None and not sharded:
        return TuiBot(config, **options)
    return ShardedTuiBot(config, **options)
