"""Garbage collection for a long-running bot: the start-up heap frozen out of every collection.

A bot's heap is mostly long-lived: modules, discord.py's guild, channel and role caches, the command
tree. CPython's cyclic collector nevertheless walks those objects again in every full collection: a
pause that grows with the size of the caches (thousands of guilds: tens of milliseconds, on the loop
that also runs the gateway heartbeat). Once the bot is ready, ``gc.freeze()`` moves everything alive
into the permanent generation, which collections skip, so their cost no longer depends on how big
the caches are.

The young-generation threshold is left at CPython's default: raising it to 10,000 saved about 5% of the
instructions per command (``bench/dispatch.py``'s callgrind part) but let short-lived cyclic garbage
pile up, and the peak RSS then grew with the length of a run (the issue's flat-memory goal).
:data:`YOUNG_THRESHOLD` is None for "CPython's default"; set it to trade memory for CPU.

Objects frozen at start-up that later become cyclic garbage (a guild the bot left, an unloaded
extension's module) would stay frozen, so the heap is re-frozen every :data:`REFREEZE_SECONDS`: unfreeze,
one full collection, freeze again.

``TUI_BOT_GC=default`` in the environment keeps CPython's behaviour entirely.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os

log = logging.getLogger("tui_bot.gc")

GC_ENV_VAR = "TUI_BOT_GC"
YOUNG_THRESHOLD: int | None = None  # None: CPython's default (700)
REFREEZE_SECONDS = 3600.0


def tuning_enabled() -> bool:
    """False when ``TUI_BOT_GC=default`` asks for CPython's own settings."""
    return os.environ.get(GC_ENV_VAR, "").strip().lower() != "default"


def freeze_heap() -> int:
    """Collect, then freeze what is alive; returns how many objects are frozen."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def refreeze_heap() -> int:
    """Let the frozen objects be collected again (one full collection), then freeze what is alive."""
    gc.unfreeze()
    return freeze_heap()


class GcTuning:
    """Applied once the bot is ready (:meth:`apply`); :meth:`run_refreezes` keeps the frozen heap honest."""

    def __init__(
        self, *, young_threshold: int | None = YOUNG_THRESHOLD, refreeze_seconds: float = REFREEZE_SECONDS
    ) -> None:
        self.young_threshold = young_threshold
        self.refreeze_seconds = refreeze_seconds
        self.applied = False
        self._previous_threshold = gc.get_threshold()

    def apply(self) -> None:
        """Freeze the start-up heap and raise the young threshold (idempotent; a reconnect re-freezes)."""
        if not tuning_enabled():
            return
        if not self.applied:
            self._previous_threshold = gc.get_threshold()
        if self.young_threshold is not None:
            _young, middle, old = self._previous_threshold
            gc.set_threshold(self.young_threshold, middle, old)
        frozen = freeze_heap()
        if not self.applied:
            log.info("Garbage collection tuned: %d start-up objects frozen", frozen)
        self.applied = True

    async def run_refreezes(self) -> None:
        """Every ``refreeze_seconds``: unfreeze, collect, freeze (a background task of the bot)."""
        while True:
            await asyncio.sleep(self.refreeze_seconds)
            if self.applied:
                refreeze_heap()

    def restore_defaults(self) -> None:
        """Undo :meth:`apply` (the bot closed: the process may go on, e.g. the console or the tests)."""
        gc.unfreeze()
        gc.set_threshold(*self._previous_threshold)
        self.applied = False
