"""The event log: an ordered record of what bots did, that tests and tools can await."""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum

from .world import Json, Message


class EventKind(StrEnum):
    """What happened. Bot actions, plus what the sandbox itself did that tests wait on."""

    IDENTIFY = "identify"  # a bot session identified (data: intents, shard, session_id)
    READY = "ready"  # READY and every GUILD_CREATE were sent to a session
    MESSAGE_CREATE = "message_create"  # a bot sent a message
    MESSAGE_UPDATE = "message_update"  # a bot edited a message
    MESSAGE_DELETE = "message_delete"  # a bot deleted a message
    TYPING = "typing"  # a bot triggered the typing indicator
    PRESENCE_UPDATE = "presence_update"  # a bot changed its presence (op 3 or IDENTIFY's presence)
    COMMANDS_SYNC = "commands_sync"  # a bot bulk-overwrote application commands
    USER_MESSAGE = "user_message"  # the sandbox injected a member's message (Sandbox.send_message)
    UNKNOWN_ROUTE = "unknown_route"  # a bot called a REST route the sandbox does not implement


@dataclass(frozen=True)
class SandboxEvent:
    """One entry of the event log. ``message`` is a snapshot taken when the event happened."""

    index: int
    kind: EventKind
    data: Json
    message: Message | None = None
    at: float = field(default_factory=time.monotonic)


class EventLog:
    """An ordered, append-only record of events that coroutines can wait on (no polling, no sleeps)."""

    def __init__(self) -> None:
        self._events: list[SandboxEvent] = []
        self._waiters: list[asyncio.Future[None]] = []

    def record(
        self, kind: EventKind, data: Json | None = None, *, message: Message | None = None
    ) -> SandboxEvent:
        """Append an event and wake every waiter."""
        snapshot = copy.deepcopy(message) if message is not None else None
        event = SandboxEvent(len(self._events), kind, data or {}, snapshot)
        self._events.append(event)
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
        return event

    async def wait_for(
        self,
        predicate: Callable[[SandboxEvent], bool],
        *,
        start: int = 0,
        timeout: float | None = 5.0,  # noqa: ASYNC109 - the timeout is part of the message on failure
    ) -> SandboxEvent:
        """The first event at index >= ``start`` matching ``predicate``, waiting for it if need be.

        Raises :class:`TimeoutError` naming the last few events, so a failing test says what did happen.
        """
        index = start
        try:
            async with asyncio.timeout(timeout):
                while True:
                    while index < len(self._events):
                        event = self._events[index]
                        index += 1
                        if predicate(event):
                            return event
                    waiter = asyncio.get_running_loop().create_future()
                    self._waiters.append(waiter)
                    await waiter
        except TimeoutError:
            recent = ", ".join(e.kind.value for e in self._events[-5:]) or "none"
            raise TimeoutError(
                f"no matching sandbox event within {timeout}s (latest events: {recent})"
            ) from None

    def __iter__(self) -> Iterator[SandboxEvent]:
        return iter(list(self._events))

    def __len__(self) -> int:
        return len(self._events)

    def __getitem__(self, index: int) -> SandboxEvent:
        return self._events[index]
