"""Versioned schema migrations, tracked with ``PRAGMA user_version``.

Each :class:`Migration` moves the schema from ``version - 1`` to ``version``. :func:`apply_migrations`
runs every pending migration inside ONE ``BEGIN IMMEDIATE`` transaction together with the
``user_version`` bump, so a failure anywhere leaves the database exactly at its old version.

A migration step is either an SQL script (split into statements and run one by one, never with
``executescript``, which would commit the surrounding transaction), or an ``async`` callable that
receives the :class:`aiosqlite.Connection`. A callable must not commit or roll back: the runner owns
the transaction.

The same migrations run on PostgreSQL (:mod:`tui_bot.storage.pg_migrations`). A migration whose SQL
differs there gives its PostgreSQL form in ``postgres``: an SQL script, or an ``async`` callable that
receives the ``asyncpg`` connection (inside the runner's transaction too). Without it, an SQL ``apply``
is run on PostgreSQL as it is (write it portably), and a callable ``apply`` is refused there.

Adding a migration: append ``Migration(<next version>, "<what it does>", "<SQL>")`` to
:data:`MIGRATIONS` (with ``postgres="<SQL>"`` when the dialects differ). Never edit a migration that
has shipped; add a new one instead.
"""

from __future__ import annotations

import inspect
import logging
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aiosqlite

from tui_bot.storage.errors import DatabaseError

log = logging.getLogger("tui_bot.storage.database")

MigrationStep = str | Callable[[aiosqlite.Connection], Awaitable[None] | None]
# The asyncpg connection is untyped (asyncpg ships no type information).
PostgresStep = str | Callable[[Any], Awaitable[None]]


@dataclass(frozen=True)
class Migration:
    """One forward step of the schema: ``version - 1`` → ``version``."""

    version: int
    description: str
    apply: MigrationStep
    #: The PostgreSQL form, when ``apply`` is not portable SQL (see the module docstring).
    postgres: PostgresStep | None = None

    def __str__(self) -> str:
        return f"migration {self.version} ({self.description})"


# Version 1 uses IF NOT EXISTS so that a database created by an older, unversioned tui-bot (same
# tables, user_version 0) is adopted rather than rejected.
SCHEMA_V1 = """
CREATE TABLE IF NOT EXISTS guild_settings (
    guild_id   INTEGER PRIMARY KEY,
    prefix     TEXT,
    settings   TEXT NOT NULL DEFAULT '{}',  -- JSON object
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE IF NOT EXISTS user_data (
    user_id   INTEGER PRIMARY KEY,
    data      TEXT,                          -- JSON, owned by extensions
    last_seen TIMESTAMP DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE IF NOT EXISTS command_stats (
    command_name TEXT PRIMARY KEY,
    usage_count  INTEGER NOT NULL DEFAULT 0,
    last_used    TIMESTAMP
);
CREATE TABLE IF NOT EXISTS command_permissions (
    guild_id     INTEGER NOT NULL,
    command_name TEXT NOT NULL,
    role_id      INTEGER NOT NULL,
    PRIMARY KEY (guild_id, command_name, role_id)
);
"""

# The same tables on PostgreSQL: ids are BIGINT (Discord snowflakes need 64 bits), timestamps UTC.
SCHEMA_V1_POSTGRES = """
CREATE TABLE IF NOT EXISTS guild_settings (
    guild_id   BIGINT PRIMARY KEY,
    prefix     TEXT,
    settings   TEXT NOT NULL DEFAULT '{}',
    created_at TIMESTAMP DEFAULT (now() AT TIME ZONE 'utc')
);
CREATE TABLE IF NOT EXISTS user_data (
    user_id   BIGINT PRIMARY KEY,
    data      TEXT,
    last_seen TIMESTAMP DEFAULT (now() AT TIME ZONE 'utc')
);
CREATE TABLE IF NOT EXISTS command_stats (
    command_name TEXT PRIMARY KEY,
    usage_count  BIGINT NOT NULL DEFAULT 0,
    last_used    TIMESTAMP
);
CREATE TABLE IF NOT EXISTS command_permissions (
    guild_id     BIGINT NOT NULL,
    command_name TEXT NOT NULL,
    role_id      BIGINT NOT NULL,
    PRIMARY KEY (guild_id, command_name, role_id)
);
"""

