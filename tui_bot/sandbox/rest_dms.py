"""Direct messages over REST: ``POST users/@me/channels`` opens (or finds) a DM channel with a user.

The channel and message routes of ``rest`` serve DM channels too (``RestApi.requested_target``): each end
of a DM has every text permission in it, and only a message's author may delete it. A DM's gateway events
reach the bot's shard 0 only (``GatewayHub.dm_targets``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from .payloads import dm_channel_payload
from .rest_http import API_PREFIX, ApiError, invalid_form, json_response, read_body, unknown

if TYPE_CHECKING:
    from .rest import RestApi


class DirectMessageRoutes:
    """The DM route; :meth:`install` is registered in ``RestApi.extra_routes``."""

    def __init__(self, rest: RestApi) -> None:
        self.rest = rest
        self.world = rest.world

    def install(self, app: web.Application) -> None:
        app.router.add_route("POST", API_PREFIX + "/users/@me/channels", self.open_dm)

    async def open_dm(self, request: web.Request) -> web.Response:
        body, _files = await read_body(request)
        raw = body.get("recipient_id") if isinstance(body, dict) else None
        try:
            recipient = self.world.users.get(int(str(raw)))
        except ValueError:
            raise invalid_form("recipient_id", "NUMBER_TYPE_COERCE", "Value is not snowflake.") from None
        if recipient is None:
            raise unknown("User", 10013)
        caller = self.rest.caller(request)
        if recipient.id == caller.id or recipient.bot:
            raise ApiError(400, 50007, "Cannot send messages to this user")
        return json_response(dm_channel_payload(self.world.open_dm(recipient, caller.id)))
