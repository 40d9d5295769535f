"""The control API's ban endpoints: ban a user from a guild, lift the ban, list the bans.

``POST /_sandbox/bans`` ``{"user", "guild"?, "reason"?}`` and ``DELETE /_sandbox/bans`` (the same in the
body or the query) forward to ``Sandbox.ban`` / ``Sandbox.unban``; ``GET /_sandbox/bans?guild=...``
lists a guild's bans in Discord's shape (``{"user", "reason"}``). A banned user's ``POST
/_sandbox/members`` is refused with 400 until the ban is lifted, as Discord keeps them out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from .control_http import ControlRoute, jsonable, read_object, required, respond
from .payloads import user_payload

if TYPE_CHECKING:
    from .server import Sandbox


class BanControls:
    """The ``/_sandbox/bans`` routes for one sandbox."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def routes(self) -> list[ControlRoute]:
        """The endpoints, in the order the index lists them."""
        return [
            ControlRoute("GET", "/bans", self.get_bans),
            ControlRoute("POST", "/bans", self.post_ban),
            ControlRoute("DELETE", "/bans", self.delete_ban),
        ]

    def _bans(self, guild_ref: str | None) -> web.Response:
        sb = self.sandbox
        guild = sb.find_guild(guild_ref)
        bans = [
            {"user": user_payload(sb.world.users[user_id]), "reason": reason}
            for user_id, reason in guild.bans.items()
        ]
        return respond(jsonable({"guild_id": guild.id, "bans": bans}))

    async def get_bans(self, request: web.Request) -> web.Response:
        return self._bans(request.query.get("guild"))

    async def post_ban(self, request: web.Request) -> web.Response:
        body = await read_object(request)
        reason = body.get("reason")
        if reason is not None and not isinstance(reason, str):
            reason = str(reason)
        await self.sandbox.ban(body.get("guild"), required(body, "user", '"bob"'), reason=reason)
        return self._bans(body.get("guild"))

    async def delete_ban(self, request: web.Request) -> web.Response:
        source = await read_object(request) or dict(request.query)
        await self.sandbox.unban(source.get("guild"), required(source, "user", '"bob"'))
        return self._bans(source.get("guild"))
