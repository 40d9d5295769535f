"""The sandbox's state: users, guilds, channels, messages and commands.

Plain data: no sockets, no event loop. ``rest`` and ``gateway`` read and change a :class:`World`;
``payloads`` turns it into Discord JSON, ``world_file`` builds one from a file, ``events`` records
what bots did so tests can await it.
"""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import discord

DISCORD_EPOCH_MS = 1420070400000

# A token-shaped string (base64 bot id . timestamp . hmac) so token validators and log redaction treat
# it like a real one. It only ever works against the sandbox.
SANDBOX_TOKEN = "MTE5MTE2ODkxODQyMTUwNDAwMA.SdBx4A.c2FuZGJveC1ub3QtYS1yZWFsLXRva2Vu"

ALL_PERMISSIONS = discord.Permissions.all().value
ADMINISTRATOR = discord.Permissions(administrator=True).value

Json = dict[str, Any]


# --- snowflakes -------------------------------------------------------------------------------


def snowflake_time(snowflake: int) -> datetime:
    """When a snowflake was minted (its top 42 bits are milliseconds since the Discord epoch)."""
    return datetime.fromtimestamp(((snowflake >> 22) + DISCORD_EPOCH_MS) / 1000, tz=UTC)


def iso(moment: datetime | None) -> str | None:
    """Discord's timestamp format: ISO-8601 with microseconds and an explicit UTC offset."""
    return None if moment is None else moment.astimezone(UTC).isoformat(timespec="microseconds")


class SnowflakeGenerator:
    """Time-based, strictly increasing, unique snowflakes (Discord epoch, worker 1, process 0).

    Within one millisecond the low 12 bits count up; past 4096 ids in one millisecond the carry runs
    into the worker/process bits and then the time, so ids stay unique and ordered (discord.py sorts
    and paginates by id) at the cost of running slightly ahead of the clock.
    """

    def __init__(
        self, clock: Callable[[], float] = time.time, worker_id: int = 1, process_id: int = 0
    ) -> None:
        self._clock = clock
        self._prefix = ((worker_id & 0x1F) << 17) | ((process_id & 0x1F) << 12)
        self._last = 0

    def __call__(self) -> int:
        now_ms = int(self._clock() * 1000)
        candidate = ((now_ms - DISCORD_EPOCH_MS) << 22) | self._prefix
        self._last = max(candidate, self._last + 1)
        return self._last

    def observe(self, snowflake: int) -> None:
        """Never mint an id at or below ``snowflake`` (ids loaded from a world file)."""
        self._last = max(self._last, snowflake)


# --- model ------------------------------------------------------------------------------------


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
    """A message in a guild channel. ``attachments`` are already Discord attachment objects."""

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


class WorldError(LookupError):
    """A reference (user, channel, role) the world does not contain."""


MENTION_USER = re.compile(r"<@!?(\d{15,21})>")
MENTION_ROLE = re.compile(r"<@&(\d{15,21})>")


