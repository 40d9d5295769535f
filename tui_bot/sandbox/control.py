"""The control API: drive the sandbox over HTTP+JSON from any language (``/_sandbox/`` on the same port).

The REST API under ``/api/v10`` is the bot's Discord; this API is the test's side of it: act as members
and read what bots did. It needs no token (the sandbox listens on loopback only). Snowflakes are
strings, as in Discord's JSON (integers of 2**53 and above are too big for JavaScript numbers); so is
any other integer that large. Errors are ``{"error": "what to fix"}`` with 400 (a bad request), 404
(an unknown user, channel, message, emoji...) or 501 (a feature this sandbox build lacks).

Endpoints:

``GET /_sandbox``
    ``{"api_base", "gateway_url", "control_base", "endpoints": [...]}``.
``GET /_sandbox/world``
    ``{"application", "bot", "users", "guilds"}``; each guild has ``roles``, ``channels`` and
    ``members`` in Discord's shapes (members with ``user``).
``GET /_sandbox/messages?channel=general&limit=50[&before=ID][&after=ID]``
    ``{"channel_id", "messages": [...]}``: the channel's most recent ``limit`` messages (1-1000,
    default 50), bots' included, oldest first, in Discord's message shape (with ``reactions``).
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

Forwarded to the Sandbox's other APIs when this build has them (else 501):

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
    ``{"action": "drop" | "reconnect" | "invalidate", "code"?, "shard_id"?, "resumable"?}`` ->
    ``{"sessions": [...]}``: drop connections (``code`` null: no close frame), send RECONNECT, or
    INVALID_SESSION(``resumable``).
``POST /_sandbox/faults/rest``
    ``{"kind": "429" | "status" | "delay" | "after_create", "route"?, "count"?, "status"?, "ms"?,
    "retry_after"?, "global"?, "every"?}``. ``"status"`` answers ``status`` (default 500; null drops
    the connection) before the handler runs; ``"after_create"`` lets the request succeed (the message
    is created), then answers ``status`` (default 500; null drops the connection) instead.
    Answers the fault's description; ``DELETE /_sandbox/faults`` clears every REST fault.
``PUT /_sandbox/rate-limits`` ``{"route": "POST channels/*/messages", "limit": 5, "per_seconds": 1}``
    (or ``{"global": true, "limit": 50}``); ``DELETE /_sandbox/rate-limits`` restores the defaults.
``POST /_sandbox/members`` ``{"user", "guild"?, "roles"?, "nick"?}``;
``DELETE /_sandbox/members?member=bob[&guild=...]``
    A user joins or leaves a guild (GUILD_MEMBER_ADD / _REMOVE).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .events import EventKind, SandboxEvent
from .payloads import channel_payload, member_payload, message_payload, role_payload, user_payload
from .world import Channel, Json, Message, WorldError, iso

if TYPE_CHECKING:
    from .server import Sandbox

log = logging.getLogger(__name__)

CONTROL_PREFIX = "/_sandbox"
MAX_WAIT = 600.0
MAX_EVENTS_PER_POLL = 10_000
MAX_MESSAGES = 1000
JS_SAFE_INT = 2**53

ControlHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ControlError(Exception):
    """A request the control API refuses: ``{"error": message}`` with ``status``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def jsonable(value: Any) -> Any:
    """``value`` as JSON-ready data: integers of 2**53 and more (snowflakes) as strings, times as ISO."""
    if value is None or isinstance(value, bool | float | str):
        return value
    if isinstance(value, int):
        return str(value) if abs(value) >= JS_SAFE_INT else int(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime):
        return iso(value)
    return str(value)


def respond(data: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode(),
        status=status,
        headers={"Content-Type": "application/json"},
    )


@dataclass(frozen=True)
class _Route:
    method: str
    path: str
    handler: ControlHandler


