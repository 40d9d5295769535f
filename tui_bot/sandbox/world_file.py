"""Building a :class:`World` from the declarative world-file format (``demo_world.json`` is one)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import discord

from .world import (
    Application,
    Channel,
    Guild,
    Json,
    Member,
    PermissionOverwrite,
    Role,
    User,
    World,
    WorldError,
)


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
        person = User(int(u["id"]), u["username"], u.get("global_name"), u.get("bot", False), u.get("avatar"))
        users[person.username] = person
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
