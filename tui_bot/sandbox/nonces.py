"""Message nonces and ``enforce_nonce``: Discord's deduplication of retried message creates.

``POST channels/{id}/messages`` takes an optional ``nonce`` (an integer, or a string of at most 25
characters) that Discord echoes in the message. With ``enforce_nonce: true`` (discord.py 2.7 sends it
whenever it sends a nonce, ``http.py`` ``handle_message_parameters``), a message created by the same
author with the same nonce "in the past few minutes" is returned instead of creating a new one: a
client whose request timed out or failed after the message was created can send it again safely.

The sandbox keeps the nonces of the last :data:`NONCE_WINDOW_SECONDS` per author, at most
:data:`MAX_REMEMBERED` of them (the oldest are forgotten first), so memory stays bounded however long
a session or benchmark runs.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from .rest_http import invalid_form
from .world import Message, World

NONCE_WINDOW_SECONDS = 300.0  # Discord's "few minutes"
MAX_REMEMBERED = 10_000
MAX_NONCE_LENGTH = 25


def message_nonce(body: dict[str, Any]) -> tuple[str | int | None, bool]:
    """``(nonce, enforce_nonce)`` of a message create body, refused (50035) as Discord refuses them."""
    nonce = body.get("nonce")
    if nonce is not None:
        if isinstance(nonce, bool) or not isinstance(nonce, int | str):
            raise invalid_form("nonce", "BASE_TYPE_BAD_TYPE", "Must be an integer or a string.")
        if isinstance(nonce, str) and len(nonce) > MAX_NONCE_LENGTH:
            raise invalid_form(
                "nonce", "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_NONCE_LENGTH} or fewer in length."
            )
    return nonce, bool(body.get("enforce_nonce", False)) and nonce is not None


class NonceRegistry:
    """Recently created messages by (author, nonce), expiring after ``window`` seconds."""

    def __init__(
        self,
        *,
        window: float = NONCE_WINDOW_SECONDS,
        max_remembered: int = MAX_REMEMBERED,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.window = window
        self.max_remembered = max_remembered
        self._clock = clock
        # Insertion order is creation order, so expired entries are always at the front.
        self._recent: OrderedDict[tuple[int, str], tuple[float, int, int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._recent)

    def _expire(self, now: float) -> None:
        recent = self._recent
        while recent:
            created, _channel, _message = next(iter(recent.values()))
            if now - created < self.window and len(recent) <= self.max_remembered:
                break
            recent.popitem(last=False)

    def find(self, world: World, author_id: int, nonce: str | int) -> Message | None:
        """The still-existing message ``author_id`` created with ``nonce`` within the window, if any."""
        self._expire(self._clock())
        entry = self._recent.get((author_id, str(nonce)))
        if entry is None:
            return None
        _created, channel_id, message_id = entry
        return world.get_message(channel_id, message_id)  # a deleted message no longer blocks a new one

    def remember(self, message: Message) -> None:
        """Record ``message`` (created with a nonce) for later :meth:`find` calls."""
        if message.nonce is None:
            return
        key = (message.author.id, str(message.nonce))
        self._recent.pop(key, None)  # a re-used nonce after expiry or deletion: the newest message wins
        self._recent[key] = (self._clock(), message.channel_id, message.id)
        self._expire(self._clock())
