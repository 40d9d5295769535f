"""The operator's actions in one place (``bot.actions``): what the console's keys, its command palette
and the Discord owner commands call.

Every action is a method called by name (no string dispatch), logs its outcome and returns an
:class:`~tui_bot.core.results.ActionResult`: ``.ok`` and ``.describe()`` for every caller, and the
structured outcome for a fuller view. None raises for an expected failure (a bad extension name, a sync
Discord refused, a failed backup).

Which caller runs what:

- ``load``, ``unload``, ``reload``: keys ``l`` ``u`` ``r``; commands ``load``/``unload``/``reload <ext>``;
- ``reload_all``: key ``R``; command ``reload all``;
- ``plan_sync`` then ``sync``: keys ``s`` ``g`` (the plan is shown and confirmed first); command ``sync``;
- ``backup``: key ``b``; command ``backup``;
- ``set_auto_reload``: key ``a``; command ``autoreload on|off``;
- ``atomictest``: the command palette; command ``atomictest``.

The command palette offers every key's action by name too, and hot reload (``auto_reload``) loads, reloads
and unloads through the same methods: a load that adds slash commands says so the same way everywhere
(they reach Discord only with a sync, which is never automatic).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import discord

from tui_bot.core import sync as sync_module
from tui_bot.core.extensions import ExtensionNameError, ExtensionResult
from tui_bot.core.hot_reload import watch_extensions
from tui_bot.core.results import ALL_EXTENSIONS, ActionResult
from tui_bot.storage import BackupNotAvailable, DatabaseError
from tui_bot.storage.selftest import CheckResult, run_atomic_selftest

if TYPE_CHECKING:
    from tui_bot.core.bot import TuiBot  # the bot builds its BotActions: no import at run time

log = logging.getLogger("tui_bot.actions")

ExtensionVerb = Literal["load", "unload", "reload"]
HotReloadListener = Callable[[ExtensionResult], object]


@dataclass(frozen=True)
class ExtensionChange(ExtensionResult):
    """A load, unload or reload as the action layer reports it: the manager's outcome, plus the slash
    commands it added to the bot's tree. Those reach Discord only with a sync (rate-limited, so never
    automatic): each caller says how to run one, the console ``press s``, Discord ``use !sync``."""

    slash_commands_added: tuple[str, ...] = ()

    def sync_hint(self, how: str) -> str | None:
        """``greeter added 1 slash command(s): press s to sync``; None when it added none."""
        if not self.slash_commands_added:
            return None
        return f"{self.name} added {len(self.slash_commands_added)} slash command(s): {how}"


@dataclass(frozen=True)
class PlainResult(ActionResult):
    """An outcome that is one line of text (and, for a backup, the file written)."""

    action: str
    ok: bool
    message: str
    path: Path | None = None

    def describe(self) -> str:
        return f"{self.action}: {self.message}" if self.ok else f"{self.action} failed: {self.message}"


@dataclass(frozen=True)
class BatchResult(ActionResult):
    """The outcome of an action over several extensions (``reload_all``)."""

    action: str
    results: list[ExtensionResult] = field(default_factory=list)
    # Slash commands the reloaded code added to the tree: they reach Discord only with a sync.
    slash_commands_added: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return all(result.ok for result in self.results)

    def sync_hint(self, how: str) -> str | None:
        """``reload all added 2 slash command(s): press s to sync``; None when it added none."""
        if not self.slash_commands_added:
            return None
        return f"{self.action} added {len(self.slash_commands_added)} slash command(s): {how}"

    def describe(self) -> str:
        if not self.results:
            return f"{self.action}: no extension loaded"
        failed = [r.name for r in self.results if not r.ok]
        text = f"{self.action}: {len(self.results) - len(failed)} ok"
        return text + (f", {len(failed)} failed ({', '.join(failed)})" if failed else "")


@dataclass(frozen=True)
class SelfTestResult(ActionResult):
    """The atomic file handler's self-test: each check with its timing (:mod:`tui_bot.storage.selftest`)."""

    checks: list[CheckResult]
    stats: dict[str, Any]  # the shared handler's cache counters afterwards (``AtomicFileHandler.stats``)

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def seconds(self) -> float:
        return sum(check.seconds for check in self.checks)

    def describe(self) -> str:
        if self.ok:
            return f"atomictest: {len(self.checks)} checks passed in {self.seconds * 1000:.1f} ms"
        failed = ", ".join(f"{check.name} ({check.detail})" for check in self.checks if not check.ok)
        return f"atomictest failed: {failed}"


