"""Guild routes: reading a guild (itself, channels, roles, one role, members), the bot's guilds
(``users/@me/guilds``), and member moderation over REST (kick, ban, unban, list bans, add and remove
roles, leave a guild).

Discord's checks, in Discord's words: the bot needs the permission (KICK_MEMBERS, BAN_MEMBERS,
MANAGE_ROLES) and must outrank its target (the guild owner is untouchable; a member whose highest role
is at or above the bot's highest role is too; so is a role at or above it), else
``403 {"code": 50013, "message": "Missing Permissions"}``. The reason discord.py sends in
``X-Audit-Log-Reason`` is kept in the event log and on the ban.
"""

from __future__ import annotations

from urllib.parse import unquote

from aiohttp import web

from .membership import Membership, top_position
from .payloads import channel_payload, guild_payload, member_payload, role_payload, user_payload
from .rest import RestApi
from .rest_http import (
    API_PREFIX,
    MISSING_PERMISSIONS,
    ApiError,
    Handler,
    invalid_form,
    json_response,
    no_content,
    snowflake_arg,
    unknown,
)
from .world import Guild, Member, Role

KICK_MEMBERS = 1 << 1
BAN_MEMBERS = 1 << 2
MANAGE_ROLES = 1 << 28
MAX_DELETE_MESSAGE_SECONDS = 604_800  # 7 days
MAX_MY_GUILDS = 200  # GET users/@me/guilds: limit 1-200, default 200 (Discord's user resource docs)


def with_counts(request: web.Request) -> bool:
    return request.query.get("with_counts", "").lower() in ("1", "true")


def approximate_counts(guild: Guild) -> dict[str, int]:
    """``approximate_*`` counts, sent only with ``with_counts`` (the sandbox has no presences: 0 online)."""
    return {"approximate_member_count": len(guild.members), "approximate_presence_count": 0}


