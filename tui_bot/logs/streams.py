"""stdout and stderr as a redaction boundary: what extensions ``print()``, warnings, tracebacks.

:func:`install_redacting_streams` wraps ``sys.stdout`` and ``sys.stderr`` so every ``write`` passes the
process redactor. Each write is redacted whole: ``print(token)`` and a traceback line are one write
each; a secret written in pieces across several calls is not recognised.
"""

from __future__ import annotations

import contextlib
import io
import sys
from collections.abc import Iterable
from typing import Any, TextIO

from tui_bot.logs.redaction import PROCESS_REDACTOR, SecretRedactor


class RedactingTextStream(io.TextIOBase):
    """A text stream that redacts what is written and passes it to ``stream``.

    Everything else (``fileno``, ``isatty``, ``encoding``...) is the wrapped stream's, so code that
    checks for a terminal or ``faulthandler`` behaves as before. Closing it only flushes: the real
    stdout belongs to the process. ``buffer`` (binary writes) is the wrapped stream's and not redacted.
    """

    def __init__(self, stream: TextIO, redactor: SecretRedactor = PROCESS_REDACTOR) -> None:
        super().__init__()
        self.stream = stream
        self.redactor = redactor

    def write(self, text: str) -> int:
        self.stream.write(self.redactor.redact(text))
        return len(text)

    # typeshed's TextIOBase narrows IOBase's Iterable[Buffer] to str in the same way.
    def writelines(self, lines: Iterable[str], /) -> None:  # type: ignore[override]
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self.stream.flush()

    def close(self) -> None:
        with contextlib.suppress(ValueError, OSError):  # at exit the real stream may be closed first
            self.flush()

    @property
    def closed(self) -> bool:
        return bool(getattr(self.stream, "closed", False))

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.stream.fileno()

    def isatty(self) -> bool:
        return self.stream.isatty()

    # TextIOBase declares these two as attributes; here they are the wrapped stream's, read live.
    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.stream, "encoding", "utf-8")

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return getattr(self.stream, "errors", None)

    def __getattr__(self, name: str) -> Any:
        # Only reached for what TextIOBase does not define (buffer, line_buffering, mode, name...).
        return getattr(self.stream, name)


def install_redacting_streams(redactor: SecretRedactor = PROCESS_REDACTOR) -> None:
    """Wrap ``sys.stdout`` and ``sys.stderr`` (once; a second call changes nothing)."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is not None and not isinstance(stream, RedactingTextStream):
            setattr(sys, name, RedactingTextStream(stream, redactor))
