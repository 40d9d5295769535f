"""Point discord.py's REST and gateway clients at another Discord-compatible server.

discord.py reads two class attributes: ``Route.BASE`` for every REST call and
``DiscordWebSocket.DEFAULT_GATEWAY`` for the gateway connection (sharded clients fall back to it too).
Operators set them for REST or gateway proxies; the sandbox sets them to itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import discord.gateway
import discord.http
import yarl

DISCORD_API_BASE = "https://discord.com/api/v10"
DISCORD_GATEWAY = "wss://gateway.discord.gg/"


class EndpointError(ValueError):
    """An endpoint URL that discord.py could not use; the message says what is expected."""


@dataclass(frozen=True)
class Endpoints:
    """The REST base and gateway URL in force."""

    api_base: str
    gateway_url: str


def current_endpoints() -> Endpoints:
    """What discord.py uses right now."""
    return Endpoints(discord.http.Route.BASE, str(discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY))


def apply_endpoints(api_base: str | None, gateway_url: str | None) -> Endpoints:
    """Set the endpoints (``None`` keeps Discord's) and return the previous ones, for restoring."""
    previous = current_endpoints()
    if api_base is not None and not api_base.startswith(("http://", "https://")):
        raise EndpointError(
            f"DISCORD_API_BASE must start with http:// or https://, e.g. "
            f"http://127.0.0.1:8080/api/v10 (got {api_base!r})."
        )
    if gateway_url is not None and not gateway_url.startswith(("ws://", "wss://")):
        raise EndpointError(
            f"DISCORD_GATEWAY_URL must start with ws:// or wss://, e.g. "
            f"ws://127.0.0.1:8080/gateway (got {gateway_url!r})."
        )
    discord.http.Route.BASE = (api_base or DISCORD_API_BASE).rstrip("/")
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url or DISCORD_GATEWAY)
    return previous


def restore_endpoints(endpoints: Endpoints) -> None:
    """Undo :func:`apply_endpoints`."""
    discord.http.Route.BASE = endpoints.api_base
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(endpoints.gateway_url)
