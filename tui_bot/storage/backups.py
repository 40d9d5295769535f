"""Online backups of the SQLite database, their verification, retention and lookup.

A backup is taken with SQLite's online backup API (``sqlite3.Connection.backup``) from a separate,
read-only connection in a worker thread, copying every page in ONE step. That step is a single read
transaction, so the copy is a consistent snapshot of the last *committed* state even while the bot
keeps writing (WAL readers never block writers), and never contains another task's uncommitted rows
from the shared bot connection. A plain file copy of a live WAL database is never used: it can miss
the ``-wal`` contents or catch pages half-written.

The copy is written to a hidden temporary file, converted to ``journal_mode=DELETE`` (a backup is one
self-contained file that can simply be copied back into place), checked with
``PRAGMA integrity_check`` and only then given its final name ``<db name>.backup_YYYYmmdd_HHMMSS``
(UTC; ``_1``, ``_2``, ... appended when that name is taken, never overwriting). A backup that fails the
check is deleted and :class:`~tui_bot.storage.errors.DatabaseError` is raised.

Retention keeps the newest ``keep`` backups, and never deletes the newest backup that *holds data*
(:func:`holds_rows`: at least one table has a row) in favour of newer ones that hold none, such as the
backups of a database started over from scratch. So at most ``keep + 1`` backups are kept.

Blocking work (SQLite, directory listings, deletes) runs in ``asyncio.to_thread``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import sqlite3
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from tui_bot.storage.durable import MKSTEMP_RANDOM, TEMP_SUFFIX, fsync_directory
from tui_bot.storage.errors import DatabaseError

log = logging.getLogger("tui_bot.storage.database")

TIMESTAMP_FORMAT = "%Y%m%d_%H%M%S"


def backup_pattern(db_path: Path | str) -> re.Pattern[str]:
    """Matches (with ``fullmatch``) the names of this database's backups; groups: stamp, suffix."""
    return re.compile(re.escape(Path(db_path).name) + r"\.backup_(\d{8}_\d{6})(?:_(\d+))?")


def _backup_temp_prefix(db_path: Path) -> str:
    return f".{db_path.name}.backup-"


def backup_temp_pattern(db_path: Path | str) -> re.Pattern[str]:
    """Matches (with ``fullmatch``) the hidden temporary files a backup of ``db_path`` is written to."""
    prefix = re.escape(_backup_temp_prefix(Path(db_path)))
    return re.compile(prefix + MKSTEMP_RANDOM + re.escape(TEMP_SUFFIX))


def list_backups(db_path: Path | str) -> list[Path]:
    """This database's backups, newest first (by the name's timestamp, then suffix). Blocking."""
    db_path = Path(db_path)
    pattern = backup_pattern(db_path)
    found: list[tuple[tuple[str, int], Path]] = []
    try:
        entries = list(db_path.parent.iterdir())
    except FileNotFoundError:
        return []
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match and entry.is_file():
            found.append(((match[1], int(match[2] or 0)), entry))
    found.sort(key=lambda item: item[0], reverse=True)
    return [path for _, path in found]


def _integrity_errors_of(conn: sqlite3.Connection) -> list[str]:
    rows = [str(row[0]) for row in conn.execute("PRAGMA integrity_check").fetchall()]
    return [] if rows == ["ok"] else rows


def integrity_errors(path: Path | str) -> list[str]:
    """``[]`` when ``path`` is a sound SQLite database, else what is wrong. Read-only; blocking."""
    uri = Path(path).resolve().as_uri() + "?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True)
    except sqlite3.Error as exc:
        return [f"cannot open: {exc}"]
    try:
        return _integrity_errors_of(conn)
    except sqlite3.Error as exc:
        return [str(exc)]
    finally:
        conn.close()


def newest_good_backup(db_path: Path | str) -> Path | None:
    """The newest backup of ``db_path`` that passes ``integrity_check`` (bad ones skipped). Blocking."""
    for candidate in list_backups(db_path):
        problems = integrity_errors(candidate)
        if not problems:
            return candidate
        log.warning("Backup %s is damaged, skipping it: %s", candidate, "; ".join(problems[:3]))
    return None


# Table names SQLite reserves for itself (sqlite_sequence, sqlite_stat1, ...) hold no user data.
_USER_TABLES = (
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
    "AND coalesce(sql, '') NOT LIKE 'CREATE VIRTUAL TABLE%'"
)


def holds_rows(path: Path | str) -> bool:
    """Whether any table of the database at ``path`` has at least one row. Read-only; blocking.

    This is what "holds data" means for retention: a database that has only its schema (a new one, or
    one started over) holds no rows. It costs one ``LIMIT 1`` query per table, whatever the size.
    Raises :class:`sqlite3.Error` when the file cannot be read as a database.
    """
    uri = Path(path).resolve().as_uri() + "?mode=ro"
    conn = sqlite3.connect(uri, uri=True)
    try:
        names = [str(row[0]) for row in conn.execute(_USER_TABLES).fetchall()]
        for name in names:
            quoted = '"' + name.replace('"', '""') + '"'
            if conn.execute(f"SELECT 1 FROM {quoted} LIMIT 1").fetchone() is not None:
                return True
        return False
    finally:
        conn.close()