class ControlApi:
    """The ``/_sandbox/`` routes for one :class:`~tui_bot.sandbox.server.Sandbox`."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.world = sandbox.world
        # Set when the server shuts down, so long polls answer at once instead of holding the shutdown.
        self._closing = asyncio.Event()
        # Interactions sent through this API, for modal submissions that name them by id.
        self._handles: dict[int, Any] = {}

    def _routes(self) -> list[_Route]:
        return [
            _Route("GET", "", self.index),
            _Route("GET", "/world", self.get_world),
            _Route("GET", "/messages", self.get_messages),
            _Route("POST", "/messages", self.post_message),
            _Route("GET", "/events", self.get_events),
            _Route("POST", "/reactions", self.post_reaction),
            _Route("DELETE", "/reactions", self.delete_reaction),
            _Route("POST", "/interactions/slash", self.interaction_slash),
            _Route("POST", "/interactions/button", self.interaction_button),
            _Route("POST", "/interactions/select", self.interaction_select),
            _Route("POST", "/interactions/modal", self.interaction_modal),
            _Route("POST", "/interactions/autocomplete", self.interaction_autocomplete),
            _Route("POST", "/faults/gateway", self.gateway_fault),
            _Route("POST", "/faults/rest", self.rest_fault),
            _Route("DELETE", "/faults", self.clear_faults),
            _Route("PUT", "/rate-limits", self.set_rate_limit),
            _Route("DELETE", "/rate-limits", self.reset_rate_limits),
            _Route("POST", "/members", self.add_member),
            _Route("DELETE", "/members", self.remove_member),
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

    # -- request parsing --

    @staticmethod
    async def _body(request: web.Request) -> Json:
        text = await request.text()
        if not text.strip():
            return {}
        try:
            body = json.loads(text)
        except ValueError as exc:
            raise ControlError(400, f"the body is not valid JSON ({exc}); send a JSON object") from None
        if not isinstance(body, dict):
            raise ControlError(400, 'the body must be a JSON object, e.g. {"author": "alice", ...}')
        return body

    @staticmethod
    def _required(body: Json, name: str, example: str) -> Any:
        value = body.get(name)
        if value is None or value == "":
            raise ControlError(400, f'missing "{name}" (e.g. "{name}": {example})')
        return value

    @staticmethod
    def _number(source: Any, name: str, default: float, low: float, high: float, *, integer: bool) -> Any:
        raw = source.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw) if integer else float(raw)
        except (TypeError, ValueError):
            kind = "an integer" if integer else "a number"
            raise ControlError(
                400, f'"{name}" must be {kind} between {low:g} and {high:g}, got {raw!r}'
            ) from None
        if not (low <= value <= high) or (not integer and math.isnan(value)):
            raise ControlError(400, f'"{name}" must be between {low:g} and {high:g}, got {raw!r}')
        return value

    def _message_ref(self, source: Any, channel: Channel | None = None) -> Message:
        from .rest_messages import find_message

        raw = self._required(source, "message_id", '"1191168947781632001"')
        try:
            message_id = int(raw)
        except (TypeError, ValueError):
            raise ControlError(400, f'"message_id" must be a message id (a snowflake), got {raw!r}') from None
        message = find_message(self.world, message_id, None if channel is None else channel.id)
        if message is None:
            raise ControlError(404, f"no message {message_id} in the sandbox (deleted, or never sent)")
        return message

    def _message_json(self, message: Message) -> Json:
        return jsonable(message_payload(self.world, message, gateway=message.guild_id is not None))

    def _require_feature(self, name: str) -> Any:
        feature = getattr(self.sandbox, name, None)
        if feature is None:
            raise ControlError(501, f"this sandbox build has no Sandbox.{name}; the endpoint is unavailable")
        return feature

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
        channel = self.world.find_channel(self._required(query, "channel", '"general"'))
        limit = self._number(query, "limit", 50, 1, MAX_MESSAGES, integer=True)
        anchors = {}
        for name in ("before", "after"):
            if query.get(name):
                anchors[name] = self._number(query, name, 0, 0, 2**64, integer=True)
        messages = self.world.history(channel.id, limit=limit, **anchors)
        return respond(
            {"channel_id": str(channel.id), "messages": [self._message_json(m) for m in reversed(messages)]}
        )

    async def post_message(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        author = self._required(body, "author", '"alice"')
        channel = self._required(body, "channel", '"general"')
        content = body.get("content")
        if not isinstance(content, str) or not content:
            raise ControlError(400, 'missing "content": the message text, e.g. "content": "!help"')
        message = await self.sandbox.send_message(author, channel, content)
        return respond(self._message_json(message))

    async def get_events(self, request: web.Request) -> web.Response:
        query = request.query
        after = self._number(query, "after", -1, -1, 2**63, integer=True)
        wait = self._number(query, "wait", 0.0, 0.0, MAX_WAIT, integer=False)
        limit = self._number(query, "limit", 1000, 1, MAX_EVENTS_PER_POLL, integer=True)
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
            "message": None if event.message is None else self._message_json(event.message),
        }

    # -- reactions --

    async def post_reaction(self, request: web.Request) -> web.Response:
        return await self._reaction(request, add=True)

    async def delete_reaction(self, request: web.Request) -> web.Response:
        return await self._reaction(request, add=False)

    async def _reaction(self, request: web.Request, *, add: bool) -> web.Response:
        body = await self._body(request) or dict(request.query)
        author = self._required(body, "author", '"bob"')
        emoji = self._required(body, "emoji", '"👍"')
        message = self._message_ref(body)
        act = self.sandbox.add_reaction if add else self.sandbox.remove_reaction
        updated = await act(author, message, emoji)
        return respond({"message": self._message_json(updated)})

    # -- interactions (forwarded) --

    async def _interaction_answer(self, handle: Any, body: Json) -> web.Response:
        self._handles[handle.id] = handle
        wait = self._number(body, "wait", 0.0, 0.0, MAX_WAIT, integer=False)
        response: Json | None = None
        if wait > 0:
            try:
                answered = await handle.response(timeout=wait)
            except TimeoutError:
                answered = None
            if answered is not None:
                response = {
                    "type": int(answered.type),
                    "data": jsonable(answered.data),
                    "latency": answered.latency,
                    "message": None if answered.message is None else self._message_json(answered.message),
                }
        interaction = {
            "id": str(handle.id),
            "token": handle.token,
            "type": int(handle.type),
            "name": handle.name,
        }
        return respond({"interaction": interaction, "response": response})

    async def interaction_slash(self, request: web.Request) -> web.Response:
        invoke = self._require_feature("invoke_slash")
        body = await self._body(request)
        options = body.get("options") or {}
        if not isinstance(options, dict):
            raise ControlError(400, '"options" must be an object of option name to value')
        handle = await invoke(
            self._required(body, "author", '"alice"'),
            self._required(body, "channel", '"general"'),
            self._required(body, "command", '"ping"'),
            guild=body.get("guild"),
            options=options,
        )
        return await self._interaction_answer(handle, body)

    async def interaction_autocomplete(self, request: web.Request) -> web.Response:
        complete = self._require_feature("autocomplete")
        body = await self._body(request)
        choices = await complete(
            self._required(body, "author", '"alice"'),
            self._required(body, "channel", '"general"'),
            self._required(body, "command", '"search"'),
            self._required(body, "focused", '"query"'),
            options=body.get("options") or {},
        )
        return respond({"choices": jsonable(choices)})

    async def interaction_button(self, request: web.Request) -> web.Response:
        click = self._require_feature("click_button")
        body = await self._body(request)
        author = self._required(body, "author", '"alice"')
        handle = await click(author, self._message_ref(body), body.get("custom_id"), label=body.get("label"))
        return await self._interaction_answer(handle, body)

    async def interaction_select(self, request: web.Request) -> web.Response:
        select = self._require_feature("select")
        body = await self._body(request)
        author = self._required(body, "author", '"alice"')
        values = self._required(body, "values", '["a", "b"]')
        if not isinstance(values, list):
            raise ControlError(400, '"values" must be a list, e.g. "values": ["red"]')
        handle = await select(author, self._message_ref(body), body.get("custom_id"), values)
        return await self._interaction_answer(handle, body)

    async def interaction_modal(self, request: web.Request) -> web.Response:
        submit = self._require_feature("submit_modal")
        body = await self._body(request)
        author = self._required(body, "author", '"alice"')
        raw_id = self._required(body, "interaction_id", '"1191..."')
        values = self._required(body, "values", '{"name": "Alice"}')
        if not isinstance(values, dict):
            raise ControlError(400, '"values" must be an object of text input custom_id (or label) to text')
        try:
            interaction_id = int(raw_id)
        except (TypeError, ValueError):
            raise ControlError(400, f'"interaction_id" must be an interaction id, got {raw_id!r}') from None
        opened_by = self._handles.get(interaction_id) or SimpleNamespace(id=interaction_id)
        handle = await submit(author, opened_by, values)
        return await self._interaction_answer(handle, body)

    # -- faults, rate limits, members (forwarded) --

    async def gateway_fault(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        action = self._required(body, "action", '"drop"')
        shard_id = body.get("shard_id")
        if action == "drop":
            sessions = await self._require_feature("drop_gateway")(code=body.get("code"), shard_id=shard_id)
        elif action == "reconnect":
            sessions = await self._require_feature("send_reconnect")(shard_id=shard_id)
        elif action == "invalidate":
            resumable = body.get("resumable")
            if not isinstance(resumable, bool):
                raise ControlError(400, '"invalidate" needs "resumable": true (RESUME) or false (IDENTIFY)')
            sessions = await self._require_feature("invalidate_session")(resumable, shard_id=shard_id)
        else:
            raise ControlError(400, f'unknown "action" {action!r}: use "drop", "reconnect" or "invalidate"')
        return respond({"sessions": sessions})

    async def rest_fault(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        kind = str(self._required(body, "kind", '"429"'))
        route = body.get("route")
        count = body.get("count")
        if kind == "429":
            options: Json = {"route": route, "global_": bool(body.get("global", False))}
            if body.get("retry_after") is not None:
                options["retry_after"] = float(body["retry_after"])
            fault = self._require_feature("force_429")(int(count or 1), **options)
        elif kind == "status":
            retry_after = body.get("retry_after")
            status = body.get("status", 500)
            fault = self._require_feature("fail_route")(
                route,
                None if status is None else int(status),
                count,
                every=int(body.get("every") or 1),
                retry_after=None if retry_after is None else float(retry_after),
            )
        elif kind == "delay":
            ms = self._required(body, "ms", "250")
            fault = self._require_feature("delay_route")(route, float(ms), count)
        elif kind == "after_create":
            status = body.get("status", 500)
            fault = self._require_feature("fail_after_create")(
                route, None if status is None else int(status), 1 if count is None else count
            )
        else:
            raise ControlError(
                400, f'unknown "kind" {kind!r}: use "429", "status", "delay" or "after_create"'
            )
        return respond(jsonable(fault.describe()))

    async def clear_faults(self, request: web.Request) -> web.Response:
        self._require_feature("clear_faults")()
        return respond({"cleared": True})

    async def set_rate_limit(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        per_seconds = float(body.get("per_seconds", 1.0))
        if body.get("global"):
            limit = body.get("limit")
            self._require_feature("set_global_rate_limit")(None if limit is None else int(limit), per_seconds)
        else:
            route = self._required(body, "route", '"POST channels/*/messages"')
            limit = self._required(body, "limit", "5")
            self._require_feature("set_rate_limit")(route, int(limit), per_seconds)
        return respond({"ok": True})

    async def reset_rate_limits(self, request: web.Request) -> web.Response:
        self._require_feature("reset_rate_limits")()
        return respond({"ok": True})

    async def add_member(self, request: web.Request) -> web.Response:
        add = self._require_feature("add_member")
        body = await self._body(request)
        member = await add(
            body.get("guild"),
            self._required(body, "user", '"carol"'),
            roles=body.get("roles") or (),
            nick=body.get("nick"),
        )
        return respond(jsonable(member_payload(member)))

    async def remove_member(self, request: web.Request) -> web.Response:
        remove = self._require_feature("remove_member")
        source = await self._body(request) or dict(request.query)
        member = await remove(source.get("guild"), self._required(source, "member", '"bob"'))
        return respond(jsonable(member_payload(member)))

    async def unknown(self, request: web.Request) -> web.Response:
        known = ", ".join(f"{r.method} {CONTROL_PREFIX}{r.path}" for r in self._routes())
        raise ControlError(404, f"no control endpoint {request.method} {request.path}; endpoints: {known}")
