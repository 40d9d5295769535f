"""The schema migrations on PostgreSQL, run by exactly one process at a time.

The migrations are those of :mod:`tui_bot.storage.migrations` (their ``postgres`` form where the
dialects differ). Which ones ran is recorded in :data:`VERSION_TABLE`, one row per migration with its
version as the primary key: a migration recorded twice would fail, so "ran once" is enforced by the
database itself, not only by the lock.

Several bot processes may start at the same moment against one database (a cluster). Each takes the
session-level advisory lock :data:`MIGRATION_LOCK_KEY` before it reads the version, so the first one
migrates and the others wait, then find nothing to do. The pending migrations and their version rows
run in ONE transaction (PostgreSQL's DDL is transactional): a failure leaves the schema as it was. A
process that dies while holding the lock releases it with its connection.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from typing import Any

from tui_bot.storage.errors import DatabaseError
from tui_bot.storage.migrations import Migration, PostgresStep, pending_migrations

log = logging.getLogger("tui_bot.storage.database")

# Not an extension author's table: `tui-bot db migrate-to` and listings of "user tables" skip it.
VERSION_TABLE = "tui_bot_schema_migrations"
# Any fixed 64-bit number shared by every tui-bot process; this one spells "tui-bot" in ASCII.
MIGRATION_LOCK_KEY = 0x7475692D626F74
# How long a process waits for another one's migration before giving up with a clear message.
LOCK_WAIT_SECONDS = 120

_CREATE_VERSION_TABLE = f"""
CREATE TABLE IF NOT EXISTS {VERSION_TABLE} (
    version     INTEGER PRIMARY KEY,
    description TEXT NOT NULL,
    applied_at  TIMESTAMPTZ NOT NULL DEFAULT now()
)
"""


def postgres_step(migration: Migration) -> PostgresStep:
    """What runs on PostgreSQL for ``migration``; refuses a callable written for SQLite only."""
    if migration.postgres is not None:
        return migration.postgres
    if isinstance(migration.apply, str):
        return migration.apply
    raise DatabaseError(
        f"{migration} is Python code written for SQLite and has no PostgreSQL form: give the Migration a "
        "postgres= step (SQL, or an async function taking the asyncpg connection)."
    )


async def read_version(conn: Any) -> int:
    """The schema version recorded in the database (0: none yet)."""
    exists = await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", VERSION_TABLE)
    if not exists:
        return 0
    return int(await conn.fetchval(f"SELECT coalesce(max(version), 0) FROM {VERSION_TABLE}"))


async def migrate(conn: Any, migrations: Sequence[Migration], *, db_name: str) -> int:
    """Bring the database to the newest version under the migration lock; returns that version.

    ``conn``: an asyncpg connection outside any transaction. ``db_name``: how messages name the
    database (its URL without the password).
    """
    steps = [postgres_step(migration) for migration in migrations]  # refuse before taking any lock
    import asyncpg  # only a PostgreSQL bot imports it

    try:
        await conn.execute(f"SET lock_timeout = '{LOCK_WAIT_SECONDS}s'")
        await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
    except asyncpg.LockNotAvailableError as error:
        raise DatabaseError(
            f"Another process has been upgrading the schema of {db_name} for over {LOCK_WAIT_SECONDS} s "
            "(it holds the migration lock). Wait for it to finish, or stop it, then start again."
        ) from error
    try:
        await conn.execute("RESET lock_timeout")
        return await _migrate_locked(conn, migrations, steps, db_name=db_name)
    finally:
        # A lost connection has released the lock already; its error is the one worth reporting.
        with contextlib.suppress(Exception):
            await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)


async def _migrate_locked(
    conn: Any, migrations: Sequence[Migration], steps: Sequence[PostgresStep], *, db_name: str
) -> int:
    current = await read_version(conn)
    pending = pending_migrations(current, migrations, db_name=db_name)
    if not pending:
        return current
    running: Migration | None = None
    try:
        async with conn.transaction():
            await conn.execute(_CREATE_VERSION_TABLE)
            for running in pending:
                log.info("Applying database %s", running)
                step = steps[running.version - 1]
                if isinstance(step, str):
                    await conn.execute(step)  # no arguments: the simple protocol runs a whole script
                else:
                    await step(conn)
                await conn.execute(
                    f"INSERT INTO {VERSION_TABLE} (version, description) VALUES ($1, $2)",
                    running.version,
                    running.description,
                )
    except Exception as error:
        raise DatabaseError(
            f"Upgrading {db_name} failed in {running}: {error}. Nothing was changed: the database is still "
            f"at schema version {current}."
        ) from error
    log.info("Database %s is now at schema version %d", db_name, pending[-1].version)
    return pending[-1].version
