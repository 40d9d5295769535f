"""Storage for the bot and for extension authors: durable files and the database (SQLite or PostgreSQL).

``from tui_bot.storage import global_file_handler`` gives the shared atomic JSON file handler.
Names are imported on first use, so code that needs only ``durable`` (the config loader) does not
pull in aiosqlite.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tui_bot.storage.base import BackupNotAvailable, BotDatabase
    from tui_bot.storage.database import Database
    from tui_bot.storage.errors import DatabaseCorruptError, DatabaseError
    from tui_bot.storage.factory import open_database
    from tui_bot.storage.files import AtomicFileHandler, global_file_handler
    from tui_bot.storage.postgres import PostgresDatabase

_EXPORTS = {
    "AtomicFileHandler": "tui_bot.storage.files",
    "global_file_handler": "tui_bot.storage.files",
    "Database": "tui_bot.storage.database",
    "BotDatabase": "tui_bot.storage.base",
    "BackupNotAvailable": "tui_bot.storage.base",
    "PostgresDatabase": "tui_bot.storage.postgres",
    "open_database": "tui_bot.storage.factory",
    "DatabaseCorruptError": "tui_bot.storage.errors",
    "DatabaseError": "tui_bot.storage.errors",
}

__all__ = [
    "AtomicFileHandler",
    "BackupNotAvailable",
    "BotDatabase",
    "Database",
    "DatabaseCorruptError",
    "DatabaseError",
    "PostgresDatabase",
    "global_file_handler",
    "open_database",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tui_bot.storage' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
