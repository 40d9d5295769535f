"""Membership and guild changes: each changes the world, then sends bots the events Discord would.

* A member joins or leaves: ``GUILD_MEMBER_ADD`` / ``GUILD_MEMBER_REMOVE`` (GUILD_MEMBERS intent).
* A member's roles change: ``GUILD_MEMBER_UPDATE`` (GUILD_MEMBERS intent).
* A ban: ``GUILD_BAN_ADD`` (GUILD_MODERATION intent), then ``GUILD_MEMBER_REMOVE`` if they were a member;
  lifting it: ``GUILD_BAN_REMOVE``.
* The bot joins a guild: ``GUILD_CREATE`` without ``unavailable`` (discord.py's ``on_guild_join``; with
  ``unavailable: false`` it would be ``on_guild_available``); it leaves or is removed: ``GUILD_DELETE``
  without ``unavailable`` (``on_guild_remove``).

Who may do what (permissions, role hierarchy) is checked by the REST routes (``guild_routes``); the
``Sandbox`` API acts as Discord itself and is refused only what Discord refuses everyone: a banned
user (or bot) cannot join the guild until the ban is lifted (:class:`BannedError`).
:func:`create_guild` builds extra guilds (for multi-guild and sharding worlds) without sending anything.
"""

from __future__ import annotations

from collections.abc import Iterable

import discord

from .events import EventKind, EventLog
from .gateway import GatewayHub
from .gateway_session import GatewaySession
from .payloads import guild_create_payload, member_payload, user_payload
from .world import Channel, Guild, Json, Member, Role, User, World, WorldError

GUILDS = 1 << 0
GUILD_MEMBERS = 1 << 1
GUILD_MODERATION = 1 << 2

# What @everyone and the bot's managed role get in a guild made by create_guild (as in the demo world).
EVERYONE_PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    read_message_history=True,
    add_reactions=True,
    embed_links=True,
    attach_files=True,
    use_external_emojis=True,
    change_nickname=True,
    create_instant_invite=True,
    use_application_commands=True,
    send_messages_in_threads=True,
).value
BOT_PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    embed_links=True,
    attach_files=True,
    read_message_history=True,
    add_reactions=True,
    use_external_emojis=True,
    use_application_commands=True,
    manage_messages=True,
    manage_threads=True,
    manage_nicknames=True,
    kick_members=True,
    ban_members=True,
    moderate_members=True,
    view_audit_log=True,
).value


class BannedError(ValueError):
    """A user (or the bot) banned from a guild tried to join it: lift the ban first (``unban``)."""


def find_guild(world: World, ref: Guild | str | int | None) -> Guild:
    """A guild by object, id or name; None means the world's first guild. Raises :class:`WorldError`."""
    if isinstance(ref, Guild):
        return ref
    if ref is None:
        found = next(iter(world.guilds.values()), None)
    elif isinstance(ref, int) or ref.isdigit():
        found = world.guilds.get(int(ref))
    else:
        found = next((g for g in world.guilds.values() if g.name == ref), None)
    if found is None:
        raise WorldError(f"no guild {ref!r} in the sandbox world")
    return found


def top_position(guild: Guild, member: Member) -> int:
    """The position of ``member``'s highest role (0, @everyone's, if they have none)."""
    return max((guild.roles[r].position for r in member.role_ids if r in guild.roles), default=0)


def _add_bot_member(world: World, guild: Guild, permissions: int) -> Member:
    # Discord gives a bot a managed role named after it, above the roles that existed, when it joins.
    bot = world.bot_user
    role = Role(
        world.snowflakes(),
        bot.username,
        permissions,
        position=max((r.position for r in guild.roles.values()), default=0) + 1,
        bot_id=bot.id,
    )
    guild.roles[role.id] = role
    member = Member(bot, [role.id])
    guild.members[bot.id] = member
    return member


