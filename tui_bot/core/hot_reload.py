"""Hot reload: reload an extension when its file changes (``auto_reload`` in config.json)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import watchfiles

from tui_bot.core.extensions import ExtensionManager, ExtensionNameError, ExtensionResult

log = logging.getLogger("tui_bot.extensions")

# Editors write a file in several steps (truncate, write, rename); wait for the burst to settle.
DEBOUNCE_MS = 400

ExtensionAction = Callable[[str], Awaitable[ExtensionResult]]


async def watch_extensions(
    manager: ExtensionManager,
    stop_event: asyncio.Event,
    *,
    on_result: Callable[[ExtensionResult], Awaitable[None] | None] | None = None,
    debounce_ms: int = DEBOUNCE_MS,
    reload: ExtensionAction | None = None,
    unload: ExtensionAction | None = None,
) -> None:
    """Reload changed extensions until ``stop_event`` is set.

    A reload that fails keeps the previous version running (discord.py restores it) and is reported
    through the log and ``on_result``. Deleted extensions are unloaded; new files are loaded.
    ``reload`` and ``unload`` are the manager's own unless given: the bot passes its action layer's
    (``bot.actions``), which also says when a load added slash commands that need a sync.
    """
    reload = reload or manager.reload
    unload = unload or manager.unload
    manager.directory.mkdir(parents=True, exist_ok=True)
    log.info("Watching %s for changes (auto_reload is on)", manager.directory)
    async for changes in watchfiles.awatch(
        manager.directory,
        stop_event=stop_event,
        debounce=debounce_ms,
        watch_filter=watchfiles.PythonFilter(),
    ):
        names = sorted({name for _, path in changes if (name := manager.name_for_path(Path(path)))})
        for name in names:
            if manager.is_blacklisted(name):
                continue
            try:
                if name in manager.discover():
                    result = await reload(name)
                elif manager.qualified(name) in manager.bot.extensions:
                    result = await unload(name)
                else:
                    # Deleted and not loaded (it had failed, or was unloaded): nothing to unload, and its
                    # old failure is forgotten with the file.
                    manager.states.pop(name, None)
                    log.info("Extension %s: its file was removed", name)
                    continue
            except ExtensionNameError as error:
                log.warning("Hot reload skipped %s: %s", name, error)
                continue
            if on_result is not None:
                outcome = on_result(result)
                if asyncio.iscoroutine(outcome):
                    await outcome
