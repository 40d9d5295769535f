"""Turning ``/config set key:value`` into the ``data`` of an APPLICATION_COMMAND interaction.

The sandbox plays the Discord client here: it looks the command up among those the bot synced (guild
scope first, then global), refuses what the client would not let a member send (unknown command or
option, wrong type, a value outside ``choices``/``min_value``/``max_length``, a missing required option,
a command the member may not use) and converts friendly references (``"alice"``, ``"#general"``,
``"@Moderator"``) to the snowflake strings Discord sends, with ``data.resolved`` filled in as Discord
fills it (users, partial members with ``permissions``, roles, partial channels with ``permissions``,
attachments; ``interaction_refs`` finds and resolves the references).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import IntEnum
from typing import Any

from .interaction_refs import InteractionError, Resolved, find_channel, find_role, find_user
from .world import Channel, Guild, Json, Member, Role, World

USE_APPLICATION_COMMANDS = 1 << 31
ADMINISTRATOR = 1 << 3


class OptionType(IntEnum):
    """Application command option types."""

    SUB_COMMAND = 1
    SUB_COMMAND_GROUP = 2
    STRING = 3
    INTEGER = 4
    BOOLEAN = 5
    USER = 6
    CHANNEL = 7
    ROLE = 8
    MENTIONABLE = 9
    NUMBER = 10
    ATTACHMENT = 11


SUBCOMMAND_TYPES = (OptionType.SUB_COMMAND, OptionType.SUB_COMMAND_GROUP)


# --- commands -----------------------------------------------------------------------------------


def find_command(world: World, guild_id: int, name: str, *, kind: int = 1) -> Json:
    """The synced command ``name`` visible in ``guild_id`` (guild scope first, then global)."""
    for scope in (guild_id, None):
        for command in world.commands.get(scope, []):
            if command["name"] == name and command.get("type", 1) == kind:
                return command
    synced = sorted(
        {
            c["name"]
            for scope in (guild_id, None)
            for c in world.commands.get(scope, [])
            if c.get("type", 1) == kind
        }
    )
    known = ", ".join(f"/{n}" for n in synced) or "none"
    raise InteractionError(
        f"/{name} is not a slash command the bot has synced for this guild (synced: {known}). "
        "Discord only offers slash commands the bot has synced: sync them (in tui-bot, press s in the "
        "console or use !sync), then try again."
    )


def check_can_use(world: World, command: Json, channel: Channel, member: Member) -> None:
    """Refuse what Discord's client would hide: no USE_APPLICATION_COMMANDS, missing default permissions."""
    perms = world.permissions_in(channel, member.id)
    name = command["name"]
    if not perms & USE_APPLICATION_COMMANDS:
        raise InteractionError(f"{member.user.username} may not use application commands in #{channel.name}")
    required = command.get("default_member_permissions")
    if required is not None and not perms & ADMINISTRATOR:
        needed = int(required)
        # "0" means administrators only; anything else is a set of permissions the member needs.
        if needed == 0 or perms & needed != needed:
            raise InteractionError(
                f"{member.user.username} lacks the permissions /{name} requires (default_member_permissions "
                f"{needed}), so Discord would not show them the command"
            )
    contexts = command.get("contexts")
    if contexts is not None and 0 not in contexts:
        raise InteractionError(f"/{name} is not available in guilds (contexts {contexts})")


def _leaf(command: Json, path: list[str]) -> tuple[list[Json], list[str], Callable[[list[Json]], list[Json]]]:
    """Walk sub-command groups: the leaf's option schema, its full name, and a wrapper for data.options."""
    schema: list[Json] = command.get("options") or []
    names = [command["name"]]
    wrappers: list[tuple[int, str]] = []
    remaining = list(path)
    while any(o.get("type") in SUBCOMMAND_TYPES for o in schema):
        subs = {o["name"]: o for o in schema if o.get("type") in SUBCOMMAND_TYPES}
        if not remaining:
            choices = ", ".join(f"/{' '.join(names)} {n}" for n in subs)
            raise InteractionError(f"/{' '.join(names)} needs a subcommand: {choices}")
        part = remaining.pop(0)
        if part not in subs:
            raise InteractionError(
                f"/{' '.join(names)} has no subcommand {part!r} (it has: {', '.join(subs)})"
            )
        wrappers.append((subs[part]["type"], part))
        names.append(part)
        schema = subs[part].get("options") or []
    if remaining:
        raise InteractionError(f"/{' '.join(names)} has no subcommands (got {' '.join(remaining)!r})")

    def wrap(options: list[Json]) -> list[Json]:
        for kind, name in reversed(wrappers):
            options = [{"type": kind, "name": name, "options": options}]
        return options

    return schema, names, wrap


