"""The sandbox REST API: the ``/api/v10`` routes a bot uses, with Discord's shapes, errors and headers.

Discord's error shapes, JSON responses and body parsing are in ``rest_http``; reactions, bulk delete
and pins in ``rest_messages``; moderation in ``guild_routes``; interaction callbacks and webhooks in
``interaction_routes``. Those route modules reach the request checks here through :class:`RestApi`'s
public helpers (:meth:`~RestApi.caller`, :meth:`~RestApi.requested_channel`...).

``HTTPClient.request`` (discord.py 2.7, ``http.py``) keys its rate limiting on ``X-RateLimit-*``
headers, counted for real by ``ratelimits.RateLimiter`` with generous default limits, so it never waits
unless a test tightens them. 500/502/504 are retried with sleeps, so sandbox bugs surface as slow tests:
every handler error is logged with its traceback. Injected faults (``faults.py``) answer before the
handler runs.

The channel and message routes serve DM channels too (:meth:`RestApi.requested_target`; opening one is
in ``rest_dms``). ``GET gateway/bot`` reports the hub's shard count and session start limit.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable

from aiohttp import web

from .attachments import store_attachments
from .events import (
    EventKind,
    EventLog,
)
from .faults import FaultInjector
from .gateway import GatewayHub
from .gateway_protocol import gateway_url_for
from .limits import CommandLimits
from .nonces import NonceRegistry, message_nonce
from .payloads import application_payload, channel_payload, dm_channel_payload, message_payload, user_payload
from .ratelimits import RateLimiter
from .rest_http import (
    API_PREFIX,
    MANAGE_MESSAGES,
    MAX_CONTENT,
    MISSING_ACCESS,
    MISSING_PERMISSIONS,
    READ_MESSAGE_HISTORY,
    SEND_MESSAGES,
    VIEW_CHANNEL,
    ApiError,
    Handler,
    invalid_form,
    json_response,
    message_content,
    no_content,
    read_body,
    snowflake_arg,
    unknown,
)
from .validation import check_message
from .validation_commands import check_commands, daily_creates_refusal, new_commands
from .world import (
    Channel,
    DMChannel,
    Guild,
    Json,
    Message,
    User,
    World,
)

log = logging.getLogger(__name__)

REQUEST_LOG_SIZE = 1000


class RestApi:
    """The REST routes, bound to one world, event log and gateway hub."""

    def __init__(self, world: World, events: EventLog, hub: GatewayHub) -> None:
        self.world = world
        self.events = events
        self.hub = hub
        # Every request (method, path, status) for debugging; bounded so a long session stays small.
        self.requests: deque[tuple[str, str, int]] = deque(maxlen=REQUEST_LOG_SIZE)
        # Injected faults and rate limits, consulted before every handler (faults.py, ratelimits.py).
        self.faults = FaultInjector(events)
        self.rate_limits = RateLimiter(events)
        # Recent (author, nonce) pairs, for enforce_nonce on message creates (nonces.py).
        self.nonces = NonceRegistry()
        # Application-command counts and daily creates (limits.py; Sandbox(command_limits=...)).
        self.command_limits = CommandLimits()
        # Other modules' route installers (e.g. InteractionApi.install), run before the catch-all route.
        self.extra_routes: list[Callable[[web.Application], None]] = []

    def install(self, app: web.Application) -> None:
        """Add the middleware and routes to ``app`` (before it starts)."""
        app.middlewares.append(self._middleware)
        routes: list[tuple[str, str, Handler]] = [
            ("GET", "/users/@me", self.get_me),
            ("GET", "/users/{user_id:\\d+}", self.get_user),
            ("GET", "/oauth2/applications/@me", self.get_application),
            ("GET", "/gateway", self.get_gateway),
            ("GET", "/gateway/bot", self.get_gateway_bot),
            ("GET", "/channels/{channel_id:\\d+}", self.get_channel),
            ("GET", "/channels/{channel_id:\\d+}/messages", self.get_messages),
            ("POST", "/channels/{channel_id:\\d+}/messages", self.post_message),
            ("GET", "/channels/{channel_id:\\d+}/messages/{message_id:\\d+}", self.get_message),
            ("PATCH", "/channels/{channel_id:\\d+}/messages/{message_id:\\d+}", self.patch_message),
            ("DELETE", "/channels/{channel_id:\\d+}/messages/{message_id:\\d+}", self.delete_message),
            ("POST", "/channels/{channel_id:\\d+}/typing", self.post_typing),
            ("GET", "/applications/{app_id:\\d+}/commands", self.get_commands),
            ("PUT", "/applications/{app_id:\\d+}/commands", self.put_commands),
            ("GET", "/applications/{app_id:\\d+}/guilds/{guild_id:\\d+}/commands", self.get_commands),
            ("PUT", "/applications/{app_id:\\d+}/guilds/{guild_id:\\d+}/commands", self.put_commands),
        ]
        for method, path, handler in routes:
            app.router.add_route(method, API_PREFIX + path, handler)
        # Attachments are served like Discord's CDN: outside the API, no Authorization header.
        app.router.add_get("/attachments/{channel_id}/{attachment_id:\\d+}/{filename}", self.get_attachment)
        for add_routes in self.extra_routes:
            add_routes(app)
        # Registered last and matched last (aiohttp tries the longest path prefix first).
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self.unknown_route)

    # -- plumbing --

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith(API_PREFIX + "/"):
            return await handler(request)
        # In the transcript when it arrives (before what its handler dispatches), its status once known.
        call = self.hub.transcript.rest(request.method, request.path_qs)
        try:
            # GET gateway needs no token on Discord either; everything else answers 401 without one.
            # So do routes whose URL carries its own token (see no_auth).
            caller = None
            if request.path != API_PREFIX + "/gateway" and not getattr(
                request.match_info.handler, "no_auth", False
            ):
                caller = self.caller(request)
            blocked = await self.faults.intercept(request)
            if blocked is None and caller is not None:
                blocked = self.rate_limits.admit(request, caller.id)
            response = blocked if blocked is not None else await handler(request)
            if blocked is None and not response.prepared and response.status < 400:
                response = self.faults.after_success(request) or response  # fail_after_create
        except ApiError as exc:
            response = json_response(exc.body(), exc.status)
        except Exception:
            log.exception("sandbox REST handler failed: %s %s", request.method, request.path)
            response = json_response({"message": "500: Internal Server Error", "code": 0}, 500)
        if not response.prepared:
            self.add_rate_limit_headers(request, response)
        self.requests.append((request.method, request.path_qs, response.status))
        call.status = response.status
        log.debug("%s %s -> %d", request.method, request.path_qs, response.status)
        return response

    def caller(self, request: web.Request) -> User:
        """The bot user making this request; a missing or wrong token is a 401, as on Discord."""
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bot ") if header.startswith("Bot ") else None
        user = self.world.user_for_token(token)
        if user is None:
            raise ApiError(401, 0, "401: Unauthorized")
        return user

    def add_rate_limit_headers(self, request: web.Request, response: web.StreamResponse) -> None:
        """Set ``X-RateLimit-*`` on a response a handler writes itself (the middleware does the rest)."""
        self.rate_limits.add_headers(request, response)

    def requested_channel(self, request: web.Request, *, need: int = VIEW_CHANNEL) -> Channel:
        """The URL's ``channel_id``, if the caller may see it and has every permission in ``need``.

        404/10003 for an unknown channel, 403/50001 if the caller cannot see it, 403/50013 if it lacks
        a permission.
        """
        channel = self.world.channel(snowflake_arg(request, "channel_id"))
        if channel is None:
            raise unknown("Channel", 10003)
        perms = self.world.permissions_in(channel, self.caller(request).id)
        if not perms & VIEW_CHANNEL:
            raise ApiError(*MISSING_ACCESS)
        if perms & need != need:
            raise ApiError(*MISSING_PERMISSIONS)
        return channel

    def requested_target(self, request: web.Request, *, need: int = VIEW_CHANNEL) -> Channel | DMChannel:
        """The URL's ``channel_id``: a DM channel the caller is one end of, else as :meth:`requested_channel`.

        A DM of two other users is 403/50001, as on Discord.
        """
        dm = self.world.dm_channels.get(snowflake_arg(request, "channel_id"))
        if dm is None:
            return self.requested_channel(request, need=need)
        if not dm.has(self.caller(request).id):
            raise ApiError(*MISSING_ACCESS)
        return dm

    def requested_message(self, request: web.Request, channel: Channel | DMChannel) -> Message:
        """The URL's ``message_id`` in ``channel`` (404/10008 if it is not there)."""
        message = self.world.get_message(channel.id, snowflake_arg(request, "message_id"))
        if message is None:
            raise unknown("Message", 10008)
        return message

    def requested_guild(self, request: web.Request) -> Guild:
        """The URL's ``guild_id``, if the caller is a member (404/10004 unknown, 403/50001 not in it)."""
        guild = self.world.guilds.get(snowflake_arg(request, "guild_id"))
        if guild is None:
            raise unknown("Guild", 10004)
        if self.caller(request).id not in guild.members:
            raise ApiError(*MISSING_ACCESS)
        return guild

    def _check_application(self, request: web.Request) -> None:
        if snowflake_arg(request, "app_id") != self.world.application.id:
            raise ApiError(403, 20012, "You are not authorized to perform this action on this application")

    # -- users, application, gateway --

    async def get_me(self, request: web.Request) -> web.Response:
        return json_response(user_payload(self.caller(request), me=True))

    async def get_user(self, request: web.Request) -> web.Response:
        user = self.world.users.get(snowflake_arg(request, "user_id"))
        if user is None:
            raise unknown("User", 10013)
        return json_response(user_payload(user))

    async def get_application(self, request: web.Request) -> web.Response:
        return json_response(application_payload(self.world))

    async def get_gateway(self, request: web.Request) -> web.Response:
        return json_response({"url": gateway_url_for(request)})

    async def get_gateway_bot(self, request: web.Request) -> web.Response:
        return json_response(
            {
                "url": gateway_url_for(request),
                "shards": self.hub.recommended_shards,
                "session_start_limit": self.hub.limits.session_start_limit(self.caller(request).id),
            }
        )

    # -- channels and messages --

    async def get_channel(self, request: web.Request) -> web.Response:
        channel = self.requested_target(request)
        if isinstance(channel, DMChannel):
            return json_response(dm_channel_payload(channel))
        return json_response(channel_payload(channel))

    async def get_messages(self, request: web.Request) -> web.Response:
        channel = self.requested_target(request, need=VIEW_CHANNEL | READ_MESSAGE_HISTORY)
        query = request.query
        try:
            limit = int(query.get("limit", 50))
            anchors = {k: int(query[k]) for k in ("before", "after", "around") if k in query}
        except ValueError:
            raise invalid_form("limit", "NUMBER_TYPE_COERCE", "Value is not int.") from None
        if not 1 <= limit <= 100:
            raise invalid_form("limit", "NUMBER_TYPE_MAX", "int value should be between 1 and 100.")
        messages = self.world.history(channel.id, limit=limit, **anchors)
        return json_response([message_payload(self.world, m) for m in messages])

    async def get_message(self, request: web.Request) -> web.Response:
        channel = self.requested_target(request, need=VIEW_CHANNEL | READ_MESSAGE_HISTORY)
        return json_response(message_payload(self.world, self.requested_message(request, channel)))

    async def post_message(self, request: web.Request) -> web.Response:
        channel = self.requested_target(request, need=VIEW_CHANNEL | SEND_MESSAGES)
        body, files = await read_body(request)
        check_message(body, flags=int(body.get("flags") or 0))  # Discord's limits (validation.py)
        content = message_content(body)
        nonce, enforce_nonce = message_nonce(body)
        if enforce_nonce and nonce is not None:
            # Same author, same nonce, within a few minutes: Discord returns that message, creates none.
            existing = self.nonces.find(self.world, self.caller(request).id, nonce)
            if existing is not None:
                return json_response(message_payload(self.world, existing))
        attachments = store_attachments(self.world, request, channel, body, files)
        if not (
            content or body.get("embeds") or body.get("components") or attachments or body.get("sticker_ids")
        ):
            raise ApiError(400, 50006, "Cannot send an empty message")
        message = self.world.create_message(
            channel,
            self.caller(request),
            content,
            embeds=body.get("embeds"),
            components=body.get("components"),
            attachments=attachments,
            allowed_mentions=body.get("allowed_mentions"),
            message_reference=self._reference(channel, body.get("message_reference")),
            nonce=nonce,
            tts=bool(body.get("tts", False)),
            flags=int(body.get("flags") or 0),
        )
        self.nonces.remember(message)
        await self.hub.dispatch_message("MESSAGE_CREATE", message)
        return await self._respond_then_record(
            request, json_response(message_payload(self.world, message)), EventKind.MESSAGE_CREATE, message
        )

    async def _respond_then_record(
        self, request: web.Request, response: web.Response, kind: EventKind, message: Message
    ) -> web.Response:
        # Write the response before recording, so a test awaiting this event (then closing the bot)
        # does not cut off the bot's own request mid-flight. The gateway dispatch went out first.
        # (Unless a fail_after_create fault is to replace the answer: the middleware does that.)
        if not self.faults.wants_after_success(request):
            self.add_rate_limit_headers(request, response)
            await response.prepare(request)
            await response.write_eof()
        self.events.record(
            kind, {"channel_id": message.channel_id, "message_id": message.id}, message=message
        )
        return response

    def _reference(self, channel: Channel | DMChannel, ref: Json | None) -> Json | None:
        if not ref or not ref.get("message_id"):
            return None
        ref_channel = int(ref.get("channel_id") or channel.id)
        target = self.world.get_message(ref_channel, int(ref["message_id"]))
        if target is None:
            if ref.get("fail_if_not_exists", True):
                raise invalid_form(
                    "message_reference", "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message"
                )
            return None
        reference: Json = {"type": 0, "channel_id": str(ref_channel), "message_id": str(target.id)}
        if target.guild_id is not None:  # a reply in a DM names no guild
            reference["guild_id"] = str(target.guild_id)
        return reference

    async def patch_message(self, request: web.Request) -> web.Response:
        channel = self.requested_target(request)
        message = self.requested_message(request, channel)
        if message.author.id != self.caller(request).id:
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        body, _files = await read_body(request)
        check_message(body, flags=message.flags if body.get("flags") is None else int(body["flags"]))
        if len(body.get("content") or "") > MAX_CONTENT:
            raise invalid_form(
                "content", "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_CONTENT} or fewer in length."
            )
        self.world.edit_message(message, body)
        await self.hub.dispatch_message("MESSAGE_UPDATE", message)
        return await self._respond_then_record(
            request, json_response(message_payload(self.world, message)), EventKind.MESSAGE_UPDATE, message
        )

    async def delete_message(self, request: web.Request) -> web.Response:
        channel = self.requested_target(request)
        message = self.requested_message(request, channel)
        user = self.caller(request)
        # In a DM only the author may delete a message.
        moderator = (
            isinstance(channel, Channel) and self.world.permissions_in(channel, user.id) & MANAGE_MESSAGES
        )
        if message.author.id != user.id and not moderator:
            raise ApiError(*MISSING_PERMISSIONS)
        self.world.delete_message(message)
        await self.hub.dispatch_message_delete(message)
        return await self._respond_then_record(request, no_content(), EventKind.MESSAGE_DELETE, message)

    async def post_typing(self, request: web.Request) -> web.Response:
        channel = self.requested_target(request, need=VIEW_CHANNEL | SEND_MESSAGES)
        self.events.record(EventKind.TYPING, {"channel_id": channel.id, "user_id": self.caller(request).id})
        return no_content()

    async def get_attachment(self, request: web.Request) -> web.Response:
        data = self.world.attachment_data.get(int(request.match_info["attachment_id"]))
        if data is None:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=data, content_type="application/octet-stream")

    # -- application commands --

    def _command_scope(self, request: web.Request) -> int | None:
        self._check_application(request)
        return self.requested_guild(request).id if "guild_id" in request.match_info else None

    async def get_commands(self, request: web.Request) -> web.Response:
        return json_response(self.world.commands.get(self._command_scope(request), []))

    async def put_commands(self, request: web.Request) -> web.Response:
        scope = self._command_scope(request)
        body, _files = await read_body(request)
        if not isinstance(body, list) or not all(isinstance(c, dict) for c in body):
            raise invalid_form("_root", "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType")
        # Discord's checks, in its order: the bodies (50035), the counts per type (30032), then the
        # day's creates (429/30034), counting only commands that do not exist yet (validation_commands).
        check_commands(body, self.command_limits)
        created = new_commands(body, self.world.commands.get(scope, []))
        retry_after = self.command_limits.admit_creates(scope, created)
        if retry_after is not None:
            log.warning(
                "sandbox: refused a command overwrite creating %d commands: the day's %d creates are used up",
                created,
                self.command_limits.daily_creates,
            )
            return daily_creates_refusal(self.command_limits, retry_after)
        stored = self.world.overwrite_commands(scope, body)
        self.events.record(EventKind.COMMANDS_SYNC, {"guild_id": scope, "commands": stored})
        return json_response(stored)

    # -- gaps --

    async def unknown_route(self, request: web.Request) -> web.Response:
        # Discord's 404 body ({"message": "404: Not Found", "code": 0}), its message naming the route (as
        # discord.py's route template when it calls one) and the parity table, so the gap is plain in the
        # HTTPException a bot's test sees. (Imported here: ``python -m tui_bot.sandbox.parity`` imports rest.)
        from .parity import PARITY_DOC, describe_unknown

        # The first call reads discord.py's source (~0.3 s): off the event loop.
        route = await asyncio.to_thread(describe_unknown, request.method, request.path)
        log.warning("sandbox: unknown REST route %s (%s, answered 404)", route, request.path)
        self.events.record(
            EventKind.UNKNOWN_ROUTE,
            {"method": request.method, "path": request.path, "query": request.query_string, "route": route},
        )
        message = f"404: Not Found (the sandbox does not implement {route}; see {PARITY_DOC})"
        return json_response({"message": message, "code": 0}, 404)