def _holds_rows_or_false(path: Path) -> bool:
    try:
        return holds_rows(path)
    except sqlite3.Error:
        return False  # an unreadable backup is no backup of anyone's data


def newest_backup_with_rows(db_path: Path | str) -> Path | None:
    """The newest backup of ``db_path`` that holds data (:func:`holds_rows`), or ``None``. Blocking."""
    return next((path for path in list_backups(db_path) if _holds_rows_or_false(path)), None)


def prune_backups(db_path: Path | str, keep: int, *, protect: Path | None = None) -> list[Path]:
    """Delete all but the newest ``keep`` backups of ``db_path``; returns the deleted. Blocking.

    ``protect`` (the backup just made) is never deleted, even if a clock change gave it an old name.
    When none of the newest ``keep`` holds data, the newest backup that does is kept too.
    """
    if keep < 1:
        raise ValueError("keep must be at least 1")
    backups = list_backups(db_path)
    newest, older = backups[:keep], backups[keep:]
    if older and not any(_holds_rows_or_false(path) for path in newest):
        with_data = next((path for path in older if _holds_rows_or_false(path)), None)
        if with_data is not None:
            older.remove(with_data)
            log.info(
                "Keeping backup %s although it is older than the newest %d: it is the newest backup "
                "that holds data (the newer ones hold none)",
                with_data,
                keep,
            )
    removed: list[Path] = []
    for old in older:
        if protect is not None and old == protect:
            continue
        try:
            old.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            log.warning("Could not delete old backup %s: %s", old, exc)
            continue
        removed.append(old)
        log.info("Deleted old backup %s", old)
    return removed


def _claim_name(tmp: Path, db_path: Path, stamp: str) -> Path:
    """Give ``tmp`` a new backup name; never replaces an existing file.

    Within one second the suffix continues after the highest one present (not the first free one), so
    that a name freed by retention is not reused and newer backups always sort as newer.
    """
    base = f"{db_path.name}.backup_{stamp}"
    pattern = backup_pattern(db_path)
    taken = [
        int(match[2] or 0)
        for p in db_path.parent.iterdir()
        if (match := pattern.fullmatch(p.name)) and match[1] == stamp
    ]
    suffix = max(taken) + 1 if taken else 0
    while True:
        candidate = db_path.parent / (base if suffix == 0 else f"{base}_{suffix}")
        suffix += 1
        try:
            os.link(tmp, candidate)  # atomic "create only if absent"
        except FileExistsError:
            continue
        except OSError:
            # Filesystem without hard links: check-then-rename (racy only against ourselves).
            if candidate.exists():
                continue
            os.replace(tmp, candidate)
        return candidate


def backup_blocking(db_path: Path | str, *, busy_timeout_ms: int = 5000) -> Path:
    """Make one verified online backup of ``db_path`` next to it; returns its path. Blocking."""
    db_path = Path(db_path)
    if not db_path.is_file():  # sqlite3.connect would silently create an empty database
        raise DatabaseError(f"Cannot back up {db_path}: the file does not exist.")
    stamp = datetime.now(UTC).strftime(TIMESTAMP_FORMAT)
    try:
        fd, tmp_name = tempfile.mkstemp(
            prefix=_backup_temp_prefix(db_path), suffix=TEMP_SUFFIX, dir=db_path.parent
        )
        os.close(fd)
    except OSError as exc:
        raise DatabaseError(f"Could not back up {db_path}: {exc}") from exc
    tmp = Path(tmp_name)
    try:
        source = sqlite3.connect(db_path, timeout=busy_timeout_ms / 1000)
        try:
            source.execute("PRAGMA query_only = ON")
            target = sqlite3.connect(tmp)
            try:
                source.backup(target)  # pages=-1: every page in one step = one consistent snapshot
                target.execute("PRAGMA journal_mode = DELETE").fetchall()
                problems = _integrity_errors_of(target)
            finally:
                target.close()
        finally:
            source.close()
        if problems:
            raise DatabaseError(
                f"The backup of {db_path} failed its integrity check and was deleted: "
                f"{'; '.join(problems[:5])}. The database itself may be damaged; run "
                "'PRAGMA integrity_check' on it."
            )
        final = _claim_name(tmp, db_path, stamp)
    except (sqlite3.Error, OSError) as exc:  # e.g. disk full
        raise DatabaseError(f"Could not back up {db_path}: {exc}") from exc
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    fsync_directory(db_path.parent)
    return final


async def create_backup(db_path: Path | str, *, keep: int = 10, busy_timeout_ms: int = 5000) -> Path:
    """Online backup of ``db_path``, verified, then prune to the newest ``keep``. Returns its path."""
    path = await asyncio.to_thread(backup_blocking, db_path, busy_timeout_ms=busy_timeout_ms)
    log.info("Backed up %s to %s", db_path, path)
    await asyncio.to_thread(prune_backups, db_path, keep, protect=path)
    return path


async def find_newest_good_backup(db_path: Path | str) -> Path | None:
    return await asyncio.to_thread(newest_good_backup, db_path)
