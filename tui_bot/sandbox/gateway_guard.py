"""Discord's rules for a gateway connection's client, and the heartbeat faults that test a client's own.

* **The send limit.** "Apps can send 120 gateway events per connection every 60 seconds ... Apps that
  surpass the limit are immediately disconnected" (discord-api-docs, ``docs/events/gateway.mdx``, "Rate
  Limiting"). Every payload counts, heartbeats too: discord.py's own ``GatewayRatelimiter`` stops at
  110 "to give room for at least 10 heartbeats per minute", and sends heartbeats outside it. The
  window here slides (no more than the limit in any window), and the close is 4008 "Rate limited",
  which the close-code table marks as one to reconnect after: the session stays resumable.
* **Zombie connections.** "If your app fails to send a heartbeat event in time, your connection will
  be closed and you will be forced to Resume" (the same page, "Sending Heartbeats"). A connection
  that has sent no heartbeat for the HELLO's ``heartbeat_interval`` plus :attr:`GatewayRules.heartbeat_grace`
  seconds (Discord documents a tolerance, not its size) is closed with 4009 "Session timed out", the
  code Discord names for it, and, as that page says, its session stays resumable.
* **Heartbeat faults.** :class:`AckWithholding` swallows HEARTBEAT_ACKs, so a client's zombie
  detection ("If a client does not receive a heartbeat ACK between its attempts at sending heartbeats
  ... [it] should immediately terminate the connection ... then reconnect and attempt to Resume") can
  be tested; the hub also sends op 1 HEARTBEAT on demand ("Heartbeat Requests": the client "should
  immediately send back another Heartbeat").

The hub (``gateway``) owns one :class:`GatewayRules` and makes a :class:`ConnectionGuard` per connection.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiohttp import web

    from .gateway_session import GatewaySession

# discord-api-docs, docs/events/gateway.mdx "Rate Limiting": 120 events per connection every 60 s.
DEFAULT_SEND_LIMIT = 120
DEFAULT_SEND_WINDOW = 60.0
# Seconds past heartbeat_interval before a silent connection is a zombie. Discord does not publish its
# tolerance; this is generous, so a busy event loop (a console, a slow CI machine) is not taken for dead.
DEFAULT_HEARTBEAT_GRACE = 10.0


@dataclass
class GatewayRules:
    """Discord's rules for what clients send; change them at any time (new values apply at once).

    ``send_limit`` payloads per ``send_window`` seconds on one connection (None: not enforced);
    ``heartbeat_grace`` seconds past the heartbeat interval before a connection that sends no
    heartbeat is closed as a zombie (None: never).
    """

    send_limit: int | None = DEFAULT_SEND_LIMIT
    send_window: float = DEFAULT_SEND_WINDOW
    heartbeat_grace: float | None = DEFAULT_HEARTBEAT_GRACE

    def check(self) -> None:
        """Raise ValueError naming the first setting that makes no sense."""
        if self.send_limit is not None and (isinstance(self.send_limit, bool) or self.send_limit < 1):
            raise ValueError(
                f"send_limit must be a whole number of at least 1 or None, got {self.send_limit!r}"
            )
        if not self.send_window > 0:
            raise ValueError(f"send_window must be seconds above 0, got {self.send_window!r}")
        if self.heartbeat_grace is not None and self.heartbeat_grace < 0:
            raise ValueError(
                f"heartbeat_grace must be seconds (0 or more) or None, got {self.heartbeat_grace!r}"
            )

    def settings(self) -> dict[str, float | int | None]:
        """The settings by name, as the control API shows them."""
        return {
            "send_limit": self.send_limit,
            "send_window": self.send_window,
            "heartbeat_grace": self.heartbeat_grace,
        }


class ConnectionGuard:
    """One connection's send counter and heartbeat deadline, and the watchdog task that enforces it.

    :attr:`ws` is the connection; :attr:`session` the session it serves now (a RESUME moves the
    connection onto another); :attr:`closed_with` the close code the sandbox sent under these rules.
    """

    def __init__(
        self,
        rules: GatewayRules,
        ws: web.WebSocketResponse,
        session: GatewaySession,
        *,
        heartbeat_interval: float,
    ) -> None:
        self.rules = rules
        self.ws = ws
        self.session = session
        self.heartbeat_interval = heartbeat_interval
        self.closed_with: int | None = None
        self._sent: deque[float] = deque()
        self.last_beat = time.monotonic()
        self._watchdog: asyncio.Task[None] | None = None

    def admit(self) -> bool:
        """Count one payload from the client; False if it goes over the send limit."""
        limit = self.rules.send_limit
        if limit is None:
            return True
        now = time.monotonic()
        horizon = now - self.rules.send_window
        sent = self._sent
        while sent and sent[0] <= horizon:
            sent.popleft()
        if len(sent) >= limit:
            return False
        sent.append(now)
        return True

    def beat(self) -> None:
        """The client sent a heartbeat: its deadline moves one interval on."""
        self.last_beat = time.monotonic()

    def start(self, on_zombie: Callable[[ConnectionGuard], Awaitable[None]]) -> None:
        """Start watching heartbeats (after HELLO); ``on_zombie`` closes the connection if they stop."""
        self.last_beat = time.monotonic()
        self._watchdog = asyncio.create_task(
            self._watch(on_zombie), name="sandbox gateway heartbeat watchdog"
        )

    def stop(self) -> None:
        """The connection is over: stop the watchdog."""
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None

    async def _watch(self, on_zombie: Callable[[ConnectionGuard], Awaitable[None]]) -> None:
        # A timer, not a poll: it sleeps until the current deadline, then looks again (a heartbeat in
        # the meantime moved it; a changed grace applies from then on).
        while True:
            grace = self.rules.heartbeat_grace
            if grace is None:
                await asyncio.sleep(self.heartbeat_interval)
                continue
            left = self.last_beat + self.heartbeat_interval + grace - time.monotonic()
            if left > 0:
                await asyncio.sleep(left)
                continue
            self._watchdog = None  # on_zombie ends the connection, whose end calls stop(): not this task
            await on_zombie(self)
            return


class AckWithholding:
    """Which HEARTBEAT_ACKs the sandbox withholds: ``remaining`` more (None: all until released) for
    one shard's sessions or, with ``shard_id`` None, every connection's."""

    def __init__(self) -> None:
        self.active = False
        self.remaining: int | None = None
        self.shard_id: int | None = None

    def set(self, count: int | None, shard_id: int | None) -> None:
        if count is not None and (isinstance(count, bool) or count < 1):
            raise ValueError(
                f"count must be a whole number of at least 1 or None (until released), got {count!r}"
            )
        self.active, self.remaining, self.shard_id = True, count, shard_id

    def release(self) -> bool:
        """Stop withholding; True if it was on."""
        was, self.active = self.active, False
        return was

    def take(self, session: GatewaySession) -> bool:
        """Whether to withhold the ACK of ``session``'s heartbeat now (and count it)."""
        if not self.active or (self.shard_id is not None and session.shard[0] != self.shard_id):
            return False
        if self.remaining is not None:
            self.remaining -= 1
            if self.remaining <= 0:
                self.active = False
        return True
