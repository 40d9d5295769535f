"""Choosing the database: PostgreSQL when a URL is configured, the SQLite file otherwise."""

from __future__ import annotations

from typing import Protocol

from tui_bot.storage.base import BotDatabase

__all__ = ["DatabaseSettings", "open_database"]


class DatabaseSettings(Protocol):
    """What the factory reads: config.json's ``database`` section (``DatabaseConfig``) has it."""

    @property
    def path(self) -> str: ...

    @property
    def backup_keep(self) -> int: ...

    @property
    def url(self) -> str | None: ...


def open_database(settings: DatabaseSettings, *, url: str | None = None) -> BotDatabase:
    """The bot's database, not yet connected: PostgreSQL at ``url`` (``DATABASE_URL``, which wins) or
    ``settings.url``; without either, SQLite at ``settings.path``."""
    chosen = url or settings.url
    if chosen:
        from tui_bot.storage.postgres import PostgresDatabase

        return PostgresDatabase(chosen)
    from tui_bot.storage.database import Database

    return Database(settings.path, backup_keep=settings.backup_keep)
