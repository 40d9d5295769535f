"""The runtime tells whoever shows the bot that it exists, and the console, built by ``make_console``
as the CLI builds it, follows the bot it is told about (no polling)."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from pathlib import Path

import pytest
from console_harness import TEST_BOT_OPTIONS, console, running  # noqa: F401 - console is a fixture
from textual.message import Message

from tui_bot import exit_codes
from tui_bot.config import ConfigStore, Secrets
from tui_bot.core.bot import TuiBot
from tui_bot.runtime import BotRuntime
from tui_bot.tui import ConsoleApp, make_console
from tui_bot.tui.messages import BotCreated


async def test_the_runtime_tells_its_listeners_when_the_bot_exists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"auto_reload": False, "logging": {"directory": "botlogs"}}))
    runtime = BotRuntime(ConfigStore.load(config), Secrets(), sandbox=True, bot_options=TEST_BOT_OPTIONS)
    told: list[tuple[TuiBot, bool]] = []
    created = asyncio.Event()

    def listener(bot: TuiBot) -> None:
        told.append((bot, bot.is_ready()))
        created.set()

    def broken_listener(bot: TuiBot) -> None:
        raise RuntimeError("a listener that fails")

    runtime.on_bot_created(broken_listener)
    runtime.on_bot_created(listener)
    with caplog.at_level(logging.INFO, logger="tui_bot.runtime"):
        run = asyncio.create_task(runtime.run())
        await asyncio.wait_for(created.wait(), 15)
        assert runtime.bot is not None
        assert told == [(runtime.bot, False)]  # told once, before the bot connected
        # The failing listener is logged and the run goes on.
        await asyncio.wait_for(runtime.bot.wait_until_ready(), 15)
        await runtime.stop()
        assert await asyncio.wait_for(run, 15) == exit_codes.OK
    failures = [r for r in caplog.records if r.getMessage() == "A listener of the bot's creation failed"]
    assert len(failures) == 1 and failures[0].exc_info is not None
    assert len(told) == 1


async def test_the_console_follows_the_bot_it_is_told_about(console) -> None:  # noqa: F811
    app = console.build()
    messages: list[Message] = []
    async with running(app, message_hook=messages.append):
        created = [message for message in messages if isinstance(message, BotCreated)]
        assert len(created) == 1
        assert created[0].bot is app.runtime.bot is app.bot
        assert app.reader is not None and app.reader.bot is app.bot


async def test_key_checks_before_and_after_the_panes_exist(console) -> None:  # noqa: F811
    app = console.build()
    # Before the app runs there are no panes: a pane's key is shown disabled, and asking does not fail.
    assert not app.panes_mounted
    assert app.check_action("load_extension", ()) is None
    assert app.check_action("quit", ()) is True
    async with running(app):
        assert app.panes_mounted
        # The Logs pane is shown: the Extensions pane's keys are dimmed there.
        assert app.tabs.active == "logs" and app.check_action("load_extension", ()) is None


def test_make_console_builds_the_console_the_cli_runs(tmp_path: Path) -> None:
    runtime = BotRuntime(ConfigStore.load(tmp_path / "config.json"), Secrets(), sandbox=True)
    app = make_console(runtime)
    assert type(app) is ConsoleApp
    assert app.runtime is runtime and app.sub_title == "sandbox"
    # Its own log buffer, in the console's format (time of day, level, logger), which run_console
    # attaches to logging.
    record = logging.LogRecord("tui_bot.x", logging.INFO, __file__, 1, "hello", None, None)
    assert re.fullmatch(r"\d\d:\d\d:\d\d INFO     tui_bot\.x: hello", app.log_handler.format(record))