MIGRATIONS: tuple[Migration, ...] = (Migration(1, "initial schema", SCHEMA_V1, postgres=SCHEMA_V1_POSTGRES),)


def latest_version(migrations: Sequence[Migration] = MIGRATIONS) -> int:
    return migrations[-1].version if migrations else 0


def validate_migrations(migrations: Sequence[Migration]) -> None:
    """Versions must be 1, 2, 3, ... in order (a programming error otherwise)."""
    for expected, migration in enumerate(migrations, start=1):
        if migration.version != expected:
            raise ValueError(
                f"Migrations must be numbered 1, 2, 3, ... in order; position {expected} holds "
                f"version {migration.version} ({migration.description!r})."
            )


def split_sql(script: str) -> list[str]:
    """Split an SQL script into complete statements (semicolons in strings/triggers respected)."""
    statements: list[str] = []
    buffer = ""
    pieces = script.split(";")
    for index, piece in enumerate(pieces):
        buffer += piece
        if index < len(pieces) - 1:
            buffer += ";"
            if sqlite3.complete_statement(buffer):
                statements.append(buffer.strip())
                buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements


async def read_user_version(conn: aiosqlite.Connection) -> int:
    rows = await conn.execute_fetchall("PRAGMA user_version")
    return int(next(iter(rows))[0])


async def has_schema_objects(conn: aiosqlite.Connection) -> bool:
    rows = await conn.execute_fetchall("SELECT count(*) FROM sqlite_master")
    return int(next(iter(rows))[0]) > 0


async def has_tables(conn: aiosqlite.Connection) -> bool:
    """Whether the database has at least one table (a 0-byte or schema-less file has none)."""
    rows = await conn.execute_fetchall("SELECT count(*) FROM sqlite_master WHERE type = 'table'")
    return int(next(iter(rows))[0]) > 0


def pending_migrations(
    current: int, migrations: Sequence[Migration], *, db_name: str = "the database"
) -> list[Migration]:
    """The migrations to run from ``current``; refuses a database newer than this code."""
    latest = latest_version(migrations)
    if current > latest:
        raise DatabaseError(
            f"{db_name} has schema version {current}, but this tui-bot only knows versions up to "
            f"{latest}: it was written by a newer tui-bot. It has not been changed. Upgrade tui-bot "
            "(or point it at another database file) to use it."
        )
    return [m for m in migrations if m.version > current]


async def apply_migrations(
    conn: aiosqlite.Connection, pending: Sequence[Migration], *, db_name: str = "the database"
) -> int:
    """Run ``pending`` in one transaction; returns the new version. Rolls back on any error."""
    if not pending:
        return await read_user_version(conn)
    if conn.in_transaction:
        # Never fold someone else's half-done work into the migration transaction.
        await conn.commit()
    current: Migration | None = None
    await conn.execute("BEGIN IMMEDIATE")
    try:
        for current in pending:
            log.info("Applying database %s", current)
            if isinstance(current.apply, str):
                for statement in split_sql(current.apply):
                    cursor = await conn.execute(statement)
                    await cursor.close()
            else:
                result = current.apply(conn)
                if inspect.isawaitable(result):
                    await result
            if not conn.in_transaction:
                raise RuntimeError("the migration ended the transaction (it must not commit or roll back)")
            # int(): PRAGMA takes no parameters, so make sure nothing but a number gets in.
            cursor = await conn.execute(f"PRAGMA user_version = {int(current.version)}")
            await cursor.close()
        await conn.commit()
    except BaseException as exc:
        try:
            await conn.rollback()
        except Exception:  # the original error is the one worth reporting
            log.exception("Rollback after a failed migration failed")
        if not isinstance(exc, Exception):
            raise
        old = pending[0].version - 1
        raise DatabaseError(
            f"Upgrading {db_name} failed in {current}: {exc}. Nothing was changed: the database is "
            f"still at schema version {old}."
        ) from exc
    return pending[-1].version
