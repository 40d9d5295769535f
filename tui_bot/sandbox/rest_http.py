"""The HTTP side of the sandbox's REST API: Discord's error shapes, JSON responses and request bodies.

Shared by every route module (``rest``, ``rest_messages``, ``guild_routes``, ``interaction_routes``).
One discord.py detail shapes every response (discord.py 2.7, ``http.py``): ``json_or_text`` parses a
body as JSON only if ``Content-Type`` is exactly ``application/json`` (no ``; charset=utf-8``, which
aiohttp's ``json_response`` would add), else the caller gets a ``str``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web

from .json_text import compact_json
from .world import Json

API_PREFIX = "/api/v10"
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
MANAGE_MESSAGES = 1 << 13
READ_MESSAGE_HISTORY = 1 << 16
MAX_CONTENT = 2000

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# A route handler, plain or still unbound (a method marked with no_auth in its class body).
AnyHandler = TypeVar("AnyHandler", bound=Callable[..., Awaitable[web.StreamResponse]])


class ApiError(Exception):
    """A Discord-shaped error response: ``{"code", "message", "errors"?}`` with an HTTP status."""

    def __init__(self, status: int, code: int, message: str, errors: Json | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.errors = status, code, message, errors

    def body(self) -> Json:
        """The JSON body Discord answers with."""
        body: Json = {"message": self.message, "code": self.code}
        if self.errors is not None:
            body["errors"] = self.errors
        return body


def unknown(what: str, code: int) -> ApiError:
    """404 ``Unknown <what>`` with Discord's error ``code`` (e.g. 10003 for a channel)."""
    return ApiError(404, code, f"Unknown {what}")


def invalid_form(field: str, code: str, message: str) -> ApiError:
    """400/50035 Invalid Form Body, with one error on ``field`` as Discord nests them."""
    return ApiError(
        400, 50035, "Invalid Form Body", {field: {"_errors": [{"code": code, "message": message}]}}
    )


MISSING_ACCESS = (403, 50001, "Missing Access")
MISSING_PERMISSIONS = (403, 50013, "Missing Permissions")


def json_response(data: Any, status: int = 200) -> web.Response:
    """A JSON response whose Content-Type is exactly ``application/json`` (see module docstring)."""
    return web.Response(
        body=compact_json(data).encode(),
        status=status,
        headers={"Content-Type": "application/json"},
    )


def no_content() -> web.Response:
    """204, Discord's answer to most successful deletes and acknowledgements."""
    return web.Response(status=204)


def message_content(body: Json) -> str:
    """A message body's ``content`` as text, refused (50035) past Discord's 2,000 characters."""
    content = body.get("content") or ""
    if not isinstance(content, str):
        content = str(content)
    if len(content) > MAX_CONTENT:
        raise invalid_form("content", "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_CONTENT} or fewer in length.")
    return content


def no_auth(handler: AnyHandler) -> AnyHandler:
    """Mark a route handler as needing no bot token: webhook and interaction routes carry one in the URL."""
    # A function attribute read back with getattr by the middleware (bound methods forward it); typing
    # cannot declare attributes on a callable.
    handler.no_auth = True  # type: ignore[attr-defined]
    return handler


def snowflake_arg(request: web.Request, name: str) -> int:
    """The id in the URL segment ``name`` (the routes only match digits there)."""
    return int(request.match_info[name])


async def read_body(request: web.Request) -> tuple[Any, list[web.FileField]]:
    """The JSON body, or ``payload_json`` plus files for multipart uploads (discord.py's file sends).

    An empty body is ``{}``; anything else that is not JSON is refused with Discord's 50109.
    """
    if request.content_type == "multipart/form-data":
        form = await request.post()
        raw = form.get("payload_json") or "{}"
        files = [v for k, v in form.items() if k.startswith("files[") and isinstance(v, web.FileField)]
        text = raw.decode() if isinstance(raw, bytes | bytearray) else str(raw)
    else:
        files, text = [], await request.text()
    if not text:
        return {}, files
    try:
        return json.loads(text), files
    except ValueError:
        raise ApiError(400, 50109, "The request body contains invalid JSON.") from None
