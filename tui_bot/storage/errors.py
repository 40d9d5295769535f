"""The storage errors, in their own module so that every storage module can raise them without
importing :mod:`tui_bot.storage.database` (which imports the others)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["DatabaseCorruptError", "DatabaseError"]


class DatabaseError(Exception):
    """A storage problem; the message is meant for the person running the bot."""


class DatabaseCorruptError(DatabaseError):
    """The database file is not a database, is damaged or cannot be read. It was left untouched."""

    def __init__(self, message: str, *, path: Path, backup: Path | None) -> None:
        super().__init__(message)
        self.path = path
        #: The newest backup that passed ``integrity_check``, or ``None``.
        self.backup = backup