def create_guild(
    world: World,
    name: str,
    *,
    owner_id: int | None = None,
    guild_id: int | None = None,
    members: Iterable[str | int] = (),
    channels: Iterable[str] = ("general",),
    with_bot: bool = True,
    bot_permissions: int = BOT_PERMISSIONS,
) -> Guild:
    """Add a guild to ``world`` (no events are sent): @everyone, text ``channels``, the owner, ``members``
    (existing users by name or id), and the bot with its managed role unless ``with_bot`` is False.

    ``guild_id`` picks the id, e.g. to land it on a given shard: ``(guild_id >> 22) % shard_count``.
    """
    guild_id = world.snowflakes() if guild_id is None else guild_id
    if guild_id in world.guilds:
        raise WorldError(f"guild {guild_id} already exists")
    world.snowflakes.observe(guild_id)
    owner = world.users[world.owner_id if owner_id is None else owner_id]
    guild = Guild(guild_id, name, owner.id)
    guild.roles[guild.id] = Role(guild.id, "@everyone", EVERYONE_PERMISSIONS)
    for position, channel_name in enumerate(channels):
        channel = Channel(world.snowflakes(), guild.id, channel_name, position=position)
        guild.channels[channel.id] = channel
        world.messages[channel.id] = {}
    guild.members[owner.id] = Member(owner)
    for ref in members:
        user = world.find_user(ref)
        guild.members.setdefault(user.id, Member(user))
    if with_bot and world.bot_user.id not in guild.members:
        _add_bot_member(world, guild, bot_permissions)
    world.guilds[guild.id] = guild
    return guild


