"""The sandbox's recent wire traffic, in order: gateway frames both ways, closes and REST calls.

A bounded ring (:data:`TRANSCRIPT_SIZE` entries): recording is a tuple appended to a deque, so it costs
next to nothing per frame and never grows. Entries are formatted only when read (:meth:`Transcript.lines`),
which the pytest plugin does when a test fails (the "sandbox transcript" report section), and
``GET /_sandbox/transcript`` for any client. Tokens in IDENTIFY and RESUME are masked.
"""

from __future__ import annotations

import json
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

TRANSCRIPT_SIZE = 500  # entries kept
DEFAULT_LINES = 50  # entries a failure report shows
PAYLOAD_CHARS = 120  # a payload's JSON is cut after this many characters

# Gateway opcode names (discord-api-docs, docs/topics/opcodes-and-status-codes.mdx).
OP_NAMES = {
    0: "DISPATCH",
    1: "HEARTBEAT",
    2: "IDENTIFY",
    3: "PRESENCE_UPDATE",
    4: "VOICE_STATE_UPDATE",
    6: "RESUME",
    7: "RECONNECT",
    8: "REQUEST_GUILD_MEMBERS",
    9: "INVALID_SESSION",
    10: "HELLO",
    11: "HEARTBEAT_ACK",
}
_WITH_TOKEN = (2, 6)  # IDENTIFY and RESUME carry the bot's token

# Entry kinds
_TO_BOT = "sandbox->bot"
_FROM_BOT = "bot->sandbox"
_CLOSED = "closed"
_REST = "rest"

Entry = tuple[float, str, str, Any]  # (monotonic time, kind, session id or "", data)


@dataclass
class RestCall:
    """A REST call in the transcript, recorded when it arrives; ``status`` is set once answered."""

    method: str
    path: str
    status: int | None = None


class Transcript:
    """The last :data:`TRANSCRIPT_SIZE` gateway frames, gateway closes and REST calls, oldest first."""

    def __init__(self, size: int = TRANSCRIPT_SIZE) -> None:
        self.started = time.monotonic()
        self._entries: deque[Entry] = deque(maxlen=size)

    def __len__(self) -> int:
        return len(self._entries)

    def sent(self, session_id: str, text: str) -> None:
        """A frame the sandbox wrote to a bot (its JSON text, before any compression)."""
        self._entries.append((time.monotonic(), _TO_BOT, session_id, text))

    def received(self, session_id: str, data: str | bytes) -> None:
        """A frame a bot sent."""
        self._entries.append((time.monotonic(), _FROM_BOT, session_id, data))

    def closed(self, session_id: str, code: int | None, reason: str | None = None) -> None:
        """A connection ended with ``code``; ``reason`` when the sandbox closed it under a rule."""
        self._entries.append((time.monotonic(), _CLOSED, session_id, (code, reason)))

    def rest(self, method: str, path: str, status: int | None = None) -> RestCall:
        """A REST call as it arrives; set the returned call's ``status`` once it is answered."""
        call = RestCall(method, path, status)
        self._entries.append((time.monotonic(), _REST, "", call))
        return call

    def clear(self) -> None:
        self._entries.clear()

    def lines(self, limit: int | None = DEFAULT_LINES) -> list[str]:
        """The last ``limit`` entries (None: all kept), oldest first, one readable line each."""
        entries = list(self._entries)
        if limit is not None:
            entries = entries[-limit:] if limit > 0 else []
        return [self._line(entry) for entry in entries]

    def _line(self, entry: Entry) -> str:
        at, kind, session_id, data = entry
        stamp = f"+{at - self.started:9.3f}s"
        who = f"[{session_id[:6]}]" if session_id else ""
        if kind == _REST:
            status = "(no answer yet)" if data.status is None else data.status
            return f"{stamp} rest    {data.method} {data.path} -> {status}"
        if kind == _CLOSED:
            code, reason = data
            why = f" by the sandbox: {reason}" if reason else ""
            return f"{stamp} gateway {who} connection closed{why} (code {code})"
        return f"{stamp} gateway {who} {kind} {describe_frame(data)}"


def describe_frame(data: str | bytes) -> str:
    """``OPNAME (op N[, s=S])`` or the event name for a dispatch, then the payload's ``d``, truncated."""
    try:
        payload = json.loads(data)
        op = payload["op"]
    except (ValueError, TypeError, KeyError):
        raw = data if isinstance(data, str) else f"<{len(data)} bytes>"
        return f"(not a JSON payload) {_cut(raw)}"
    d = payload.get("d")
    if op in _WITH_TOKEN and isinstance(d, dict) and "token" in d:
        d = {**d, "token": "<token>"}
    if op == 0:
        name = f"{payload.get('t')} (op 0, s={payload.get('s')})"
    else:
        name = f"{OP_NAMES.get(op, 'UNKNOWN')} (op {op})"
    return f"{name} {_cut(json.dumps(d, separators=(',', ':'), ensure_ascii=False))}"


def _cut(text: str) -> str:
    return text if len(text) <= PAYLOAD_CHARS else text[: PAYLOAD_CHARS - 3] + "..."