def build_command_data(
    world: World,
    guild: Guild,
    channel: Channel,
    member: Member,
    command_path: str,
    options: Mapping[str, Any],
    *,
    base_url: Callable[[], str],
    focused: str | None = None,
) -> tuple[Json, str]:
    """``(data, full name)`` for invoking ``command_path`` (e.g. ``"config set"``) with ``options``.

    With ``focused`` it builds AUTOCOMPLETE data instead: the focused option's value goes as typed (a
    string), required options may be missing and there is no ``resolved``, as on Discord.
    """
    parts = command_path.strip().removeprefix("/").split()
    if not parts:
        raise InteractionError("no command name given")
    command = find_command(world, guild.id, parts[0])
    check_can_use(world, command, channel, member)
    schema, names, wrap = _leaf(command, parts[1:])
    full_name = " ".join(names)
    by_name = {o["name"]: o for o in schema}
    unknown = [name for name in options if name not in by_name]
    if unknown:
        known = ", ".join(by_name) or "none"
        raise InteractionError(f"/{full_name} has no option {unknown[0]!r} (its options: {known})")
    if focused is not None:
        spec = by_name.get(focused)
        if spec is None:
            raise InteractionError(f"/{full_name} has no option {focused!r} to autocomplete")
        if not spec.get("autocomplete"):
            raise InteractionError(f"option {focused!r} of /{full_name} has no autocomplete")

    resolved = Resolved(world, guild, channel, member, base_url)
    data_options: list[Json] = []
    for spec in schema:
        name = spec["name"]
        if name == focused:
            typed = options.get(name, "")
            data_options.append(
                {
                    "type": spec["type"],
                    "name": name,
                    "value": "" if typed is None else str(typed),
                    "focused": True,
                }
            )
            continue
        if options.get(name) is None:
            if spec.get("required") and focused is None:
                raise InteractionError(f"/{full_name} needs option {name!r}")
            continue
        value = convert_option(world, guild, spec, options[name], resolved, full_name=full_name)
        data_options.append({"type": spec["type"], "name": name, "value": value})

    data: Json = {
        "id": command["id"],
        "name": command["name"],
        "type": command.get("type", 1),
        "options": wrap(data_options),
    }
    if command.get("guild_id"):
        data["guild_id"] = command["guild_id"]
    if focused is None and (resolved_payload := resolved.payload()):
        data["resolved"] = resolved_payload
    return data, full_name


def _number(value: Any, *, integer: bool) -> int | float:
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    if integer:
        if isinstance(value, float) and not value.is_integer():
            raise ValueError("not a whole number")
        return int(value) if isinstance(value, int | float) else int(str(value).strip())
    return float(value) if isinstance(value, int | float) else float(str(value).strip())


def convert_option(
    world: World, guild: Guild, spec: Json, value: Any, resolved: Resolved, *, full_name: str
) -> Any:
    """One option's wire value (snowflakes as strings), checked against its schema; fills ``resolved``."""
    kind = OptionType(spec["type"])
    label = f"option {spec['name']!r} of /{full_name}"
    try:
        if kind is OptionType.STRING:
            if not isinstance(value, str | int | float) or isinstance(value, bool):
                raise ValueError(f"expected a string, got {type(value).__name__}")
            converted: Any = str(value)
        elif kind in (OptionType.INTEGER, OptionType.NUMBER):
            converted = _number(value, integer=kind is OptionType.INTEGER)
            if kind is OptionType.INTEGER and not -(2**53) < converted < 2**53:
                raise ValueError("out of Discord's integer range")
        elif kind is OptionType.BOOLEAN:
            if isinstance(value, str) and value.lower() in ("true", "false"):
                value = value.lower() == "true"
            if not isinstance(value, bool):
                raise ValueError(f"expected True or False, got {value!r}")
            converted = value
        elif kind is OptionType.USER:
            converted = resolved.add_user(*find_user(world, guild, value))
        elif kind is OptionType.ROLE:
            converted = resolved.add_role(find_role(guild, value))
        elif kind is OptionType.CHANNEL:
            channel = find_channel(guild, value)
            allowed = spec.get("channel_types")
            if allowed and channel.type not in allowed:
                raise ValueError(
                    f"#{channel.name} (type {channel.type}) is not one of channel types {allowed}"
                )
            converted = resolved.add_channel(channel)
        elif kind is OptionType.MENTIONABLE:
            if isinstance(value, Role) or (isinstance(value, str) and value.startswith("<@&")):
                converted = resolved.add_role(find_role(guild, value))
            else:
                try:
                    converted = resolved.add_user(*find_user(world, guild, value))
                except InteractionError:
                    converted = resolved.add_role(find_role(guild, value))
        elif kind is OptionType.ATTACHMENT:
            converted = resolved.add_attachment(value)
        else:
            raise ValueError(f"type {kind.name} cannot take a value")
    except (ValueError, TypeError) as exc:
        if isinstance(exc, InteractionError):
            raise InteractionError(f"{label}: {exc}") from None
        raise InteractionError(f"{label} ({kind.name.lower()}): {exc}") from None
    _check_limits(spec, converted, value, label)
    return _choice_value(spec, converted, value, label)


def _check_limits(spec: Json, converted: Any, original: Any, label: str) -> None:
    if isinstance(converted, str) and spec["type"] == OptionType.STRING:
        low, high = spec.get("min_length"), spec.get("max_length")
        if (low is not None and len(converted) < low) or (high is not None and len(converted) > high):
            raise InteractionError(f"{label}: {original!r} must be {low or 0}-{high or 6000} characters long")
    if isinstance(converted, int | float) and not isinstance(converted, bool):
        low, high = spec.get("min_value"), spec.get("max_value")
        if (low is not None and converted < low) or (high is not None and converted > high):
            raise InteractionError(f"{label}: {original!r} is outside {low}..{high}")


def _choice_value(spec: Json, converted: Any, original: Any, label: str) -> Any:
    choices = spec.get("choices")
    if not choices:
        return converted
    for choice in choices:
        if choice["value"] == converted:
            return converted
    # The client lists choices by name; accept a choice's name as a convenience.
    for choice in choices:
        if choice["name"] == original:
            return choice["value"]
    listed = ", ".join(f"{c['name']}={c['value']!r}" for c in choices)
    raise InteractionError(f"{label}: {original!r} is not one of its choices ({listed})")
