"""The bot's database on PostgreSQL: an asyncpg pool, the same API and schema as SQLite.

Usage::

    db = PostgresDatabase("postgresql://bot:password@127.0.0.1:5432/bot")
    await db.connect()      # connects, migrates under an advisory lock, starts the stats flusher
    ...
    await db.close()        # flushes stats, closes the pool (no backup: pg_dump does that)

Several processes may use one database at once (a cluster): the migrations run in one of them at a
time (:mod:`tui_bot.storage.pg_migrations`), and the usage counts are *added* to the stored ones
(``usage_count = command_stats.usage_count + EXCLUDED.usage_count``), so no process overwrites
another's counts.

Extension authors get the pool as :attr:`PostgresDatabase.pool` (``async with db.pool.acquire() as
conn``), or the portable helper of :class:`~tui_bot.storage.base.BotDatabase`. :attr:`conn` (the SQLite
connection) raises here, saying so.

The URL's password is never shown: messages name the database by :func:`~tui_bot.storage.urls.redact_url`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from tui_bot.storage.base import BackupNotAvailable, BotDatabase, Row
from tui_bot.storage.errors import DatabaseError
from tui_bot.storage.migrations import MIGRATIONS, Migration, validate_migrations
from tui_bot.storage.pg_migrations import migrate
from tui_bot.storage.urls import database_url_problem, redact_url, url_password, url_without_password

if TYPE_CHECKING:
    import aiosqlite

__all__ = ["PostgresDatabase", "driver_errors"]

log = logging.getLogger("tui_bot.storage.database")

_STATS_UPSERT = (
    "INSERT INTO command_stats (command_name, usage_count, last_used) VALUES ($1, $2, $3) "
    "ON CONFLICT (command_name) DO UPDATE SET "
    "usage_count = command_stats.usage_count + EXCLUDED.usage_count, "
    "last_used = GREATEST(command_stats.last_used, EXCLUDED.last_used)"
)

# A pool that does not close in this time has a connection an extension never released: cut it.
CLOSE_TIMEOUT_SECONDS = 10.0


def driver_errors() -> tuple[type[BaseException], ...]:
    """What asyncpg raises when the server refuses or cannot be reached."""
    import asyncpg

    return (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)


def _utc_now() -> datetime:
    # The schema's timestamps are UTC without a zone, as SQLite's CURRENT_TIMESTAMP.
    return datetime.now(UTC).replace(tzinfo=None)


def _rows_changed(status: str) -> int:
    """asyncpg's status tag (``"INSERT 0 3"``, ``"UPDATE 2"``, ``"CREATE TABLE"``) -> rows changed."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


