"""Message extras over REST: reactions, bulk delete and pins, with Discord's checks and gateway events.

The routes discord.py 2.7 calls (``http.py``):

* ``Message.add_reaction`` -> ``PUT channels/{c}/messages/{m}/reactions/{emoji}/@me``: needs
  READ_MESSAGE_HISTORY, and ADD_REACTIONS when nobody has reacted with that emoji yet; 20 distinct
  emoji per message (30010). ``remove_reaction`` -> ``DELETE .../{emoji}/@me`` (own) or
  ``.../{emoji}/{user_id}`` (someone else's: MANAGE_MESSAGES); ``Reaction.users`` -> ``GET .../{emoji}``
  (``limit`` 1-100, ``after`` a user id; users in id order); ``clear_reactions`` -> ``DELETE
  .../reactions`` and ``clear_reaction`` -> ``DELETE .../reactions/{emoji}`` (both MANAGE_MESSAGES).
  Bots get MESSAGE_REACTION_ADD / _REMOVE / _REMOVE_ALL / _REMOVE_EMOJI with GUILD_MESSAGE_REACTIONS.
* ``TextChannel.delete_messages`` and ``purge`` -> ``POST channels/{c}/messages/bulk-delete`` with
  ``{"messages": [...]}``: 2 to 100 ids, none older than 14 days (50034), MANAGE_MESSAGES; unknown ids
  are skipped; bots get MESSAGE_DELETE_BULK. ``purge`` itself pages ``history`` and deletes messages
  older than 14 days one by one.
* ``Message.pin`` / ``unpin`` -> ``PUT``/``DELETE channels/{c}/messages/pins/{m}`` (the legacy
  ``channels/{c}/pins/{m}`` too): PIN_MESSAGES or MANAGE_MESSAGES, at most 250 pins (30003); bots get
  MESSAGE_UPDATE and CHANNEL_PINS_UPDATE. ``TextChannel.pins`` -> ``GET channels/{c}/messages/pins``
  (``{"items": [{"pinned_at", "message"}], "has_more"}``, newest pin first, ``before`` an ISO time).

Unicode emoji arrive percent-encoded in the path; aiohttp decodes ``match_info``.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from aiohttp import web

from . import reactions
from .events import EventKind
from .gateway import GatewayHub
from .gateway_protocol import GUILD_MESSAGES, GUILDS
from .payloads import member_payload, message_payload, user_payload
from .rest import RestApi
from .rest_http import (
    API_PREFIX,
    MANAGE_MESSAGES,
    MISSING_PERMISSIONS,
    READ_MESSAGE_HISTORY,
    VIEW_CHANNEL,
    ApiError,
    Handler,
    invalid_form,
    json_response,
    no_content,
    read_body,
    snowflake_arg,
)
from .world import DISCORD_EPOCH_MS, Channel, Json, Message, World, iso

ADD_REACTIONS = 1 << 6
PIN_MESSAGES = 1 << 51
BULK_DELETE_MAX_AGE_S = 14 * 24 * 3600
BULK_DELETE_MIN, BULK_DELETE_MAX = 2, 100
MAX_PINS = 250


def unknown_emoji() -> ApiError:
    return ApiError(400, 10014, "Unknown Emoji")


# --- dispatching (shared with the Sandbox Python API, which acts as members) ------------------


async def dispatch_reaction_add(
    hub: GatewayHub, world: World, message: Message, user_id: int, key: str
) -> None:
    """MESSAGE_REACTION_ADD to every bot in the guild with GUILD_MESSAGE_REACTIONS."""
    if message.guild_id is None:
        return
    member = world.guilds[message.guild_id].members.get(user_id)
    data = reactions.reaction_add_event(
        message, user_id, None if member is None else member_payload(member), key
    )
    await hub.dispatch(
        "MESSAGE_REACTION_ADD", message.guild_id, lambda _s: data, intent=reactions.GUILD_MESSAGE_REACTIONS
    )


async def dispatch_reaction_remove(hub: GatewayHub, message: Message, user_id: int, key: str) -> None:
    """MESSAGE_REACTION_REMOVE to every bot in the guild with GUILD_MESSAGE_REACTIONS."""
    if message.guild_id is None:
        return
    data = reactions.reaction_remove_event(message, user_id, key)
    await hub.dispatch(
        "MESSAGE_REACTION_REMOVE", message.guild_id, lambda _s: data, intent=reactions.GUILD_MESSAGE_REACTIONS
    )


def find_message(world: World, message_id: int, channel_id: int | None = None) -> Message | None:
    """A stored message by id, in ``channel_id`` or in any channel."""
    if channel_id is not None:
        return world.get_message(channel_id, message_id)
    return next((c[message_id] for c in world.messages.values() if message_id in c), None)


class MessageRoutes:
    """Reaction, bulk-delete and pin routes; :meth:`install` is registered in ``RestApi.extra_routes``."""

    def __init__(self, rest: RestApi) -> None:
        self.rest = rest
        self.world = rest.world
        self.hub = rest.hub
        self.events = rest.events

    def install(self, app: web.Application) -> None:
        message = "/channels/{channel_id:\\d+}/messages/{message_id:\\d+}"
        emoji = message + "/reactions/{emoji}"
        routes: list[tuple[str, str, Handler]] = [
            ("PUT", emoji + "/@me", self.put_own_reaction),
            ("DELETE", emoji + "/@me", self.delete_own_reaction),
            ("DELETE", emoji + "/{user_id:\\d+}", self.delete_user_reaction),
            ("GET", emoji, self.get_reaction_users),
            ("DELETE", emoji, self.delete_emoji_reactions),
            ("DELETE", message + "/reactions", self.delete_all_reactions),
            ("POST", "/channels/{channel_id:\\d+}/messages/bulk-delete", self.bulk_delete),
            ("GET", "/channels/{channel_id:\\d+}/messages/pins", self.get_pins),
            ("PUT", "/channels/{channel_id:\\d+}/messages/pins/{message_id:\\d+}", self.put_pin),
            ("DELETE", "/channels/{channel_id:\\d+}/messages/pins/{message_id:\\d+}", self.delete_pin),
            ("GET", "/channels/{channel_id:\\d+}/pins", self.get_pins_legacy),
            ("PUT", "/channels/{channel_id:\\d+}/pins/{message_id:\\d+}", self.put_pin),
            ("DELETE", "/channels/{channel_id:\\d+}/pins/{message_id:\\d+}", self.delete_pin),
        ]
        for method, path, handler in routes:
            app.router.add_route(method, API_PREFIX + path, handler)

    # -- plumbing --

    async def _respond_then_record(
        self, request: web.Request, kind: EventKind, data: Json, message: Message | None
    ) -> web.Response:
        # As RestApi does: dispatch first, then answer, then record, so a test awaiting the event and
        # then closing the bot does not cut off the bot's own request.
        response = no_content()
        if not self.rest.faults.wants_after_success(request):  # else the middleware answers (faults.py)
            self.rest.add_rate_limit_headers(request, response)
            await response.prepare(request)
            await response.write_eof()
        self.events.record(kind, data, message=message)
        return response

    def _emoji(self, request: web.Request) -> str:
        try:
            return reactions.emoji_key(request.match_info["emoji"])
        except reactions.UnknownEmoji:
            raise unknown_emoji() from None

    def _permissions(self, request: web.Request, channel: Channel) -> int:
        return self.world.permissions_in(channel, self.rest.caller(request).id)

    def _target(self, request: web.Request, *, need: int) -> tuple[Channel, Message, int]:
        channel = self.rest.requested_channel(request, need=need)
        return channel, self.rest.requested_message(request, channel), self.rest.caller(request).id

    # -- reactions --

    async def put_own_reaction(self, request: web.Request) -> web.Response:
        channel, message, me = self._target(request, need=VIEW_CHANNEL | READ_MESSAGE_HISTORY)
        key = self._emoji(request)
        if key not in message.reactions:
            # A new emoji on the message needs ADD_REACTIONS; joining an existing one does not.
            if not self._permissions(request, channel) & ADD_REACTIONS:
                raise ApiError(*MISSING_PERMISSIONS)
            if len(message.reactions) >= reactions.MAX_REACTIONS:
                raise ApiError(400, 30010, f"Maximum number of reactions reached ({reactions.MAX_REACTIONS})")
        if not reactions.add(message, me, key):
            return no_content()
        await dispatch_reaction_add(self.hub, self.world, message, me, key)
        data = {"channel_id": channel.id, "message_id": message.id, "user_id": me, "emoji": key}
        return await self._respond_then_record(request, EventKind.REACTION_ADD, data, message)

    async def delete_own_reaction(self, request: web.Request) -> web.Response:
        _channel, message, me = self._target(request, need=VIEW_CHANNEL | READ_MESSAGE_HISTORY)
        return await self._remove(request, message, me, self._emoji(request))

    async def delete_user_reaction(self, request: web.Request) -> web.Response:
        channel, message, me = self._target(request, need=VIEW_CHANNEL | READ_MESSAGE_HISTORY)
        key = self._emoji(request)
        user_id = snowflake_arg(request, "user_id")
        if user_id != me and not self._permissions(request, channel) & MANAGE_MESSAGES:
            raise ApiError(*MISSING_PERMISSIONS)
        return await self._remove(request, message, user_id, key)

    async def _remove(self, request: web.Request, message: Message, user_id: int, key: str) -> web.Response:
        if not reactions.remove(message, user_id, key):
            return no_content()  # Discord answers 204 for a reaction that was not there
        await dispatch_reaction_remove(self.hub, message, user_id, key)
        data = {"channel_id": message.channel_id, "message_id": message.id, "user_id": user_id, "emoji": key}
        return await self._respond_then_record(request, EventKind.REACTION_REMOVE, data, message)

    async def get_reaction_users(self, request: web.Request) -> web.Response:
        _channel, message, _me = self._target(request, need=VIEW_CHANNEL | READ_MESSAGE_HISTORY)
        key = self._emoji(request)
        query = request.query
        try:
            limit = int(query.get("limit", 25))
            after = int(query.get("after", 0))
            burst = int(query.get("type", 0)) == 1
        except ValueError:
            raise invalid_form("limit", "NUMBER_TYPE_COERCE", "Value is not int.") from None
        if not 1 <= limit <= 100:
            raise invalid_form("limit", "NUMBER_TYPE_MAX", "int value should be between 1 and 100.")
        # discord.py pages with after=<last user id>, so the list is in id order, as on Discord.
        ids = [] if burst else sorted(u for u in message.reactions.get(key, []) if u > after)[:limit]
        return json_response([user_payload(self.world.users[u]) for u in ids if u in self.world.users])

    async def delete_all_reactions(self, request: web.Request) -> web.Response:
        return await self._clear(request, None)

    async def delete_emoji_reactions(self, request: web.Request) -> web.Response:
        return await self._clear(request, self._emoji(request))

    async def _clear(self, request: web.Request, key: str | None) -> web.Response:
        _channel, message, _me = self._target(
            request, need=VIEW_CHANNEL | READ_MESSAGE_HISTORY | MANAGE_MESSAGES
        )
        if not reactions.clear(message, key):
            return no_content()
        event, data = reactions.reaction_clear_event(message, key)
        if message.guild_id is not None:
            await self.hub.dispatch(
                event, message.guild_id, lambda _s: data, intent=reactions.GUILD_MESSAGE_REACTIONS
            )
        record = {"channel_id": message.channel_id, "message_id": message.id, "emoji": key}
        return await self._respond_then_record(request, EventKind.REACTIONS_CLEAR, record, message)

    # -- bulk delete --

    async def bulk_delete(self, request: web.Request) -> web.Response:
        channel = self.rest.requested_channel(request, need=VIEW_CHANNEL | MANAGE_MESSAGES)
        body, _files = await read_body(request)
        raw = body.get("messages") if isinstance(body, dict) else None
        if not isinstance(raw, list):
            raise invalid_form("messages", "BASE_TYPE_REQUIRED", "This field is required")
        if len(raw) < BULK_DELETE_MIN:
            raise invalid_form(
                "messages", "BASE_TYPE_MIN_LENGTH", f"Must be {BULK_DELETE_MIN} or more in length."
            )
        if len(raw) > BULK_DELETE_MAX:
            raise invalid_form(
                "messages", "BASE_TYPE_MAX_LENGTH", f"Must be {BULK_DELETE_MAX} or fewer in length."
            )
        try:
            ids = [int(i) for i in raw]
        except (TypeError, ValueError):
            raise invalid_form("messages", "NUMBER_TYPE_COERCE", "Value is not snowflake.") from None
        if len(set(ids)) != len(ids):
            raise invalid_form("messages", "BASE_TYPE_BAD_DUPLICATE", "Duplicate message ids.")
        # The age is the snowflake's, whether or not the message still exists.
        oldest_allowed = (int((time.time() - BULK_DELETE_MAX_AGE_S) * 1000) - DISCORD_EPOCH_MS) << 22
        if any(i < oldest_allowed for i in ids):
            raise ApiError(400, 50034, "You can only bulk delete messages that are under 14 days old.")
        deleted: list[Message] = []
        for message_id in ids:
            message = self.world.get_message(channel.id, message_id)
            if message is not None:  # unknown ids are skipped, not an error
                self.world.delete_message(message)
                deleted.append(message)
        if not deleted:
            return no_content()
        payload = {
            "ids": [str(m.id) for m in deleted],
            "channel_id": str(channel.id),
            "guild_id": str(channel.guild_id),
        }
        await self.hub.dispatch(
            "MESSAGE_DELETE_BULK", channel.guild_id, lambda _s: payload, intent=GUILD_MESSAGES
        )
        data = {"channel_id": channel.id, "message_ids": [m.id for m in deleted]}
        return await self._respond_then_record(request, EventKind.MESSAGE_DELETE_BULK, data, None)

    # -- pins --

    def _pins(self, channel: Channel) -> list[Message]:
        """Pinned messages, most recently pinned first."""
        pinned = [m for m in self.world.messages.get(channel.id, {}).values() if m.pinned]
        return sorted(
            pinned, key=lambda m: (m.pinned_at or datetime.min.replace(tzinfo=UTC), m.id), reverse=True
        )

    async def get_pins(self, request: web.Request) -> web.Response:
        channel = self.rest.requested_channel(request, need=VIEW_CHANNEL | READ_MESSAGE_HISTORY)
        try:
            limit = int(request.query.get("limit", 50))
            before = datetime.fromisoformat(request.query["before"]) if "before" in request.query else None
        except ValueError:
            raise invalid_form("before", "DATE_TIME_TYPE_PARSE", "Could not parse the value.") from None
        if not 1 <= limit <= 50:
            raise invalid_form("limit", "NUMBER_TYPE_MAX", "int value should be between 1 and 50.")
        pins = [m for m in self._pins(channel) if before is None or (m.pinned_at and m.pinned_at < before)]
        items = [
            {"pinned_at": iso(m.pinned_at), "message": message_payload(self.world, m)} for m in pins[:limit]
        ]
        return json_response({"items": items, "has_more": len(pins) > limit})

    async def get_pins_legacy(self, request: web.Request) -> web.Response:
        channel = self.rest.requested_channel(request, need=VIEW_CHANNEL | READ_MESSAGE_HISTORY)
        return json_response([message_payload(self.world, m) for m in self._pins(channel)[:50]])

    def _pin_target(self, request: web.Request) -> tuple[Channel, Message]:
        channel, message, _me = self._target(request, need=VIEW_CHANNEL)
        # PIN_MESSAGES split off MANAGE_MESSAGES in 2025; either is accepted, as during Discord's transition.
        if not self._permissions(request, channel) & (PIN_MESSAGES | MANAGE_MESSAGES):
            raise ApiError(*MISSING_PERMISSIONS)
        return channel, message

    async def put_pin(self, request: web.Request) -> web.Response:
        channel, message = self._pin_target(request)
        if message.pinned:
            return no_content()
        if len(self._pins(channel)) >= MAX_PINS:
            raise ApiError(400, 30003, f"Maximum number of pins reached ({MAX_PINS})")
        message.pinned, message.pinned_at = True, datetime.now(UTC)
        return await self._pins_changed(request, channel, message, EventKind.MESSAGE_PIN)

    async def delete_pin(self, request: web.Request) -> web.Response:
        channel, message = self._pin_target(request)
        if not message.pinned:
            return no_content()
        message.pinned, message.pinned_at = False, None
        return await self._pins_changed(request, channel, message, EventKind.MESSAGE_UNPIN)

    async def _pins_changed(
        self, request: web.Request, channel: Channel, message: Message, kind: EventKind
    ) -> web.Response:
        # discord.py fires on_message_edit for the pinned flag, and on_guild_channel_pins_update.
        await self.hub.dispatch_message("MESSAGE_UPDATE", message)
        latest = next(iter(self._pins(channel)), None)
        pins_update = {
            "guild_id": str(channel.guild_id),
            "channel_id": str(channel.id),
            "last_pin_timestamp": None if latest is None else iso(latest.pinned_at),
        }
        await self.hub.dispatch(
            "CHANNEL_PINS_UPDATE", channel.guild_id, lambda _s: pins_update, intent=GUILDS
        )
        data = {"channel_id": channel.id, "message_id": message.id}
        return await self._respond_then_record(request, kind, data, message)
