"""The admin endpoint's wire format: one JSON object per line, and the codec of the objects it carries.

A request is ``{"id": 7, "op": "reload", "name": "example"}``; its reply ``{"id": 7, "ok": true,
"result": ...}`` or ``{"id": 7, "ok": false, "error": "..."}``. Pushed messages have no id:
``{"event": "logs", ...}``. The server reads at most :data:`MAX_REQUEST_BYTES` per line, the client
:data:`MAX_REPLY_BYTES` (the guild rows of a large bot).

Results and rows cross the wire as ``{"$type": "ExtensionChange", ...fields}`` and come back as the
same dataclasses (an :class:`~tui_bot.core.results.ActionResult` subclass, a ``GuildRow``...), so the
console shows a remote result exactly as a local one. Only the types named in :data:`WIRE_TYPES` are
ever built, from plain JSON values: nothing else is instantiated, imported or run.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

from tui_bot.cluster.bus import WorkerReply
from tui_bot.cluster.membership import WorkerStatus
from tui_bot.core.actions import BatchResult, ExtensionChange, PlainResult, SelfTestResult
from tui_bot.core.clustering import ClusterActionResult
from tui_bot.core.extensions import ExtensionResult
from tui_bot.core.sync import SyncPlan, SyncResult
from tui_bot.runtime.reader import ExtensionRow, GuildDetails, GuildRow
from tui_bot.storage.selftest import CheckResult

PROTOCOL_VERSION = 1
MAX_REQUEST_BYTES = 64 * 1024  # requests are a verb and a name or two
MAX_REPLY_BYTES = 64 * 1024 * 1024  # a reply of every guild row of a bot in many guilds
HELLO_SECONDS = 5.0  # a connection that has not said hello by then is closed

WIRE_TYPES: dict[str, type[Any]] = {
    cls.__name__: cls
    for cls in (
        ExtensionResult,
        ExtensionChange,
        PlainResult,
        BatchResult,
        SelfTestResult,
        CheckResult,
        SyncPlan,
        SyncResult,
        ClusterActionResult,
        WorkerReply,
        GuildRow,
        GuildDetails,
        ExtensionRow,
        WorkerStatus,
    )
}


class ProtocolError(ValueError):
    """A line that is not a JSON object, or a typed value this side does not know."""


def encode(message: dict[str, Any]) -> bytes:
    """One message as a line of JSON (UTF-8, ending in a newline)."""
    return json.dumps(to_wire(message), separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def decode(line: bytes) -> dict[str, Any]:
    """One received line as a dict; ProtocolError if it is not a JSON object."""
    try:
        message = json.loads(line)
    except (UnicodeDecodeError, ValueError) as error:
        raise ProtocolError(f"not JSON ({error})") from None
    if not isinstance(message, dict):
        raise ProtocolError("not a JSON object")
    return message


def to_wire(value: Any) -> Any:
    """``value`` as plain JSON values; a dataclass as an object tagged with its type's name."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: to_wire(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"$type": type(value).__name__, **fields}
    if isinstance(value, dict):
        return {str(key): to_wire(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_wire(item) for item in value]
    if isinstance(value, Path):
        return str(value)
    return str(value)  # an enum, a datetime: shown, not rebuilt


def from_wire(value: Any) -> Any:
    """The inverse of :func:`to_wire` for the types of :data:`WIRE_TYPES` (plain values stay plain)."""
    if isinstance(value, list):
        return [from_wire(item) for item in value]
    if not isinstance(value, dict):
        return value
    name = value.get("$type")
    if name is None:
        return {key: from_wire(item) for key, item in value.items()}
    cls = WIRE_TYPES.get(name) if isinstance(name, str) else None
    if cls is None:
        raise ProtocolError(f"unknown type {name!r}")
    arguments = {}
    for field in dataclasses.fields(cls):
        if field.init and field.name in value:
            arguments[field.name] = _as_field(field, from_wire(value[field.name]))
    try:
        return cls(**arguments)
    except TypeError as error:  # a missing field: the other side runs another version
        raise ProtocolError(f"a {name} that cannot be read: {error}") from None


def _as_field(field: dataclasses.Field[Any], value: Any) -> Any:
    # Annotations are strings here (``from __future__ import annotations``): enough to tell the two
    # kinds JSON cannot carry, tuples and paths.
    kind = str(field.type)
    if isinstance(value, list) and kind.startswith("tuple"):
        return tuple(value)
    if isinstance(value, str) and kind.startswith("Path"):
        return Path(value)
    return value