class PostgresDatabase(BotDatabase):
    """The bot's PostgreSQL database. See the module docstring.

    ``min_size``/``max_size``: the pool's connections. ``connect_timeout``: seconds to reach the
    server before start-up fails.
    """

    dialect: ClassVar[str] = "postgresql"

    def __init__(
        self,
        url: str,
        *,
        flush_interval: float = 1.0,
        min_size: int = 1,
        max_size: int = 10,
        connect_timeout: float = 10.0,
        migrations: Sequence[Migration] | None = None,
    ) -> None:
        problem = database_url_problem(url)
        if problem is not None:
            raise DatabaseError(f"The database URL {redact_url(url)} is not usable: it must be {problem}.")
        if not 1 <= min_size <= max_size:
            raise ValueError("the pool needs 1 <= min_size <= max_size")
        super().__init__(flush_interval=flush_interval)
        self._url = url
        self.min_size = min_size
        self.max_size = max_size
        self.connect_timeout = connect_timeout
        self.migrations: tuple[Migration, ...] = tuple(MIGRATIONS if migrations is None else migrations)
        validate_migrations(self.migrations)
        self._pool: Any = None
        self._driver_errors = driver_errors()

    def __repr__(self) -> str:
        return f"PostgresDatabase({self.location!r})"

    # ------------------------------------------------------------------ identity and raw access

    @property
    def url(self) -> str:
        """The URL as given (with its password): pass it to tools, never print it."""
        return self._url

    @property
    def location(self) -> str:
        return redact_url(self._url)

    @property
    def secrets(self) -> tuple[str, ...]:
        password = url_password(self._url)
        return (password,) if password else ()

    @property
    def connected(self) -> bool:
        return self._pool is not None

    @property
    def conn(self) -> aiosqlite.Connection:
        raise DatabaseError(
            "bot.db.conn is the SQLite connection, and this bot's database is PostgreSQL "
            f"({self.location}): use bot.db.pool (an asyncpg pool: 'async with bot.db.pool.acquire() "
            "as conn'), or the portable helper (bot.db.fetch / fetchone / fetchval / execute, with $1 "
            "placeholders), which works on both."
        )

    @property
    def pool(self) -> Any:
        """The ``asyncpg.Pool`` (while connected)."""
        self._ensure_open()
        return self._pool

    # ------------------------------------------------------------------ life cycle

    async def connect(self) -> None:
        """Connect the pool, migrate under the advisory lock, start the stats flusher."""
        async with self._lifecycle_lock:
            if self._pool is not None:
                return
            import asyncpg  # only a PostgreSQL bot imports it

            refusals: tuple[type[BaseException], ...] = (*self._driver_errors, ValueError)  # ValueError: DSN
            try:
                pool = await asyncpg.create_pool(
                    self._url,
                    min_size=self.min_size,
                    max_size=self.max_size,
                    timeout=self.connect_timeout,
                )
            except refusals as exc:
                # from None: the cause's text is in the message, redacted; its traceback adds nothing.
                raise DatabaseError(self._connect_failure(exc)) from None
            try:
                async with pool.acquire() as conn:
                    await migrate(conn, self.migrations, db_name=self.location)
            except BaseException as exc:
                pool.terminate()
                if isinstance(exc, self._driver_errors):
                    raise DatabaseError(f"Could not prepare the database {self.location}: {exc}") from exc
                raise
            self._pool = pool
            self._start_flusher()
            log.info("Opened database %s", self.location)

    def _connect_failure(self, exc: BaseException) -> str:
        reason = str(exc).strip() or type(exc).__name__
        password = url_password(self._url)
        if password:
            reason = reason.replace(password, "***")
        if isinstance(exc, TimeoutError):
            reason = f"no answer within {self.connect_timeout:g} s"
        return (
            f"Could not connect to PostgreSQL at {self.location}: {reason}. Check that PostgreSQL is "
            "running and that database.url in config.json (or DATABASE_URL in .env) names the right host, "
            "port, database, user and password."
        )

    async def close(self, *, backup: bool = True) -> Path | None:
        """Flush the usage counts and close the pool. Idempotent. Never backs up (always returns None):
        on PostgreSQL, ``pg_dump`` does (said in the log when ``backup`` is asked for)."""
        async with self._lifecycle_lock:
            if self._pool is None:
                return None
            await self._stop_flusher()
            problems: list[str] = []
            try:
                await self.flush_stats()
            except DatabaseError as exc:
                problems.append(self._unsaved_counts(exc))
            if backup:
                log.info("No shutdown backup: %s", self.backup_advice())
            pool, self._pool = self._pool, None
            try:
                await asyncio.wait_for(pool.close(), CLOSE_TIMEOUT_SECONDS)
            except TimeoutError:
                pool.terminate()
                log.warning(
                    "The connection pool of %s did not close within %.0f s (a connection was not released): "
                    "closed it at once",
                    self.location,
                    CLOSE_TIMEOUT_SECONDS,
                )
            log.info("Closed database %s", self.location)
            if problems:
                raise DatabaseError(" ".join(problems))
            return None

    # ------------------------------------------------------------------ reads and writes

    async def _run(self, what: str, call: Any) -> Any:
        """Await ``call`` (a pool coroutine); a driver error becomes DatabaseError saying ``what``."""
        try:
            return await call
        except self._driver_errors as exc:
            raise DatabaseError(f"Could not {what} in {self.location}: {exc}") from exc

    async def get_guild_prefix(self, guild_id: int) -> str | None:
        value = await self._run(
            "read the prefix",
            self.pool.fetchval("SELECT prefix FROM guild_settings WHERE guild_id = $1", guild_id),
        )
        return None if value is None else str(value)

    async def set_guild_prefix(self, guild_id: int, prefix: str | None) -> None:
        """Set the guild's command prefix; ``None`` clears it (the default prefix applies)."""
        self._check_prefix(prefix)
        await self._run(
            f"save the prefix of guild {guild_id}",
            self.pool.execute(
                "INSERT INTO guild_settings (guild_id, prefix) VALUES ($1, $2) "
                "ON CONFLICT (guild_id) DO UPDATE SET prefix = EXCLUDED.prefix",
                guild_id,
                prefix,
            ),
        )

    async def get_all_guild_prefixes(self) -> dict[int, str]:
        rows = await self._run(
            "read the prefixes",
            self.pool.fetch("SELECT guild_id, prefix FROM guild_settings WHERE prefix IS NOT NULL"),
        )
        return {int(row["guild_id"]): str(row["prefix"]) for row in rows}

    async def get_command_roles(self, guild_id: int) -> dict[str, list[int]]:
        rows = await self._run(
            "read command roles",
            self.pool.fetch(
                "SELECT command_name, role_id FROM command_permissions WHERE guild_id = $1 "
                "ORDER BY command_name, role_id",
                guild_id,
            ),
        )
        roles: dict[str, list[int]] = {}
        for row in rows:
            roles.setdefault(str(row["command_name"]), []).append(int(row["role_id"]))
        return roles

    async def add_command_role(self, guild_id: int, command_name: str, role_id: int) -> None:
        await self._run(
            f"allow role {role_id} to use {command_name!r} in guild {guild_id}",
            self.pool.execute(
                "INSERT INTO command_permissions (guild_id, command_name, role_id) VALUES ($1, $2, $3) "
                "ON CONFLICT DO NOTHING",
                guild_id,
                command_name,
                role_id,
            ),
        )

    async def clear_command_roles(self, guild_id: int, command_name: str) -> None:
        await self._run(
            f"clear the roles of {command_name!r} in guild {guild_id}",
            self.pool.execute(
                "DELETE FROM command_permissions WHERE guild_id = $1 AND command_name = $2",
                guild_id,
                command_name,
            ),
        )

    # ------------------------------------------------------------------ command stats

    async def _write_counts(self, counts: list[tuple[str, int]]) -> None:
        stamp = _utc_now()
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.executemany(_STATS_UPSERT, [(name, n, stamp) for name, n in counts])

    async def _stored_command_stats(self) -> dict[str, int]:
        rows = await self._run(
            "read command stats", self.pool.fetch("SELECT command_name, usage_count FROM command_stats")
        )
        return {str(row["command_name"]): int(row["usage_count"]) for row in rows}

    # ------------------------------------------------------------------ backups and checks

    def backup_advice(self) -> str:
        """How to back this database up (the URL shown without its password)."""
        target = url_without_password(self._url)
        return (
            f"On PostgreSQL, back up with pg_dump (e.g. pg_dump --format=custom --file=bot.dump '{target}'; "
            "restore with pg_restore). tui-bot makes no backup files of a PostgreSQL database."
        )

    async def backup(self) -> Path:
        """Never a file: raises :class:`BackupNotAvailable` saying to use ``pg_dump``. The usage counts
        are written first, so a dump taken next has them."""
        self._ensure_open()
        with contextlib.suppress(DatabaseError):
            await self.flush_stats()
        raise BackupNotAvailable(self.backup_advice())

    async def integrity_ok(self) -> bool:
        """Whether the server answers and the schema's tables are readable (PostgreSQL checks its own
        pages; there is no file-level check to run)."""
        failures: tuple[type[BaseException], ...] = (*self._driver_errors, DatabaseError)
        try:
            await self.pool.fetchval("SELECT count(*) FROM command_stats")
        except failures:
            return False
        return True

    # ------------------------------------------------------------------ portable query helper

    async def execute(self, sql: str, *args: Any) -> int:
        try:
            status = await self.pool.execute(sql, *args)
        except self._driver_errors as exc:
            raise self._query_error(sql, exc) from exc
        return _rows_changed(str(status))

    async def executemany(self, sql: str, args: Iterable[Sequence[Any]]) -> None:
        try:
            async with self.pool.acquire() as conn, conn.transaction():
                await conn.executemany(sql, [tuple(each) for each in args])
        except self._driver_errors as exc:
            raise self._query_error(sql, exc) from exc

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        try:
            rows = await self.pool.fetch(sql, *args)
        except self._driver_errors as exc:
            raise self._query_error(sql, exc) from exc
        return [dict(row) for row in rows]
