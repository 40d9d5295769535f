"""Point the discord.py client library at a Discord-compatible server, and back.

discord.py reads two process-wide class attributes: ``Route.BASE`` for every REST call and
``DiscordWebSocket.DEFAULT_GATEWAY`` for the gateway connection (sharded clients fall back to it too).
:meth:`Sandbox.point_discord_py_here` sets them to the sandbox and :meth:`Sandbox.restore_discord_py`
puts the previous values back. This is about discord.py's globals, not about any bot: the sandbox
depends on nothing of tui-bot (the bot's own, validated setter for operators' proxies lives in the
runtime package).
"""

from __future__ import annotations

from dataclasses import dataclass

import discord.gateway
import discord.http
import yarl


@dataclass(frozen=True)
class DiscordPyTarget:
    """Where discord.py sends REST calls (``api_base``) and opens the gateway (``gateway_url``)."""

    api_base: str
    gateway_url: str


def current_target() -> DiscordPyTarget:
    """What discord.py uses right now."""
    return DiscordPyTarget(discord.http.Route.BASE, str(discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY))


def set_target(target: DiscordPyTarget) -> DiscordPyTarget:
    """Make discord.py use ``target`` (as given); returns the previous target, for restoring."""
    previous = current_target()
    discord.http.Route.BASE = target.api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(target.gateway_url)
    return previous
