"""The bot's side of interactions: the routes a bot answers with (Discord API v10).

* ``POST /interactions/{id}/{token}/callback``: types 4 (message), 5 (deferred message, a "thinking"
  placeholder with the LOADING flag), 6 (deferred update), 7 (update the component's message),
  8 (autocomplete choices), 9 (modal, checked by ``forms.validate_modal``). ``?with_response=true``
  (discord.py sends ``1``) answers ``{"interaction": {...}}``, with ``"resource": {"type", "message"}``
  only for the message-bearing types 4 and 7, as Discord does; else 204. A second callback is
  400/40060; an unknown, expired or (with :attr:`InteractionStore.response_deadline`) late one is 404/10062.
* ``POST /webhooks/{application_id}/{token}``: follow-ups; the first one after a type-5 deferral
  replaces the placeholder, as on Discord. ``GET``/``PATCH``/``DELETE`` ``.../messages/@original``
  and ``.../messages/{id}``.

Non-ephemeral changes are dispatched (MESSAGE_CREATE/UPDATE/DELETE) and recorded; ephemeral ones never
are (``interaction_messages`` builds the messages). These routes need no bot token: the URL carries the
interaction token.
"""

from __future__ import annotations

import copy
import secrets
import time

from aiohttp import web

from .events import EventKind
from .forms import validate_modal
from .gateway import GatewayHub
from .interaction_messages import apply_edit, create_reply
from .interaction_model import (
    ALLOWED_CALLBACKS,
    EPHEMERAL,
    LOADING,
    SETTABLE_FLAGS,
    CallbackType,
    InteractionRecord,
    InteractionResponse,
    InteractionStore,
    InteractionType,
)
from .payloads import message_payload
from .rest import RestApi
from .rest_http import API_PREFIX, ApiError, invalid_form, json_response, no_auth, no_content, read_body
from .validation import check_callback
from .world import Json, Message

# What a route records once its response is written: (kind, data, message snapshot or None).
Records = list[tuple[EventKind, Json, Message | None]]


