"""The sandbox's guilds and members: add guilds, members join and leave, bans, the bot joins and leaves.

A part of :class:`~.server.Sandbox` (which inherits it), kept apart so that each file of the public
API stays one page; the events themselves are made in ``membership``.
"""

from __future__ import annotations

from collections.abc import Iterable

from .membership import Membership, create_guild, find_guild
from .world import Guild, Member, User, World, WorldError


class SandboxGuilds:
    """Guilds, members and bans of a :class:`~.server.Sandbox`."""

    world: World
    membership: Membership

    def find_guild(self, guild: Guild | str | int | None = None) -> Guild:
        """A guild by id or name (None: the world's first guild)."""
        return find_guild(self.world, guild)

    def add_guild(
        self,
        name: str,
        *,
        guild_id: int | None = None,
        owner: str | int | None = None,
        members: Iterable[str | int] = (),
        with_bot: bool = True,
    ) -> Guild:
        """Add a guild to the world WITHOUT telling bots (build multi-guild worlds before they connect).

        It gets @everyone, a #general channel, the owner (default: the operator), ``members`` (existing
        users) and, unless ``with_bot`` is False, the bot with a managed role. ``guild_id`` places it on
        a shard: shard ``(guild_id >> 22) % shard_count``. Use :meth:`join_guild` once bots are online.
        """
        owner_id = None if owner is None else self.world.find_user(owner).id
        return create_guild(
            self.world, name, guild_id=guild_id, owner_id=owner_id, members=members, with_bot=with_bot
        )

    async def add_member(
        self,
        guild: Guild | str | int | None,
        user: str | int,
        *,
        roles: Iterable[str | int] = (),
        nick: str | None = None,
    ) -> Member:
        """``user`` joins ``guild`` (GUILD_MEMBER_ADD, with the GUILD_MEMBERS intent: ``on_member_join``).

        ``user`` is an existing user (id or name) or, if there is none, the username of a new user.
        ``roles`` are role names or ids in that guild.
        """
        target = self.find_guild(guild)
        try:
            account = self.world.find_user(user)
        except WorldError:
            if not isinstance(user, str) or user.isdigit():
                raise
            account = User(self.world.snowflakes(), user)
            self.world.users[account.id] = account
        role_ids = []
        for ref in roles:
            role = target.find_role(ref)
            if role is None:
                raise WorldError(f"no role {ref!r} in guild {target.name!r}")
            role_ids.append(role.id)
        return await self.membership.add_member(target, account, role_ids=role_ids, nick=nick)

    async def remove_member(self, guild: Guild | str | int | None, member: str | int) -> Member:
        """``member`` leaves ``guild`` (GUILD_MEMBER_REMOVE: ``on_member_remove`` if the bot cached them)."""
        target = self.find_guild(guild)
        return await self.membership.remove_member(target, self.world.find_member(target, member).id)

    async def ban(
        self, guild: Guild | str | int | None, user: str | int, *, reason: str | None = None
    ) -> None:
        """Ban ``user`` (a name or id, member or not) from ``guild``, as a moderator in Discord's client
        would: GUILD_BAN_ADD, then GUILD_MEMBER_REMOVE if they were a member. Until :meth:`unban`,
        :meth:`add_member` (or, for the bot, :meth:`join_guild`) refuses them with ``BannedError``."""
        await self.membership.ban(self.find_guild(guild), self.world.find_user(user), reason=reason)

    async def unban(self, guild: Guild | str | int | None, user: str | int) -> None:
        """Lift ``user``'s ban from ``guild`` (GUILD_BAN_REMOVE); ``WorldError`` if there is none."""
        await self.membership.unban(self.find_guild(guild), self.world.find_user(user))

    async def join_guild(
        self,
        guild: Guild | str | int,
        *,
        guild_id: int | None = None,
        owner: str | int | None = None,
        members: Iterable[str | int] = (),
    ) -> Guild:
        """The bot joins ``guild`` (GUILD_CREATE: ``on_guild_join``) and gets a managed role there.

        An existing guild (object, id or name) the bot is not in is joined as it is; otherwise a new
        guild named ``guild`` is created as :meth:`add_guild` would (``guild_id``, ``owner``, ``members``).
        """
        try:
            target = self.find_guild(guild)
        except WorldError:
            if not isinstance(guild, str) or guild.isdigit():
                raise
            owner_id = None if owner is None else self.world.find_user(owner).id
            target = create_guild(
                self.world, guild, guild_id=guild_id, owner_id=owner_id, members=members, with_bot=False
            )
        if self.world.bot_user.id in target.members:
            raise WorldError(f"the bot is already in guild {target.name!r}")
        await self.membership.bot_joins(target)
        return target

    async def leave_guild(self, guild: Guild | str | int | None) -> None:
        """The bot is removed from ``guild`` (GUILD_DELETE: ``on_guild_remove``); the guild stays."""
        await self.membership.bot_leaves(self.find_guild(guild))
