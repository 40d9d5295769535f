"""Interactions: slash commands, autocomplete, buttons, selects and modals against a real bot.

The sandbox plays a member's Discord client: :class:`InteractionApi` builds INTERACTION_CREATE payloads
(``commands_resolver`` for command options, ``interaction_components`` for components and modals),
sends them to the bot's gateway session for the guild's shard, and serves the routes a bot answers
with (Discord API v10):

* ``POST /interactions/{id}/{token}/callback``: types 4 (message), 5 (deferred message, a "thinking"
  placeholder with the LOADING flag), 6 (deferred update), 7 (update the component's message),
  8 (autocomplete choices), 9 (modal). ``?with_response=true`` (discord.py sends ``1``) answers
  ``{"interaction": {...}, "resource": {...}}``, else 204. A second callback is 400/40060; an unknown,
  expired or (with :attr:`InteractionApi.response_deadline`) late one is 404/10062.
* ``POST /webhooks/{application_id}/{token}``: follow-ups; the first one after a type-5 deferral
  replaces the placeholder, as on Discord. ``GET``/``PATCH``/``DELETE`` ``.../messages/@original``
  and ``.../messages/{id}``.

Non-ephemeral messages are real channel messages (stored, MESSAGE_CREATE/UPDATE/DELETE dispatched,
in history) from the bot with ``application_id``, ``webhook_id``, ``interaction_metadata`` and the
deprecated ``interaction``. Ephemeral ones (flag 64) are kept here, outside the channel, and never
dispatched. These routes need no bot token: the URL carries the interaction token.
"""

from __future__ import annotations

import base64
import copy
import logging
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from aiohttp import web

from .commands_resolver import InteractionError, Resolved, build_command_data, find_channel, find_user
from .events import EventKind, EventLog, SandboxEvent
from .gateway import GatewayHub
from .interaction_components import (
    BUTTON,
    SELECT_TYPES,
    find_component,
    modal_submission,
    select_values,
    walk,
)
from .payloads import channel_payload, member_payload, message_payload, user_payload
from .rest import (
    API_PREFIX,
    MAX_CONTENT,
    ApiError,
    RestApi,
    invalid_form,
    json_response,
    message_content,
    no_auth,
    no_content,
)
from .world import Channel, Guild, Json, Member, Message, User, World, WorldError

log = logging.getLogger(__name__)

__all__ = [
    "CallbackType",
    "InteractionApi",
    "InteractionError",
    "InteractionHandle",
    "InteractionResponse",
    "InteractionType",
]

ATTACHMENT_SIZE_LIMIT = 25 * 1024 * 1024  # what the sandbox accepts per upload (server.MAX_UPLOAD)
TOKEN_LIFETIME = 15 * 60.0  # seconds an interaction token works for follow-ups, as on Discord
DISCORD_RESPONSE_DEADLINE = 3.0  # Discord's limit for the first callback; enforced only if asked
VIEW_CHANNEL = 1 << 10
SUPPRESS_EMBEDS = 1 << 2
EPHEMERAL = 1 << 6
LOADING = 1 << 7
SUPPRESS_NOTIFICATIONS = 1 << 12
IS_COMPONENTS_V2 = 1 << 15
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