class InteractionRoutes:
    """Serves the callback and webhook routes bots answer interactions with."""

    def __init__(self, store: InteractionStore, hub: GatewayHub, rest: RestApi) -> None:
        self.store = store
        self.world = store.world
        self.events = store.events
        self.hub = hub
        self.rest = rest

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

    # -- plumbing --

    async def _finish(
        self,
        request: web.Request,
        response: web.StreamResponse,
        records: Records,
    ) -> web.StreamResponse:
        # As RestApi does: write the response before recording, so a test that awaits
        # these events and then closes the bot does not cut the bot's own request off.
        self.rest.add_rate_limit_headers(request, response)
        await response.prepare(request)
        await response.write_eof()
        for kind, data, message in records:
            self.events.record(kind, data, message=message)
        return response

    async def _publish(self, event: str, message: Message, records: Records) -> None:
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
        """``POST /interactions/{id}/{token}/callback``: the bot's first answer (see module docstring)."""
        record = self.store.records.get(int(request.match_info["interaction_id"]))
        if record is None or not secrets.compare_digest(record.token, request.match_info["token"]):
            raise ApiError(404, 10062, "Unknown interaction")
        now = time.monotonic()
        deadline = self.store.response_deadline
        if record.response is None and deadline is not None and now - record.dispatched_at > deadline:
            raise self._refuse(record, ApiError(404, 10062, "Unknown interaction"))
        if now - record.dispatched_at > self.store.token_lifetime:
            raise self._refuse(record, ApiError(404, 10062, "Unknown interaction"))
        body, files = await read_body(request)
        # Checked after the last await before acknowledging: two racing callbacks cannot both pass.
        if record.response is not None:
            raise self._refuse(record, ApiError(400, 40060, "Interaction has already been acknowledged."))
        if not isinstance(body, dict) or not isinstance(body.get("type"), int):
            raise self._refuse(record, invalid_form("type", "BASE_TYPE_REQUIRED", "This field is required"))
        kind = body["type"]
        data = body.get("data") or {}
        if kind not in ALLOWED_CALLBACKS.get(record.type, set()) or (
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
            check_callback(kind, data)  # Discord's limits, errors under "data." (validation.py)
            message, event = self._acknowledge(record, CallbackType(kind), data, request, files)
        except ApiError as exc:
            raise self._refuse(record, exc) from None
        record.responded_at = time.monotonic()
        latency = record.responded_at - record.dispatched_at
        snapshot = copy.deepcopy(message) if message is not None else None
        record.response = InteractionResponse(
            record.id, CallbackType(kind), copy.deepcopy(data), latency, snapshot
        )
        records: Records = []
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
        if message is not None:
            result["response_message_id"] = str(message.id)
            result["response_message_loading"] = bool(message.flags & LOADING)
            result["response_message_ephemeral"] = bool(message.flags & EPHEMERAL)
        answer: Json = {"interaction": result}
        # discord-api-docs, "Interaction Callback Resource Object": ``message`` is present only for
        # CHANNEL_MESSAGE_WITH_SOURCE and UPDATE_MESSAGE; deferrals, autocomplete and modals get no resource.
        if kind in (CallbackType.CHANNEL_MESSAGE_WITH_SOURCE, CallbackType.UPDATE_MESSAGE) and message:
            answer["resource"] = {"type": kind, "message": message_payload(self.world, message)}
        # The body as the bot received it, on the INTERACTION_RESPONSE event.
        records[-1][1]["callback_response"] = answer
        return await self._finish(request, json_response(answer), records)

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
            message = create_reply(
                self.store, record, request, data, files, int(data.get("flags") or 0) & SETTABLE_FLAGS
            )
            record.original_id = message.id
            return message, "MESSAGE_CREATE"
        if kind is CallbackType.DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE:
            flags = LOADING | (int(data.get("flags") or 0) & EPHEMERAL)
            message = create_reply(self.store, record, request, {}, [], flags)
            record.original_id, record.loading = message.id, True
            return message, "MESSAGE_CREATE"
        if kind in (CallbackType.DEFERRED_UPDATE_MESSAGE, CallbackType.UPDATE_MESSAGE):
            assert record.source_message_id is not None
            source = self.store.find_message(record.source_message_id)
            if source is None:
                raise ApiError(404, 10008, "Unknown Message")
            record.original_id = source.id
            if kind is CallbackType.DEFERRED_UPDATE_MESSAGE:
                return None, None
            edited = apply_edit(self.world, source, request, data, files, finish_loading=False)
            return edited, "MESSAGE_UPDATE"
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
            validate_modal(data)
            return None, None
        raise invalid_form(
            "type", "INTERACTION_CALLBACK_TYPE_INVALID", f"Callback type {int(kind)} is not supported"
        )

    # -- /webhooks/{application_id}/{token}: follow-ups and the original response --

    def _webhook_record(self, request: web.Request) -> InteractionRecord:
        if int(request.match_info["application_id"]) != self.world.application.id:
            raise ApiError(404, 10015, "Unknown Webhook")
        record = self.store.by_token.get(request.match_info["token"])
        if record is None or time.monotonic() - record.dispatched_at > self.store.token_lifetime:
            raise ApiError(401, 50027, "Invalid Webhook Token")
        return record

    def _webhook_message(self, request: web.Request, record: InteractionRecord) -> Message:
        raw = request.match_info.get("message_id")
        message_id = record.original_id if raw is None else int(raw)
        allowed = {record.original_id, *record.followup_ids}
        known = message_id is not None and message_id in allowed
        message = self.store.find_message(message_id) if known and message_id is not None else None
        if message is None:
            raise ApiError(404, 10008, "Unknown Message")
        return message

    @no_auth
    async def post_followup(self, request: web.Request) -> web.StreamResponse:
        """``POST /webhooks/{application_id}/{token}``: a follow-up (or the deferred placeholder's text)."""
        record = self._webhook_record(request)
        if record.response is None or record.type is InteractionType.APPLICATION_COMMAND_AUTOCOMPLETE:
            # The token only becomes a webhook once the interaction is acknowledged.
            raise ApiError(404, 10015, "Unknown Webhook")
        body, files = await read_body(request)
        records: Records = []
        placeholder = record.original_id if record.loading else None
        original = self.store.find_message(placeholder) if placeholder else None
        if original is not None:
            # The first follow-up after a "thinking" deferral replaces the placeholder (same id and flags).
            record.loading = False
            message = apply_edit(self.world, original, request, body, files, finish_loading=True)
            await self._publish("MESSAGE_UPDATE", message, records)
        else:
            flags = int(body.get("flags") or 0) & SETTABLE_FLAGS
            message = create_reply(self.store, record, request, body, files, flags)
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
        """``GET .../messages/@original`` or ``.../messages/{id}`` of this interaction."""
        record = self._webhook_record(request)
        return json_response(message_payload(self.world, self._webhook_message(request, record)))

    @no_auth
    async def patch_webhook_message(self, request: web.Request) -> web.StreamResponse:
        """``PATCH`` an interaction message; editing the loading placeholder ends the "thinking" state."""
        record = self._webhook_record(request)
        message = self._webhook_message(request, record)
        body, files = await read_body(request)
        finish = record.loading and message.id == record.original_id
        if finish:
            record.loading = False
        apply_edit(self.world, message, request, body, files, finish_loading=finish)
        records: Records = []
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
        """``DELETE`` an interaction message (an ephemeral one is just forgotten, never dispatched)."""
        record = self._webhook_record(request)
        message = self._webhook_message(request, record)
        ephemeral = bool(message.flags & EPHEMERAL)
        records: Records = []
        if ephemeral:
            self.store.forget_ephemeral(message.id)
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
