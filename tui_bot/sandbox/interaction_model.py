"""What the sandbox knows about the interactions it sent, and what tests see of them.

The constants and types of Discord's interaction model, the :class:`InteractionRecord` the sandbox
keeps per interaction, the :class:`InteractionStore` they live in (records by id and token, ephemeral
messages, the token lifetime and the optional response deadline), and the test-facing
:class:`InteractionHandle` and :class:`InteractionResponse`. ``interaction_sender`` fills the store
(the member's side), ``interaction_routes`` answers from it (the bot's side).
"""

from __future__ import annotations

import base64
import copy
import secrets
import time
from dataclasses import dataclass, field
from enum import IntEnum

from .component_types import IS_COMPONENTS_V2
from .events import EventKind, EventLog, SandboxEvent
from .interaction_refs import InteractionError
from .world import Json, Message, User, World

ATTACHMENT_SIZE_LIMIT = 25 * 1024 * 1024  # what the sandbox accepts per upload (server.MAX_UPLOAD)
TOKEN_LIFETIME = 15 * 60.0  # seconds an interaction token works for follow-ups, as on Discord
DISCORD_RESPONSE_DEADLINE = 3.0  # Discord's limit for the first callback; enforced only if asked
SUPPRESS_EMBEDS = 1 << 2
EPHEMERAL = 1 << 6
LOADING = 1 << 7
SUPPRESS_NOTIFICATIONS = 1 << 12
# Flags a bot may set on an interaction message; the others are Discord's to set.
SETTABLE_FLAGS = SUPPRESS_EMBEDS | EPHEMERAL | SUPPRESS_NOTIFICATIONS | IS_COMPONENTS_V2
MESSAGE_CHAT_INPUT_COMMAND, MESSAGE_CONTEXT_MENU_COMMAND = 20, 23


class InteractionType(IntEnum):
    """Interaction types (``type`` of INTERACTION_CREATE)."""

    PING = 1
    APPLICATION_COMMAND = 2
    MESSAGE_COMPONENT = 3
    APPLICATION_COMMAND_AUTOCOMPLETE = 4
    MODAL_SUBMIT = 5


class CallbackType(IntEnum):
    """Interaction callback types (``type`` of a callback body)."""

    PONG = 1
    CHANNEL_MESSAGE_WITH_SOURCE = 4
    DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE = 5
    DEFERRED_UPDATE_MESSAGE = 6
    UPDATE_MESSAGE = 7
    APPLICATION_COMMAND_AUTOCOMPLETE_RESULT = 8
    MODAL = 9
    PREMIUM_REQUIRED = 10
    LAUNCH_ACTIVITY = 12


ALLOWED_CALLBACKS: dict[int, set[int]] = {
    InteractionType.APPLICATION_COMMAND: {4, 5, 9},
    InteractionType.MESSAGE_COMPONENT: {4, 5, 6, 7, 9},
    InteractionType.APPLICATION_COMMAND_AUTOCOMPLETE: {8},
    InteractionType.MODAL_SUBMIT: {4, 5, 6, 7},
}


# --- what tests see ---------------------------------------------------------------------------


@dataclass(frozen=True)
class InteractionResponse:
    """A bot's answer to one interaction (its first, accepted callback).

    ``message`` is a snapshot of the message the callback created (4, 5) or updated (7), taken when
    it was answered; later edits show in :meth:`InteractionHandle.original`.
    """

    interaction_id: int
    type: CallbackType
    data: Json
    latency: float  # seconds from dispatching INTERACTION_CREATE to the callback
    message: Message | None = None

    @property
    def content(self) -> str | None:
        return self.message.content if self.message is not None else self.data.get("content")

    @property
    def embeds(self) -> list[Json]:
        return list(self.message.embeds) if self.message is not None else list(self.data.get("embeds") or [])

    @property
    def components(self) -> list[Json]:
        if self.message is not None:
            return list(self.message.components)
        return list(self.data.get("components") or [])

    @property
    def flags(self) -> int:
        return self.message.flags if self.message is not None else int(self.data.get("flags") or 0)

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)

    @property
    def deferred(self) -> bool:
        return self.type in (
            CallbackType.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE,
            CallbackType.DEFERRED_UPDATE_MESSAGE,
        )

    @property
    def choices(self) -> list[Json]:
        """Autocomplete choices (type 8): ``[{"name": ..., "value": ...}, ...]``."""
        return list(self.data.get("choices") or [])

    @property
    def modal(self) -> Json | None:
        """The modal (type 9): ``{"custom_id", "title", "components"}``."""
        return self.data if self.type is CallbackType.MODAL else None


