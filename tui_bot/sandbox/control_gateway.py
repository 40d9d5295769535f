"""The control API's gateway endpoints: the sessions, Discord's session limits and refused IDENTIFYs,
the send limit and zombie detection, the heartbeat faults, the transcript of recent traffic, and direct
messages to the bot (which reach shard 0 only).

``GET``/``PATCH /_sandbox/gateway``, ``GET /_sandbox/transcript`` and ``POST /_sandbox/direct-messages``
forward to the ``Sandbox``, as do the heartbeat actions of ``POST /_sandbox/faults/gateway``
(:func:`heartbeat_fault`); see ``control`` for the request and answer shapes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from .control_http import (
    ControlError,
    ControlRoute,
    jsonable,
    message_json,
    number,
    read_object,
    required,
    respond,
)
from .world import Json

if TYPE_CHECKING:
    from .server import Sandbox

# The settings PATCH accepts, with what each must be (for the error message).
SETTINGS = {
    "max_concurrency": "a whole number of at least 1",
    "identify_window": "seconds (a number; 0 or null: not enforced)",
    "session_start_limit": "a whole number of at least 0",
    "session_reset_after": "seconds (a number above 0)",
    "recommended_shards": "a whole number of at least 1",
    "send_limit": "a whole number of at least 1 (null: not enforced)",
    "send_window": "seconds (a number above 0)",
    "heartbeat_grace": "seconds (a number, 0 or more; null: zombies are never closed)",
}
RULES = ("send_limit", "send_window", "heartbeat_grace")  # settings kept in Sandbox.gateway_rules

# The heartbeat actions of POST /_sandbox/faults/gateway (the others are in control_faults).
HEARTBEAT_ACTIONS = ("withhold_acks", "release_acks", "heartbeat")


async def heartbeat_fault(sandbox: Sandbox, action: str, body: Json) -> list[str]:
    """``withhold_acks`` (``count``: that many ACKs, absent or null: until ``release_acks``),
    ``release_acks``, or ``heartbeat`` (send op 1); ``shard_id`` narrows any of them to one shard.
    Returns the session ids asked for a heartbeat (none for the other two)."""
    shard_id = body.get("shard_id")
    if shard_id is not None and (not isinstance(shard_id, int) or isinstance(shard_id, bool)):
        raise ControlError(400, f'"shard_id" must be a shard number or null, got {shard_id!r}')
    if action == "withhold_acks":
        count = body.get("count")
        if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 1):
            raise ControlError(
                400, f'"count" must be a whole number of at least 1, or null (until released), got {count!r}'
            )
        sandbox.withhold_heartbeat_acks(count, shard_id=shard_id)
        return []
    if action == "release_acks":
        sandbox.release_heartbeat_acks()
        return []
    return await sandbox.request_heartbeat(shard_id=shard_id)


class GatewayControls:
    """The ``/_sandbox/gateway`` and ``/_sandbox/direct-messages`` routes for one sandbox."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def routes(self) -> list[ControlRoute]:
        """The endpoints, in the order the index lists them."""
        return [
            ControlRoute("GET", "/gateway", self.get_gateway),
            ControlRoute("PATCH", "/gateway", self.patch_gateway),
            ControlRoute("GET", "/transcript", self.get_transcript),
            ControlRoute("POST", "/direct-messages", self.post_direct_message),
        ]

    def state(self) -> Json:
        """The settings, every bot's session start limit, the sessions and the refused IDENTIFYs."""
        sb = self.sandbox
        limits = sb.identify_limits
        bots = {sb.world.application.bot_id, *sb.world.tokens.values()}
        sessions = [
            {
                "session_id": s.session_id,
                "user_id": s.user.id if s.user is not None else None,
                "shard": list(s.shard),
                "connected": s.connected,
            }
            for s in sb.hub.identified_sessions
        ]
        return jsonable(
            {
                **limits.settings(),
                "recommended_shards": sb.recommended_shards,
                **sb.gateway_rules.settings(),
                "session_start_limits": {str(bot): limits.session_start_limit(bot) for bot in sorted(bots)},
                "sessions": sessions,
                "identify_refusals": [r.as_json() for r in sb.identify_refusals],
            }
        )

    async def get_gateway(self, request: web.Request) -> web.Response:
        return respond(self.state())

    async def patch_gateway(self, request: web.Request) -> web.Response:
        body = await read_object(request)
        unknown = sorted(set(body) - set(SETTINGS))
        if unknown or not body:
            raise ControlError(400, f"send one or more of {', '.join(SETTINGS)} (unknown: {unknown})")
        changes = {name: self._setting(name, value) for name, value in body.items()}
        limits = self.sandbox.identify_limits
        # Checked above, so every assignment passes: nothing is half applied.
        for name, value in changes.items():
            if name == "recommended_shards":
                self.sandbox.recommended_shards = value
            elif name in RULES:
                setattr(self.sandbox.gateway_rules, name, value)
            elif name == "session_start_limit":
                limits.session_start_total = value
            else:
                setattr(limits, name, value)
        return respond(self.state())

    @staticmethod
    def _setting(name: str, value: Any) -> Any:
        whole = isinstance(value, int) and not isinstance(value, bool)
        number = isinstance(value, int | float) and not isinstance(value, bool)
        valid = {
            "max_concurrency": whole and value >= 1,
            "identify_window": value is None or (number and value >= 0),
            "session_start_limit": whole and value >= 0,
            "session_reset_after": number and value > 0,
            "recommended_shards": whole and value >= 1,
            "send_limit": value is None or (whole and value >= 1),
            "send_window": number and value > 0,
            "heartbeat_grace": value is None or (number and value >= 0),
        }[name]
        if not valid:
            raise ControlError(400, f'"{name}" must be {SETTINGS[name]}, got {value!r}')
        return value

    async def get_transcript(self, request: web.Request) -> web.Response:
        limit = number(request.query, "limit", 50, 1, 10_000, integer=True)
        return respond({"lines": self.sandbox.transcript.lines(limit)})

    async def post_direct_message(self, request: web.Request) -> web.Response:
        body = await read_object(request)
        author = required(body, "author", '"alice"')
        content = body.get("content")
        if not isinstance(content, str) or not content:
            raise ControlError(400, 'missing "content": the message text, e.g. "content": "!help"')
        message = await self.sandbox.send_direct_message(author, content)
        return respond(message_json(self.sandbox.world, message))
