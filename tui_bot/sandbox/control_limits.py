"""The control API's limits endpoint: Discord's limits the sandbox enforces, and the application-command
limits a test (or a bot written with another library, through ``sandbox serve``) may change.

``GET /_sandbox/limits`` answers ``{"commands": {chat_input, user, message, daily_creates,
daily_reset_after, remaining_creates: {"global": n, "<guild id>": n}}, "table": [{name, value,
applies_to, path, code}, ...]}``; ``PATCH /_sandbox/limits`` ``{"commands": {"daily_creates": 3}}`` changes
any of the five command settings, all or none (a bad value is 400 and nothing changes).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .control_http import ControlError, ControlRoute, jsonable, read_object, respond
from .limits import LIMITS, CommandLimits

if TYPE_CHECKING:
    from .server import Sandbox

COMMAND_SETTINGS = ("chat_input", "user", "message", "daily_creates", "daily_reset_after")


class LimitControls:
    """The ``/_sandbox/limits`` routes for one sandbox."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def routes(self) -> list[ControlRoute]:
        """The endpoints, in the order the index lists them."""
        return [
            ControlRoute("GET", "/limits", self.get_limits),
            ControlRoute("PATCH", "/limits", self.patch_limits),
        ]

    def state(self) -> Any:
        limits = self.sandbox.command_limits
        scopes: list[int | None] = [None, *self.sandbox.world.guilds]
        remaining = {
            "global" if scope is None else str(scope): limits.remaining_creates(scope) for scope in scopes
        }
        commands = {**limits.settings(), "remaining_creates": remaining}
        return jsonable({"commands": commands, "table": [asdict(entry) for entry in LIMITS]})

    async def get_limits(self, request: web.Request) -> web.Response:
        return respond(self.state())

    async def patch_limits(self, request: web.Request) -> web.Response:
        body = await read_object(request)
        changes = body.get("commands")
        unknown = sorted(set(body) - {"commands"}) + sorted(set(changes or {}) - set(COMMAND_SETTINGS))
        if not isinstance(changes, dict) or not changes or unknown:
            raise ControlError(
                400,
                f'send {{"commands": {{...}}}} with one or more of {", ".join(COMMAND_SETTINGS)} '
                f"(unknown: {unknown}); the rest of Discord's limits are fixed",
            )
        limits = self.sandbox.command_limits
        # Tried on a copy first, so a bad value leaves every setting as it was.
        trial = CommandLimits(**{**limits.settings(), **changes})  # raises ValueError naming the setting
        del trial
        for name, value in changes.items():
            if getattr(limits, name) != value:  # re-setting a daily setting would restart the windows
                setattr(limits, name, value)
        return respond(self.state())
