"""A logging filter that removes secrets (the bot token) from every record before any handler writes it."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

REDACTED = "[REDACTED]"

# The shape of a Discord bot token (user id in base64, a timestamp, an HMAC), so that a token that is
# not the configured one (pasted into a message, another bot's) is hidden too.
TOKEN_PATTERN = re.compile(r"[A-Za-z\d_-]{23,28}\.[A-Za-z\d_-]{6,7}\.[A-Za-z\d_-]{27,40}")


class SecretRedactor(logging.Filter):
    """Replace known secrets and token-shaped strings in a record's message, arguments and traceback.

    The record is rewritten in place (message merged with its arguments, traceback pre-formatted into
    ``exc_text``), so every handler after this filter, and every formatter, sees only redacted text.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        for secret in secrets:
            self.add_secret(secret)

    def add_secret(self, secret: str | None) -> None:
        """Hide ``secret`` from now on (short strings are ignored: they would redact ordinary words)."""
        if secret and len(secret) >= 8:
            self._secrets.add(secret)

    def redact(self, text: str) -> str:
        """``text`` with every secret replaced by ``[REDACTED]``."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return TOKEN_PATTERN.sub(REDACTED, text)

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