class World:
    """All sandbox state. Mutated only on the event loop thread, so no locks."""

    def __init__(self, application: Application, users: dict[int, User], guilds: dict[int, Guild]) -> None:
        self.application = application
        self.users = users
        self.guilds = guilds
        self.snowflakes = SnowflakeGenerator()
        for known in (*users, *guilds, *(c for g in guilds.values() for c in (*g.roles, *g.channels))):
            self.snowflakes.observe(known)
        # Token -> bot user id: one bot today; several bots (or a revoked token) later.
        self.tokens: dict[str, int] = {SANDBOX_TOKEN: application.bot_id}
        self.messages: dict[int, dict[int, Message]] = {
            cid: {} for g in guilds.values() for cid in g.channels
        }
        self.attachment_data: dict[int, bytes] = {}
        # Application commands by scope: None for global, else a guild id.
        self.commands: dict[int | None, list[Json]] = {}

    # -- lookups --

    @property
    def bot_user(self) -> User:
        return self.users[self.application.bot_id]

    @property
    def owner_id(self) -> int:
        """The operator: owner of the application (and of the demo guild)."""
        return self.application.owner_id

    def find_user(self, ref: str | int) -> User:
        """A user by id, username or global name; raises :class:`WorldError`."""
        if isinstance(ref, int) or ref.isdigit():
            found = self.users.get(int(ref))
        else:
            found = next((u for u in self.users.values() if ref in (u.username, u.global_name)), None)
        if found is None:
            raise WorldError(f"no user {ref!r} in the sandbox world")
        return found

    def user_for_token(self, token: str | None) -> User | None:
        """The bot user a token logs in as, or None for a bad token."""
        user_id = self.tokens.get(token or "")
        return None if user_id is None else self.users.get(user_id)

    def channel(self, channel_id: int) -> Channel | None:
        return next((g.channels[channel_id] for g in self.guilds.values() if channel_id in g.channels), None)

    def find_channel(self, ref: str | int) -> Channel:
        """A channel by id, name or ``#name``; raises :class:`WorldError`."""
        if isinstance(ref, int) or ref.isdigit():
            found = self.channel(int(ref))
        else:
            name = ref.removeprefix("#")
            found = next(
                (c for g in self.guilds.values() for c in g.channels.values() if c.name == name), None
            )
        if found is None:
            raise WorldError(f"no channel {ref!r} in the sandbox world")
        return found

    def find_member(self, guild: Guild, ref: str | int) -> Member:
        """A member of ``guild`` by id or name; raises :class:`WorldError`."""
        member = guild.find_member(ref)
        if member is None:
            raise WorldError(f"no member {ref!r} in guild {guild.name!r}")
        return member

    # -- permissions (Discord's documented algorithm) --

    def base_permissions(self, guild: Guild, member: Member) -> int:
        if member.id == guild.owner_id:
            return ALL_PERMISSIONS
        perms = guild.roles[guild.id].permissions
        for role_id in member.role_ids:
            if role_id in guild.roles:
                perms |= guild.roles[role_id].permissions
        return ALL_PERMISSIONS if perms & ADMINISTRATOR else perms

    def permissions_in(self, channel: Channel, user_id: int) -> int:
        """What ``user_id`` may do in ``channel``: 0 if not a member of its guild."""
        guild = self.guilds[channel.guild_id]
        member = guild.members.get(user_id)
        if member is None:
            return 0
        perms = self.base_permissions(guild, member)
        if perms == ALL_PERMISSIONS:
            return perms
        overwrites = {o.id: o for o in channel.permission_overwrites}
        if (everyone := overwrites.get(guild.id)) is not None:
            perms = (perms & ~everyone.deny) | everyone.allow
        allow = deny = 0
        for role_id in member.role_ids:
            if (role_ow := overwrites.get(role_id)) is not None and role_ow.type == 0:
                allow, deny = allow | role_ow.allow, deny | role_ow.deny
        perms = (perms & ~deny) | allow
        if (own := overwrites.get(member.id)) is not None and own.type == 1:
            perms = (perms & ~own.deny) | own.allow
        return perms

    # -- messages --

    def create_message(
        self,
        channel: Channel,
        author: User,
        content: str = "",
        *,
        embeds: list[Json] | None = None,
        components: list[Json] | None = None,
        attachments: list[Json] | None = None,
        allowed_mentions: Json | None = None,
        message_reference: Json | None = None,
        nonce: str | int | None = None,
        tts: bool = False,
        flags: int = 0,
        store: bool = True,
    ) -> Message:
        """Store a new message (ids, mentions and reply type filled in) and return it.

        ``store=False`` builds it without adding it to the channel (ephemeral interaction messages).
        """
        guild = self.guilds[channel.guild_id]
        users, roles, everyone = self._parse_mentions(guild, content, allowed_mentions)
        message = Message(
            id=self.snowflakes(),
            channel_id=channel.id,
            guild_id=channel.guild_id,
            author=author,
            content=content,
            embeds=[{"type": "rich", **e} for e in embeds or []],
            components=list(components or []),
            attachments=list(attachments or []),
            mentions=users,
            mention_roles=roles,
            mention_everyone=everyone,
            message_reference=message_reference,
            nonce=nonce,
            tts=tts,
            flags=flags,
            type=19 if message_reference else 0,
        )
        if store:
            self.messages.setdefault(channel.id, {})[message.id] = message
            channel.last_message_id = message.id
        return message

    def edit_message(self, message: Message, changes: Json) -> Message:
        """Apply a PATCH body (content, embeds, components, flags, allowed_mentions) to ``message``."""
        if "content" in changes:
            message.content = changes["content"] or ""
            guild = self.guilds[message.guild_id] if message.guild_id else None
            if guild is not None:
                message.mentions, message.mention_roles, message.mention_everyone = self._parse_mentions(
                    guild, message.content, changes.get("allowed_mentions")
                )
        if "embeds" in changes:
            message.embeds = [{"type": "rich", **e} for e in changes["embeds"] or []]
        if "components" in changes:
            message.components = list(changes["components"] or [])
        if "flags" in changes and changes["flags"] is not None:
            message.flags = changes["flags"]
        if "attachments" in changes:
            keep = {int(a["id"]) for a in changes["attachments"] or [] if "id" in a}
            message.attachments = [a for a in message.attachments if int(a["id"]) in keep]
        message.edited_timestamp = datetime.now(UTC)
        return message

    def get_message(self, channel_id: int, message_id: int) -> Message | None:
        return self.messages.get(channel_id, {}).get(message_id)

    def delete_message(self, message: Message) -> None:
        self.messages.get(message.channel_id, {}).pop(message.id, None)

    def history(
        self,
        channel_id: int,
        *,
        limit: int = 50,
        before: int | None = None,
        after: int | None = None,
        around: int | None = None,
    ) -> list[Message]:
        """Messages newest first, like GET channels/{id}/messages (``after`` takes the oldest ones)."""
        ordered = sorted(self.messages.get(channel_id, {}).values(), key=lambda m: m.id)
        if around is not None:
            older = [m for m in ordered if m.id < around][-(limit // 2) :] if limit // 2 else []
            newer = [m for m in ordered if m.id >= around][: limit - len(older)]
            return list(reversed(older + newer))
        if after is not None:
            return list(reversed([m for m in ordered if m.id > after][:limit]))
        if before is not None:
            ordered = [m for m in ordered if m.id < before]
        return list(reversed(ordered[-limit:])) if limit else []

    def _parse_mentions(
        self, guild: Guild, content: str, allowed: Json | None
    ) -> tuple[list[int], list[int], bool]:
        # allowed_mentions decides who actually gets pinged, and Discord's mention lists show only those.
        parse = set(allowed.get("parse", [])) if allowed is not None else {"users", "roles", "everyone"}
        only_users = {int(u) for u in (allowed or {}).get("users", [])}
        only_roles = {int(r) for r in (allowed or {}).get("roles", [])}
        users: list[int] = []
        roles: list[int] = []
        if "<@" in content:  # every user and role mention starts so; most messages (and pongs) have none
            users = [
                uid
                for uid in dict.fromkeys(int(m) for m in MENTION_USER.findall(content))
                if uid in self.users and ("users" in parse or uid in only_users)
            ]
            roles = [
                rid
                for rid in dict.fromkeys(int(m) for m in MENTION_ROLE.findall(content))
                if rid in guild.roles and ("roles" in parse or rid in only_roles)
            ]
        everyone = "everyone" in parse and ("@everyone" in content or "@here" in content)
        return users, roles, everyone

    # -- application commands --

    def overwrite_commands(self, guild_id: int | None, bodies: list[Json]) -> list[Json]:
        """Bulk-overwrite one scope's commands; ids survive for the same (name, type), as on Discord."""
        previous = {(c["name"], c.get("type", 1)): c for c in self.commands.get(guild_id, [])}
        stored: list[Json] = []
        for body in bodies:
            kind = body.get("type", 1)
            old = previous.get((body["name"], kind))
            command: Json = {
                "id": old["id"] if old else str(self.snowflakes()),
                "application_id": str(self.application.id),
                "version": old["version"] if old and _same_command(old, body) else str(self.snowflakes()),
                "default_member_permissions": body.get("default_member_permissions"),
                "type": kind,
                "name": body["name"],
                "name_localizations": body.get("name_localizations"),
                "description": body.get("description", ""),
                "description_localizations": body.get("description_localizations"),
                "nsfw": body.get("nsfw", False),
            }
            if body.get("options"):
                command["options"] = body["options"]
            if guild_id is None:
                command["dm_permission"] = body.get("dm_permission", True)
                command["contexts"] = body.get("contexts")
                command["integration_types"] = body.get("integration_types", [0])
            else:
                command["guild_id"] = str(guild_id)
            stored.append(command)
        self.commands[guild_id] = stored
        return copy.deepcopy(stored)


def _same_command(old: Json, body: Json) -> bool:
    keys = ("description", "options", "default_member_permissions", "nsfw", "contexts", "integration_types")
    return all(old.get(k) == body.get(k) for k in keys if k in body)
