"""The sandbox's state: users, guilds, channels, messages and commands, and what changes them.

Plain data: no sockets, no event loop. ``rest`` and ``gateway`` read and change a :class:`World`;
``payloads`` turns it into Discord JSON, ``world_file`` builds one from a file, ``events`` records
what bots did so tests can await it. The data classes live in ``model`` and ids and times in
``snowflakes``; both are re-exported here, where the sandbox's modules and its users import them from.
"""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime

import discord

from .model import (
    PRIVILEGED_INTENTS,
    Application,
    Channel,
    DMChannel,
    Guild,
    Json,
    Member,
    Message,
    PermissionOverwrite,
    Role,
    User,
)
from .snowflakes import DISCORD_EPOCH_MS, SnowflakeGenerator, iso, snowflake_time

__all__ = [
    "ADMINISTRATOR",
    "ALL_PERMISSIONS",
    "DISCORD_EPOCH_MS",
    "PRIVILEGED_INTENTS",
    "SANDBOX_TOKEN",
    "Application",
    "Channel",
    "DMChannel",
    "Guild",
    "Json",
    "Member",
    "Message",
    "PermissionOverwrite",
    "Role",
    "SnowflakeGenerator",
    "User",
    "World",
    "WorldError",
    "iso",
    "snowflake_time",
]

# A token-shaped string (base64 bot id . timestamp . hmac) so token validators and log redaction treat
# it like a real one. It only ever works against the sandbox.
SANDBOX_TOKEN = "MTE5MTE2ODkxODQyMTUwNDAwMA.SdBx4A.c2FuZGJveC1ub3QtYS1yZWFsLXRva2Vu"

ALL_PERMISSIONS = discord.Permissions.all().value
ADMINISTRATOR = discord.Permissions(administrator=True).value
DELETED_KEPT = 100  # deleted messages remembered per channel, for clients that show them


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
        # Direct-message channels by id (see open_dm); their messages are in self.messages too.
        self.dm_channels: dict[int, DMChannel] = {}
        # Channel id -> the messages deleted there, most recent last (at most DELETED_KEPT each).
        self._deleted: dict[int, dict[int, Message]] = {}
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

    def open_dm(self, user: User, bot_id: int | None = None) -> DMChannel:
        """The DM channel between ``user`` and the bot ``bot_id`` (default: the world's bot), created
        the first time, as ``POST users/@me/channels`` does on Discord."""
        bot = self.application.bot_id if bot_id is None else bot_id
        found = next(
            (d for d in self.dm_channels.values() if d.recipient.id == user.id and d.bot_id == bot), None
        )
        if found is None:
            found = DMChannel(self.snowflakes(), user, bot)
            self.dm_channels[found.id] = found
            self.messages[found.id] = {}
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
        channel: Channel | DMChannel,
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
        guild = self.guilds[channel.guild_id] if isinstance(channel, Channel) else None
        users, roles, everyone = self._parse_mentions(guild, content, allowed_mentions)
        message = Message(
            id=self.snowflakes(),
            channel_id=channel.id,
            guild_id=None if guild is None else guild.id,
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
        removed = self.messages.get(message.channel_id, {}).pop(message.id, None)
        if removed is not None:
            # Kept aside so that a client can still show what was deleted (the console's chat does).
            kept = self._deleted.setdefault(removed.channel_id, {})
            kept[removed.id] = removed
            if len(kept) > DELETED_KEPT:
                del kept[next(iter(kept))]

    def deleted_messages(self, channel_id: int) -> list[Message]:
        """The messages most recently deleted from a channel (up to ``DELETED_KEPT``), in id order.

        As they were when deleted; they are in no history and no route finds them.
        """
        return sorted(self._deleted.get(channel_id, {}).values(), key=lambda m: m.id)

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
        self, guild: Guild | None, content: str, allowed: Json | None
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
                if guild is not None and rid in guild.roles and ("roles" in parse or rid in only_roles)
            ]
        pinged = "everyone" in parse and ("@everyone" in content or "@here" in content)
        everyone = pinged and guild is not None  # a DM has no @everyone to ping
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
                # discord.py sends null when a command sets none; Discord stores GUILD_INSTALL, [0], and
                # leaves contexts null (discord/discord-api-docs#6744).
                command["integration_types"] = body.get("integration_types") or [0]
            else:
                command["guild_id"] = str(guild_id)
            stored.append(command)
        self.commands[guild_id] = stored
        return copy.deepcopy(stored)


def _same_command(old: Json, body: Json) -> bool:
    keys = ("description", "options", "default_member_permissions", "nsfw", "contexts", "integration_types")
    # Compared as stored: null integration_types is [0]; no options and [] are the same (none kept).
    if "integration_types" in body:
        body = {**body, "integration_types": body["integration_types"] or [0]}
    if "options" in body:
        body = {**body, "options": body["options"] or None}
    return all(old.get(k) == body.get(k) for k in keys if k in body)
