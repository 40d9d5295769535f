"""Opening the database file: the checks made before anything is written to it, the set-up and
migrations, and the refusals that say what to do (see :mod:`tui_bot.storage.database`'s docstring for
the rules).

A file that is not an SQLite database, is damaged, cannot be read, or is blank while it should not be,
is never modified: the error names the newest backup that passes ``integrity_check`` and how to restore
it, or how to start over.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import aiosqlite

from tui_bot.storage.backups import (
    create_backup,
    find_newest_good_backup,
    integrity_errors,
    list_backups,
    newest_backup_with_rows,
    newest_good_backup,
)
from tui_bot.storage.errors import DatabaseCorruptError, DatabaseError
from tui_bot.storage.migrations import (
    Migration,
    apply_migrations,
    has_schema_objects,
    has_tables,
    pending_migrations,
    read_user_version,
)

# The database's own logger: these lines are about the database, wherever the code lives.
log = logging.getLogger("tui_bot.storage.database")

# Primary SQLite result codes (exceptions carry extended codes; the low byte is the primary one).
_SQLITE_PERM = 3
_SQLITE_BUSY = 5
_SQLITE_LOCKED = 6
_SQLITE_READONLY = 8
_SQLITE_IOERR = 10
_SQLITE_CORRUPT = 11
_SQLITE_CANTOPEN = 14
_SQLITE_AUTH = 23
_SQLITE_NOTADB = 26


def counted(n: int, noun: str) -> str:
    """``1 backup``, ``2 backups``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


async def execute(conn: aiosqlite.Connection, sql: str, params: Iterable[Any] = ()) -> None:
    """Run one statement and close its cursor."""
    cursor = await conn.execute(sql, tuple(params))
    await cursor.close()


