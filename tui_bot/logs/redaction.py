"""The redactor: removes secrets (the bot token, .env secrets, anything token-shaped) from text.

One redactor serves the whole process (:data:`PROCESS_REDACTOR`): the log handlers filter every record
through it, stdout and stderr are wrapped with it (:mod:`tui_bot.logs.streams`), the bot's HTTP requests
pass through it (:mod:`tui_bot.core.redaction`), and the console redacts what it shows with it. A secret
learnt at one of those points (the bot learns its token when it logs in) is hidden at all the others.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterable
from typing import Any

try:
    import orjson

    def _json_text(value: Any) -> str:
        return orjson.dumps(value).decode("utf-8")

except ImportError:  # pragma: no cover - orjson ships with discord.py[speed], a dependency

    def _json_text(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


REDACTED = "[REDACTED]"
MIN_SECRET_LENGTH = 8

# The shape of a Discord bot token (user id in base64, a timestamp, an HMAC), so that a token that is
# not the configured one (pasted into a message, another bot's) is hidden too.
TOKEN_PATTERN = re.compile(r"[A-Za-z\d_-]{23,28}\.[A-Za-z\d_-]{6,7}\.[A-Za-z\d_-]{27,40}")
# The token's middle part. Searched first: starting with a literal ".", it lets the regex engine skip
# ahead, where the whole pattern is tried at every letter of a long word (~100x slower on 2,000 letters).
_TOKEN_MIDDLE = re.compile(r"\.[A-Za-z\d_-]{6,7}\.")


def _may_hold_token(text: str) -> bool:
    return "." in text and _TOKEN_MIDDLE.search(text) is not None


class SecretRedactor(logging.Filter):
    """Replace known secrets and token-shaped strings with ``[REDACTED]``.

    As a logging filter it rewrites a record in place (message merged with its arguments, traceback
    pre-formatted into ``exc_text``), so every handler after it, and every formatter, sees only
    redacted text. Text without a secret is returned as the same object, after a check that costs one
    substring search per known secret and one fast regex scan.
    """

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        super().__init__()
        # Replaced, never mutated: the logging thread reads it while the event loop may add a secret.
        self._secrets: tuple[str, ...] = ()
        # The same secrets as they appear inside JSON text (quotes and backslashes escaped).
        self._json_secrets: tuple[str, ...] = ()
        self._lock = threading.Lock()
        self.add_secrets(secrets)

    @property
    def secrets(self) -> tuple[str, ...]:
        """The known secrets, longest first."""
        return self._secrets

    def add_secret(self, secret: str | None) -> None:
        """Hide ``secret`` from now on (short strings are ignored: they would redact ordinary words)."""
        if not secret or len(secret) < MIN_SECRET_LENGTH or secret in self._secrets:
            return
        with self._lock:
            # Longest first, so that a secret containing another is replaced whole.
            self._secrets = tuple(sorted({*self._secrets, secret}, key=len, reverse=True))
            self._json_secrets = tuple(json.dumps(item, ensure_ascii=False)[1:-1] for item in self._secrets)

    def add_secrets(self, secrets: Iterable[str | None]) -> None:
        """:meth:`add_secret` for each one."""
        for secret in secrets:
            self.add_secret(secret)

    def needs_redaction(self, text: str) -> bool:
        """Whether ``text`` holds a known secret or something shaped like a token."""
        for secret in self._secrets:
            if secret in text:
                return True
        return _may_hold_token(text) and TOKEN_PATTERN.search(text) is not None

    def redact(self, text: str) -> str:
        """``text`` with every secret replaced by ``[REDACTED]`` (the same object when there is none)."""
        if not self.needs_redaction(text):
            return text
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return TOKEN_PATTERN.sub(REDACTED, text) if _may_hold_token(text) else text

    def redact_data(self, value: Any) -> Any:
        """``value`` (JSON-like: dicts, lists, strings) with every string redacted.

        Containers are copied only where something changed, and never modified in place: a payload may
        share lists with the caller's objects (``Embed.to_dict()`` returns the embed's own field list).
        A clean container (the usual case: every reply the bot sends passes here) is recognised from its
        JSON text, one C-speed serialisation and substring search, instead of a walk over its strings.
        """
        if isinstance(value, dict | list) and self._clean_json(value):
            return value
        return self._redact_walk(value)

    def _clean_json(self, value: Any) -> bool:
        try:
            text = _json_text(value)
        except (TypeError, ValueError, OverflowError):
            return False  # not plain JSON: walk it
        for secret in self._json_secrets:
            if secret in text:
                return False
        return not (_may_hold_token(text) and TOKEN_PATTERN.search(text) is not None)

    def _redact_walk(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, dict):
            changed: dict[Any, Any] | None = None
            for key, item in value.items():
                clean = self._redact_walk(item)
                if clean is not item:
                    if changed is None:
                        changed = dict(value)
                    changed[key] = clean
            return value if changed is None else changed
        if isinstance(value, (list, tuple)):
            cleaned = [self._redact_walk(item) for item in value]
            if all(clean is item for clean, item in zip(cleaned, value, strict=True)):
                return value
            return cleaned if isinstance(value, list) else tuple(cleaned)
        return value

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the record
            message = f"{record.msg!r} {record.args!r}"
        record.msg = self.redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        # Drop the live traceback: a handler that renders frames itself (Rich) would show raw locals.
        record.exc_info = None
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


PROCESS_REDACTOR = SecretRedactor()
"""The redactor every boundary of this process uses (logs, stdout/stderr, HTTP, the console)."""


def redact(text: str) -> str:
    """``text`` redacted with :data:`PROCESS_REDACTOR`: safe to show anyone."""
    return PROCESS_REDACTOR.redact(text)
