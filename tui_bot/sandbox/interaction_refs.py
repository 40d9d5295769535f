"""Friendly references to world objects, as a member types them, and ``data.resolved`` for them.

The sandbox's interaction calls take a user as a name, id, ``<@id>`` mention or object, a role as a
name, ``@name``, ``<@&id>`` or id, a channel as a name, ``#name``, ``<#id>`` or id; these functions
find them (refusing with :class:`InteractionError`), and :class:`Resolved` collects what an
interaction's ``data.resolved`` holds, shaped as Discord shapes it.
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .payloads import member_payload, role_payload, user_payload
from .world import Channel, Guild, Json, Member, Role, User, World

_MENTION = re.compile(r"<(@!?|@&|#)(\d{15,21})>")


class InteractionError(ValueError):
    """Something a member could not do on Discord: the message says what and why."""


# --- references to world objects --------------------------------------------------------------


def ref_id(ref: Any) -> int | None:
    """The snowflake in ``ref``: an object with ``.id``, an int, digits or a ``<@id>``-style mention."""
    if isinstance(ref, bool):
        return None
    if isinstance(ref, int):
        return ref
    if hasattr(ref, "id") and isinstance(ref.id, int):
        return ref.id
    if isinstance(ref, str):
        if ref.isdigit():
            return int(ref)
        if (match := _MENTION.fullmatch(ref.strip())) is not None:
            return int(match.group(2))
    return None


def find_user(world: World, guild: Guild, ref: Any) -> tuple[User, Member | None]:
    """A user (and their membership of ``guild``, if any) by id, mention, name or object."""
    snowflake = ref_id(ref)
    if snowflake is not None:
        user = world.users.get(snowflake)
    elif isinstance(ref, str):
        member = guild.find_member(ref.removeprefix("@"))
        user = member.user if member is not None else None
        if user is None:
            user = next(
                (u for u in world.users.values() if ref.removeprefix("@") in (u.username, u.global_name)),
                None,
            )
    else:
        user = None
    if user is None:
        raise InteractionError(f"no user {ref!r} in the sandbox world")
    return user, guild.members.get(user.id)


def find_role(guild: Guild, ref: Any) -> Role:
    """A role of ``guild`` by id, ``<@&id>``, name or ``@name``."""
    snowflake = ref_id(ref)
    role = guild.roles.get(snowflake) if snowflake is not None else None
    if role is None and isinstance(ref, str) and snowflake is None:
        role = guild.find_role(ref) or guild.find_role(ref.removeprefix("@"))
    if role is None:
        raise InteractionError(f"no role {ref!r} in guild {guild.name!r}")
    return role


def find_channel(guild: Guild, ref: Any) -> Channel:
    """A channel of ``guild`` by id, ``<#id>``, name or ``#name``."""
    snowflake = ref_id(ref)
    if snowflake is not None:
        channel = guild.channels.get(snowflake)
    elif isinstance(ref, str):
        name = ref.removeprefix("#")
        channel = next((c for c in guild.channels.values() if c.name == name), None)
    else:
        channel = None
    if channel is None:
        raise InteractionError(f"no channel {ref!r} in guild {guild.name!r}")
    return channel


# --- data.resolved ------------------------------------------------------------------------------


class Resolved:
    """Collects ``data.resolved`` for one interaction, as Discord shapes it.

    Members lack ``user`` (it is under ``users``), ``deaf`` and ``mute``, and carry ``permissions`` in
    the interaction's channel; channels are partial and carry the invoking member's ``permissions``.
    """

    def __init__(
        self, world: World, guild: Guild, channel: Channel, invoker: Member, base_url: Callable[[], str]
    ) -> None:
        self.world, self.guild, self.channel, self.invoker = world, guild, channel, invoker
        self._base_url = base_url
        self.users: dict[str, Json] = {}
        self.members: dict[str, Json] = {}
        self.roles: dict[str, Json] = {}
        self.channels: dict[str, Json] = {}
        self.attachments: dict[str, Json] = {}

    def add_user(self, user: User, member: Member | None) -> str:
        """Resolve a user (and their partial member, if in the guild); returns the id option value."""
        self.users[str(user.id)] = user_payload(user)
        if member is not None:
            partial = member_payload(member, with_user=False)
            for key in ("deaf", "mute"):
                partial.pop(key, None)
            partial["permissions"] = str(self.world.permissions_in(self.channel, member.id))
            self.members[str(user.id)] = partial
        return str(user.id)

    def add_role(self, role: Role) -> str:
        """Resolve a role; returns the id option value."""
        self.roles[str(role.id)] = role_payload(role)
        return str(role.id)

    def add_channel(self, channel: Channel) -> str:
        """Resolve a channel as a partial channel; returns the id option value."""
        self.channels[str(channel.id)] = {
            "id": str(channel.id),
            "type": channel.type,
            "name": channel.name,
            "guild_id": str(channel.guild_id),
            "parent_id": None if channel.parent_id is None else str(channel.parent_id),
            "position": channel.position,
            "topic": channel.topic,
            "nsfw": channel.nsfw,
            "rate_limit_per_user": channel.rate_limit_per_user,
            "last_message_id": None if channel.last_message_id is None else str(channel.last_message_id),
            "flags": 0,
            "permissions": str(self.world.permissions_in(channel, self.invoker.id)),
        }
        return str(channel.id)

    def add_attachment(self, value: Any) -> str:
        """Store an uploaded file: ``bytes``, ``(filename, bytes[, content_type])`` or a ``Path``."""
        if isinstance(value, Path):
            filename, data, content_type = value.name, value.read_bytes(), None
        elif isinstance(value, bytes | bytearray):
            filename, data, content_type = "file.bin", bytes(value), None
        elif isinstance(value, tuple) and len(value) in (2, 3) and isinstance(value[1], bytes | bytearray):
            filename, data = str(value[0]), bytes(value[1])
            content_type = value[2] if len(value) == 3 else None
        else:
            raise InteractionError(
                f"an attachment option takes bytes, (filename, bytes) or a Path, not {type(value).__name__}"
            )
        content_type = content_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
        attachment_id = self.world.snowflakes()
        self.world.attachment_data[attachment_id] = data
        url = f"{self._base_url()}/attachments/{self.channel.id}/{attachment_id}/{filename}"
        self.attachments[str(attachment_id)] = {
            "id": str(attachment_id),
            "filename": filename,
            "size": len(data),
            "url": url,
            "proxy_url": url,
            "content_type": content_type,
            "ephemeral": True,  # option uploads are temporary on Discord
            "flags": 0,
        }
        return str(attachment_id)

    def payload(self) -> Json:
        """``data.resolved``: only the kinds that have entries, as Discord sends it."""
        parts = {
            "users": self.users,
            "members": self.members,
            "roles": self.roles,
            "channels": self.channels,
            "attachments": self.attachments,
        }
        return {key: value for key, value in parts.items() if value}
