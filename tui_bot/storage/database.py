"""The bot's SQLite database: one long-lived aiosqlite connection, migrations, batched stats, backups.

(A little over 400 lines: :class:`Database` is the one API extension authors use, ``bot.db``; opening and
refusing a file live in ``opening.py``, migrations and backups in their own modules.)

Usage::

    db = Database("data/bot.db")
    await db.connect()          # checks, migrates (after a backup), starts the stats flusher
    ...
    await db.close()            # flushes stats, backs up, closes

Extension authors may run their own SQL on :attr:`Database.conn` (rows are ``aiosqlite.Row``, so
``row["data"]`` works). That connection is shared with the bot: commit your writes promptly and do
not leave a transaction open across unrelated awaits, or the bot's own commits will include it. The
portable helper (``await db.fetch("... WHERE id = $1", 5)``) works here and on PostgreSQL alike.

The API, the batched usage counts and the portable helper are shared with the PostgreSQL backend
(:mod:`tui_bot.storage.base`, :mod:`tui_bot.storage.postgres`); this class is the SQLite one.

A database that is not an SQLite file, is damaged or cannot be read is never deleted, replaced or
rewritten: :meth:`Database.connect` raises :class:`DatabaseCorruptError`, naming the newest backup
that passes ``integrity_check`` and what to do. The same goes for an existing file that is *blank* (0
bytes, or an SQLite file without a single table, i.e. its schema is gone) while backups of it exist, or
whose schema version says it had tables: such a file is what a truncation or a bad copy leaves, and
taking it as a new database would let the shutdown backups of an empty database push the real ones out.
A blank file with no backup at all next to it is set up as a new database (a first start that was
interrupted leaves exactly that); a missing file is always created (that is how one starts over).

After a successful connect, temporary files that crashed writes left in the database's folder are
removed (:mod:`tui_bot.storage.tempfiles`).

The checks and refusals of opening are in :mod:`tui_bot.storage.opening`, the errors in
:mod:`tui_bot.storage.errors` (re-exported here), backups in :mod:`tui_bot.storage.backups` and the
schema in :mod:`tui_bot.storage.migrations`; this module is the open connection's life: connect and
close, the batched usage counts, and the bot's reads and writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import aiosqlite

from tui_bot.storage.backups import create_backup, holds_rows, newest_backup_with_rows
from tui_bot.storage.base import BotDatabase, Row
from tui_bot.storage.errors import DatabaseCorruptError, DatabaseError
from tui_bot.storage.migrations import MIGRATIONS, Migration, validate_migrations
from tui_bot.storage.opening import execute, open_error, prepare_folder, set_up
from tui_bot.storage.tempfiles import remove_stale_storage_temp_files

__all__ = ["Database", "DatabaseCorruptError", "DatabaseError", "sqlite_placeholders"]

log = logging.getLogger("tui_bot.storage.database")

_STATS_UPSERT = (
    "INSERT INTO command_stats (command_name, usage_count, last_used) VALUES (?, ?, ?) "
    "ON CONFLICT(command_name) DO UPDATE SET "
    "usage_count = usage_count + excluded.usage_count, last_used = excluded.last_used"
)


def _utc_timestamp() -> str:
    # Same text format as SQLite's CURRENT_TIMESTAMP (UTC), so the column sorts and compares alike.
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")


# A string literal, a quoted identifier, a comment, or a $n placeholder: only the last is rewritten.
_SQL_TOKENS = re.compile(r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*|/\*.*?\*/|\$(\d+)""", re.DOTALL)


def sqlite_placeholders(sql: str) -> str:
    """``$1``-style placeholders (PostgreSQL's) as SQLite's numbered ``?1``; text in quotes or
    comments is left alone."""
    return _SQL_TOKENS.sub(lambda m: f"?{m[1]}" if m[1] is not None else m[0], sql)


