"""The gateway connection's state, from discord.py's own events (never guessed from polling).

:class:`ConnectionWatcher` follows the bot with the runtime's :class:`ConnectionTracker` (the same one
the admin endpoint uses for attached consoles); each change only posts a :class:`ConnectionChanged`
message to the app, which updates the widgets on its own turn. discord.py dispatches these events as
tasks in the same loop, so posting is cheap and never blocks the gateway.
"""

from __future__ import annotations

import enum
from collections.abc import Callable

from discord.ext import commands
from textual.message import Message

from tui_bot.runtime.admin.connection import ConnectionTracker


class ConnectionState(enum.StrEnum):
    """What the status bar shows."""

    CONNECTING = "connecting"  # before the gateway's READY, and while guilds are still arriving
    READY = "ready"
    RESUMING = "resuming"  # the connection dropped; discord.py always tries to RESUME first
    DISCONNECTED = "disconnected"  # closed, or the bot has stopped


class ConnectionChanged(Message):
    """The bot's connection (or one shard's, when ``shard_id`` is set) changed state."""

    def __init__(self, state: ConnectionState, shard_id: int | None = None) -> None:
        super().__init__()
        self.state = state
        self.shard_id = shard_id


def initial_state(bot: commands.Bot) -> ConnectionState:
    """The state of a bot the console attaches to after it started (its earlier events are gone)."""
    return ConnectionState(ConnectionTracker(bot).current())


class ConnectionWatcher:
    """Listens to on_connect/on_ready/on_resumed/on_disconnect and their on_shard_* twins."""

    def __init__(self, bot: commands.Bot, post: Callable[[Message], object]) -> None:
        self.bot = bot

        def changed(state: str, shard_id: int | None) -> None:
            post(ConnectionChanged(ConnectionState(state), shard_id))

        self._tracker = ConnectionTracker(bot, changed)

    def attach(self) -> None:
        """Add the listeners (once)."""
        self._tracker.attach()

    def detach(self) -> None:
        self._tracker.detach()
