"""The event log: an ordered record of what bots did, that tests and tools can await."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from .world import Json, Message


class EventKind(StrEnum):
    """What happened. Bot actions, plus what the sandbox itself did that tests wait on."""

    IDENTIFY = "identify"  # a bot session identified (data: intents, shard, session_id)
    # An IDENTIFY refused by Discord's limits (identify_limits.py; data: session_id, user_id, shard,
    # bucket, reason "max_concurrency" (op 9 sent) or "session_start_limit" (closed 4004), retry_after)
    IDENTIFY_REFUSED = "identify_refused"
    READY = "ready"  # READY and every GUILD_CREATE were sent to a session
    MESSAGE_CREATE = "message_create"  # a bot sent a message
    MESSAGE_UPDATE = "message_update"  # a bot edited a message
    MESSAGE_DELETE = "message_delete"  # a bot deleted a message
    TYPING = "typing"  # a bot triggered the typing indicator
    PRESENCE_UPDATE = "presence_update"  # a bot changed its presence (op 3 or IDENTIFY's presence)
    COMMANDS_SYNC = "commands_sync"  # a bot bulk-overwrote application commands
    USER_MESSAGE = "user_message"  # the sandbox injected a member's message (Sandbox.send_message)
    USER_DIRECT_MESSAGE = "user_direct_message"  # a user's DM to a bot (Sandbox.send_direct_message)
    UNKNOWN_ROUTE = "unknown_route"  # a bot called a REST route the sandbox does not implement
    # -- reactions, bulk delete and pins (rest_messages.py; data has channel_id and message_id) --
    REACTION_ADD = "reaction_add"  # a bot reacted (data: user_id, emoji)
    REACTION_REMOVE = "reaction_remove"  # a bot removed a reaction, its own or a member's (user_id, emoji)
    REACTIONS_CLEAR = "reactions_clear"  # a bot removed every reaction, or one emoji's (emoji or None)
    USER_REACTION_ADD = "user_reaction_add"  # the sandbox added a member's reaction (user_id, emoji)
    USER_REACTION_REMOVE = "user_reaction_remove"  # the sandbox removed a member's reaction
    MESSAGE_DELETE_BULK = "message_delete_bulk"  # a bot bulk-deleted messages (channel_id, message_ids)
    MESSAGE_PIN = "message_pin"  # a bot pinned a message
    MESSAGE_UNPIN = "message_unpin"  # a bot unpinned a message
    # -- faults and membership --
    RESUME = "resume"  # a session resumed (data: session_id, seq, replayed)
    RESUME_REJECTED = "resume_rejected"  # a RESUME got INVALID_SESSION(false) (data: session_id, reason)
    GATEWAY_CLOSED = "gateway_closed"  # an identified session's connection ended (data: code, resumable)
    FAULT = "fault"  # a fault was set, hit or cleared (data: fault, action, ...)
    RATE_LIMITED = "rate_limited"  # a request was answered 429 (data: method, path, scope, forced)
    MEMBER_ADD = "member_add"  # a member joined a guild (data: guild_id, user_id)
    MEMBER_REMOVE = "member_remove"  # a member left (data: guild_id, user_id, reason, by)
    MEMBER_UPDATE = "member_update"  # a member's roles changed (data: guild_id, user_id, role_ids, by)
    BAN_ADD = "ban_add"  # a user was banned (data: guild_id, user_id, reason, by)
    BAN_REMOVE = "ban_remove"  # a ban was lifted (data: guild_id, user_id, by)
    GUILD_JOIN = "guild_join"  # the bot joined a guild (data: guild_id)
    GUILD_LEAVE = "guild_leave"  # the bot left or was removed from a guild (data: guild_id, by)
    # -- interactions (data always has interaction_id; see interactions.py) --
    INTERACTION_CREATE = "interaction_create"  # the sandbox sent a bot an interaction (type, name, user_id)
    INTERACTION_RESPONSE = "interaction_response"  # a bot answered an interaction's callback (type, latency)
    INTERACTION_REFUSED = "interaction_refused"  # a callback was answered with an error (status, code)
    INTERACTION_FOLLOWUP = "interaction_followup"  # a bot sent a follow-up message (message_id, ephemeral)
    INTERACTION_MESSAGE_EDIT = "interaction_message_edit"  # a bot edited an interaction's message (token)
    INTERACTION_MESSAGE_DELETE = "interaction_message_delete"  # a bot deleted one (message_id, ephemeral)


@dataclass(frozen=True)
class SandboxEvent:
    """One entry of the event log. ``message`` is a snapshot taken when the event happened."""

    index: int
    kind: EventKind
    data: Json
    message: Message | None = None
    at: float = field(default_factory=time.monotonic)


DEFAULT_MAX_EVENTS = 100_000

# Values a snapshot can share with the original: immutable, so sharing is indistinguishable from copying.
_IMMUTABLE: frozenset[type] = frozenset({int, str, bool, float, bytes, type(None), datetime})
_DATACLASS_FIELDS: dict[type, tuple[str, ...] | None] = {}


def _plain_dataclass_fields(cls: type) -> tuple[str, ...] | None:
    # The field names of a dataclass without copy hooks (deepcopy would rebuild it field by field, as
    # snapshot does), else None. Cached: this runs for every object of every snapshot.
    try:
        return _DATACLASS_FIELDS[cls]
    except KeyError:
        plain = (
            dataclasses.is_dataclass(cls)
            and not hasattr(cls, "__deepcopy__")
            and cls.__reduce_ex__ is object.__reduce_ex__
            and cls.__reduce__ is object.__reduce__
        )
        names = tuple(f.name for f in dataclasses.fields(cls)) if plain else None
        _DATACLASS_FIELDS[cls] = names
        return names


def snapshot(value: Any, memo: dict[int, Any] | None = None) -> Any:
    """A deep copy of ``value``, like :func:`copy.deepcopy` but fast for what messages are made of.

    Every event snapshots its message, so this is on the hot path: immutable values are shared, empty
    lists and dicts are recreated, dataclasses are rebuilt field by field (attributes that are not
    fields are not copied; the world's dataclasses have none); anything else goes to ``copy.deepcopy``
    with the same memo, so shared references stay shared as deepcopy keeps them. Fields are read and
    set one by one rather than through ``__dict__``, which would make CPython materialise an instance
    dict on both objects: two more objects per event for the garbage collector to scan.
    """
    cls = type(value)
    if cls in _IMMUTABLE:
        return value
    if (cls is list or cls is dict) and not value:
        return cls()
    if memo is None:
        memo = {}
    names = _plain_dataclass_fields(cls)
    if names is not None:
        found = memo.get(id(value))
        if found is not None:
            return found
        clone = object.__new__(cls)
        memo[id(value)] = clone
        for name in names:
            object.__setattr__(clone, name, snapshot(getattr(value, name), memo))
        return clone
    return copy.deepcopy(value, memo)


class EventLog:
    """An ordered record of events that coroutines can wait on (no polling, no sleeps).

    Indexes are absolute and never reused: ``len(log)`` is the number of events ever recorded (the
    index the next one gets). Only the most recent ``max_events`` are kept (``None``: all), so a long
    session or benchmark does not grow without end; older ones are dropped in batches of a tenth of
    the bound, so up to 10% more are held briefly. :attr:`first_index` is the oldest index still held.
    """

    def __init__(self, max_events: int | None = DEFAULT_MAX_EVENTS) -> None:
        if max_events is not None and max_events < 1:
            raise ValueError("max_events must be at least 1 (or None for no bound)")
        self.max_events = max_events
        self._events: list[SandboxEvent] = []
        self._offset = 0  # absolute index of self._events[0]
        # Trimming the front of a list moves every element: do it once per batch, not per event.
        self._trim_at = None if max_events is None else max_events + max(1, max_events // 10)
        self._waiters: list[asyncio.Future[None]] = []

    @property
    def waiters(self) -> int:
        """How many coroutines are waiting for the next event (for diagnostics and tests)."""
        return sum(not w.done() for w in self._waiters)

    @property
    def first_index(self) -> int:
        """The index of the oldest event still held (0 until the bound is first reached)."""
        return self._offset

    def record(
        self, kind: EventKind, data: Json | None = None, *, message: Message | None = None
    ) -> SandboxEvent:
        """Append an event and wake every waiter."""
        event = SandboxEvent(
            self._offset + len(self._events),
            kind,
            data or {},
            snapshot(message) if message is not None else None,
        )
        self._events.append(event)
        if self._trim_at is not None and len(self._events) > self._trim_at:
            assert self.max_events is not None
            dropped = len(self._events) - self.max_events
            del self._events[:dropped]
            self._offset += dropped
        if self._waiters:
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

        Events already dropped by the bound are skipped. Raises :class:`TimeoutError` naming the last
        few events, so a failing test says what did happen.
        """
        index = start
        try:
            async with asyncio.timeout(timeout):
                while True:
                    index = max(index, self._offset)
                    while index - self._offset < len(self._events):
                        event = self._events[index - self._offset]
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
        """The number of events ever recorded (the next event's index), including dropped ones."""
        return self._offset + len(self._events)

    def __getitem__(self, index: int) -> SandboxEvent:
        """The event with absolute ``index``; :class:`IndexError` if dropped or not yet recorded."""
        if index < 0:
            index += len(self)
        if not self._offset <= index < len(self):
            raise IndexError(f"event {index} is not held (held: {self._offset} to {len(self) - 1})")
        return self._events[index - self._offset]

    def since(self, index: int) -> list[SandboxEvent]:
        """The held events with index >= ``index``, oldest first."""
        return self._events[max(index - self._offset, 0) :]