class Database(BotDatabase):
    """The bot's SQLite database. See the module docstring."""

    dialect: ClassVar[str] = "sqlite"
    # ValueError: aiosqlite's "Connection closed".
    _driver_errors: tuple[type[BaseException], ...] = (sqlite3.Error, ValueError)

    def __init__(
        self,
        path: str | Path,
        *,
        backup_keep: int = 10,
        flush_interval: float = 1.0,
        busy_timeout_ms: int = 5000,
        migrations: Sequence[Migration] | None = None,
    ) -> None:
        if backup_keep < 1:
            raise ValueError("backup_keep must be at least 1")
        if busy_timeout_ms < 0:
            raise ValueError("busy_timeout_ms must not be negative")
        super().__init__(flush_interval=flush_interval)
        self.path = Path(path)
        self.backup_keep = backup_keep
        self.busy_timeout_ms = int(busy_timeout_ms)
        self.migrations: tuple[Migration, ...] = tuple(MIGRATIONS if migrations is None else migrations)
        validate_migrations(self.migrations)
        self._conn: aiosqlite.Connection | None = None

    # ------------------------------------------------------------------ connection

    @property
    def location(self) -> str:
        return str(self.path)

    @property
    def conn(self) -> aiosqlite.Connection:
        """The shared aiosqlite connection (``row_factory = aiosqlite.Row``)."""
        if self._conn is None:
            self._ensure_open()
        assert self._conn is not None
        return self._conn

    @property
    def pool(self) -> Any:
        raise DatabaseError(
            "bot.db.pool is the PostgreSQL connection pool, and this bot's database is SQLite "
            f"({self.path}): use bot.db.conn (aiosqlite), or the portable helper "
            "(bot.db.fetch / fetchone / fetchval / execute), which works on both."
        )

    @property
    def connected(self) -> bool:
        return self._conn is not None

    async def connect(self) -> None:
        """Open, check, migrate and start the stats flusher. Does nothing if already connected."""
        async with self._lifecycle_lock:
            if self._conn is not None:
                return
            if sqlite3.sqlite_version_info < (3, 24, 0):
                raise DatabaseError(
                    f"tui-bot needs SQLite 3.24 or newer; this Python uses SQLite {sqlite3.sqlite_version}."
                )
            existing_size = await asyncio.to_thread(prepare_folder, self.path)
            try:
                conn = await aiosqlite.connect(self.path, timeout=self.busy_timeout_ms / 1000)
            except sqlite3.Error as exc:
                raise await open_error(self.path, exc) from exc
            try:
                await set_up(
                    conn,
                    self.path,
                    existing_size,
                    busy_timeout_ms=self.busy_timeout_ms,
                    backup_keep=self.backup_keep,
                    migrations=self.migrations,
                )
            except BaseException:
                with contextlib.suppress(Exception):
                    await conn.close()
                raise
            self._conn = conn
            self._start_flusher()
            log.info("Opened database %s", self.path)
        await self._remove_stale_temp_files()

    async def _remove_stale_temp_files(self) -> None:
        # Only once the database was accepted: a refused start-up changes nothing in its folder.
        try:
            removed = await asyncio.to_thread(remove_stale_storage_temp_files, self.path)
        except OSError as exc:
            log.warning("Could not look for stale temporary files next to %s: %s", self.path, exc)
            return
        for path in removed:
            log.info("Removed a temporary file left by an interrupted write: %s", path)

    async def close(self, *, backup: bool = True) -> Path | None:
        """Flush stats, back up (unless ``backup=False``), close. Idempotent. Returns the backup path.

        No backup is made (``None`` is returned) when the database holds no data while an earlier
        backup does: a run on an empty database must not push the real backups out.

        The connection is closed even when the flush or the backup fails; the failure is then raised
        as :class:`DatabaseError`, saying what was not saved (unsaved counts stay in memory and are
        written by a later connect of this object; they are lost if the process exits).
        """
        async with self._lifecycle_lock:
            if self._conn is None:
                return None
            await self._stop_flusher()
            problems: list[str] = []
            try:
                await self.flush_stats()
            except DatabaseError as exc:
                problems.append(self._unsaved_counts(exc))
            saved: Path | None = None
            if backup:
                try:
                    saved = await self._shutdown_backup()
                except DatabaseError as exc:
                    problems.append(
                        f"No backup of {self.path} was made at shutdown ({exc}); older ones are kept."
                    )
            conn, self._conn = self._conn, None
            try:
                await conn.close()
            except sqlite3.Error as exc:
                problems.append(f"Closing {self.path} failed: {exc}")
            log.info("Closed database %s", self.path)
            if problems:
                raise DatabaseError(" ".join(problems))
            return saved

    async def _shutdown_backup(self) -> Path | None:
        try:
            empty = not await asyncio.to_thread(holds_rows, self.path)
        except sqlite3.Error:
            empty = False  # cannot tell: back up as usual
        if empty:
            kept = await asyncio.to_thread(newest_backup_with_rows, self.path)
            if kept is not None:
                log.info(
                    "No shutdown backup of %s: it holds no data, and the newest backup that does (%s) "
                    "is kept",
                    self.path,
                    kept,
                )
                return None
        return await create_backup(self.path, keep=self.backup_keep, busy_timeout_ms=self.busy_timeout_ms)

    # ------------------------------------------------------------------ writes helper

    async def _write(self, what: str, statements: Iterable[tuple[str, Iterable[Any]]]) -> None:
        """Run statements in one transaction on the shared connection; DatabaseError on failure."""
        conn = self.conn
        async with self._write_lock:
            try:
                for sql, params in statements:
                    await execute(conn, sql, params)
                await conn.commit()
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    await conn.rollback()
                raise DatabaseError(f"Could not {what} in {self.path}: {exc}") from exc

    async def _read(self, what: str, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        try:
            return list(await self.conn.execute_fetchall(sql, tuple(params)))
        except sqlite3.Error as exc:
            raise DatabaseError(f"Could not {what} from {self.path}: {exc}") from exc

    # ------------------------------------------------------------------ guild prefixes

    async def get_guild_prefix(self, guild_id: int) -> str | None:
        rows = await self._read(
            "read the prefix", "SELECT prefix FROM guild_settings WHERE guild_id = ?", (guild_id,)
        )
        return rows[0]["prefix"] if rows else None

    async def set_guild_prefix(self, guild_id: int, prefix: str | None) -> None:
        """Set the guild's command prefix; ``None`` clears it (the default prefix applies)."""
        self._check_prefix(prefix)
        await self._write(
            f"save the prefix of guild {guild_id}",
            [
                (
                    "INSERT INTO guild_settings (guild_id, prefix) VALUES (?, ?) "
                    "ON CONFLICT(guild_id) DO UPDATE SET prefix = excluded.prefix",
                    (guild_id, prefix),
                )
            ],
        )

    async def get_all_guild_prefixes(self) -> dict[int, str]:
        rows = await self._read(
            "read the prefixes", "SELECT guild_id, prefix FROM guild_settings WHERE prefix IS NOT NULL"
        )
        return {int(row["guild_id"]): row["prefix"] for row in rows}

    # ------------------------------------------------------------------ command stats

    async def _write_counts(self, counts: list[tuple[str, int]]) -> None:
        conn = self.conn
        stamp = _utc_timestamp()
        try:
            await conn.executemany(_STATS_UPSERT, [(name, n, stamp) for name, n in counts])
            await conn.commit()
        except BaseException:
            with contextlib.suppress(Exception):
                await conn.rollback()
            raise

    async def _stored_command_stats(self) -> dict[str, int]:
        rows = await self._read("read command stats", "SELECT command_name, usage_count FROM command_stats")
        return {str(row["command_name"]): int(row["usage_count"]) for row in rows}

    # ------------------------------------------------------------------ command permissions

    async def get_command_roles(self, guild_id: int) -> dict[str, list[int]]:
        """``{command: [role ids allowed]}`` for one guild (role ids ascending)."""
        rows = await self._read(
            "read command roles",
            "SELECT command_name, role_id FROM command_permissions WHERE guild_id = ? "
            "ORDER BY command_name, role_id",
            (guild_id,),
        )
        roles: dict[str, list[int]] = {}
        for row in rows:
            roles.setdefault(str(row["command_name"]), []).append(int(row["role_id"]))
        return roles

    async def add_command_role(self, guild_id: int, command_name: str, role_id: int) -> None:
        await self._write(
            f"allow role {role_id} to use {command_name!r} in guild {guild_id}",
            [
                (
                    "INSERT OR IGNORE INTO command_permissions (guild_id, command_name, role_id) "
                    "VALUES (?, ?, ?)",
                    (guild_id, command_name, role_id),
                )
            ],
        )

    async def clear_command_roles(self, guild_id: int, command_name: str) -> None:
        await self._write(
            f"clear the roles of {command_name!r} in guild {guild_id}",
            [
                (
                    "DELETE FROM command_permissions WHERE guild_id = ? AND command_name = ?",
                    (guild_id, command_name),
                )
            ],
        )

    # ------------------------------------------------------------------ backups and checks

    async def backup(self) -> Path:
        """Flush stats (best effort), then make a verified online backup now; returns its path."""
        self._ensure_open()
        try:
            await self.flush_stats()
        except DatabaseError as exc:
            log.warning("Backing up without the latest usage counts: %s", exc)
        return await create_backup(self.path, keep=self.backup_keep, busy_timeout_ms=self.busy_timeout_ms)

    async def integrity_ok(self) -> bool:
        """Full ``PRAGMA integrity_check`` of the open database."""
        try:
            rows = await self.conn.execute_fetchall("PRAGMA integrity_check")
        except sqlite3.DatabaseError:
            return False
        return [str(row[0]) for row in rows] == ["ok"]

    # ------------------------------------------------------------------ portable query helper

    async def execute(self, sql: str, *args: Any) -> int:
        conn = self.conn
        async with self._write_lock:
            try:
                cursor = await conn.execute(sqlite_placeholders(sql), args)
                changed = cursor.rowcount
                await cursor.close()
                await conn.commit()
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    await conn.rollback()
                raise self._query_error(sql, exc) from exc
        return max(changed, 0)

    async def executemany(self, sql: str, args: Iterable[Sequence[Any]]) -> None:
        conn = self.conn
        async with self._write_lock:
            try:
                await conn.executemany(sqlite_placeholders(sql), [tuple(each) for each in args])
                await conn.commit()
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    await conn.rollback()
                raise self._query_error(sql, exc) from exc

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        conn = self.conn
        try:
            rows = await conn.execute_fetchall(sqlite_placeholders(sql), args)
        except sqlite3.Error as exc:
            raise self._query_error(sql, exc) from exc
        return [dict(row) for row in rows]
