"""Exceptions in extensions, commands, event handlers or console actions become notifications and log
lines; the console stays up."""

from __future__ import annotations

import logging
import re
import time

from console_harness import FAULTY, console, running  # noqa: F401 - console is a fixture
from helpers.waiting import wait_until

from tui_bot.tui.connection import ConnectionState
from tui_bot.tui.error_notices import ErrorNotices
from tui_bot.tui.log_buffer import LogEntry
from tui_bot.tui.panes import LogsPane


async def test_an_exception_in_an_extension_command_is_notified_and_the_console_stays_up(
    console,  # noqa: F811
) -> None:
    console.write_extension("faulty", FAULTY)
    app = console.build()
    async with running(app) as pilot:
        sandbox = app.runtime.sandbox

        # A command raising: the user sees an error id, the operator a notification with the same id.
        await sandbox.send_message("alice", "general", "!boom")
        reply = await sandbox.wait_for_bot_message()
        error_id = re.search(r"error id `([0-9a-f]{8})`", reply.embeds[0]["description"]).group(1)
        await wait_until(lambda: any(f"(error id {error_id})" in m for m in app.errors_notified()))
        assert any("Unexpected error in command boom" in m for m in app.errors_notified())
        log_text = "\n".join(app.query_one(LogsPane).log_view.lines)
        assert f"(error id {error_id})" in log_text and "ZeroDivisionError: the command blew up" in log_text

        # An event listener raising goes through discord.py's on_error (logger "discord.client").
        await sandbox.send_message("alice", "general", "explode")
        await wait_until(lambda: any("Ignoring exception in on_message" in m for m in app.errors_notified()))

        # A console action failing unexpectedly is a notification too, never a crash.
        async def broken_backup() -> None:
            raise RuntimeError("the disk caught fire")

        app.bot.actions.backup = broken_backup
        await pilot.press("b")
        await wait_until(lambda: any("the disk caught fire" in m for m in app.errors_notified()))

        # Still running, still answering keys and commands.
        assert app.return_code is None and app.connection is ConnectionState.READY
        await pilot.press("2")
        assert app.tabs.active == "metrics"
        await sandbox.send_message("bob", "general", "!help")
        assert await sandbox.wait_for_bot_message()


def error(logger: str, message: str, created: float = 100.0) -> LogEntry:
    return LogEntry(logging.ERROR, logger, created, message, f"ERROR {logger}: {message}")


def test_a_burst_of_errors_is_summarised_and_an_actions_own_errors_are_not_repeated() -> None:
    notices = ErrorNotices(max_per_batch=3)
    batch = [error("tui_bot.errors", f"failure {n}\ntraceback") for n in range(10)]
    batch.append(LogEntry(logging.WARNING, "discord", 100.0, "just a warning", "WARNING ..."))
    shown = notices.select(batch)
    assert [n.message for n in shown] == [
        "failure 0",
        "failure 1",
        "failure 2",
        "7 more error(s) in the log.",
    ]
    assert shown[0].title == "Error · tui_bot.errors"

    with notices.operator_action():
        during = error("tui_bot.extensions", "Extension x: reload failed", created=time.time())
        elsewhere = error("discord.client", "Ignoring exception in on_message", created=during.created)
    # The action reports its own result; an unrelated error at the same moment is still shown.
    assert [n.message for n in notices.select([during, elsewhere])] == ["Ignoring exception in on_message"]
    # Outside any action, an extension failure (say, from hot reload) is notified.
    assert [n.message for n in notices.select([error("tui_bot.extensions", "hot reload failed")])] == [
        "hot reload failed"
    ]