_ALLOWED_CALLBACKS: dict[int, set[int]] = {
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

    def __init__(self, api: InteractionApi, record: InteractionRecord) -> None:
        self._api = api
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
            event = await self._api.events.wait_for(answered, timeout=timeout)
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
        found = (self._api.find_message(mid) for mid in self._record.followup_ids)
        return [copy.deepcopy(m) for m in found if m is not None]

    async def wait_for_followup(self, timeout: float = 5.0) -> Message:  # noqa: ASYNC109 - test API
        """The next follow-up not yet returned by this method (a snapshot as sent)."""
        wanted = self._followups_taken
        event = await self._api.events.wait_for(
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
        message = self._api.find_message(self._record.original_id)
        return None if message is None else copy.deepcopy(message)


# --- the API ----------------------------------------------------------------------------------


def _new_token(interaction_id: int) -> str:
    # Discord's tokens are long opaque URL-safe strings; this one is shaped alike and unguessable.
    raw = f"interaction:{interaction_id}:{secrets.token_urlsafe(48)}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class InteractionApi:
    """Sends interactions to bots and serves the callback and webhook routes they answer with."""

    def __init__(
        self, world: World, events: EventLog, hub: GatewayHub, rest: RestApi, base_url: Callable[[], str]
    ) -> None:
        self.world = world
        self.events = events
        self.hub = hub
        self.rest = rest
        self._base_url = base_url
        # Discord refuses a first callback after 3 s with 404/10062; None (the default) never does, so
        # tests on slow machines pass. Every handle records response_latency either way.
        self.response_deadline: float | None = None
        self.token_lifetime = TOKEN_LIFETIME
        self.records: dict[int, InteractionRecord] = {}
        self._by_token: dict[str, InteractionRecord] = {}
        # Ephemeral messages by id, and who can see each: never in channel history.
        self.ephemeral: dict[int, Message] = {}
        self._ephemeral_viewer: dict[int, int] = {}

    def install(self, app: web.Application) -> None:
        """Add the callback and webhook routes (through ``RestApi.extra_routes``: before the catch-all)."""
        token = "{token:[^/]+}"
        webhook = API_PREFIX + "/webhooks/{application_id:\\d+}/" + token
        app.router.add_post(
            API_PREFIX + "/interactions/{interaction_id:\\d+}/" + token + "/callback", self.callback
        )
        app.router.add_post(webhook, self.post_followup)
        for message in ("/messages/@original", "/messages/{message_id:\\d+}"):
            app.router.add_get(webhook + message, self.get_webhook_message, allow_head=False)
            app.router.add_patch(webhook + message, self.patch_webhook_message)
            app.router.add_delete(webhook + message, self.delete_webhook_message)

    # -- lookups --

    def find_message(self, message_id: int) -> Message | None:
        """A message by id: an ephemeral one, or one in any channel."""
        if message_id in self.ephemeral:
            return self.ephemeral[message_id]
        for channel_messages in self.world.messages.values():
            if message_id in channel_messages:
                return channel_messages[message_id]
        return None

    def _forget_expired(self) -> None:
        # A long console session sends many interactions: once a token is dead nothing can use the
        # interaction or its ephemeral messages again (handles keep their own record).
        now = time.monotonic()
        for record in [r for r in self.records.values() if now - r.dispatched_at > self.token_lifetime]:
            del self.records[record.id]
            self._by_token.pop(record.token, None)
            for message_id in (record.original_id, *record.followup_ids):
                if message_id is not None and self.ephemeral.pop(message_id, None) is not None:
                    self._ephemeral_viewer.pop(message_id, None)

    def handle(self, interaction_id: int) -> InteractionHandle:
        """A handle on an interaction sent earlier (e.g. one seen in the event log)."""
        return InteractionHandle(self, self.records[interaction_id])

    def _channel(self, channel: Any, guild: Any = None) -> tuple[Guild, Channel]:
        if isinstance(channel, Channel):
            found: Channel | None = channel
        elif guild is not None:
            guild_obj = self._guild(guild)
            return guild_obj, find_channel(guild_obj, channel)
        elif hasattr(channel, "id") and not isinstance(channel, str | int):
            found = self.world.channel(channel.id)
        else:
            try:
                found = self.world.find_channel(channel)
            except WorldError as exc:
                raise InteractionError(str(exc)) from None
        if found is None:
            raise InteractionError(f"no channel {channel!r} in the sandbox world")
        return self.world.guilds[found.guild_id], found

    def _guild(self, ref: Any) -> Guild:
        if isinstance(ref, Guild):
            return ref
        ref_id = getattr(ref, "id", ref)
        for guild in self.world.guilds.values():
            if str(guild.id) == str(ref_id) or guild.name == ref:
                return guild
        raise InteractionError(f"no guild {ref!r} in the sandbox world")

    def _member(self, guild: Guild, channel: Channel, author: Any) -> Member:
        user, member = find_user(self.world, guild, getattr(author, "user", author))
        if member is None:
            raise InteractionError(f"{user.username} is not a member of {guild.name!r}")
        if not self.world.permissions_in(channel, member.id) & VIEW_CHANNEL:
            raise InteractionError(f"{user.username} cannot see #{channel.name}")
        return member

    def _message_ref(self, message: Any) -> Message:
        message_id = message if isinstance(message, int) else getattr(message, "id", None)
        found = self.find_message(message_id) if isinstance(message_id, int) else None
        if found is None:
            raise InteractionError(f"no message {message!r} in the sandbox world (deleted?)")
        return found

    # -- sending interactions (the member's side) --

    async def invoke_slash(
        self, author: Any, channel: Any, command: str, *, guild: Any = None, options: Mapping[str, Any]
    ) -> InteractionHandle:
        """Run ``/command`` (``"config set"`` for subcommands) as ``author`` in ``channel``."""
        guild_obj, channel_obj = self._channel(channel, guild)
        member = self._member(guild_obj, channel_obj, author)
        data, name = build_command_data(
            self.world, guild_obj, channel_obj, member, command, options, base_url=self._base_url
        )
        record = self._new_record(InteractionType.APPLICATION_COMMAND, member, channel_obj, name, data)
        record.command_type = data.get("type", 1)
        return await self._send(record, guild_obj, channel_obj, member)

    async def autocomplete(
        self,
        author: Any,
        channel: Any,
        command: str,
        focused: str,
        *,
        options: Mapping[str, Any],
        timeout: float = 5.0,  # noqa: ASYNC109 - test API
    ) -> list[Json]:
        """The choices the bot offers while ``author`` types ``options[focused]`` into ``/command``."""
        guild_obj, channel_obj = self._channel(channel)
        member = self._member(guild_obj, channel_obj, author)
        data, name = build_command_data(
            self.world,
            guild_obj,
            channel_obj,
            member,
            command,
            options,
            base_url=self._base_url,
            focused=focused,
        )
        record = self._new_record(
            InteractionType.APPLICATION_COMMAND_AUTOCOMPLETE, member, channel_obj, name, data
        )
        handle = await self._send(record, guild_obj, channel_obj, member)
        response = await handle.response(timeout)
        return response.choices

    async def click_button(
        self, author: Any, message: Any, custom_id: str | None = None, *, label: str | None = None
    ) -> InteractionHandle:
        """Click a button on ``message`` (a Message or its id) by ``custom_id`` or ``label``."""
        target = self._message_ref(message)
        component = find_component(target, custom_id, label=label, types=(BUTTON,))
        data = {"custom_id": component["custom_id"], "component_type": BUTTON}
        return await self._component(author, target, component, data)

    async def select(
        self, author: Any, message: Any, custom_id: str | None, values: Sequence[Any]
    ) -> InteractionHandle:
        """Pick ``values`` in a select menu on ``message`` (``custom_id=None``: its only select)."""
        target = self._message_ref(message)
        component = find_component(target, custom_id, types=SELECT_TYPES)
        guild_obj, channel_obj = self._channel(target.channel_id)
        member = self._member(guild_obj, channel_obj, author)
        resolved = Resolved(self.world, guild_obj, channel_obj, member, self._base_url)
        picked = select_values(self.world, guild_obj, component, list(values), resolved)
        data: Json = {
            "custom_id": component["custom_id"],
            "component_type": component["type"],
            "values": picked,
        }
        if component["type"] != 3 and (resolved_payload := resolved.payload()):
            data["resolved"] = resolved_payload
        return await self._component(author, target, component, data)

    async def _component(
        self, author: Any, target: Message, component: Json, data: Json
    ) -> InteractionHandle:
        guild_obj, channel_obj = self._channel(target.channel_id)
        member = self._member(guild_obj, channel_obj, author)
        viewer = self._ephemeral_viewer.get(target.id)
        if viewer is not None and viewer != member.id:
            raise InteractionError(f"message {target.id} is ephemeral: only its recipient can use it")
        record = self._new_record(
            InteractionType.MESSAGE_COMPONENT, member, channel_obj, component["custom_id"], data
        )
        record.source_message_id = target.id
        return await self._send(record, guild_obj, channel_obj, member, message=target)

    async def submit_modal(self, author: Any, opened_by: Any, values: Mapping[str, Any]) -> InteractionHandle:
        """Submit the modal a bot answered ``opened_by`` (a handle or its response) with."""
        interaction_id = getattr(opened_by, "interaction_id", None) or getattr(opened_by, "id", None)
        trigger = self.records.get(interaction_id) if isinstance(interaction_id, int) else None
        if trigger is None:
            raise InteractionError(f"{opened_by!r} is not an interaction the sandbox sent")
        if trigger.response is None or trigger.response.type is not CallbackType.MODAL:
            raise InteractionError(f"the bot did not open a modal for {trigger.name!r}")
        if trigger.modal_submitted:
            raise InteractionError(f"the modal opened for {trigger.name!r} was already submitted")
        guild_obj, channel_obj = self._channel(trigger.channel_id)
        member = self._member(guild_obj, channel_obj, author)
        if member.id != trigger.user.id:
            raise InteractionError(
                f"the modal was shown to {trigger.user.username}, not {member.user.username}"
            )
        modal = trigger.response.data
        data = {"custom_id": modal["custom_id"], "components": modal_submission(modal, values)}
        trigger.modal_submitted = True
        record = self._new_record(InteractionType.MODAL_SUBMIT, member, channel_obj, modal["custom_id"], data)
        record.triggering = trigger
        record.source_message_id = trigger.source_message_id
        source = self.find_message(trigger.source_message_id) if trigger.source_message_id else None
        return await self._send(record, guild_obj, channel_obj, member, message=source)

    def _new_record(
        self, kind: InteractionType, member: Member, channel: Channel, name: str, data: Json
    ) -> InteractionRecord:
        interaction_id = self.world.snowflakes()
        return InteractionRecord(
            id=interaction_id,
            token=_new_token(interaction_id),
            type=kind,
            user=member.user,
            guild_id=channel.guild_id,
            channel_id=channel.id,
            name=name,
            data=data,
        )

    def interaction_payload(
        self,
        record: InteractionRecord,
        guild: Guild,
        channel: Channel,
        member: Member,
        message: Message | None,
    ) -> Json:
        """INTERACTION_CREATE's ``d``, with what discord.py 2.7 reads (``attachment_size_limit``, etc.)."""
        perms = str(self.world.permissions_in(channel, member.id))
        app = self.world.application
        payload: Json = {
            "id": str(record.id),
            "application_id": str(app.id),
            "type": int(record.type),
            "data": record.data,
            "guild": {"id": str(guild.id), "locale": "en-US", "features": []},
            "guild_id": str(guild.id),
            "channel": {**channel_payload(channel), "permissions": perms},
            "channel_id": str(channel.id),
            "member": {**member_payload(member), "permissions": perms},
            "token": record.token,
            "version": 1,
            "app_permissions": str(self.world.permissions_in(channel, app.bot_id)),
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "entitlement_sku_ids": [],
            "authorizing_integration_owners": {"0": str(guild.id)},
            "context": 0,
            "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
        }
        if message is not None:
            payload["message"] = message_payload(self.world, message)
        return payload

    async def _send(
        self,
        record: InteractionRecord,
        guild: Guild,
        channel: Channel,
        member: Member,
        *,
        message: Message | None = None,
    ) -> InteractionHandle:
        bot_id = self.world.application.bot_id
        if bot_id not in guild.members:
            raise InteractionError(f"the bot is not a member of {guild.name!r}")
        # One session gets each interaction: the bot's session for the guild's shard (the newest, if a
        # second connection with the same token and shard exists).
        sessions = [s for s in self.hub.targets(guild.id) if s.user is not None and s.user.id == bot_id]
        if not sessions:
            raise InteractionError(
                "no bot gateway session is connected to receive the interaction: start the bot and "
                "await sandbox.wait_until_ready() first"
            )
        self._forget_expired()
        record.payload = self.interaction_payload(record, guild, channel, member, message)
        self.records[record.id] = record
        self._by_token[record.token] = record
        self.events.record(
            EventKind.INTERACTION_CREATE,
            {
                "interaction_id": record.id,
                "type": int(record.type),
                "name": record.name,
                "user_id": member.id,
                "channel_id": channel.id,
                "guild_id": guild.id,
                "session_id": sessions[-1].session_id,
                "shard": list(sessions[-1].shard),
            },
        )
        record.dispatched_at = time.monotonic()
        payload = record.payload
        await self.hub.send_to(sessions[-1:], "INTERACTION_CREATE", lambda _s: payload)
        return InteractionHandle(self, record)

    # -- messages made by interactions --

    def _metadata(self, record: InteractionRecord) -> Json:
        meta: Json = {
            "id": str(record.id),
            "type": int(record.type),
            "user": user_payload(record.user),
            "authorizing_integration_owners": {"0": str(record.guild_id)},
        }
        if record.type is InteractionType.APPLICATION_COMMAND:
            meta["command_type"] = record.command_type
        elif record.type is InteractionType.MESSAGE_COMPONENT and record.source_message_id is not None:
            meta["interacted_message_id"] = str(record.source_message_id)
        elif record.type is InteractionType.MODAL_SUBMIT and record.triggering is not None:
            meta["triggering_interaction_metadata"] = self._metadata(record.triggering)
        return meta

    def _new_message(
        self,
        record: InteractionRecord,
        request: web.Request,
        body: Json,
        files: list[web.FileField],
        flags: int,
    ) -> Message:
        """A message answering ``record``: stored in its channel unless ``flags`` has EPHEMERAL."""
        channel = self.world.channel(record.channel_id)
        if channel is None:
            raise ApiError(404, 10003, "Unknown Channel")
        content = message_content(body)
        _check_components(body.get("components"))
        ephemeral = bool(flags & EPHEMERAL)
        attachments = self.rest._store_attachments(request, channel, body, files)
        loading = bool(flags & LOADING)
        if not (
            loading
            or content
            or body.get("embeds")
            or body.get("components")
            or attachments
            or body.get("poll")
        ):
            raise ApiError(400, 50006, "Cannot send an empty message")
        source = record.source_message_id
        reference = (
            {
                "type": 0,
                "channel_id": str(channel.id),
                "message_id": str(source),
                "guild_id": str(channel.guild_id),
            }
            if source is not None
            else None
        )
        message = self.world.create_message(
            channel,
            self.world.bot_user,
            content,
            embeds=body.get("embeds"),
            components=body.get("components"),
            attachments=attachments,
            allowed_mentions=body.get("allowed_mentions"),
            message_reference=reference,
            tts=bool(body.get("tts", False)),
            flags=flags,
            store=not ephemeral,
        )
        if reference is None:
            # Replies to commands are typed by the command's kind; replies to components stay REPLY (19).
            message.type = (
                MESSAGE_CHAT_INPUT_COMMAND if record.command_type == 1 else MESSAGE_CONTEXT_MENU_COMMAND
            )
        app_id = self.world.application.id
        message.application_id = message.webhook_id = app_id
        message.interaction_metadata = self._metadata(record)
        guild = self.world.guilds[record.guild_id]
        legacy: Json = {
            "id": str(record.id),
            "type": int(record.type),
            "name": record.name,
            "user": user_payload(record.user),
        }
        if record.user.id in guild.members:
            legacy["member"] = member_payload(guild.members[record.user.id], with_user=False)
        message.interaction = legacy
        if ephemeral:
            self.ephemeral[message.id] = message
            self._ephemeral_viewer[message.id] = record.user.id
        return message

    def _edit(
        self,
        message: Message,
        request: web.Request,
        body: Json,
        files: list[web.FileField],
        *,
        finish_loading: bool,
    ) -> Message:
        """Apply an edit body; flags keep what the bot cannot change (EPHEMERAL stays, LOADING may end)."""
        if len(body.get("content") or "") > MAX_CONTENT:
            raise invalid_form(
                "content", "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_CONTENT} or fewer in length."
            )
        _check_components(body.get("components"))
        changes = dict(body)
        flags = message.flags
        if changes.get("flags") is not None:
            flags = (flags & ~SUPPRESS_EMBEDS) | (int(changes["flags"]) & SUPPRESS_EMBEDS)
        if finish_loading:
            flags &= ~LOADING
        changes["flags"] = flags
        channel = self.world.channel(message.channel_id)
        new_files = self.rest._store_attachments(request, channel, body, files) if files and channel else []
        self.world.edit_message(message, changes)
        message.attachments.extend(new_files)
        return message

    async def _finish(
        self,
        request: web.Request,
        response: web.StreamResponse,
        records: list[tuple[EventKind, Json, Message | None]],
    ) -> web.StreamResponse:
        # As RestApi._respond_then_record: write the response before recording, so a test that awaits
        # these events and then closes the bot does not cut the bot's own request off.
        self.rest._add_rate_limit_headers(request, response)
        await response.prepare(request)
        await response.write_eof()
        for kind, data, message in records:
            self.events.record(kind, data, message=message)
        return response

    async def _publish(
        self, event: str, message: Message, records: list[tuple[EventKind, Json, Message | None]]
    ) -> None:
        """Dispatch a non-ephemeral change and queue its MESSAGE_* event; ephemeral ones stay private."""
        if message.flags & EPHEMERAL:
            return
        kind = {"MESSAGE_CREATE": EventKind.MESSAGE_CREATE, "MESSAGE_UPDATE": EventKind.MESSAGE_UPDATE}[event]
        await self.hub.dispatch_message(event, message)
        records.append((kind, {"channel_id": message.channel_id, "message_id": message.id}, message))

    # -- POST /interactions/{id}/{token}/callback --

    def _refuse(self, record: InteractionRecord | None, error: ApiError) -> ApiError:
        if record is not None:
            record.refusals.append((error.status, error.code, error.message))
            self.events.record(
                EventKind.INTERACTION_REFUSED,
                {
                    "interaction_id": record.id,
                    "status": error.status,
                    "code": error.code,
                    "message": error.message,
                },
            )
        return error

    @no_auth
    async def callback(self, request: web.Request) -> web.StreamResponse:
        record = self.records.get(int(request.match_info["interaction_id"]))
        if record is None or not secrets.compare_digest(record.token, request.match_info["token"]):
            raise ApiError(404, 10062, "Unknown interaction")
        now = time.monotonic()
        deadline = self.response_deadline
        if record.response is None and deadline is not None and now - record.dispatched_at > deadline:
            raise self._refuse(record, ApiError(404, 10062, "Unknown interaction"))
        if now - record.dispatched_at > self.token_lifetime:
            raise self._refuse(record, ApiError(404, 10062, "Unknown interaction"))
        body, files = await self.rest._body(request)
        # Checked after the last await before acknowledging: two racing callbacks cannot both pass.
        if record.response is not None:
            raise self._refuse(record, ApiError(400, 40060, "Interaction has already been acknowledged."))
        if not isinstance(body, dict) or not isinstance(body.get("type"), int):
            raise self._refuse(record, invalid_form("type", "BASE_TYPE_REQUIRED", "This field is required"))
        kind = body["type"]
        data = body.get("data") or {}
        if kind not in _ALLOWED_CALLBACKS.get(record.type, set()) or (
            kind in (6, 7) and record.source_message_id is None
        ):
            raise self._refuse(
                record,
                invalid_form(
                    "type",
                    "INTERACTION_CALLBACK_TYPE_INVALID",
                    f"Callback type {kind} is not valid for a type {int(record.type)} interaction",
                ),
            )
        try:
            message, event = self._acknowledge(record, CallbackType(kind), data, request, files)
        except ApiError as exc:
            raise self._refuse(record, exc) from None
        record.responded_at = time.monotonic()
        latency = record.responded_at - record.dispatched_at
        snapshot = copy.deepcopy(message) if message is not None else None
        record.response = InteractionResponse(
            record.id, CallbackType(kind), copy.deepcopy(data), latency, snapshot
        )
        records: list[tuple[EventKind, Json, Message | None]] = []
        if message is not None and event is not None:
            await self._publish(event, message, records)
        records.append(
            (
                EventKind.INTERACTION_RESPONSE,
                {
                    "interaction_id": record.id,
                    "type": kind,
                    "name": record.name,
                    "latency": latency,
                    "ephemeral": bool(message is not None and message.flags & EPHEMERAL),
                    "message_id": None if message is None else message.id,
                },
                message,
            )
        )
        if request.query.get("with_response", "").lower() not in ("1", "true"):
            return await self._finish(request, no_content(), records)
        result: Json = {"id": str(record.id), "type": int(record.type)}
        resource: Json = {"type": kind}
        if message is not None:
            result["response_message_id"] = str(message.id)
            result["response_message_loading"] = bool(message.flags & LOADING)
            result["response_message_ephemeral"] = bool(message.flags & EPHEMERAL)
            if kind in (4, 7):
                resource["message"] = message_payload(self.world, message)
        return await self._finish(
            request, json_response({"interaction": result, "resource": resource}), records
        )

    def _acknowledge(
        self,
        record: InteractionRecord,
        kind: CallbackType,
        data: Json,
        request: web.Request,
        files: list[web.FileField],
    ) -> tuple[Message | None, str | None]:
        """Validate and apply one callback: (the message created or updated, the gateway event to send)."""
        if kind is CallbackType.CHANNEL_MESSAGE_WITH_SOURCE:
            message = self._new_message(
                record, request, data, files, int(data.get("flags") or 0) & SETTABLE_FLAGS
            )
            record.original_id = message.id
            return message, "MESSAGE_CREATE"
        if kind is CallbackType.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE:
            flags = LOADING | (int(data.get("flags") or 0) & EPHEMERAL)
            message = self._new_message(record, request, {}, [], flags)
            record.original_id, record.loading = message.id, True
            return message, "MESSAGE_CREATE"
        if kind in (CallbackType.DEFERRED_UPDATE_MESSAGE, CallbackType.UPDATE_MESSAGE):
            assert record.source_message_id is not None
            source = self.find_message(record.source_message_id)
            if source is None:
                raise ApiError(404, 10008, "Unknown Message")
            record.original_id = source.id
            if kind is CallbackType.DEFERRED_UPDATE_MESSAGE:
                return None, None
            return self._edit(source, request, data, files, finish_loading=False), "MESSAGE_UPDATE"
        if kind is CallbackType.APPLICATION_COMMAND_AUTOCOMPLETE_RESULT:
            choices = data.get("choices")
            if not isinstance(choices, list) or len(choices) > 25:
                raise invalid_form("data.choices", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
            for choice in choices:
                if not isinstance(choice, dict) or "name" not in choice or "value" not in choice:
                    raise invalid_form(
                        "data.choices", "BASE_TYPE_REQUIRED", "A choice needs a name and a value"
                    )
            return None, None
        if kind is CallbackType.MODAL:
            if not data.get("custom_id") or len(str(data["custom_id"])) > 100:
                raise invalid_form("data.custom_id", "BASE_TYPE_REQUIRED", "This field is required")
            if not data.get("title") or len(str(data["title"])) > 45:
                raise invalid_form(
                    "data.title", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 45 in length."
                )
            if not 1 <= len(data.get("components") or []) <= 5:
                raise invalid_form(
                    "data.components", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length."
                )
            return None, None
        raise invalid_form(
            "type", "INTERACTION_CALLBACK_TYPE_INVALID", f"Callback type {int(kind)} is not supported"
        )

    # -- /webhooks/{application_id}/{token}: follow-ups and the original response --

    def _webhook_record(self, request: web.Request) -> InteractionRecord:
        if int(request.match_info["application_id"]) != self.world.application.id:
            raise ApiError(404, 10015, "Unknown Webhook")
        record = self._by_token.get(request.match_info["token"])
        if record is None or time.monotonic() - record.dispatched_at > self.token_lifetime:
            raise ApiError(401, 50027, "Invalid Webhook Token")
        return record

    def _webhook_message(self, request: web.Request, record: InteractionRecord) -> Message:
        raw = request.match_info.get("message_id")
        message_id = record.original_id if raw is None else int(raw)
        allowed = {record.original_id, *record.followup_ids}
        message = self.find_message(message_id) if message_id is not None and message_id in allowed else None
        if message is None:
            raise ApiError(404, 10008, "Unknown Message")
        return message

    @no_auth
    async def post_followup(self, request: web.Request) -> web.StreamResponse:
        record = self._webhook_record(request)
        if record.response is None or record.type is InteractionType.APPLICATION_COMMAND_AUTOCOMPLETE:
            # The token only becomes a webhook once the interaction is acknowledged.
            raise ApiError(404, 10015, "Unknown Webhook")
        body, files = await self.rest._body(request)
        records: list[tuple[EventKind, Json, Message | None]] = []
        original = self.find_message(record.original_id) if record.loading and record.original_id else None
        if original is not None:
            # The first follow-up after a "thinking" deferral replaces the placeholder (same id and flags).
            record.loading = False
            message = self._edit(original, request, body, files, finish_loading=True)
            await self._publish("MESSAGE_UPDATE", message, records)
        else:
            flags = int(body.get("flags") or 0) & SETTABLE_FLAGS
            message = self._new_message(record, request, body, files, flags)
            if record.original_id is not None and message.interaction_metadata is not None:
                message.interaction_metadata["original_response_message_id"] = str(record.original_id)
            await self._publish("MESSAGE_CREATE", message, records)
        index = len(record.followup_ids)
        record.followup_ids.append(message.id)
        records.append(
            (
                EventKind.INTERACTION_FOLLOWUP,
                {
                    "interaction_id": record.id,
                    "index": index,
                    "message_id": message.id,
                    "ephemeral": bool(message.flags & EPHEMERAL),
                    "replaced_placeholder": original is not None,
                },
                message,
            )
        )
        # Interaction follow-ups always answer with the message (``wait`` is implied).
        return await self._finish(request, json_response(message_payload(self.world, message)), records)

    @no_auth
    async def get_webhook_message(self, request: web.Request) -> web.StreamResponse:
        record = self._webhook_record(request)
        return json_response(message_payload(self.world, self._webhook_message(request, record)))

    @no_auth
    async def patch_webhook_message(self, request: web.Request) -> web.StreamResponse:
        record = self._webhook_record(request)
        message = self._webhook_message(request, record)
        body, files = await self.rest._body(request)
        finish = record.loading and message.id == record.original_id
        if finish:
            record.loading = False
        self._edit(message, request, body, files, finish_loading=finish)
        records: list[tuple[EventKind, Json, Message | None]] = []
        await self._publish("MESSAGE_UPDATE", message, records)
        records.append(
            (
                EventKind.INTERACTION_MESSAGE_EDIT,
                {
                    "interaction_id": record.id,
                    "message_id": message.id,
                    "ephemeral": bool(message.flags & EPHEMERAL),
                    "original": message.id == record.original_id,
                },
                message,
            )
        )
        return await self._finish(request, json_response(message_payload(self.world, message)), records)

    @no_auth
    async def delete_webhook_message(self, request: web.Request) -> web.StreamResponse:
        record = self._webhook_record(request)
        message = self._webhook_message(request, record)
        ephemeral = bool(message.flags & EPHEMERAL)
        records: list[tuple[EventKind, Json, Message | None]] = []
        if ephemeral:
            self.ephemeral.pop(message.id, None)
            self._ephemeral_viewer.pop(message.id, None)
        else:
            self.world.delete_message(message)
            await self.hub.dispatch_message_delete(message)
            records.append(
                (
                    EventKind.MESSAGE_DELETE,
                    {"channel_id": message.channel_id, "message_id": message.id},
                    message,
                )
            )
        records.append(
            (
                EventKind.INTERACTION_MESSAGE_DELETE,
                {"interaction_id": record.id, "message_id": message.id, "ephemeral": ephemeral},
                message,
            )
        )
        return await self._finish(request, no_content(), records)


def _check_components(components: Any) -> None:
    """Refuse what Discord refuses outright: custom_ids repeated within one message or modal."""
    if not components:
        return
    if not isinstance(components, list):
        raise invalid_form("components", "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType")
    seen: set[str] = set()
    for component in walk(components):
        custom_id = component.get("custom_id")
        if custom_id is None:
            continue
        if custom_id in seen:
            raise invalid_form(
                "components",
                "COMPONENT_CUSTOM_ID_DUPLICATED",
                f"Component custom id {custom_id!r} is duplicated",
            )
        seen.add(custom_id)
