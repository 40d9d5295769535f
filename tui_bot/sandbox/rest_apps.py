"""Application routes beyond ``rest``'s: the current application and one application command by id.

- ``GET applications/@me``: the application object, as ``GET oauth2/applications/@me`` returns it
  (Discord's "Get Current Application"; discord.py 2.7 only PATCHes this route, other libraries read it).
- ``GET applications/{id}/commands/{command_id}`` and the guild variant
  ``GET applications/{id}/guilds/{guild_id}/commands/{command_id}`` (discord.py's
  ``CommandTree.fetch_command``): the stored command, 404 ``Unknown application command`` (10063) when
  that scope has no command with that id, 403/20012 for another application's id.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from aiohttp import web

from .payloads import application_payload
from .rest_http import API_PREFIX, ApiError, Handler, json_response, snowflake_arg, unknown

if TYPE_CHECKING:
    from .rest import RestApi

UNKNOWN_COMMAND = 10063  # Discord's JSON error code "Unknown application command"
NOT_AUTHORIZED = (403, 20012, "You are not authorized to perform this action on this application")


class ApplicationRoutes:
    """The routes above; :meth:`install` is registered in ``RestApi.extra_routes``."""

    def __init__(self, rest: RestApi) -> None:
        self.rest = rest
        self.world = rest.world

    def install(self, app: web.Application) -> None:
        command = "/commands/{command_id:\\d+}"
        routes: list[tuple[str, str, Handler]] = [
            ("GET", "/applications/@me", self.get_current_application),
            ("GET", "/applications/{app_id:\\d+}" + command, self.get_command),
            ("GET", "/applications/{app_id:\\d+}/guilds/{guild_id:\\d+}" + command, self.get_command),
        ]
        for method, path, handler in routes:
            app.router.add_route(method, API_PREFIX + path, handler)

    async def get_current_application(self, request: web.Request) -> web.Response:
        self.rest.caller(request)  # 401 without the bot's token
        return json_response(application_payload(self.world))

    async def get_command(self, request: web.Request) -> web.Response:
        if snowflake_arg(request, "app_id") != self.world.application.id:
            raise ApiError(*NOT_AUTHORIZED)
        scope = self.rest.requested_guild(request).id if "guild_id" in request.match_info else None
        wanted = str(snowflake_arg(request, "command_id"))
        for command in self.world.commands.get(scope, []):
            if command["id"] == wanted:
                return json_response(copy.deepcopy(command))
        raise unknown("application command", UNKNOWN_COMMAND)
