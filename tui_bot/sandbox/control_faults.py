"""The control API's fault and rate-limit endpoints: the knobs a test turns to make Discord misbehave.

``POST /_sandbox/faults/gateway``, ``POST /_sandbox/faults/rest``, ``DELETE /_sandbox/faults``,
``PUT``/``DELETE /_sandbox/rate-limits`` forward to the ``Sandbox``'s fault and rate-limit API; see
``control`` for the request and answer shapes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from .control_gateway import HEARTBEAT_ACTIONS, heartbeat_fault
from .control_http import ControlError, ControlRoute, jsonable, read_object, required, respond
from .faults import Fault
from .world import Json

if TYPE_CHECKING:
    from .server import Sandbox


class FaultControls:
    """The ``/_sandbox/faults`` and ``/_sandbox/rate-limits`` routes for one sandbox."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def routes(self) -> list[ControlRoute]:
        """The endpoints, in the order the index lists them."""
        return [
            ControlRoute("POST", "/faults/gateway", self.gateway_fault),
            ControlRoute("POST", "/faults/rest", self.rest_fault),
            ControlRoute("DELETE", "/faults", self.clear_faults),
            ControlRoute("PUT", "/rate-limits", self.set_rate_limit),
            ControlRoute("DELETE", "/rate-limits", self.reset_rate_limits),
        ]

    async def gateway_fault(self, request: web.Request) -> web.Response:
        body = await read_object(request)
        action = required(body, "action", '"drop"')
        shard_id = body.get("shard_id")
        if action == "drop":
            hold = body.get("hold", False)
            if not isinstance(hold, bool):
                raise ControlError(400, '"hold" must be true (the drop lasts until "release") or false')
            sessions = await self.sandbox.drop_gateway(code=body.get("code"), shard_id=shard_id, hold=hold)
        elif action == "release":
            self.sandbox.release_gateway()
            sessions = []
        elif action == "reconnect":
            sessions = await self.sandbox.send_reconnect(shard_id=shard_id)
        elif action == "invalidate":
            resumable = body.get("resumable")
            if not isinstance(resumable, bool):
                raise ControlError(400, '"invalidate" needs "resumable": true (RESUME) or false (IDENTIFY)')
            sessions = await self.sandbox.invalidate_session(resumable, shard_id=shard_id)
        elif action in HEARTBEAT_ACTIONS:
            sessions = await heartbeat_fault(self.sandbox, action, body)
        else:
            raise ControlError(
                400,
                f'unknown "action" {action!r}: use "drop", "release", "reconnect", "invalidate", '
                '"withhold_acks", "release_acks" or "heartbeat"',
            )
        return respond({"sessions": sessions})

    async def rest_fault(self, request: web.Request) -> web.Response:
        body = await read_object(request)
        kind = str(required(body, "kind", '"429"'))
        route = body.get("route")
        count = body.get("count")
        fault: Fault
        if kind == "429":
            options: Json = {"route": route, "global_": bool(body.get("global", False))}
            if body.get("retry_after") is not None:
                options["retry_after"] = float(body["retry_after"])
            fault = self.sandbox.force_429(int(count or 1), **options)
        elif kind == "status":
            retry_after = body.get("retry_after")
            status = body.get("status", 500)
            fault = self.sandbox.fail_route(
                route,
                None if status is None else int(status),
                count,
                every=int(body.get("every") or 1),
                retry_after=None if retry_after is None else float(retry_after),
            )
        elif kind == "delay":
            ms = required(body, "ms", "250")
            fault = self.sandbox.delay_route(route, float(ms), count)
        elif kind == "after_create":
            status = body.get("status", 500)
            fault = self.sandbox.fail_after_create(
                route, None if status is None else int(status), 1 if count is None else count
            )
        else:
            raise ControlError(
                400, f'unknown "kind" {kind!r}: use "429", "status", "delay" or "after_create"'
            )
        return respond(jsonable(fault.describe()))

    async def clear_faults(self, request: web.Request) -> web.Response:
        self.sandbox.clear_faults()
        return respond({"cleared": True})

    async def set_rate_limit(self, request: web.Request) -> web.Response:
        body = await read_object(request)
        per_seconds = float(body.get("per_seconds", 1.0))
        if body.get("global"):
            limit = body.get("limit")
            self.sandbox.set_global_rate_limit(None if limit is None else int(limit), per_seconds)
        else:
            route = required(body, "route", '"POST channels/*/messages"')
            limit = required(body, "limit", "5")
            self.sandbox.set_rate_limit(route, int(limit), per_seconds)
        return respond({"ok": True})

    async def reset_rate_limits(self, request: web.Request) -> web.Response:
        self.sandbox.reset_rate_limits()
        return respond({"ok": True})
