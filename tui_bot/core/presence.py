"""The bot's presence, from ``status.type`` and ``status.text`` in config.json."""

from __future__ import annotations

import discord

from tui_bot.config.model import StatusConfig

ACTIVITY_TYPES = {
    "playing": discord.ActivityType.playing,
    "watching": discord.ActivityType.watching,
    "listening": discord.ActivityType.listening,
    "competing": discord.ActivityType.competing,
}


class _KeepUnknown(dict):
    # "{foo}" in a status text stays as written instead of raising KeyError.
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def render_status_text(template: str, *, guilds: int, users: int, commands: int) -> str:
    """``"{guilds} servers"`` -> ``"3 servers"``. Unknown placeholders are left as they are."""
    return template.format_map(_KeepUnknown(guilds=guilds, users=users, commands=commands))[:128]


def build_activity(status: StatusConfig, *, guilds: int, users: int, commands: int) -> discord.Activity:
    """The activity to show for the current counts."""
    text = render_status_text(status.text, guilds=guilds, users=users, commands=commands)
    return discord.Activity(type=ACTIVITY_TYPES[status.type], name=text)
