"""The control API: drive the sandbox over HTTP+JSON from any language (``/_sandbox/`` on the same port).

The REST API under ``/api/v10`` is the bot's Discord; this API is the test's side of it: act as members
and read what bots did. It needs no token (the sandbox listens on loopback only). Snowflakes are
strings, as in Discord's JSON (integers of 2**53 and above are too big for JavaScript numbers); so is
any other integer that large. Errors are ``{"error": "what to fix"}`` with 400 (a bad request) or 404
(an unknown user, channel, message, emoji...).

This module holds the index, the world, messages, events, reactions and members; the interaction
endpoints are in ``control_interactions``, the fault and rate-limit knobs in ``control_faults``, the
gateway limits and direct messages in ``control_gateway``, the JSON conventions in ``control_http``.

Endpoints:

``GET /_sandbox``
    ``{"api_base", "gateway_url", "control_base", "endpoints": [...]}``.
``GET /_sandbox/world``
    ``{"application", "bot", "users", "guilds"}``; each guild has ``roles``, ``channels`` and
    ``members`` in Discord's shapes (members with ``user``).
``GET /_sandbox/messages?channel=general&limit=50[&before=ID][&after=ID]``
    ``{"channel_id", "messages": [...]}``: the channel's most recent ``limit`` messages (1-1000,
    default 50), bots' included, oldest first, in Discord's message shape (with ``reactions``).
    ``channel`` may also be a DM channel's id.
``POST /_sandbox/messages`` ``{"author": "alice", "channel": "general", "content": "!help"}``
    Posts as that member (name, nick or id) and dispatches MESSAGE_CREATE to bots; answers the created
    message (Discord's shape, with ``guild_id`` and ``member``) once it is on every bot's socket.
``GET /_sandbox/events?after=N&kind=K[,K...]&wait=SECONDS&limit=L``
    ``{"events": [...], "next_after": M}``: recorded events with index > N (default -1: all), of the
    given kinds (``EventKind`` values such as ``message_create``; default all), at most ``limit``
    (1-10000, default 1000). With ``wait`` (0-600 s) and nothing to return yet, waits for the first
    matching event instead of answering empty at once: a long poll, so any client can await the bot
    without sleeping. Each event is ``{"index", "kind", "at", "data", "message"}`` (``at``: the
    sandbox's monotonic clock in seconds; ``message``: a snapshot when the event happened, or null).
    Pass ``next_after`` as the next ``after``. The log keeps the last 100,000 events.
``POST /_sandbox/reactions`` ``{"author": "bob", "message_id": "...", "emoji": "👍"}``
    Adds that member's reaction (MESSAGE_REACTION_ADD to bots); ``DELETE`` with the same body (or
    query) removes it. Answers ``{"message": ...}`` with the message's reactions.

Forwarded to the Sandbox's Python API:

``POST /_sandbox/interactions/slash`` ``{"author", "channel", "command", "options": {}, "guild"?, "wait"?}``
``POST /_sandbox/interactions/button`` ``{"author", "message_id", "custom_id"? , "label"?, "wait"?}``
``POST /_sandbox/interactions/select`` ``{"author", "message_id", "custom_id", "values": [...], "wait"?}``
``POST /_sandbox/interactions/modal`` ``{"author", "interaction_id", "values": {...}, "wait"?}``
    ``interaction_id`` is the interaction whose callback opened the modal. Each answers
    ``{"interaction": {"id", "token", "type", "name"}, "response": ... | null}``; with ``wait`` seconds
    the response (``{"type", "data", "latency", "message"}``) is awaited, else it is null.
``POST /_sandbox/interactions/autocomplete`` ``{"author", "channel", "command", "focused", "options"}``
    ``{"choices": [{"name", "value"}]}``.
``POST /_sandbox/faults/gateway``
    ``{"action": "drop" | "release" | "reconnect" | "invalidate", "code"?, "shard_id"?, "hold"?,
    "resumable"?}`` -> ``{"sessions": [...]}``: drop connections (``code`` null: no close frame; ``hold``
    true: new connections get no HELLO until ``"release"``, so the outage lasts), send RECONNECT, or
    INVALID_SESSION(``resumable``). ``"withhold_acks"`` (``"count"``: that many, null: all until
    ``"release_acks"``) answers heartbeats with no ACK; ``"heartbeat"`` sends op 1, which the client
    must answer at once (``control_gateway``).
``POST /_sandbox/faults/rest``
    ``{"kind": "429" | "status" | "delay" | "after_create", "route"?, "count"?, "status"?, "ms"?,
    "retry_after"?, "global"?, "every"?}``. ``"status"`` answers ``status`` (default 500; null drops
    the connection) before the handler runs; ``"after_create"`` lets the request succeed (the message
    is created), then answers ``status`` (default 500; null drops the connection) instead.
    Answers the fault's description; ``DELETE /_sandbox/faults`` clears every REST fault.
``PUT /_sandbox/rate-limits`` ``{"route": "POST channels/*/messages", "limit": 5, "per_seconds": 1}``
    (or ``{"global": true, "limit": 50}``); ``DELETE /_sandbox/rate-limits`` restores the defaults.
``GET /_sandbox/gateway``
    ``{"max_concurrency", "identify_window", "session_start_limit", "session_reset_after",
    "recommended_shards", "session_start_limits": {bot id: {"total", "remaining", "reset_after",
    "max_concurrency"}}, "sessions": [{"session_id", "user_id", "shard", "connected"}],
    "identify_refusals": [{"session_id", "user_id", "shard", "bucket", "reason", "at", "retry_after"}]}``.
    ``reason`` is ``"max_concurrency"`` (an IDENTIFY within ``identify_window`` seconds of another in its
    bucket ``shard_id % max_concurrency``: answered INVALID_SESSION) or ``"session_start_limit"`` (none
    left: closed with 4004). Refusals are also ``identify_refused`` events.
``PATCH /_sandbox/gateway`` ``{"max_concurrency": 2, "identify_window": 0.5, ...}``
    Changes any of the five settings (``identify_window`` 0 or null: not enforced), or the send limit
    and zombie detection (``send_limit``, ``send_window``, ``heartbeat_grace``); answers as GET.
``POST /_sandbox/direct-messages`` ``{"author": "alice", "content": "hi"}``
    ``author`` sends the bot a DM (its DM channel is opened the first time); MESSAGE_CREATE goes to the
    bot's shard 0 sessions only, as on Discord. Answers the message (no ``guild_id``).
``POST /_sandbox/members`` ``{"user", "guild"?, "roles"?, "nick"?}``;
``DELETE /_sandbox/members?member=bob[&guild=...]``
    A user joins or leaves a guild (GUILD_MEMBER_ADD / _REMOVE); a banned user is refused (400).
``POST /_sandbox/bans`` ``{"user", "guild"?, "reason"?}``; ``DELETE /_sandbox/bans?user=bob[&guild=...]``;
``GET /_sandbox/bans?guild=...``
    Ban a user (GUILD_BAN_ADD, then GUILD_MEMBER_REMOVE if a member), lift the ban, list the bans
    (``control_bans``); each answers ``{"guild_id", "bans": [{"user", "reason"}]}``.
``GET /_sandbox/transcript?limit=50``
    ``{"lines": [...]}``: the most recent gateway frames (both ways), gateway closes and REST calls,
    oldest first (``transcript``).
``GET /_sandbox/limits``; ``PATCH /_sandbox/limits`` ``{"commands": {"daily_creates": 3, ...}}``
    Discord's limits the sandbox enforces (the table) and the application-command limits with the
    creates left today per scope; PATCH changes the command limits (``control_limits``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from aiohttp import web

from .control_bans import BanControls
from .control_faults import FaultControls
from .control_gateway import GatewayControls
from .control_http import (
    CONTROL_PREFIX,
    MAX_WAIT,
    ControlError,
    ControlHandler,
    ControlRoute,
    jsonable,
    message_json,
    message_ref,
    number,
    read_object,
    required,
    respond,
)
from .control_interactions import InteractionControls
from .control_limits import LimitControls
from .events import EventKind, SandboxEvent
from .payloads import channel_payload, member_payload, role_payload, user_payload
from .world import Json, WorldError

if TYPE_CHECKING:
    from .server import Sandbox

log = logging.getLogger(__name__)

MAX_EVENTS_PER_POLL = 10_000
MAX_MESSAGES = 1000


class ControlApi:
    """The ``/_sandbox/`` routes for one :class:`~tui_bot.sandbox.server.Sandbox`."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.world = sandbox.world
        # Set when the server shuts down, so long polls answer at once instead of holding the shutdown.
        self._closing = asyncio.Event()
        self.interactions = InteractionControls(sandbox)
        self.faults = FaultControls(sandbox)
        self.gateway = GatewayControls(sandbox)
        self.bans = BanControls(sandbox)
        self.limits = LimitControls(sandbox)

    def _routes(self) -> list[ControlRoute]:
        return [
            ControlRoute("GET", "", self.index),
            ControlRoute("GET", "/world", self.get_world),
            ControlRoute("GET", "/messages", self.get_messages),
            ControlRoute("POST", "/messages", self.post_message),
            ControlRoute("GET", "/events", self.get_events),
            ControlRoute("POST", "/reactions", self.post_reaction),
            ControlRoute("DELETE", "/reactions", self.delete_reaction),
            *self.interactions.routes(),
            *self.faults.routes(),
            *self.gateway.routes(),
            ControlRoute("POST", "/members", self.add_member),
            ControlRoute("DELETE", "/members", self.remove_member),
            *self.bans.routes(),
            *self.limits.routes(),
        ]

    def install(self, app: web.Application) -> None:
        """Add the routes to ``app`` (registered through ``RestApi.extra_routes``)."""
        for route in self._routes():
            app.router.add_route(route.method, CONTROL_PREFIX + route.path, self._wrap(route.handler))
        app.router.add_route("*", CONTROL_PREFIX + "/{tail:.*}", self._wrap(self.unknown))
        app.on_shutdown.append(self._on_shutdown)

    async def _on_shutdown(self, _app: web.Application) -> None:
        self._closing.set()

    def _wrap(self, handler: ControlHandler) -> ControlHandler:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            try:
                return await handler(request)
            except ControlError as exc:
                return respond({"error": exc.message}, exc.status)
            except WorldError as exc:  # unknown user, member, channel, role, guild, emoji
                return respond({"error": str(exc).strip("'\"")}, 404)
            except (ValueError, TypeError) as exc:  # includes InteractionError
                return respond({"error": str(exc)}, 400)
            except Exception:
                log.exception("sandbox control API failed: %s %s", request.method, request.path_qs)
                return respond({"error": "internal error in the sandbox (see its log)"}, 500)

        return wrapped

    # -- core --

    async def index(self, request: web.Request) -> web.Response:
        sb = self.sandbox
        return respond(
            {
                "api_base": sb.api_base,
                "gateway_url": sb.gateway_url,
                "control_base": sb.base_url + CONTROL_PREFIX,
                "endpoints": [f"{r.method} {CONTROL_PREFIX}{r.path}" for r in self._routes()],
            }
        )

    async def get_world(self, request: web.Request) -> web.Response:
        world = self.world
        app = world.application
        guilds = [
            {
                "id": str(g.id),
                "name": g.name,
                "owner_id": str(g.owner_id),
                "roles": [role_payload(r) for r in g.roles.values()],
                "channels": [channel_payload(c) for c in g.channels.values()],
                "members": [member_payload(m) for m in g.members.values()],
            }
            for g in world.guilds.values()
        ]
        return respond(
            {
                "application": {
                    "id": str(app.id),
                    "name": app.name,
                    "owner_id": str(app.owner_id),
                    "bot_id": str(app.bot_id),
                },
                "bot": user_payload(world.bot_user),
                "users": [user_payload(u) for u in world.users.values()],
                "guilds": guilds,
            }
        )

    async def get_messages(self, request: web.Request) -> web.Response:
        query = request.query
        ref = required(query, "channel", '"general"')
        # A DM channel by id (from POST /direct-messages' answer), else a guild channel by id or name.
        dm = self.world.dm_channels.get(int(ref)) if ref.isdigit() else None
        channel = dm if dm is not None else self.world.find_channel(ref)
        limit = number(query, "limit", 50, 1, MAX_MESSAGES, integer=True)
        anchors = {}
        for name in ("before", "after"):
            if query.get(name):
                anchors[name] = number(query, name, 0, 0, 2**64, integer=True)
        messages = self.world.history(channel.id, limit=limit, **anchors)
        return respond(
            {
                "channel_id": str(channel.id),
                "messages": [message_json(self.world, m) for m in reversed(messages)],
            }
        )

    async def post_message(self, request: web.Request) -> web.Response:
        body = await read_object(request)
        author = required(body, "author", '"alice"')
        channel = required(body, "channel", '"general"')
        content = body.get("content")
        if not isinstance(content, str) or not content:
            raise ControlError(400, 'missing "content": the message text, e.g. "content": "!help"')
        message = await self.sandbox.send_message(author, channel, content)
        return respond(message_json(self.world, message))

    async def get_events(self, request: web.Request) -> web.Response:
        query = request.query
        after = number(query, "after", -1, -1, 2**63, integer=True)
        wait = number(query, "wait", 0.0, 0.0, MAX_WAIT, integer=False)
        limit = number(query, "limit", 1000, 1, MAX_EVENTS_PER_POLL, integer=True)
        kinds: set[EventKind] | None = None
        if query.get("kind"):
            kinds = set()
            for name in query["kind"].split(","):
                try:
                    kinds.add(EventKind(name.strip()))
                except ValueError:
                    valid = ", ".join(k.value for k in EventKind)
                    raise ControlError(
                        400, f"unknown event kind {name.strip()!r}; kinds are: {valid}"
                    ) from None

        def wanted(event: SandboxEvent) -> bool:
            return kinds is None or event.kind in kinds

        log_ = self.sandbox.event_log
        found = [e for e in log_.since(after + 1) if wanted(e)]
        if not found and wait > 0 and not self._closing.is_set():
            await self._wait_for_event(wanted, after + 1, wait)
            found = [e for e in log_.since(after + 1) if wanted(e)]
        found = found[:limit]
        next_after = found[-1].index if found else max(after, log_.first_index - 1)
        return respond({"events": [self._event_json(e) for e in found], "next_after": next_after})

    async def _wait_for_event(self, wanted: Callable[[SandboxEvent], bool], start: int, wait: float) -> None:
        waiter = asyncio.ensure_future(self.sandbox.event_log.wait_for(wanted, start=start, timeout=None))
        closing = asyncio.ensure_future(self._closing.wait())
        try:
            await asyncio.wait({waiter, closing}, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (waiter, closing):
                task.cancel()
            await asyncio.gather(waiter, closing, return_exceptions=True)

    def _event_json(self, event: SandboxEvent) -> Json:
        return {
            "index": event.index,
            "kind": event.kind.value,
            "at": event.at,
            "data": jsonable(event.data),
            "message": None if event.message is None else message_json(self.world, event.message),
        }

    # -- reactions --

    async def post_reaction(self, request: web.Request) -> web.Response:
        return await self._reaction(request, add=True)

    async def delete_reaction(self, request: web.Request) -> web.Response:
        return await self._reaction(request, add=False)

    async def _reaction(self, request: web.Request, *, add: bool) -> web.Response:
        body = await read_object(request) or dict(request.query)
        author = required(body, "author", '"bob"')
        emoji = required(body, "emoji", '"👍"')
        message = message_ref(self.world, body)
        act = self.sandbox.add_reaction if add else self.sandbox.remove_reaction
        updated = await act(author, message, emoji)
        return respond({"message": message_json(self.world, updated)})

    # -- members --

    async def add_member(self, request: web.Request) -> web.Response:
        body = await read_object(request)
        member = await self.sandbox.add_member(
            body.get("guild"),
            required(body, "user", '"carol"'),
            roles=body.get("roles") or (),
            nick=body.get("nick"),
        )
        return respond(jsonable(member_payload(member)))

    async def remove_member(self, request: web.Request) -> web.Response:
        source = await read_object(request) or dict(request.query)
        member = await self.sandbox.remove_member(source.get("guild"), required(source, "member", '"bob"'))
        return respond(jsonable(member_payload(member)))

    async def unknown(self, request: web.Request) -> web.Response:
        known = ", ".join(f"{r.method} {CONTROL_PREFIX}{r.path}" for r in self._routes())
        raise ControlError(404, f"no control endpoint {request.method} {request.path}; endpoints: {known}")
