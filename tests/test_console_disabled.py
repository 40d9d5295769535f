"""Actions that cannot run now are shown disabled, do nothing when pressed, and come back when they can;
the connection state follows discord.py's gateway events."""

from __future__ import annotations

import asyncio
from pathlib import Path

from console_harness import (  # noqa: F401 - console is a fixture
    GREETER,
    TEST_BOT_OPTIONS,
    console,
    running,
)
from helpers.waiting import wait_until
from textual.message import Message
from textual.widgets._footer import FooterKey

from tui_bot.config import ConfigStore, Secrets
from tui_bot.runtime import BotRuntime
from tui_bot.tui.app import BOT_ACTIONS
from tui_bot.tui.connection import ConnectionChanged, ConnectionState
from tui_bot.tui.modals import SyncPlanScreen


class GatedRuntime(BotRuntime):
    """A runtime whose bot is only created once the test opens the gate."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.gate = asyncio.Event()

    async def run(self) -> int:
        await self.gate.wait()
        return await super().run()


def footer_disabled(app, action: str) -> bool:  # type: ignore[no-untyped-def]
    keys = [key for key in app.query(FooterKey) if key.action == action]
    assert keys, f"{action} is not in the footer"
    return keys[0].has_class("-disabled")  # how the footer dims a binding


async def test_nothing_runs_before_the_bot_exists(console, tmp_path: Path) -> None:  # noqa: F811
    console.write_config()
    runtime = GatedRuntime(
        ConfigStore.load(console.config_path), Secrets(), sandbox=True, bot_options=TEST_BOT_OPTIONS
    )
    app = console.build(runtime=runtime)
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.pause()
        for action in BOT_ACTIONS:
            assert app.check_action(action, ()) is None, action
        for action in ("backup", "sync_commands", "reload_all", "toggle_auto_reload", "reload_extension"):
            assert footer_disabled(app, action), action
        assert not footer_disabled(app, "quit")
        await pilot.press("b", "s", "R", "a")
        await pilot.pause()
        assert app.notified == [] and not (tmp_path / "data").exists()

        runtime.gate.set()
        await wait_until(lambda: app.connection is ConnectionState.READY)
        await pilot.pause()
        assert app.check_action("backup", ()) is True
        assert not footer_disabled(app, "backup") and not footer_disabled(app, "sync_commands")
        await runtime.stop()
        await wait_until(lambda: app.connection is ConnectionState.DISCONNECTED)
        assert app.check_action("backup", ()) is None  # a closed bot runs nothing either


async def test_selection_and_connection_gate_the_actions(console) -> None:  # noqa: F811
    console.write_extension("greeter", GREETER)
    app = console.build()
    changes: list[ConnectionState] = []

    def hook(message: Message) -> None:
        if isinstance(message, ConnectionChanged):
            changes.append(message.state)

    async with running(app, message_hook=hook) as pilot:
        # Extension actions need an extension selected in the Extensions pane, guild sync a guild.
        assert app.tabs.active == "logs"
        for action in ("load_extension", "unload_extension", "reload_extension", "sync_guild"):
            assert app.check_action(action, ()) is None, action
        await pilot.press("r", "u")
        await pilot.pause()
        assert app.notified == []
        await pilot.press("4")
        assert app.selected_extension() == "greeter"
        assert app.check_action("reload_extension", ()) is True
        assert app.check_action("unload_extension", ()) is True
        assert app.check_action("load_extension", ()) is None  # it is loaded already
        assert not footer_disabled(app, "reload_extension") and footer_disabled(app, "load_extension")
        await pilot.press("3")
        assert app.check_action("sync_guild", ()) is True

        # Sync needs a connected bot: disabled while the gateway is resuming or down.
        app.post_message(ConnectionChanged(ConnectionState.RESUMING))
        await wait_until(lambda: app.connection is ConnectionState.RESUMING)
        await pilot.pause()
        assert app.check_action("sync_commands", ()) is None and footer_disabled(app, "sync_commands")
        assert "resuming" in app.status.render().plain
        await pilot.press("s")
        await pilot.pause()
        assert not isinstance(app.screen, SyncPlanScreen)
        app.post_message(ConnectionChanged(ConnectionState.READY))
        await wait_until(lambda: app.check_action("sync_commands", ()) is True)

        # And the state really comes from discord.py's events: a dropped gateway is resumed.
        changes.clear()
        await app.runtime.sandbox.drop_gateway()
        await wait_until(lambda: ConnectionState.RESUMING in changes and changes[-1] is ConnectionState.READY)
        assert app.status.render().plain.startswith("● ready")
