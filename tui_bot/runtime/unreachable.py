"""One clear line for a Discord that cannot be reached (DNS, TLS, refused connections, timeouts).

Without network the bot would otherwise stop on a 57-line traceback through aiohttp; what the user needs
is what failed, on which host, and what to check.
"""

from __future__ import annotations

import socket
import ssl
from urllib.parse import urlsplit

import aiohttp
import discord

CHECK = (
    "Check the network connection, any proxy, and discord.api_base in config.json "
    "(DISCORD_API_BASE in .env wins over it)."
)


def _host_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.netloc or url


def unreachable_message(error: BaseException, api_base: str) -> str | None:
    """The one-line message for ``error`` if it means Discord (at ``api_base``) cannot be reached, else None.

    ``api_base`` is the REST base URL in use; it names the host when the error does not.
    """
    host = _host_of(api_base)
    if isinstance(error, aiohttp.ClientConnectorError):
        host = f"{error.host}:{error.port}"
    if isinstance(error, aiohttp.ClientSSLError | ssl.SSLError):  # certificate errors included
        what = f"the TLS connection to {host} failed ({_reason(error)})"
    elif isinstance(error, aiohttp.ClientConnectorDNSError | socket.gaierror):
        what = f"the host name {host.rsplit(':', 1)[0]} does not resolve (DNS)"
    elif isinstance(error, aiohttp.ServerTimeoutError | TimeoutError):
        what = f"{host} did not answer in time"
    elif isinstance(error, aiohttp.ClientConnectorError | ConnectionError):
        what = f"connecting to {host} failed ({_reason(error)})"
    elif isinstance(error, aiohttp.ClientConnectionError):
        what = f"the connection to {host} failed ({_reason(error)})"
    elif isinstance(error, discord.GatewayNotFound):
        what = f"{host} did not give a gateway address"
    else:
        return None
    return f"Cannot reach Discord: {what}. {CHECK}"


def _reason(error: BaseException) -> str:
    """The operating system's words for it (e.g. "Connection refused"), without the traceback."""
    cause = getattr(error, "os_error", None) or error
    if isinstance(cause, ConnectionRefusedError):
        return "connection refused: nothing listens there"  # uvloop's error has no strerror
    return getattr(cause, "strerror", None) or str(cause) or type(cause).__name__
