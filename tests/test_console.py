"""The console hosts the bot in its own event loop and closes it cleanly on quit."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from helpers.waiting import wait_until
from textual.widgets import Log

from tui_bot.config import ConfigStore, Secrets
from tui_bot.runtime import BotRuntime
from tui_bot.tui import make_console
from tui_bot.tui.log_buffer import BufferedLogHandler
from tui_bot.tui.panes import StatusBar


async def test_console_runs_the_sandbox_bot_and_quits_with_a_backup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = ConfigStore.load(tmp_path / "config.json")
    handler = BufferedLogHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    previous_level = root.level
    root.setLevel(logging.INFO)
    app = make_console(BotRuntime(store, Secrets(), sandbox=True), log_handler=handler)
    try:
        async with app.run_test(size=(120, 30)) as pilot:
            status = app.query_one("#status", StatusBar)
            await wait_until(lambda: status.render().plain.startswith("● ready"))
            assert " │ sandbox │ " in status.render().plain
            log_widget = app.query_one(Log)
            await wait_until(lambda: any("Connected as" in line for line in log_widget.lines))
            await pilot.press("q")
            await wait_until(lambda: app.return_code is not None)
    finally:
        root.removeHandler(handler)
        root.setLevel(previous_level)
    assert app.return_code == 0
    assert app.runtime.bot is not None and app.runtime.bot.is_closed()
    assert len(list((tmp_path / "data").glob("bot.db.backup_*"))) == 1
