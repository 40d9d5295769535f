"""The sandbox's state: users, guilds, channels, messages and commands, and their Discord JSON shapes.

Everything here is plain data and pure functions: no sockets, no event loop. ``rest`` and ``gateway``
read and change a :class:`World`; :class:`EventLog` records what bots did so tests can await it.
Payload functions follow Discord's real shapes (snowflakes as strings, ISO-8601 timestamps with
microseconds, permissions as strings) because discord.py parses them as Discord sends them.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from importlib import resources
from pathlib import Path
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
    type: int = 0  # 0 default, 19 reply
    edited_timestamp: datetime | None = None

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
    ) -> Message:
        """Store a new message (ids, mentions and reply type filled in) and return it."""
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


# --- loading ----------------------------------------------------------------------------------


def _permissions(value: int | str | list[str]) -> int:
    # Names are discord.py's Permissions flags, so a world file reads like bot code does.
    if isinstance(value, list):
        return discord.Permissions(**dict.fromkeys(value, True)).value
    return int(value)


def _role(guild: Guild, name: str) -> Role:
    role = guild.find_role(name)
    if role is None:
        raise WorldError(f"world file refers to unknown role {name!r} in guild {guild.name!r}")
    return role


def world_from_dict(data: Json, *, owner_id: int | None = None) -> World:
    """Build a :class:`World` from the world-file format (see ``demo_world.json``).

    Users are referred to by username inside the file; ``owner_id`` replaces the application owner's
    id, so the operator in the sandbox can be the same account as on real Discord.
    """
    app_data = data["application"]
    users: dict[str, User] = {}
    for u in data["users"]:
        user = User(int(u["id"]), u["username"], u.get("global_name"), u.get("bot", False), u.get("avatar"))
        users[user.username] = user
    if owner_id is not None:
        users[app_data["owner"]].id = owner_id

    def user(name: str) -> User:
        if name not in users:
            raise WorldError(f"world file refers to unknown user {name!r}")
        return users[name]

    guilds: dict[int, Guild] = {}
    for g in data["guilds"]:
        guild = Guild(int(g["id"]), g["name"], user(g["owner"]).id, description=g.get("description"))
        for r in g["roles"]:
            role_id = guild.id if r["name"] == "@everyone" else int(r["id"])
            bot = r.get("managed_by_bot")
            guild.roles[role_id] = Role(
                role_id,
                r["name"],
                _permissions(r.get("permissions", 0)),
                r.get("position", 0),
                r.get("colour", 0),
                r.get("hoist", False),
                r.get("mentionable", False),
                user(bot).id if bot else None,
            )
        for c in g["channels"]:
            overwrites = [
                PermissionOverwrite(
                    int(o["id"]),
                    o.get("type", 0),
                    _permissions(o.get("allow", 0)),
                    _permissions(o.get("deny", 0)),
                )
                for o in c.get("permission_overwrites", [])
            ]
            channel = Channel(
                int(c["id"]),
                guild.id,
                c["name"],
                c.get("type", 0),
                c.get("position", 0),
                overwrites,
                c.get("topic"),
                c.get("nsfw", False),
            )
            guild.channels[channel.id] = channel
        for m in g["members"]:
            member_user = user(m["user"])
            role_ids = [_role(guild, name).id for name in m.get("roles", [])]
            joined = datetime.fromisoformat(m["joined_at"]) if m.get("joined_at") else datetime.now(UTC)
            guild.members[member_user.id] = Member(member_user, role_ids, m.get("nick"), joined)
        guilds[guild.id] = guild

    bot = user(app_data["bot"])
    application = Application(
        int(app_data["id"]),
        app_data["name"],
        user(app_data["owner"]).id,
        bot.id,
        app_data.get("description", ""),
        app_data.get("flags", Application.flags),
    )
    return World(application, {u.id: u for u in users.values()}, guilds)


def load_world(path: str | Path, *, owner_id: int | None = None) -> World:
    """Load a world file."""
    return world_from_dict(json.loads(Path(path).read_text(encoding="utf-8")), owner_id=owner_id)


def demo_world(owner_id: int | None = None) -> World:
    """The default world: "Sandbox Guild" owned by "operator", with alice (Moderator), bob and the bot."""
    text = resources.files(__package__).joinpath("demo_world.json").read_text(encoding="utf-8")
    return world_from_dict(json.loads(text), owner_id=owner_id)


# --- payloads (Discord JSON) ------------------------------------------------------------------


def user_payload(user: User, *, me: bool = False) -> Json:
    """A user object; ``me`` adds the private fields GET users/@me and READY carry."""
    payload: Json = {
        "id": str(user.id),
        "username": user.username,
        "discriminator": "0",
        "global_name": user.global_name,
        "avatar": user.avatar,
        "avatar_decoration_data": None,
        "banner": None,
        "accent_color": None,
        "public_flags": 0,
        "flags": 0,
        "primary_guild": None,
        "collectibles": None,
    }
    if user.bot:
        payload["bot"] = True  # Discord omits the key for humans
    if me:
        payload.update(verified=True, mfa_enabled=False, email=None, locale="en-US", premium_type=0)
    return payload


def role_payload(role: Role) -> Json:
    payload: Json = {
        "id": str(role.id),
        "name": role.name,
        "description": None,
        "color": role.colour,
        "colors": {"primary_color": role.colour, "secondary_color": None, "tertiary_color": None},
        "hoist": role.hoist,
        "icon": None,
        "unicode_emoji": None,
        "position": role.position,
        "permissions": str(role.permissions),
        "managed": role.managed,
        "mentionable": role.mentionable,
        "flags": 0,
    }
    if role.bot_id is not None:
        payload["tags"] = {"bot_id": str(role.bot_id)}
    return payload


def channel_payload(channel: Channel, *, with_guild_id: bool = True) -> Json:
    """A channel object; GUILD_CREATE's channel list omits ``guild_id``, REST includes it."""
    payload: Json = {
        "id": str(channel.id),
        "type": channel.type,
        "name": channel.name,
        "position": channel.position,
        "permission_overwrites": [
            {"id": str(o.id), "type": o.type, "allow": str(o.allow), "deny": str(o.deny)}
            for o in channel.permission_overwrites
        ],
        "parent_id": None if channel.parent_id is None else str(channel.parent_id),
        "topic": channel.topic,
        "nsfw": channel.nsfw,
        "rate_limit_per_user": channel.rate_limit_per_user,
        "last_message_id": None if channel.last_message_id is None else str(channel.last_message_id),
        "flags": 0,
    }
    if with_guild_id:
        payload["guild_id"] = str(channel.guild_id)
    return payload


