"""Shared fixtures: a sandbox Discord on loopback and a TuiBot started against it."""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tui_bot.config import ConfigStore
from tui_bot.core.bot import TuiBot, create_bot
from tui_bot.sandbox import Sandbox, demo_world

_package_numbers = itertools.count()


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    """The demo world served on 127.0.0.1, with discord.py pointed at it for the test's duration."""
    async with Sandbox(demo_world()) as server:
        server.point_discord_py_here()  # undone when the sandbox stops
        yield server


def _deep_merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _deep_merge(base[key], value)
        else:
            base[key] = value
    return base


class BotHarness:
    """Writes a config.json and extensions into a temporary folder and runs a TuiBot on the sandbox."""

    def __init__(self, root: Path, sandbox: Sandbox) -> None:
        self.root = root
        self.sandbox = sandbox
        # A unique package name per test: Python caches imported packages by name.
        self.extensions = root / f"ext_{next(_package_numbers)}_{id(self)}"
        self.extensions.mkdir()
        self.config_path = root / "config.json"
        self.db_path = root / "data" / "bot.db"
        self.bot: TuiBot | None = None
        self._task: asyncio.Task[None] | None = None

    def write_extension(self, name: str, source: str) -> Path:
        path = self.extensions / f"{name}.py"
        path.write_text(textwrap.dedent(source), encoding="utf-8")
        return path

    def write_config(self, **overrides: Any) -> None:
        raw = _deep_merge(
            {
                "auto_reload": False,
                "database": {"path": str(self.db_path)},
                "logging": {"directory": str(self.root / "botlogs")},
                "extensions": {"directory": str(self.extensions)},
            },
            overrides,
        )
        self.config_path.write_text(json.dumps(raw), encoding="utf-8")

    async def start(self, **config_overrides: Any) -> TuiBot:
        if not self.config_path.exists() or config_overrides:
            self.write_config(**config_overrides)
        store = ConfigStore.load(self.config_path)
        # on_ready waits guild_ready_timeout after the last GUILD_CREATE: 2 s by default.
        bot = create_bot(store, owner_ids={self.sandbox.world.owner_id}, guild_ready_timeout=0.05)
        self.bot = bot
        self._task = asyncio.create_task(bot.start(self.sandbox.token))
        ready = asyncio.create_task(bot.wait_until_ready())
        done, _ = await asyncio.wait({ready, self._task}, timeout=15, return_when=asyncio.FIRST_COMPLETED)
        if ready not in done:
            ready.cancel()
            if self._task in done:
                self._task.result()  # re-raise the start-up error
            raise TimeoutError("the bot did not become ready against the sandbox")
        return bot

    async def stop(self) -> None:
        if self.bot is not None and not self.bot.is_closed():
            await self.bot.close()
        if self._task is not None:
            await asyncio.wait_for(self._task, timeout=15)
            self._task = None

    def cleanup_modules(self) -> None:
        package = self.extensions.name
        for name in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
            del sys.modules[name]


@pytest.fixture
async def harness(tmp_path: Path, sandbox: Sandbox) -> AsyncIterator[BotHarness]:
    runner = BotHarness(tmp_path, sandbox)
    try:
        yield runner
    finally:
        await runner.stop()
        runner.cleanup_modules()
