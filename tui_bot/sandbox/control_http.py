"""The control API's HTTP+JSON conventions, shared by its route groups (``control``, ``control_*``).

Snowflakes are strings, as in Discord's JSON (integers of 2**53 and above are too big for JavaScript
numbers); so is any other integer that large. Errors are ``{"error": "what to fix"}`` with a status
(:class:`ControlError`). Bodies are JSON objects; every missing or malformed field is refused with a
message naming it and giving an example.
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web

from .payloads import message_payload
from .rest_messages import find_message
from .world import Channel, Json, Message, World, iso

CONTROL_PREFIX = "/_sandbox"
MAX_WAIT = 600.0  # seconds a long poll or an interaction's "wait" may last
JS_SAFE_INT = 2**53

ControlHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class ControlRoute:
    """One endpoint: ``method`` and ``path`` under :data:`CONTROL_PREFIX`, and its handler."""

    method: str
    path: str
    handler: ControlHandler


class ControlError(Exception):
    """A request the control API refuses: ``{"error": message}`` with ``status``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def jsonable(value: Any) -> Any:
    """``value`` as JSON-ready data: integers of 2**53 and more (snowflakes) as strings, times as ISO."""
    if value is None or isinstance(value, bool | float | str):
        return value
    if isinstance(value, int):
        return str(value) if abs(value) >= JS_SAFE_INT else int(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime):
        return iso(value)
    return str(value)


def respond(data: Any, status: int = 200) -> web.Response:
    """``data`` as a JSON response (``Content-Type: application/json``, UTF-8, compact)."""
    return web.Response(
        body=json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode(),
        status=status,
        headers={"Content-Type": "application/json"},
    )


async def read_object(request: web.Request) -> Json:
    """The request's JSON object body (``{}`` if empty); anything else is a 400 saying what to send."""
    text = await request.text()
    if not text.strip():
        return {}
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise ControlError(400, f"the body is not valid JSON ({exc}); send a JSON object") from None
    if not isinstance(body, dict):
        raise ControlError(400, 'the body must be a JSON object, e.g. {"author": "alice", ...}')
    return body


def required(source: Mapping[str, Any], name: str, example: str) -> Any:
    """``source[name]`` (a body or the query), refused with an ``example`` if it is missing or empty."""
    value = source.get(name)
    if value is None or value == "":
        raise ControlError(400, f'missing "{name}" (e.g. "{name}": {example})')
    return value


def number(
    source: Mapping[str, Any], name: str, default: float, low: float, high: float, *, integer: bool
) -> Any:
    """``source[name]`` as an int (``integer``) or a float within ``low..high``; ``default`` if absent."""
    raw = source.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw) if integer else float(raw)
    except (TypeError, ValueError):
        kind = "an integer" if integer else "a number"
        raise ControlError(
            400, f'"{name}" must be {kind} between {low:g} and {high:g}, got {raw!r}'
        ) from None
    if not (low <= value <= high) or (not integer and math.isnan(value)):
        raise ControlError(400, f'"{name}" must be between {low:g} and {high:g}, got {raw!r}')
    return value


def message_ref(world: World, source: Mapping[str, Any], channel: Channel | None = None) -> Message:
    """The stored message ``source["message_id"]`` names (in ``channel``, if given); 404 if there is none."""
    raw = required(source, "message_id", '"1191168947781632001"')
    try:
        message_id = int(raw)
    except (TypeError, ValueError):
        raise ControlError(400, f'"message_id" must be a message id (a snowflake), got {raw!r}') from None
    message = find_message(world, message_id, None if channel is None else channel.id)
    if message is None:
        raise ControlError(404, f"no message {message_id} in the sandbox (deleted, or never sent)")
    return message


def message_json(world: World, message: Message) -> Json:
    """A message in Discord's shape (with ``guild_id`` and ``member`` for guild messages), JSON-ready."""
    payload: Json = jsonable(message_payload(world, message, gateway=message.guild_id is not None))
    return payload
