"""A change to a guild's prefix or role rules, made anywhere, reaches the worker serving that guild.

The database triggers (:mod:`.schema`) notify the guild id on every change; the worker serving that
guild forgets its cached settings and reloads them, within the notification's round trip. After the
listening connection was lost every served guild is reloaded, since notifications are not replayed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from tui_bot.cluster.listener import ClusterListener
from tui_bot.cluster.schema import GUILD_CHANNEL

log = logging.getLogger("tui_bot.cluster")


class GuildChangeListener:
    """Calls ``reload(guild_id)`` for a changed guild this worker serves, ``reload(None)`` for all."""

    def __init__(
        self,
        listener: ClusterListener,
        *,
        serves: Callable[[int], bool],
        reload: Callable[[int | None], Awaitable[None]],
    ) -> None:
        self.serves = serves
        self.reload = reload
        self.changes_applied = 0
        listener.subscribe(GUILD_CHANNEL, self._changed)
        listener.on_reconnect(self._reload_all)

    async def _changed(self, payload: str) -> None:
        try:
            guild_id = int(payload)
        except ValueError:
            log.warning(
                "Cluster: ignored a guild-change notification that is not a guild id: %r", payload[:40]
            )
            return
        if not self.serves(guild_id):
            return  # another worker's guild: this one caches nothing of it
        await self.reload(guild_id)
        self.changes_applied += 1

    async def _reload_all(self) -> None:
        await self.reload(None)