class GuildRoutes:
    """The guild read and moderation routes; :meth:`install` is registered in ``RestApi.extra_routes``."""

    def __init__(self, rest: RestApi, membership: Membership) -> None:
        self.rest = rest
        self.world = rest.world
        self.membership = membership

    def install(self, app: web.Application) -> None:
        member = "/guilds/{guild_id:\\d+}/members/{user_id:\\d+}"
        ban = "/guilds/{guild_id:\\d+}/bans/{user_id:\\d+}"
        routes: list[tuple[str, str, Handler]] = [
            ("GET", "/guilds/{guild_id:\\d+}", self.get_guild),
            ("GET", "/guilds/{guild_id:\\d+}/channels", self.get_guild_channels),
            ("GET", "/guilds/{guild_id:\\d+}/roles", self.get_guild_roles),
            ("GET", "/guilds/{guild_id:\\d+}/roles/{role_id:\\d+}", self.get_guild_role),
            ("GET", "/guilds/{guild_id:\\d+}/members", self.get_guild_members),
            ("GET", member, self.get_guild_member),
            ("PUT", member + "/roles/{role_id:\\d+}", self.add_role),
            ("DELETE", member + "/roles/{role_id:\\d+}", self.remove_role),
            ("DELETE", member, self.kick),
            ("GET", "/guilds/{guild_id:\\d+}/bans", self.get_bans),
            ("GET", ban, self.get_ban),
            ("PUT", ban, self.ban),
            ("DELETE", ban, self.unban),
            ("GET", "/users/@me/guilds", self.get_my_guilds),
            ("DELETE", "/users/@me/guilds/{guild_id:\\d+}", self.leave_guild),
        ]
        for method, path, handler in routes:
            app.router.add_route(method, API_PREFIX + path, handler)

    # -- reading a guild --

    async def get_guild(self, request: web.Request) -> web.Response:
        guild = self.rest.requested_guild(request)
        payload = guild_payload(guild)
        if with_counts(request):  # discord.py sends with_counts=1, other clients "true"
            payload.update(approximate_counts(guild))
        return json_response(payload)

    async def get_guild_channels(self, request: web.Request) -> web.Response:
        guild = self.rest.requested_guild(request)
        return json_response([channel_payload(c) for c in guild.channels.values()])

    async def get_guild_roles(self, request: web.Request) -> web.Response:
        return json_response([role_payload(r) for r in self.rest.requested_guild(request).roles.values()])

    async def get_guild_role(self, request: web.Request) -> web.Response:
        role = self.rest.requested_guild(request).roles.get(snowflake_arg(request, "role_id"))
        if role is None:
            raise unknown("Role", 10011)
        return json_response(role_payload(role))

    async def get_my_guilds(self, request: web.Request) -> web.Response:
        """``GET users/@me/guilds``: the caller's guilds as partial guilds, in id order, paged like bans."""
        me = self.rest.caller(request)
        try:
            limit = int(request.query.get("limit", MAX_MY_GUILDS))
            before = int(request.query["before"]) if "before" in request.query else None
            after = int(request.query.get("after", 0))
        except ValueError:
            raise invalid_form("limit", "NUMBER_TYPE_COERCE", "Value is not int.") from None
        if not 1 <= limit <= MAX_MY_GUILDS:
            raise invalid_form(
                "limit", "NUMBER_TYPE_MAX", f"int value should be between 1 and {MAX_MY_GUILDS}."
            )
        ids = sorted(
            g.id
            for g in self.world.guilds.values()
            if me.id in g.members and g.id > after and (before is None or g.id < before)
        )
        # discord.py pages backwards with before=<first id of the last page>: the ids just below it.
        ids = ids[-limit:] if before is not None and not after else ids[:limit]
        counts = with_counts(request)
        return json_response([self._my_guild(self.world.guilds[i], me.id, counts) for i in ids])

    def _my_guild(self, guild: Guild, me: int, counts: bool) -> dict[str, object]:
        # The partial guild of this route (Discord's OpenAPI MyGuildResponse): these keys, counts on demand.
        payload: dict[str, object] = {
            "id": str(guild.id),
            "name": guild.name,
            "icon": None,
            "banner": None,
            "owner": guild.owner_id == me,
            "permissions": str(self.world.base_permissions(guild, guild.members[me])),
            "features": [],
        }
        if counts:
            payload.update(approximate_counts(guild))
        return payload

    async def get_guild_members(self, request: web.Request) -> web.Response:
        guild = self.rest.requested_guild(request)
        limit = max(1, min(1000, int(request.query.get("limit", 1))))
        after = int(request.query.get("after", 0))
        members = sorted((m for m in guild.members.values() if m.id > after), key=lambda m: m.id)[:limit]
        return json_response([member_payload(m) for m in members])

    async def get_guild_member(self, request: web.Request) -> web.Response:
        member = self.rest.requested_guild(request).members.get(snowflake_arg(request, "user_id"))
        if member is None:
            raise unknown("Member", 10007)
        return json_response(member_payload(member))

    # -- checks --

    def _me(self, request: web.Request, guild: Guild, permission: int) -> Member:
        """The calling bot's member in ``guild``, if it has ``permission`` there."""
        me = guild.members[self.rest.caller(request).id]
        if not self.world.base_permissions(guild, me) & permission:
            raise ApiError(*MISSING_PERMISSIONS)
        return me

    @staticmethod
    def _outranks(guild: Guild, me: Member, target: Member) -> None:
        if target.id == guild.owner_id:
            raise ApiError(*MISSING_PERMISSIONS)
        if me.id != guild.owner_id and top_position(guild, target) >= top_position(guild, me):
            raise ApiError(*MISSING_PERMISSIONS)

    def _member(self, request: web.Request, guild: Guild) -> Member:
        member = guild.members.get(snowflake_arg(request, "user_id"))
        if member is None:
            raise unknown("Member", 10007)
        return member

    @staticmethod
    def _reason(request: web.Request) -> str | None:
        reason = request.headers.get("X-Audit-Log-Reason")
        return None if reason is None else unquote(reason)

    # -- roles --

    def _role_change(self, request: web.Request) -> tuple[Guild, Member, Member, Role]:
        guild = self.rest.requested_guild(request)
        me = self._me(request, guild, MANAGE_ROLES)
        role = guild.roles.get(snowflake_arg(request, "role_id"))
        if role is None:
            raise unknown("Role", 10011)
        member = self._member(request, guild)
        if me.id != guild.owner_id and role.position >= top_position(guild, me):
            raise ApiError(*MISSING_PERMISSIONS)
        return guild, me, member, role

    async def add_role(self, request: web.Request) -> web.Response:
        guild, me, member, role = self._role_change(request)
        if role.id not in member.role_ids:
            await self.membership.set_roles(guild, member, [*member.role_ids, role.id], by=me.id)
        return no_content()

    async def remove_role(self, request: web.Request) -> web.Response:
        guild, me, member, role = self._role_change(request)
        if role.id in member.role_ids:
            await self.membership.set_roles(
                guild, member, [r for r in member.role_ids if r != role.id], by=me.id
            )
        return no_content()

    # -- kick and bans --

    async def kick(self, request: web.Request) -> web.Response:
        guild = self.rest.requested_guild(request)
        me = self._me(request, guild, KICK_MEMBERS)
        target = self._member(request, guild)
        self._outranks(guild, me, target)
        await self.membership.remove_member(guild, target.id, reason="kick", by=me.id)
        return no_content()

    async def ban(self, request: web.Request) -> web.Response:
        guild = self.rest.requested_guild(request)
        me = self._me(request, guild, BAN_MEMBERS)
        user = self.world.users.get(snowflake_arg(request, "user_id"))
        if user is None:
            raise unknown("User", 10013)
        try:
            seconds = int(request.query.get("delete_message_seconds", 0))
        except ValueError:
            raise invalid_form("delete_message_seconds", "NUMBER_TYPE_COERCE", "Value is not int.") from None
        if not 0 <= seconds <= MAX_DELETE_MESSAGE_SECONDS:
            raise invalid_form(
                "delete_message_seconds",
                "NUMBER_TYPE_MAX",
                f"int value should be between 0 and {MAX_DELETE_MESSAGE_SECONDS}.",
            )
        if user.id in guild.members:
            self._outranks(guild, me, guild.members[user.id])
        await self.membership.ban(guild, user, reason=self._reason(request), by=me.id)
        return no_content()

    async def unban(self, request: web.Request) -> web.Response:
        guild = self.rest.requested_guild(request)
        me = self._me(request, guild, BAN_MEMBERS)
        user = self.world.users.get(snowflake_arg(request, "user_id"))
        if user is None or user.id not in guild.bans:
            raise unknown("Ban", 10026)
        await self.membership.unban(guild, user, by=me.id)
        return no_content()

    def _ban_payload(self, guild: Guild, user_id: int) -> dict[str, object]:
        return {"reason": guild.bans[user_id], "user": user_payload(self.world.users[user_id])}

    async def get_bans(self, request: web.Request) -> web.Response:
        guild = self.rest.requested_guild(request)
        self._me(request, guild, BAN_MEMBERS)
        try:
            limit = int(request.query.get("limit", 1000))
            before = int(request.query["before"]) if "before" in request.query else None
            after = int(request.query.get("after", 0))
        except ValueError:
            raise invalid_form("limit", "NUMBER_TYPE_COERCE", "Value is not int.") from None
        if not 1 <= limit <= 1000:
            raise invalid_form("limit", "NUMBER_TYPE_MAX", "int value should be between 1 and 1000.")
        ids = sorted(u for u in guild.bans if u > after and (before is None or u < before))
        # Like Discord: "before" pages backwards, so it takes the ids just below it.
        ids = ids[-limit:] if before is not None and not after else ids[:limit]
        return json_response([self._ban_payload(guild, u) for u in ids])

    async def get_ban(self, request: web.Request) -> web.Response:
        guild = self.rest.requested_guild(request)
        self._me(request, guild, BAN_MEMBERS)
        user_id = snowflake_arg(request, "user_id")
        if user_id not in guild.bans:
            raise unknown("Ban", 10026)
        return json_response(self._ban_payload(guild, user_id))

    # -- leaving --

    async def leave_guild(self, request: web.Request) -> web.Response:
        guild = self.world.guilds.get(snowflake_arg(request, "guild_id"))
        me = self.rest.caller(request)
        if guild is None or me.id not in guild.members:
            raise unknown("Guild", 10004)
        await self.membership.bot_leaves(guild, by=me.id)
        return no_content()