@dataclass
class InteractionRecord:
    """Everything the sandbox knows about one interaction (internal; tests use InteractionHandle)."""

    id: int
    token: str
    type: InteractionType
    user: User
    guild_id: int
    channel_id: int
    name: str  # "config set" for a command, the custom_id for a component or modal
    data: Json
    source_message_id: int | None = None  # the message the component is on
    triggering: InteractionRecord | None = None  # the interaction whose modal this submits
    command_type: int = 1
    payload: Json = field(default_factory=dict)
    dispatched_at: float = 0.0
    responded_at: float | None = None
    response: InteractionResponse | None = None
    original_id: int | None = None  # the @original message
    loading: bool = False  # a type-5 placeholder not yet replaced
    followup_ids: list[int] = field(default_factory=list)
    modal_submitted: bool = False
    refusals: list[tuple[int, int, str]] = field(default_factory=list)  # (status, code, message)


class InteractionHandle:
    """What happened to one interaction the sandbox sent: await its response, follow-ups, messages."""

    def __init__(self, store: InteractionStore, record: InteractionRecord) -> None:
        self._store = store
        self._record = record
        self._followups_taken = 0

    def __repr__(self) -> str:
        return f"<InteractionHandle id={self.id} type={self.type.name} name={self.name!r}>"

    @property
    def id(self) -> int:
        return self._record.id

    @property
    def token(self) -> str:
        return self._record.token

    @property
    def type(self) -> InteractionType:
        return self._record.type

    @property
    def name(self) -> str:
        """The command's full name (``"config set"``) or the component's or modal's custom_id."""
        return self._record.name

    @property
    def user(self) -> User:
        return self._record.user

    @property
    def channel_id(self) -> int:
        return self._record.channel_id

    @property
    def payload(self) -> Json:
        """The INTERACTION_CREATE ``d`` the bot was sent."""
        return copy.deepcopy(self._record.payload)

    @property
    def responded(self) -> bool:
        return self._record.response is not None

    @property
    def response_latency(self) -> float | None:
        """Seconds from dispatch to the bot's callback (Discord allows 3), None before it answers."""
        record = self._record
        return None if record.responded_at is None else record.responded_at - record.dispatched_at

    @property
    def refusals(self) -> list[tuple[int, int, str]]:
        """Callbacks the sandbox refused, as ``(status, code, message)``."""
        return list(self._record.refusals)

    @property
    def modal(self) -> Json | None:
        """The form the bot opened in answer (a type-9 callback's data), None if it opened none (yet).

        Pass the handle to ``submit_modal`` to fill it in; ``forms.form_fields`` lists its inputs.
        """
        response = self._record.response
        return None if response is None else copy.deepcopy(response.modal)

    @property
    def modal_submitted(self) -> bool:
        """Whether the form the bot opened for this interaction was submitted (it can be only once)."""
        return self._record.modal_submitted

    async def response(self, timeout: float = 5.0) -> InteractionResponse:  # noqa: ASYNC109 - test API
        """The bot's callback, waiting up to ``timeout`` seconds for it."""
        record = self._record

        def answered(event: SandboxEvent) -> bool:
            if event.data.get("interaction_id") != record.id:
                return False
            return event.kind is EventKind.INTERACTION_RESPONSE or (
                event.kind is EventKind.INTERACTION_REFUSED and event.data.get("code") == 10062
            )

        try:
            event = await self._store.events.wait_for(answered, timeout=timeout)
        except TimeoutError:
            refused = f"; refused callbacks: {record.refusals}" if record.refusals else ""
            raise TimeoutError(
                f"the bot did not answer interaction {record.name!r} within {timeout}s "
                f"(Discord would show 'The application did not respond'){refused}"
            ) from None
        if event.kind is EventKind.INTERACTION_REFUSED and record.response is None:
            raise InteractionError(
                f"the bot's callback for {record.name!r} was refused: {event.data.get('message')}"
            )
        assert record.response is not None
        return record.response

    @property
    def followups(self) -> list[Message]:
        """The follow-up messages sent so far, as they are now (deleted ones left out)."""
        found = (self._store.find_message(mid) for mid in self._record.followup_ids)
        return [copy.deepcopy(m) for m in found if m is not None]

    async def wait_for_followup(self, timeout: float = 5.0) -> Message:  # noqa: ASYNC109 - test API
        """The next follow-up not yet returned by this method (a snapshot as sent)."""
        wanted = self._followups_taken
        event = await self._store.events.wait_for(
            lambda e: (
                e.kind is EventKind.INTERACTION_FOLLOWUP
                and e.data.get("interaction_id") == self.id
                and e.data.get("index") == wanted
            ),
            timeout=timeout,
        )
        self._followups_taken += 1
        assert event.message is not None
        return event.message

    async def original(self) -> Message | None:
        """The @original message as it is now (after deferral and edits), or None if none or deleted."""
        if self._record.original_id is None:
            return None
        message = self._store.find_message(self._record.original_id)
        return None if message is None else copy.deepcopy(message)


