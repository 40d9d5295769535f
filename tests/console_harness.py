"""Builds the console on a sandbox-backed runtime in a temporary folder, for the console tests.

The app is built by ``make_console``, as the CLI builds it, on a real ``BotRuntime(sandbox=True)``: the
runtime starts the sandbox and the bot inside the app's own event loop, exactly as ``tui-bot --sandbox``
does. Two test-only differences, both passed as arguments: discord.py's ``guild_ready_timeout`` is
0.05 s instead of 2 s (on_ready comes sooner), and notifications are also recorded in ``app.notified``
(toasts expire on screen).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import sys
import textwrap
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from helpers.waiting import wait_until
from textual.message import Message
from textual.pilot import Pilot

from tui_bot.config import ConfigStore, Secrets
from tui_bot.core.bot import TuiBot
from tui_bot.runtime import BotRuntime
from tui_bot.tui import ConsoleApp, make_console
from tui_bot.tui.connection import ConnectionState
from tui_bot.tui.log_buffer import BufferedLogHandler, console_formatter
from tui_bot.tui.reader import BotReader

_numbers = itertools.count()

# on_ready fires guild_ready_timeout after the last guild: 2 s by default, far too slow for tests.
TEST_BOT_OPTIONS = {"guild_ready_timeout": 0.05}

GREETER = """
    from discord.ext import commands


    class Greeter(commands.Cog):
        @commands.command()
        async def ping(self, ctx):
            await ctx.send("pong")

        @commands.hybrid_command(description="Greet someone")
        async def greet(self, ctx):
            await ctx.send("hello")


    async def setup(bot):
        await bot.add_cog(Greeter())
"""

BROKEN = """
    raise RuntimeError("broken on purpose")
"""

QUIET = """
    async def setup(bot):
        pass
"""

FAULTY = """
    from discord.ext import commands


    class Faulty(commands.Cog):
        @commands.command()
        async def boom(self, ctx):
            raise ZeroDivisionError("the command blew up")

        @commands.Cog.listener()
        async def on_message(self, message):
            if message.content == "explode":
                raise LookupError("the listener blew up")


    async def setup(bot):
        await bot.add_cog(Faulty())
"""


class RecordingConsoleApp(ConsoleApp):
    """The console, recording every notification (message, severity) as well as showing it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.notified: list[tuple[str, str]] = []

    def notify(self, message: str, **kwargs: Any) -> None:  # type: ignore[override]
        self.notified.append((message, kwargs.get("severity", "information")))
        super().notify(message, **kwargs)

    def errors_notified(self) -> list[str]:
        return [message for message, severity in self.notified if severity == "error"]


class ConsoleHarness:
    """A folder with config.json and extensions; builds apps that run the bot against the sandbox."""

    def __init__(self, root: Path) -> None:
        self.root = root
        # A unique package name per test: Python caches imported packages by name.
        self.extensions = root / f"console_ext_{next(_numbers)}"
        self.extensions.mkdir()
        self.config_path = root / "config.json"
        self.handler = BufferedLogHandler()
        self.handler.setFormatter(console_formatter())

    def write_extension(self, name: str, source: str) -> Path:
        path = self.extensions / f"{name}.py"
        path.write_text(textwrap.dedent(source), encoding="utf-8")
        return path

    def write_config(self, **overrides: Any) -> None:
        raw: dict[str, Any] = {
            "auto_reload": False,
            "database": {"path": "data/bot.db"},
            "logging": {"directory": str(self.root / "botlogs")},
            "extensions": {"directory": str(self.extensions), "blacklist": []},
        }
        for key, value in overrides.items():
            if isinstance(value, dict) and isinstance(raw.get(key), dict):
                raw[key].update(value)
            else:
                raw[key] = value
        self.config_path.write_text(json.dumps(raw), encoding="utf-8")

    def build(
        self, *, reader_factory: Callable[[TuiBot], BotReader] = BotReader, runtime: BotRuntime | None = None
    ) -> RecordingConsoleApp:
        if not self.config_path.exists():
            self.write_config()
        if runtime is None:
            runtime = self.runtime()
        return make_console(
            runtime, log_handler=self.handler, reader_factory=reader_factory, app_class=RecordingConsoleApp
        )

    def runtime(self) -> BotRuntime:
        """A sandbox-backed runtime on this folder's config.json."""
        return BotRuntime(
            ConfigStore.load(self.config_path), Secrets(), sandbox=True, bot_options=TEST_BOT_OPTIONS
        )

    def cleanup_modules(self) -> None:
        package = self.extensions.name
        for name in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
            del sys.modules[name]


@contextlib.contextmanager
def capture_logs(handler: logging.Handler, level: int = logging.INFO) -> Any:
    """Attach the console's handler to the root logger, as run_console does (without the files)."""
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(level)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


@pytest.fixture
def console(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A ConsoleHarness in tmp_path (the working directory, so data/ is tmp_path/data)."""
    monkeypatch.chdir(tmp_path)
    harness = ConsoleHarness(tmp_path)
    with capture_logs(harness.handler):
        yield harness
    harness.cleanup_modules()


@contextlib.asynccontextmanager
async def running(
    app: RecordingConsoleApp,
    size: tuple[int, int] = (120, 36),
    message_hook: Callable[[Message], None] | None = None,
) -> AsyncIterator[Pilot[int]]:
    """Run the app until its bot is ready; afterwards close the bot cleanly if the test did not quit."""
    async with app.run_test(size=size, message_hook=message_hook) as pilot:
        await wait_until(lambda: app.connection is ConnectionState.READY)
        await pilot.pause()
        try:
            yield pilot
        finally:
            if app.return_code is None:
                await app.runtime.stop()
                await wait_until(lambda: app.connection is ConnectionState.DISCONNECTED)