def _guild(guild_id: int | None) -> discord.abc.Snowflake | None:
    return None if guild_id is None else discord.Object(id=guild_id)


class BotActions:
    """Load/unload/reload extensions, plan and run slash syncs, back up, toggle hot reload, self-test."""

    def __init__(self, bot: TuiBot) -> None:
        self.bot = bot
        self._watcher: asyncio.Task[None] | None = None
        self._stop_watching: asyncio.Event | None = None
        # Told of every hot reload's result (the console notifies from them); called in the event loop.
        self.hot_reload_listeners: list[HotReloadListener] = []

    # -- extensions ----------------------------------------------------------------------------

    async def _named(
        self, action: ExtensionVerb, name: str, run: Callable[[str], Awaitable[ExtensionResult]]
    ) -> ExtensionChange:
        """Run one of the extension manager's methods; a name it refuses becomes a failed result. Slash
        commands it added to the tree are named in the result and in one plain log line."""
        before = sync_module.tree_commands(self.bot)
        try:
            result = await run(name)
        except ExtensionNameError as error:
            log.warning("Extension %s refused: %s", action, error)
            return ExtensionChange(name, action, False, 0.0, str(error))
        added = tuple(sorted(sync_module.tree_commands(self.bot) - before))
        change = ExtensionChange(
            **{f.name: getattr(result, f.name) for f in fields(result)}, slash_commands_added=added
        )
        hint = change.sync_hint(
            f"press s to sync in the console, or use {self.bot.config.model.prefix}sync in Discord"
        )
        if hint is not None:
            log.info("%s (new: %s)", hint, ", ".join(added))
        return change

    async def load(self, name: str) -> ExtensionChange:
        """Load an extension from the extensions folder by name."""
        return await self._named("load", name, self.bot.extension_manager.load)

    async def unload(self, name: str) -> ExtensionChange:
        """Unload a loaded extension."""
        return await self._named("unload", name, self.bot.extension_manager.unload)

    async def reload(self, name: str) -> ExtensionChange:
        """Reload an extension (load it if it is not loaded); a failure keeps the old version running."""
        return await self._named("reload", name, self.bot.extension_manager.reload)

    async def everywhere(self, verb: ExtensionVerb, name: str) -> ActionResult:
        """``load``/``unload``/``reload`` on every worker of a cluster (one reply each; see
        :mod:`tui_bot.core.clustering`), or here when this process is not part of one. What the owner
        commands and the console keys call."""
        cluster = self.bot.cluster
        if cluster is None:
            return await {"load": self.load, "unload": self.unload, "reload": self.reload}[verb](name)
        return await cluster.everywhere(verb, name)

    async def reload_all(self) -> BatchResult:
        """Reload every loaded extension."""
        before = sync_module.tree_commands(self.bot)
        results = await self.bot.extension_manager.reload_all()
        added = tuple(sorted(sync_module.tree_commands(self.bot) - before))
        result = BatchResult("reload all", results, slash_commands_added=added)
        log.info("%s", result.describe())
        hint = result.sync_hint(
            f"press s to sync in the console, or use {self.bot.config.model.prefix}sync in Discord"
        )
        if hint is not None:
            log.info("%s (new: %s)", hint, ", ".join(added))
        return result

    async def reload_all_everywhere(self) -> ActionResult:
        """``reload all`` on every worker of a cluster (one reply each), or here when this process is not
        part of one. What ``!reload all`` and the console's ``R`` call."""
        cluster = self.bot.cluster
        if cluster is None:
            return await self.reload_all()
        return await cluster.everywhere("reload", ALL_EXTENSIONS)

    # -- slash commands ------------------------------------------------------------------------

    async def plan_sync(self, guild_id: int | None = None) -> sync_module.SyncPlan | PlainResult:
        """What a sync would change (global, or one guild); a failed result if Discord could not be asked."""
        try:
            plan = await sync_module.plan_sync(self.bot, _guild(guild_id))
        except discord.HTTPException as error:
            log.error("Planning the slash command sync failed: %s", error)
            return PlainResult("plan sync", False, str(error))
        log.info("Slash command sync plan: %s", plan.describe())
        return plan

    async def sync(self, guild_id: int | None = None, *, force: bool = False) -> sync_module.SyncResult:
        """Sync slash commands (global, or one guild), skipping the API call when nothing changed."""
        return await sync_module.sync(self.bot, _guild(guild_id), force=force)

    # -- storage -------------------------------------------------------------------------------

    async def backup(self) -> PlainResult:
        """A verified online backup of the database now; the result's ``path`` is the file written
        (``None`` on PostgreSQL, where the message says to use pg_dump)."""
        try:
            path = await self.bot.db.backup()
        except BackupNotAvailable as advice:
            return PlainResult("backup", True, str(advice))
        except DatabaseError as error:
            log.error("Backup failed: %s", error)
            return PlainResult("backup", False, str(error))
        log.info("Database backed up to %s", path)
        return PlainResult("backup", True, f"saved {path.name}", path)

    async def atomictest(self) -> SelfTestResult:
        """Write, read, cache, concurrency and clean-up checks of the shared atomic file handler, run in
        a scratch folder next to the database: the file system the bot's data actually lives on."""
        handler = self.bot.file_handler
        data_folder = Path(self.bot.config.model.database.path).parent
        result = SelfTestResult(await run_atomic_selftest(handler, data_folder), handler.stats())
        if result.ok:
            log.info("%s", result.describe())
        else:
            log.error("%s", result.describe())
        return result

    # -- hot reload ----------------------------------------------------------------------------

    @property
    def watching(self) -> bool:
        """Whether the extensions folder is being watched for changes."""
        return self._watcher is not None and not self._watcher.done()

    def start_watcher(self) -> None:
        """Start reloading extensions when their files change (no-op if already watching)."""
        if self.watching:
            return
        self._stop_watching = asyncio.Event()
        watcher = watch_extensions(
            self.bot.extension_manager,
            self._stop_watching,
            on_result=self._hot_reloaded,
            reload=self.reload,
            unload=self.unload,
        )
        self._watcher = asyncio.create_task(watcher, name="tui-bot:hot-reload")

    def _hot_reloaded(self, result: ExtensionResult) -> None:
        for listener in list(self.hot_reload_listeners):
            try:
                listener(result)
            except Exception:  # a listener's bug must not stop the watcher
                log.exception("A hot reload listener failed")

    async def stop_watcher(self) -> None:
        """Stop watching and wait for the watcher to end."""
        task, self._watcher = self._watcher, None
        if task is None:
            return
        if self._stop_watching is not None:
            self._stop_watching.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=2)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        except Exception:
            log.exception("The extension watcher ended with an error")

    async def set_auto_reload(self, on: bool) -> PlainResult:
        """Turn hot reload on or off now, and save ``auto_reload`` in config.json."""
        try:
            await self.bot.config.set("auto_reload", on)
        except (ValueError, OSError) as error:
            log.error("Could not save auto_reload: %s", error)
            return PlainResult("auto reload", False, str(error))
        if on:
            self.start_watcher()
        else:
            await self.stop_watcher()
        state = "on" if on else "off"
        log.info("Auto reload turned %s", state)
        return PlainResult("auto reload", True, f"{state} (saved in config.json)")