# --- what the sandbox remembers ------------------------------------------------------------------


def new_token(interaction_id: int) -> str:
    """A fresh interaction token: long, opaque and URL-safe like Discord's, and unguessable."""
    raw = f"interaction:{interaction_id}:{secrets.token_urlsafe(48)}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class InteractionStore:
    """The interactions sent and not yet expired, by id and by token, and the ephemeral messages.

    Shared by the member's side (which adds records) and the bot's side (which looks them up when a
    callback or webhook request arrives).
    """

    def __init__(self, world: World, events: EventLog) -> None:
        self.world = world
        self.events = events
        # Discord refuses a first callback after 3 s with 404/10062; None (the default) never does, so
        # tests on slow machines pass. Every handle records response_latency either way.
        self.response_deadline: float | None = None
        self.token_lifetime = TOKEN_LIFETIME
        self.records: dict[int, InteractionRecord] = {}
        self.by_token: dict[str, InteractionRecord] = {}
        # Ephemeral messages by id, and who can see each: never in channel history.
        self.ephemeral: dict[int, Message] = {}
        self.ephemeral_viewer: dict[int, int] = {}

    def add(self, record: InteractionRecord) -> None:
        """Remember ``record`` under its id and token (dropping expired ones first)."""
        self.forget_expired()
        self.records[record.id] = record
        self.by_token[record.token] = record

    def expired(self, record: InteractionRecord) -> bool:
        """Whether ``record``'s token no longer works (older than :attr:`token_lifetime`)."""
        return time.monotonic() - record.dispatched_at > self.token_lifetime

    def forget_expired(self) -> None:
        """Drop interactions whose token is dead, with their ephemeral messages.

        A long console session sends many interactions: once a token is dead nothing can use the
        interaction or its ephemeral messages again (handles keep their own record).
        """
        now = time.monotonic()
        for record in [r for r in self.records.values() if now - r.dispatched_at > self.token_lifetime]:
            del self.records[record.id]
            self.by_token.pop(record.token, None)
            for message_id in (record.original_id, *record.followup_ids):
                if message_id is not None:
                    self.forget_ephemeral(message_id)

    def keep_ephemeral(self, message: Message, viewer_id: int) -> None:
        """Store an ephemeral ``message`` (outside channel history) that only ``viewer_id`` sees."""
        self.ephemeral[message.id] = message
        self.ephemeral_viewer[message.id] = viewer_id

    def forget_ephemeral(self, message_id: int) -> None:
        """Drop an ephemeral message (deleted by the bot, or its interaction expired); no-op if unknown."""
        self.ephemeral.pop(message_id, None)
        self.ephemeral_viewer.pop(message_id, None)

    def find_message(self, message_id: int) -> Message | None:
        """A message by id: an ephemeral one, or one in any channel."""
        if message_id in self.ephemeral:
            return self.ephemeral[message_id]
        for channel_messages in self.world.messages.values():
            if message_id in channel_messages:
                return channel_messages[message_id]
        return None

    def handle(self, interaction_id: int) -> InteractionHandle:
        """A handle on an interaction sent earlier (e.g. one seen in the event log)."""
        return InteractionHandle(self, self.records[interaction_id])
