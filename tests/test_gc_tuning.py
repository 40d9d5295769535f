"""Garbage collection is tuned once the bot is ready and put back when it closes (real bot, sandbox)."""

from __future__ import annotations

import asyncio
import gc
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import BotHarness


async def test_the_start_up_heap_is_frozen_once_ready_and_released_on_close(harness: BotHarness) -> None:
    before = gc.get_threshold()
    bot = await harness.start()
    for _ in range(250):  # on_ready runs as its own task, right after the bot is ready
        if bot.gc_tuning.applied:
            break
        await asyncio.sleep(0.02)
    assert bot.gc_tuning.applied
    assert gc.get_freeze_count() > 10_000  # modules, discord.py's caches: out of every collection
    assert gc.get_threshold() == before  # the young threshold stays CPython's (see gc_tuning)
    await harness.stop()
    assert gc.get_freeze_count() == 0 and gc.get_threshold() == before


async def test_tui_bot_gc_default_keeps_cpythons_settings(
    harness: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TUI_BOT_GC", "default")
    before = gc.get_threshold()
    bot = await harness.start()
    await asyncio.sleep(0.2)  # on_ready has run
    assert not bot.gc_tuning.applied
    assert gc.get_freeze_count() == 0 and gc.get_threshold() == before