class Membership:
    """Applies membership changes to the world and dispatches them to the bots that should see them."""

    def __init__(self, world: World, hub: GatewayHub, events: EventLog) -> None:
        self.world = world
        self.hub = hub
        self.events = events

    async def add_member(
        self, guild: Guild, user: User, *, role_ids: Iterable[int] = (), nick: str | None = None
    ) -> Member:
        """``user`` joins ``guild``: GUILD_MEMBER_ADD. A banned user cannot (:class:`BannedError`)."""
        if user.id in guild.members:
            raise WorldError(f"{user.username!r} is already a member of {guild.name!r}")
        self._refuse_banned(guild, user)
        member = Member(user, list(role_ids), nick)
        guild.members[user.id] = member
        self.events.record(EventKind.MEMBER_ADD, {"guild_id": guild.id, "user_id": user.id})
        payload = {**member_payload(member), "guild_id": str(guild.id)}
        await self.hub.dispatch("GUILD_MEMBER_ADD", guild.id, lambda _s: payload, intent=GUILD_MEMBERS)
        return member

    async def remove_member(
        self, guild: Guild, user_id: int, *, reason: str = "left", by: int | None = None
    ) -> Member:
        """A member leaves (``reason`` "left", "kick" or "ban"): GUILD_MEMBER_REMOVE. Not for the bot."""
        member = guild.members.get(user_id)
        if member is None:
            raise WorldError(f"no member {user_id} in guild {guild.name!r}")
        if user_id == self.world.bot_user.id:
            raise WorldError("the bot leaves a guild with leave_guild, not remove_member")
        del guild.members[user_id]
        self.events.record(
            EventKind.MEMBER_REMOVE, {"guild_id": guild.id, "user_id": user_id, "reason": reason, "by": by}
        )
        payload = {"guild_id": str(guild.id), "user": user_payload(member.user)}
        await self.hub.dispatch("GUILD_MEMBER_REMOVE", guild.id, lambda _s: payload, intent=GUILD_MEMBERS)
        return member

    async def set_roles(
        self, guild: Guild, member: Member, role_ids: list[int], *, by: int | None = None
    ) -> None:
        """Replace ``member``'s roles: GUILD_MEMBER_UPDATE."""
        member.role_ids = list(role_ids)
        self.events.record(
            EventKind.MEMBER_UPDATE,
            {"guild_id": guild.id, "user_id": member.id, "role_ids": list(role_ids), "by": by},
        )
        payload = {**member_payload(member), "guild_id": str(guild.id)}
        await self.hub.dispatch("GUILD_MEMBER_UPDATE", guild.id, lambda _s: payload, intent=GUILD_MEMBERS)

    async def ban(
        self, guild: Guild, user: User, *, reason: str | None = None, by: int | None = None
    ) -> None:
        """Ban ``user`` (member or not): GUILD_BAN_ADD, then GUILD_MEMBER_REMOVE if they were a member."""
        guild.bans[user.id] = reason
        self.events.record(
            EventKind.BAN_ADD, {"guild_id": guild.id, "user_id": user.id, "reason": reason, "by": by}
        )
        payload = {"guild_id": str(guild.id), "user": user_payload(user)}
        await self.hub.dispatch("GUILD_BAN_ADD", guild.id, lambda _s: payload, intent=GUILD_MODERATION)
        if user.id in guild.members:
            await self.remove_member(guild, user.id, reason="ban", by=by)

    async def unban(self, guild: Guild, user: User, *, by: int | None = None) -> None:
        """Lift ``user``'s ban: GUILD_BAN_REMOVE. :class:`WorldError` if they are not banned."""
        if user.id not in guild.bans:
            raise WorldError(f"{user.username!r} is not banned from {guild.name!r}")
        del guild.bans[user.id]
        self.events.record(EventKind.BAN_REMOVE, {"guild_id": guild.id, "user_id": user.id, "by": by})
        payload = {"guild_id": str(guild.id), "user": user_payload(user)}
        await self.hub.dispatch("GUILD_BAN_REMOVE", guild.id, lambda _s: payload, intent=GUILD_MODERATION)

    async def bot_joins(self, guild: Guild, *, permissions: int = BOT_PERMISSIONS) -> None:
        """The bot joins ``guild`` (already in the world): it gets a managed role, then GUILD_CREATE."""
        self._refuse_banned(guild, self.world.bot_user)
        if guild.id not in self.world.guilds:
            self.world.guilds[guild.id] = guild
        if self.world.bot_user.id not in guild.members:
            _add_bot_member(self.world, guild, permissions)
        self.events.record(EventKind.GUILD_JOIN, {"guild_id": guild.id})

        def build(session: GatewaySession) -> Json:
            assert session.user is not None
            payload = guild_create_payload(guild, me=session.user.id, intents=session.intents)
            payload.pop("unavailable", None)  # absent: a join, not a guild becoming available
            return payload

        await self.hub.dispatch("GUILD_CREATE", guild.id, build, intent=GUILDS)

    @staticmethod
    def _refuse_banned(guild: Guild, user: User) -> None:
        # Discord keeps a banned user out until the ban is lifted (a ban outlives leaving the guild).
        if user.id in guild.bans:
            reason = guild.bans[user.id]
            because = f" (reason: {reason})" if reason else ""
            raise BannedError(
                f"{user.username!r} is banned from {guild.name!r}{because} and cannot join it until "
                "unbanned (Guild.unban over REST, or Sandbox.unban)"
            )

    async def bot_leaves(self, guild: Guild, *, by: int | None = None) -> None:
        """The bot leaves or is removed from ``guild``: GUILD_DELETE; its managed role goes too."""
        bot = self.world.bot_user
        # The sessions to tell are those that had the guild: work them out before the bot leaves it.
        targets = self.hub.targets(guild.id, intent=GUILDS)
        member = guild.members.pop(bot.id, None)
        if member is None:
            raise WorldError(f"the bot is not in guild {guild.name!r}")
        for role_id in member.role_ids:
            if guild.roles[role_id].bot_id == bot.id:
                del guild.roles[role_id]
        self.events.record(EventKind.GUILD_LEAVE, {"guild_id": guild.id, "by": by})
        payload = {"id": str(guild.id)}
        await self.hub.send_to(targets, "GUILD_DELETE", lambda _s: payload)
