"""Reactions on the world's messages: emoji parsing, adding and removing, and their Discord JSON.

Plain data like ``world``: the REST routes (``rest_messages``) and the ``Sandbox`` Python API change
reactions through these functions and dispatch what they return. A message keeps its reactions as
``Message.reactions``: emoji key -> ids of the users who reacted, in reaction order.

Only unicode emoji exist in the sandbox (worlds have no custom guild emoji yet), so a custom emoji
(``name:id``) is unknown, as an emoji from a guild the bot is not in is on Discord.
"""

from __future__ import annotations

from .world import Json, Message, WorldError

MAX_REACTIONS = 20  # distinct emoji per message (Discord error 30010 beyond)
GUILD_MESSAGE_REACTIONS = 1 << 10  # the intent the MESSAGE_REACTION_* events need


class UnknownEmoji(WorldError):
    """An emoji the sandbox does not know (REST answers 400 with Discord's code 10014)."""


def emoji_key(raw: str) -> str:
    """The key a reaction is stored under, from a URL segment or a Python argument.

    Unicode emoji are themselves; discord.py strips ``<>`` from custom emoji and sends ``name:id``,
    which the sandbox has none of. Plain ASCII (``thumbsup``, ``:smile:``) is not an emoji on Discord.
    """
    emoji = raw.strip()
    if not emoji or ":" in emoji or emoji.isascii() or len(emoji) > 32:
        raise UnknownEmoji(
            f"unknown emoji {raw!r}: use a unicode emoji such as '👍' (custom emoji do not exist)"
        )
    return emoji


def emoji_payload(key: str) -> Json:
    """A partial emoji object: ``{"id": null, "name": "👍"}`` for unicode emoji."""
    if ":" in key:  # name:id, should custom emoji ever be added
        name, _, emoji_id = key.rpartition(":")
        return {"id": emoji_id, "name": name.removeprefix("a:")}
    return {"id": None, "name": key}


def add(message: Message, user_id: int, key: str) -> bool:
    """Record ``user_id``'s reaction; False if it was already there (Discord answers 204 either way)."""
    users = message.reactions.setdefault(key, [])
    if user_id in users:
        return False
    users.append(user_id)
    return True


def remove(message: Message, user_id: int, key: str) -> bool:
    """Remove ``user_id``'s reaction; False if there was none."""
    users = message.reactions.get(key)
    if not users or user_id not in users:
        return False
    users.remove(user_id)
    if not users:
        del message.reactions[key]
    return True


def clear(message: Message, key: str | None = None) -> bool:
    """Remove every reaction (``key`` None) or one emoji's; False if there was nothing to remove."""
    if key is None:
        had = bool(message.reactions)
        message.reactions.clear()
        return had
    return message.reactions.pop(key, None) is not None


def reactions_payload(message: Message, *, me: int) -> list[Json]:
    """``message.reactions`` as Discord's reaction objects, ``me`` being the viewing bot's user id."""
    return [
        {
            "count": len(users),
            "count_details": {"burst": 0, "normal": len(users)},
            "me": me in users,
            "me_burst": False,
            "emoji": emoji_payload(key),
            "burst_colors": [],
        }
        for key, users in message.reactions.items()
    ]


def _base(message: Message) -> Json:
    return {
        "channel_id": str(message.channel_id),
        "message_id": str(message.id),
        "guild_id": str(message.guild_id),
    }


def reaction_add_event(message: Message, user_id: int, member: Json | None, key: str) -> Json:
    """MESSAGE_REACTION_ADD's data; ``member`` is the reacting member's object (with ``user``).

    discord.py reads ``type`` and ``burst`` as well as the ids, and builds ``raw.member`` from ``member``.
    """
    data: Json = {
        **_base(message),
        "user_id": str(user_id),
        "emoji": emoji_payload(key),
        "message_author_id": str(message.author.id),
        "burst": False,
        "burst_colors": [],
        "type": 0,
    }
    if member is not None:
        data["member"] = member
    return data


def reaction_remove_event(message: Message, user_id: int, key: str) -> Json:
    """MESSAGE_REACTION_REMOVE's data."""
    return {**_base(message), "user_id": str(user_id), "emoji": emoji_payload(key), "burst": False, "type": 0}


def reaction_clear_event(message: Message, key: str | None) -> tuple[str, Json]:
    """MESSAGE_REACTION_REMOVE_ALL (``key`` None) or MESSAGE_REACTION_REMOVE_EMOJI, and its data."""
    if key is None:
        return "MESSAGE_REACTION_REMOVE_ALL", _base(message)
    return "MESSAGE_REACTION_REMOVE_EMOJI", {**_base(message), "emoji": emoji_payload(key)}
