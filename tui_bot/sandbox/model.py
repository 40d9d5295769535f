"""The sandbox's data model: users, roles, channels, members, guilds, messages and the application.

Plain dataclasses, no behaviour beyond lookups within one guild; :class:`~.world.World` holds them and
changes them, ``payloads`` turns them into Discord JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .snowflakes import snowflake_time

Json = dict[str, Any]


@dataclass
class User:
    """A Discord user (or bot account)."""

    id: int
    username: str
    global_name: str | None = None
    bot: bool = False
    avatar: str | None = None

    @property
    def display_name(self) -> str:
        return self.global_name or self.username


@dataclass
class Role:
    """A guild role. The @everyone role's id equals the guild's id, as on Discord."""

    id: int
    name: str
    permissions: int = 0
    position: int = 0
    colour: int = 0
    hoist: bool = False
    mentionable: bool = False
    bot_id: int | None = None  # set for the role Discord creates (managed) when a bot joins

    @property
    def managed(self) -> bool:
        return self.bot_id is not None


@dataclass
class PermissionOverwrite:
    """A channel overwrite for a role (type 0) or a member (type 1)."""

    id: int
    type: int
    allow: int = 0
    deny: int = 0


@dataclass
class Channel:
    """A guild channel (only text channels, type 0, for now)."""

    id: int
    guild_id: int
    name: str
    type: int = 0
    position: int = 0
    permission_overwrites: list[PermissionOverwrite] = field(default_factory=list)
    topic: str | None = None
    nsfw: bool = False
    parent_id: int | None = None
    rate_limit_per_user: int = 0
    last_message_id: int | None = None


@dataclass
class DMChannel:
    """A direct-message channel (type 1) between a user and a bot; it belongs to no guild.

    On Discord, gateway events of DMs carry no ``guild_id`` and so reach shard 0 only.
    """

    id: int
    recipient: User  # the human end; the other end is the bot ``bot_id``
    bot_id: int
    type: int = 1
    last_message_id: int | None = None

    def has(self, user_id: int) -> bool:
        """Whether ``user_id`` is one of the two ends."""
        return user_id in (self.recipient.id, self.bot_id)


@dataclass
class Member:
    """A user's membership of a guild."""

    user: User
    role_ids: list[int] = field(default_factory=list)
    nick: str | None = None
    joined_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def id(self) -> int:
        return self.user.id


@dataclass
class Guild:
    """A guild with its roles, channels and members, each keyed by id in Discord's order."""

    id: int
    name: str
    owner_id: int
    roles: dict[int, Role] = field(default_factory=dict)
    channels: dict[int, Channel] = field(default_factory=dict)
    members: dict[int, Member] = field(default_factory=dict)
    description: str | None = None
    bans: dict[int, str | None] = field(default_factory=dict)  # banned user id -> reason

    def find_member(self, ref: str | int) -> Member | None:
        """A member by id, username, global name or nick (exact first, then case-insensitive)."""
        if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
            return self.members.get(int(ref))
        for fold in (False, True):
            for member in self.members.values():
                names = (member.user.username, member.user.global_name, member.nick)
                if any(
                    n is not None and (n.casefold() == ref.casefold() if fold else n == ref) for n in names
                ):
                    return member
        return None

    def find_role(self, ref: str | int) -> Role | None:
        """A role by id or name."""
        if isinstance(ref, int) or ref.isdigit():
            return self.roles.get(int(ref))
        return next((r for r in self.roles.values() if r.name == ref), None)


@dataclass
class Message:
    """A message in a guild channel, or a DM (``guild_id`` None). ``attachments`` are already Discord
    attachment objects."""

    id: int
    channel_id: int
    guild_id: int | None
    author: User
    content: str = ""
    embeds: list[Json] = field(default_factory=list)
    components: list[Json] = field(default_factory=list)
    attachments: list[Json] = field(default_factory=list)
    mentions: list[int] = field(default_factory=list)
    mention_roles: list[int] = field(default_factory=list)
    mention_everyone: bool = False
    message_reference: Json | None = None
    nonce: str | int | None = None
    tts: bool = False
    flags: int = 0
    pinned: bool = False
    pinned_at: datetime | None = None
    # Emoji (the unicode character, or "name:id") -> ids of the users who reacted, in reaction order.
    reactions: dict[str, list[int]] = field(default_factory=dict)
    type: int = 0  # 0 default, 19 reply
    edited_timestamp: datetime | None = None
    # Set on messages answering an interaction (interactions.py): Discord's ``interaction_metadata``,
    # the deprecated ``interaction``, and the application that sent them through its webhook.
    interaction_metadata: Json | None = None
    interaction: Json | None = None
    webhook_id: int | None = None
    application_id: int | None = None

    @property
    def timestamp(self) -> datetime:
        # On Discord a message's timestamp is its snowflake's time; keeping it derived keeps them equal.
        return snowflake_time(self.id)


@dataclass
class Application:
    """The bot's application (what GET oauth2/applications/@me describes)."""

    id: int
    name: str
    owner_id: int
    bot_id: int
    description: str = ""
    # GATEWAY_PRESENCE_LIMITED | GATEWAY_GUILD_MEMBERS_LIMITED | GATEWAY_MESSAGE_CONTENT_LIMITED:
    # all privileged intents enabled, as for an unverified bot that turned them on in the portal.
    flags: int = (1 << 13) | (1 << 15) | (1 << 19)
    bot_public: bool = True


# Privileged gateway intents and the application flags (full or "limited") that allow each.
PRIVILEGED_INTENTS: dict[int, int] = {
    1 << 1: (1 << 14) | (1 << 15),  # GUILD_MEMBERS
    1 << 8: (1 << 12) | (1 << 13),  # GUILD_PRESENCES
    1 << 15: (1 << 18) | (1 << 19),  # MESSAGE_CONTENT
}
