"""The gateway connection's state, from discord.py's own events, for every console.

Each change is kept and told to ``on_change``: the admin endpoint pushes it to every attached console at
once (so a status bar changes without waiting for the next poll), and the in-process console
(``tui_bot.tui.connection``) posts it to the app as a message.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from discord.ext import commands

CONNECTING, READY, RESUMING, DISCONNECTED = "connecting", "ready", "resuming", "disconnected"

ChangeListener = Callable[[str, int | None], object]  # (state, shard id or None for the whole bot)


class ConnectionTracker:
    """The bot's connection state and, for a sharded bot, each shard's."""

    def __init__(self, bot: commands.Bot, on_change: ChangeListener | None = None) -> None:
        self.bot = bot
        self.on_change = on_change
        self.state = DISCONNECTED if bot.is_closed() else READY if bot.is_ready() else CONNECTING
        self.shards: dict[int, str] = {}
        self._listeners: list[tuple[str, Callable[..., Coroutine[Any, Any, None]]]] = []

    def _set(self, state: str, shard_id: int | None = None) -> None:
        if shard_id is None:
            self.state = state
        else:
            self.shards[shard_id] = state
        if self.on_change is not None:
            self.on_change(state, shard_id)

    def _after_disconnect(self) -> str:
        # discord.py marks the client closed before it closes the socket when asked to stop; any other
        # disconnect is followed by a RESUME attempt.
        return DISCONNECTED if self.bot.is_closed() else RESUMING

    def attach(self) -> None:
        """Add the listeners (once)."""
        if self._listeners:
            return

        async def on_connect() -> None:
            self._set(CONNECTING)

        async def on_ready() -> None:
            self._set(READY)

        async def on_resumed() -> None:
            self._set(READY)

        async def on_disconnect() -> None:
            self._set(self._after_disconnect())

        async def on_shard_connect(shard_id: int) -> None:
            self._set(CONNECTING, shard_id)

        async def on_shard_ready(shard_id: int) -> None:
            self._set(READY, shard_id)

        async def on_shard_resumed(shard_id: int) -> None:
            self._set(READY, shard_id)

        async def on_shard_disconnect(shard_id: int) -> None:
            self._set(self._after_disconnect(), shard_id)

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
            self._listeners.append((listener.__name__, listener))

    def detach(self) -> None:
        for name, listener in self._listeners:
            self.bot.remove_listener(listener, name)
        self._listeners.clear()

    def current(self) -> str:
        """The state now: a closed bot is disconnected whatever the last event said."""
        return DISCONNECTED if self.bot.is_closed() else self.state