def prepare_folder(path: Path) -> int | None:
    """Create the folder; return the size of the existing database file (``None``: no file yet).

    Blocking: run it in a thread."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatabaseError(f"Could not create the folder for the database {path}: {exc}") from exc
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    except OSError:
        return None  # unreadable: opening it reports why
    if not path.is_file():
        raise DatabaseError(f"The database path {path} exists but is not a file.")
    return info.st_size


async def set_up(
    conn: aiosqlite.Connection,
    path: Path,
    existing_size: int | None,
    *,
    busy_timeout_ms: int,
    backup_keep: int,
    migrations: Sequence[Migration],
) -> None:
    """Check the freshly opened file, refuse it if it must not be used, then switch it to WAL and
    migrate it (after a backup, when it already holds a schema)."""
    conn.row_factory = aiosqlite.Row
    try:
        await execute(conn, f"PRAGMA busy_timeout = {busy_timeout_ms}")
        # Read-only checks first: nothing is written to a file we have not verified.
        try:
            rows = await conn.execute_fetchall("PRAGMA quick_check")
        except sqlite3.Error as exc:
            raise await open_error(path, exc) from exc
        problems = [str(row[0]) for row in rows]
        if problems != ["ok"]:
            raise await corrupt_error(
                path, f"failed its integrity check ({'; '.join(problems[:3])})", damaged=True
            )
        version = await read_user_version(conn)
        if existing_size is not None and not await has_tables(conn):
            await check_blank_file(path, existing_size, version)
        pending = pending_migrations(version, migrations, db_name=str(path))

        mode_rows = await conn.execute_fetchall("PRAGMA journal_mode = WAL")
        mode = str(next(iter(mode_rows))[0]).lower()
        if mode != "wal":
            log.warning("Could not switch %s to WAL mode (journal_mode is %s)", path, mode)
        await execute(conn, "PRAGMA synchronous = NORMAL")
        await execute(conn, "PRAGMA foreign_keys = ON")

        if pending:
            if version > 0 or await has_schema_objects(conn):
                try:
                    saved = await create_backup(path, keep=backup_keep, busy_timeout_ms=busy_timeout_ms)
                except DatabaseError as exc:
                    raise DatabaseError(
                        f"Not upgrading {path} to schema version {pending[-1].version} because "
                        f"the backup before the upgrade failed: {exc}"
                    ) from exc
                log.info("Backed up %s to %s before upgrading its schema", path, saved)
            await apply_migrations(conn, pending, db_name=str(path))
            log.info("Database %s is now at schema version %d", path, pending[-1].version)
    except sqlite3.Error as exc:
        raise DatabaseError(f"Could not open the database {path}: {exc}") from exc


def _primary_code(exc: sqlite3.Error) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return None if code is None else code & 0xFF


async def open_error(path: Path, exc: sqlite3.Error) -> DatabaseError:
    """The error to raise when SQLite could not open or read ``path``: what happened and what to do."""
    code = _primary_code(exc)
    if code in (_SQLITE_NOTADB, _SQLITE_CORRUPT):
        return await corrupt_error(
            path, f"is not a valid SQLite database or is damaged ({exc})", damaged=True
        )
    if code in (_SQLITE_BUSY, _SQLITE_LOCKED):
        return DatabaseError(
            f"The database {path} is locked by another program ({exc}). Is another copy of "
            "the bot running? Stop it, or use a different database file."
        )
    if code in (_SQLITE_CANTOPEN, _SQLITE_PERM, _SQLITE_READONLY, _SQLITE_IOERR, _SQLITE_AUTH):
        return await corrupt_error(path, f"could not be read ({exc})", damaged=False)
    return DatabaseError(f"Could not open the database {path}: {exc}")


def _move_aside(path: Path) -> str:
    name = path.name
    return f"move {path} (and {name}-wal / {name}-shm next to it, if present) somewhere safe"


def _restore_advice(path: Path, backup: Path) -> str:
    return (
        f"The newest good backup is {backup}. To restore it: stop the bot, {_move_aside(path)}, "
        f"copy {backup} to {path}, and start the bot again."
    )


async def check_blank_file(path: Path, size: int, version: int) -> None:
    """An existing file without tables: refuse it (see the module docstring) or take it as new."""
    if size == 0:
        what = "is empty (0 bytes)"
    else:
        what = f"is an SQLite database without any table (schema version {version}): its schema is gone"
    backups = await asyncio.to_thread(list_backups, path)
    if version == 0 and not backups:
        log.warning("The database file %s %s and has no backup: setting it up as a new database", path, what)
        return
    backup = await asyncio.to_thread(_backup_to_restore_blank, path)
    parts = [f"The database file {path} {what}. tui-bot has not modified, replaced or deleted it."]
    if version > 0:
        parts.append("Its schema version says it had tables, so its contents were lost.")
    else:
        parts.append(
            "A blank file is only set up as a new database when it has no backup; "
            f"this one has {counted(len(backups), 'backup')}."
        )
    if backup is not None:
        parts.append(_restore_advice(path, backup))
    elif backups:
        parts.append(
            f"None of its backups (the newest is {backups[0]}) passed an integrity check; the "
            "sqlite3 command-line tool's '.recover' command may rescue data from them."
        )
    parts.append(
        f"To start over with a new, empty database instead: stop the bot and move {path} aside; "
        "tui-bot creates a new one on the next start and keeps the backups."
    )
    raise DatabaseCorruptError(" ".join(parts), path=path, backup=backup)


def _backup_to_restore_blank(path: Path) -> Path | None:
    # Prefer a backup that holds data: the newest ones may be backups of an empty database.
    with_rows = newest_backup_with_rows(path)
    if with_rows is not None and not integrity_errors(with_rows):
        return with_rows
    return newest_good_backup(path)


async def corrupt_error(path: Path, reason: str, *, damaged: bool) -> DatabaseCorruptError:
    """The refusal of a file that is damaged (``damaged``) or unreadable, with the newest good backup."""
    backup = await find_newest_good_backup(path)
    parts = [f"The database file {path} {reason}. tui-bot has not modified, replaced or deleted it."]
    if not damaged:
        parts.append("Check that the user running the bot can read and write it and its folder.")
    if backup is not None:
        parts.append(_restore_advice(path, backup))
    else:
        parts.append(
            f"No good backup of it was found (backups are named {path.name}.backup_YYYYmmdd_HHMMSS in "
            f"{path.parent}). To start over with an empty database: stop the bot, {_move_aside(path)}; "
            "tui-bot creates a new one on the next start. The sqlite3 command-line tool's "
            "'.recover' command may rescue data from the damaged file."
        )
    return DatabaseCorruptError(" ".join(parts), path=path, backup=backup)