def member_payload(member: Member, *, with_user: bool = True) -> Json:
    """A guild member; messages embed it without ``user`` (the author is beside it)."""
    payload: Json = {
        "nick": member.nick,
        "avatar": None,
        "banner": None,
        "roles": [str(r) for r in member.role_ids],
        "joined_at": iso(member.joined_at),
        "premium_since": None,
        "deaf": False,
        "mute": False,
        "flags": 0,
        "pending": False,
        "communication_disabled_until": None,
    }
    if with_user:
        payload["user"] = user_payload(member.user)
    return payload


def guild_payload(guild: Guild) -> Json:
    """A guild object as GET guilds/{id} returns it (roles, no members or channels)."""
    system_channel = next(iter(guild.channels), None)
    return {
        "id": str(guild.id),
        "name": guild.name,
        "icon": None,
        "splash": None,
        "discovery_splash": None,
        "banner": None,
        "description": guild.description,
        "owner_id": str(guild.owner_id),
        "afk_channel_id": None,
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 1,
        "explicit_content_filter": 0,
        "mfa_level": 0,
        "nsfw_level": 0,
        "premium_tier": 0,
        "premium_subscription_count": 0,
        "premium_progress_bar_enabled": False,
        "preferred_locale": "en-US",
        "features": [],
        "roles": [role_payload(r) for r in guild.roles.values()],
        "emojis": [],
        "stickers": [],
        "application_id": None,
        "system_channel_id": None if system_channel is None else str(system_channel),
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "public_updates_channel_id": None,
        "safety_alerts_channel_id": None,
        "vanity_url_code": None,
        "max_members": 500000,
        "max_video_channel_users": 25,
        "max_stage_video_channel_users": 50,
        "incidents_data": None,
    }


def guild_create_payload(guild: Guild, *, me: int, all_members: bool) -> Json:
    """GUILD_CREATE for the bot ``me``. Without GUILD_MEMBERS Discord sends only the bot's own member."""
    members = [m for m in guild.members.values() if all_members or m.id == me]
    payload = guild_payload(guild)
    payload.update(
        joined_at=iso(guild.members[me].joined_at) if me in guild.members else None,
        large=len(guild.members) > 250,
        unavailable=False,
        member_count=len(guild.members),
        members=[member_payload(m) for m in members],
        channels=[channel_payload(c, with_guild_id=False) for c in guild.channels.values()],
        threads=[],
        presences=[],
        voice_states=[],
        stage_instances=[],
        guild_scheduled_events=[],
        soundboard_sounds=[],
        lazy=True,
    )
    return payload


