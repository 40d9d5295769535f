"""The operator's actions in one place (``bot.actions``): what the owner commands and console keys call.

Each action logs its outcome and returns a small result with ``.ok`` and ``.describe()``; none raises
for an expected failure (a bad extension name, a sync Discord refused, a failed backup).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import discord

from tui_bot.core import sync as sync_module
from tui_bot.core.extensions import ExtensionNameError, ExtensionResult
from tui_bot.core.hot_reload import watch_extensions
from tui_bot.storage import DatabaseError

log = logging.getLogger("tui_bot.actions")


@dataclass(frozen=True)
class ActionResult:
    """The outcome of an action without a richer result type."""

    action: str
    ok: bool
    message: str
    path: Path | None = None

    def describe(self) -> str:
        return f"{self.action}: {self.message}" if self.ok else f"{self.action} failed: {self.message}"


@dataclass(frozen=True)
class BatchResult:
    """The outcome of an action over several extensions (``reload_all``)."""

    action: str
    results: list[ExtensionResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(result.ok for result in self.results)

    def describe(self) -> str:
        if not self.results:
            return f"{self.action}: no extension loaded"
        failed = [r.name for r in self.results if not r.ok]
        text = f"{self.action}: {len(self.results) - len(failed)} ok"
        return text + (f", {len(failed)} failed ({', '.join(failed)})" if failed else "")


def _guild(guild_id: int | None) -> discord.abc.Snowflake | None:
    return None if guild_id is None else discord.Object(id=guild_id)


class BotActions:
    """Load/unload/reload extensions, plan and run slash syncs, back up, toggle hot reload."""

    def __init__(self, bot: Any) -> None:
        self.bot = bot
        self._watcher: asyncio.Task[None] | None = None
        self._stop_watching: asyncio.Event | None = None

    # -- extensions ----------------------------------------------------------------------------

    async def _extension(self, action: str, name: str) -> ExtensionResult:
        manager = self.bot.extension_manager
        try:
            return await getattr(manager, action)(name)
        except ExtensionNameError as error:
            log.warning("Extension %s refused: %s", action, error)
            return ExtensionResult(name, action, False, 0.0, str(error))

    async def load(self, name: str) -> ExtensionResult:
        """Load an extension from the extensions folder by name."""
        return await self._extension("load", name)

    async def unload(self, name: str) -> ExtensionResult:
        """Unload a loaded extension."""
        return await self._extension("unload", name)

    async def reload(self, name: str) -> ExtensionResult:
        """Reload an extension (load it if it is not loaded); a failure keeps the old version running."""
        return await self._extension("reload", name)

    async def reload_all(self) -> BatchResult:
        """Reload every loaded extension."""
        result = BatchResult("reload all", await self.bot.extension_manager.reload_all())
        log.info("%s", result.describe())
        return result

    # -- slash commands ------------------------------------------------------------------------

    async def plan_sync(self, guild_id: int | None = None) -> sync_module.SyncPlan | ActionResult:
        """What a sync would change (global, or one guild); an ActionResult if Discord could not be asked."""
        try:
            plan = await sync_module.plan_sync(self.bot, _guild(guild_id))
        except discord.HTTPException as error:
            log.error("Planning the slash command sync failed: %s", error)
            return ActionResult("plan sync", False, str(error))
        log.info("Slash command sync plan: %s", plan.describe())
        return plan

    async def sync(self, guild_id: int | None = None, *, force: bool = False) -> sync_module.SyncResult:
        """Sync slash commands (global, or one guild), skipping the API call when nothing changed."""
        return await sync_module.sync(self.bot, _guild(guild_id), force=force)

    # -- database ------------------------------------------------------------------------------

    async def backup(self) -> ActionResult:
        """A verified online backup of the database now."""
        try:
            path = await self.bot.db.backup()
        except DatabaseError as error:
            log.error("Backup failed: %s", error)
            return ActionResult("backup", False, str(error))
        log.info("Database backed up to %s", path)
        return ActionResult("backup", True, f"saved {path.name}", path)

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
        self._watcher = asyncio.create_task(
            watch_extensions(self.bot.extension_manager, self._stop_watching), name="tui-bot:hot-reload"
        )

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

    async def set_auto_reload(self, on: bool) -> ActionResult:
        """Turn hot reload on or off now, and save ``auto_reload`` in config.json."""
        try:
            await self.bot.config.set("auto_reload", on)
        except (ValueError, OSError) as error:
            log.error("Could not save auto_reload: %s", error)
            return ActionResult("auto reload", False, str(error))
        if on:
            self.start_watcher()
        else:
            await self.stop_watcher()
        state = "on" if on else "off"
        log.info("Auto reload turned %s", state)
        return ActionResult("auto reload", True, f"{state} (saved in config.json)")
