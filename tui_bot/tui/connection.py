"""The gateway connection's state, from discord.py's own events (never guessed from polling).

:class:`ConnectionWatcher` adds listeners to the bot; each one only posts a
:class:`ConnectionChanged` message to the app, which updates the widgets on its own turn. discord.py
dispatches these events as tasks in the same loop, so posting is cheap and never blocks the gateway.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Coroutine
from typing import Any

from discord.ext import commands
from textual.message import Message


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
    if bot.is_closed():
        return ConnectionState.DISCONNECTED
    if bot.is_ready():
        return ConnectionState.READY
    return ConnectionState.CONNECTING


Listener = Callable[..., Coroutine[Any, Any, None]]


class ConnectionWatcher:
    """Listens to on_connect/on_ready/on_resumed/on_disconnect and their on_shard_* twins."""

    def __init__(self, bot: commands.Bot, post: Callable[[Message], object]) -> None:
        self.bot = bot
        self.post = post
        self._listeners: list[Listener] = []

    def _after_disconnect(self) -> ConnectionState:
        # discord.py sets is_closed() before it closes the socket when asked to stop; any other
        # disconnect is followed by a RESUME attempt (see Client.connect).
        return ConnectionState.DISCONNECTED if self.bot.is_closed() else ConnectionState.RESUMING

    def attach(self) -> None:
        """Add the listeners (once)."""
        if self._listeners:
            return

        async def on_connect() -> None:
            self.post(ConnectionChanged(ConnectionState.CONNECTING))

        async def on_ready() -> None:
            self.post(ConnectionChanged(ConnectionState.READY))

        async def on_resumed() -> None:
            self.post(ConnectionChanged(ConnectionState.READY))

        async def on_disconnect() -> None:
            self.post(ConnectionChanged(self._after_disconnect()))

        async def on_shard_connect(shard_id: int) -> None:
            self.post(ConnectionChanged(ConnectionState.CONNECTING, shard_id))

        async def on_shard_ready(shard_id: int) -> None:
            self.post(ConnectionChanged(ConnectionState.READY, shard_id))

        async def on_shard_resumed(shard_id: int) -> None:
            self.post(ConnectionChanged(ConnectionState.READY, shard_id))

        async def on_shard_disconnect(shard_id: int) -> None:
            self.post(ConnectionChanged(self._after_disconnect(), shard_id))

        for listener in (
            on_connect,
            on_ready,
            on_resumed,
            on_disconnect,
            on_shard_connect,
            on_shard_ready,
            on_shard_resumed,
            on_shard_disconnect,
        ):
            self.bot.add_listener(listener, listener.__name__)
            self._listeners.append(listener)