def message_payload(world: World, message: Message, *, gateway: bool = False, depth: int = 0) -> Json:
    """A message object. Gateway dispatches add ``guild_id`` and the author's partial ``member``."""
    guild = world.guilds.get(message.guild_id) if message.guild_id else None
    mentions = []
    for uid in message.mentions:
        entry = user_payload(world.users[uid])
        if gateway and guild is not None and uid in guild.members:
            entry["member"] = member_payload(guild.members[uid], with_user=False)
        mentions.append(entry)
    payload: Json = {
        "type": message.type,
        "content": message.content,
        "mentions": mentions,
        "mention_roles": [str(r) for r in message.mention_roles],
        "attachments": copy.deepcopy(message.attachments),
        "embeds": copy.deepcopy(message.embeds),
        "timestamp": iso(message.timestamp),
        "edited_timestamp": iso(message.edited_timestamp),
        "flags": message.flags,
        "components": copy.deepcopy(message.components),
        "id": str(message.id),
        "channel_id": str(message.channel_id),
        "author": user_payload(message.author),
        "pinned": message.pinned,
        "mention_everyone": message.mention_everyone,
        "tts": message.tts,
    }
    if message.nonce is not None:
        payload["nonce"] = message.nonce
    if message.message_reference is not None:
        payload["message_reference"] = dict(message.message_reference)
        if depth == 0:
            ref_id = int(message.message_reference.get("message_id", 0) or 0)
            referenced = world.get_message(int(message.message_reference.get("channel_id", 0)), ref_id)
            payload["referenced_message"] = (
                None if referenced is None else message_payload(world, referenced, depth=1)
            )
    if gateway and guild is not None:
        payload["guild_id"] = str(guild.id)
        if message.author.id in guild.members:
            payload["member"] = member_payload(guild.members[message.author.id], with_user=False)
    return payload


# --- the event log ----------------------------------------------------------------------------


class EventKind(StrEnum):
    """What happened. Bot actions, plus what the sandbox itself did that tests wait on."""

    IDENTIFY = "identify"  # a bot session identified (data: intents, shard, session_id)
    READY = "ready"  # READY and every GUILD_CREATE were sent to a session
    MESSAGE_CREATE = "message_create"  # a bot sent a message
    MESSAGE_UPDATE = "message_update"  # a bot edited a message
    MESSAGE_DELETE = "message_delete"  # a bot deleted a message
    TYPING = "typing"  # a bot triggered the typing indicator
    PRESENCE_UPDATE = "presence_update"  # a bot changed its presence (op 3 or IDENTIFY's presence)
    COMMANDS_SYNC = "commands_sync"  # a bot bulk-overwrote application commands
    USER_MESSAGE = "user_message"  # the sandbox injected a member's message (Sandbox.send_message)
    UNKNOWN_ROUTE = "unknown_route"  # a bot called a REST route the sandbox does not implement


@dataclass(frozen=True)
class SandboxEvent:
    """One entry of the event log. ``message`` is a snapshot taken when the event happened."""

    index: int
    kind: EventKind
    data: Json
    message: Message | None = None
    at: float = field(default_factory=time.monotonic)


class EventLog:
    """An ordered, append-only record of events that coroutines can wait on (no polling, no sleeps)."""

    def __init__(self) -> None:
        self._events: list[SandboxEvent] = []
        self._waiters: list[asyncio.Future[None]] = []

    def record(
        self, kind: EventKind, data: Json | None = None, *, message: Message | None = None
    ) -> SandboxEvent:
        """Append an event and wake every waiter."""
        snapshot = copy.deepcopy(message) if message is not None else None
        event = SandboxEvent(len(self._events), kind, data or {}, snapshot)
        self._events.append(event)
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
        return event

    async def wait_for(
        self,
        predicate: Callable[[SandboxEvent], bool],
        *,
        start: int = 0,
        timeout: float | None = 5.0,  # noqa: ASYNC109 - the timeout is part of the message on failure
    ) -> SandboxEvent:
        """The first event at index >= ``start`` matching ``predicate``, waiting for it if need be.

        Raises :class:`TimeoutError` naming the last few events, so a failing test says what did happen.
        """
        index = start
        try:
            async with asyncio.timeout(timeout):
                while True:
                    while index < len(self._events):
                        event = self._events[index]
                        index += 1
                        if predicate(event):
                            return event
                    waiter = asyncio.get_running_loop().create_future()
                    self._waiters.append(waiter)
                    await waiter
        except TimeoutError:
            recent = ", ".join(e.kind.value for e in self._events[-5:]) or "none"
            raise TimeoutError(
                f"no matching sandbox event within {timeout}s (latest events: {recent})"
            ) from None

    def __iter__(self) -> Iterator[SandboxEvent]:
        return iter(list(self._events))

    def __len__(self) -> int:
        return len(self._events)

    def __getitem__(self, index: int) -> SandboxEvent:
        return self._events[index]
