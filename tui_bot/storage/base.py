"""What every ``bot.db`` offers, on SQLite and on PostgreSQL: the API, the batched usage counts and the
portable query helper.

:class:`BotDatabase` is the interface; :class:`~tui_bot.storage.database.Database` (SQLite, one
aiosqlite connection) and :class:`~tui_bot.storage.postgres.PostgresDatabase` (an asyncpg pool)
implement it, and :func:`~tui_bot.storage.factory.open_database` picks one from the settings.

**Usage counts** are kept in memory (:meth:`BotDatabase.increment_command_usage` is a dict update) and
written in one transaction by a background task every ``flush_interval`` seconds and by ``close()``.
The write *adds* each count to the stored one (an upsert ``count = count + new``), so several
processes writing to one database lose no update. A failed write puts the counts back, so nothing
counted is lost.

**The portable query helper** runs raw SQL the same way on both backends: :meth:`BotDatabase.execute`,
:meth:`~BotDatabase.executemany`, :meth:`~BotDatabase.fetch`, :meth:`~BotDatabase.fetchone` and
:meth:`~BotDatabase.fetchval`. Placeholders are PostgreSQL's ``$1``, ``$2``, ... on both (on SQLite
they become ``?1``, ``?2``, ..., SQLite's numbered parameters, so one argument may be used twice);
rows are plain ``dict``s. Each call is its own transaction (committed when it returns). A statement the
engine refuses raises :class:`~tui_bot.storage.errors.DatabaseError` (the driver's own exception, e.g. a
unique violation, is its ``__cause__``).
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from tui_bot.storage.errors import DatabaseError

if TYPE_CHECKING:
    import aiosqlite

__all__ = ["BackupNotAvailable", "BotDatabase", "Row"]

log = logging.getLogger("tui_bot.storage.database")

#: A row from the portable helper: column name -> value.
Row = dict[str, Any]


class BackupNotAvailable(DatabaseError):
    """``backup()`` on a database whose own tools make backups (PostgreSQL: ``pg_dump``). The message
    says how to back it up; nothing failed."""


class BotDatabase(abc.ABC):
    """The bot's database, whichever engine holds it. See the module docstring.

    ``flush_interval``: seconds between two writes of the usage counts.
    """

    #: ``"sqlite"`` or ``"postgresql"``, for extensions that write dialect-specific SQL.
    dialect: ClassVar[str]
    #: The exceptions of the driver that mean "the database refused or could not be reached".
    _driver_errors: tuple[type[BaseException], ...] = ()

    def __init__(self, *, flush_interval: float = 1.0) -> None:
        if flush_interval <= 0:
            raise ValueError("flush_interval must be positive")
        self.flush_interval = flush_interval
        self._pending: dict[str, int] = {}
        self._write_lock = asyncio.Lock()  # our own write transactions never interleave
        self._lifecycle_lock = asyncio.Lock()  # connect() / close()
        self._flush_task: asyncio.Task[None] | None = None
        self._stop_flushing: asyncio.Event | None = None
        self._background: set[asyncio.Task[Any]] = set()
        # Told of each write of the usage counts: (seconds it took, whether it succeeded); bot.metrics
        # listens (Prometheus' flush duration). A listener must be quick and must not raise.
        self.flush_listeners: list[Callable[[float, bool], None]] = []

    # ------------------------------------------------------------------ identity and raw access

    @property
    @abc.abstractmethod
    def location(self) -> str:
        """Where the data is, for messages: the file, or the URL without its password."""

    @property
    def secrets(self) -> tuple[str, ...]:
        """Secret values in the settings (a URL's password), for the log redactor."""
        return ()

    @property
    @abc.abstractmethod
    def connected(self) -> bool:
        """Whether ``connect()`` has succeeded and ``close()`` has not been called since."""

    @property
    @abc.abstractmethod
    def conn(self) -> aiosqlite.Connection:
        """The shared aiosqlite connection, on SQLite only (PostgreSQL raises: use :attr:`pool`)."""

    @property
    @abc.abstractmethod
    def pool(self) -> Any:
        """The ``asyncpg.Pool``, on PostgreSQL only (SQLite raises: use :attr:`conn`)."""

    def _ensure_open(self) -> None:
        """Raise the "not open" :class:`DatabaseError` unless connected."""
        if not self.connected:
            raise DatabaseError(
                f"The database {self.location} is not open: call 'await db.connect()' first "
                "(or it has already been closed)."
            )

    # ------------------------------------------------------------------ life cycle

    @abc.abstractmethod
    async def connect(self) -> None:
        """Open, check, migrate and start the stats flusher. Does nothing if already connected."""

    @abc.abstractmethod
    async def close(self, *, backup: bool = True) -> Path | None:
        """Flush the usage counts, back up (where the engine is backed up by tui-bot), close. Idempotent."""

    def _start_flusher(self) -> None:
        self._stop_flushing = asyncio.Event()
        self._flush_task = asyncio.create_task(
            self._flush_loop(self._stop_flushing), name="tui_bot.storage.stats-flush"
        )

    async def _stop_flusher(self) -> None:
        if self._stop_flushing is not None:
            self._stop_flushing.set()
        if self._flush_task is not None:
            # Let an in-progress flush finish (never cancel it mid-write); wait() does not re-raise.
            await asyncio.wait([self._flush_task])
            self._flush_task = None

    def _unsaved_counts(self, exc: DatabaseError) -> str:
        runs, commands = sum(self._pending.values()), len(self._pending)
        return (
            f"The usage counts of {_counted(runs, 'command run')} ({_counted(commands, 'command')}) "
            f"could not be saved to {self.location}: {exc.__cause__ or exc}."
        )

    # ------------------------------------------------------------------ guild prefixes

    @abc.abstractmethod
    async def get_guild_prefix(self, guild_id: int) -> str | None:
        """The guild's own prefix, or None when it uses the default."""

    @abc.abstractmethod
    async def set_guild_prefix(self, guild_id: int, prefix: str | None) -> None:
        """Set the guild's command prefix; ``None`` clears it (the default prefix applies)."""

    @abc.abstractmethod
    async def get_all_guild_prefixes(self) -> dict[int, str]:
        """``{guild id: prefix}`` of every guild with its own prefix."""

    @staticmethod
    def _check_prefix(prefix: str | None) -> None:
        if prefix is not None and not prefix.strip():
            raise ValueError("A prefix must contain at least one non-space character (use None to clear).")

    # ------------------------------------------------------------------ command permissions

    @abc.abstractmethod
    async def get_command_roles(self, guild_id: int) -> dict[str, list[int]]:
        """``{command: [role ids allowed]}`` for one guild (role ids ascending)."""

    @abc.abstractmethod
    async def add_command_role(self, guild_id: int, command_name: str, role_id: int) -> None:
        """Allow ``role_id`` to use ``command_name`` in the guild (no-op if already allowed)."""

    @abc.abstractmethod
    async def clear_command_roles(self, guild_id: int, command_name: str) -> None:
        """Remove every role rule of ``command_name`` in the guild."""

    # ------------------------------------------------------------------ backups and checks

    @abc.abstractmethod
    async def backup(self) -> Path:
        """A backup now; returns its path. :class:`BackupNotAvailable` where the engine's own tools do it."""

    @abc.abstractmethod
    async def integrity_ok(self) -> bool:
        """Whether the database passes the engine's check."""

    # ------------------------------------------------------------------ portable query helper

    @abc.abstractmethod
    async def execute(self, sql: str, *args: Any) -> int:
        """Run one statement (``$1``-style placeholders) and commit; returns the rows it changed."""

    @abc.abstractmethod
    async def executemany(self, sql: str, args: Iterable[Sequence[Any]]) -> None:
        """Run one statement once per argument tuple, all in one transaction."""

    @abc.abstractmethod
    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        """The rows of a query, as dicts."""

    def _query_error(self, sql: str, exc: BaseException) -> DatabaseError:
        """What the helper raises when the engine refuses a statement (the driver's error is the cause)."""
        shown = " ".join(sql.split())
        shown = shown if len(shown) <= 200 else shown[:199] + "…"
        return DatabaseError(f"The query failed on {self.location}: {exc} (query: {shown})")

    async def fetchone(self, sql: str, *args: Any) -> Row | None:
        """The first row of a query, or None."""
        rows = await self.fetch(sql, *args)
        return rows[0] if rows else None

    async def fetchval(self, sql: str, *args: Any) -> Any:
        """The first column of the first row of a query, or None when there is no row."""
        row = await self.fetchone(sql, *args)
        return None if row is None else next(iter(row.values()), None)

    # ------------------------------------------------------------------ command stats

    async def increment_command_usage(self, command_name: str, amount: int = 1) -> None:
        """Count a command use in memory (O(1), no I/O); written by the next flush."""
        if amount < 1:
            raise ValueError("amount must be a positive integer")
        pending = self._pending
        pending[command_name] = pending.get(command_name, 0) + amount

    async def flush_stats(self) -> int:
        """Write the pending counts in one transaction; returns how many commands were written.

        On failure the counts are merged back into memory and :class:`DatabaseError` is raised. The
        write is shielded: cancelling the caller never leaves it half done or counted twice.
        """
        self._ensure_open()  # before touching the counts
        write = asyncio.ensure_future(self._flush_locked())
        self._background.add(write)
        write.add_done_callback(self._forget_write)
        return await asyncio.shield(write)

    def _forget_write(self, task: asyncio.Task[Any]) -> None:
        self._background.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: a caller cancelled mid-flush must not cause "never retrieved"

    @abc.abstractmethod
    async def _write_counts(self, counts: list[tuple[str, int]]) -> None:
        """Add ``counts`` (sorted by name) to the stored ones in one transaction."""

    @abc.abstractmethod
    async def _stored_command_stats(self) -> dict[str, int]:
        """``{command: uses}`` as stored."""

    async def _flush_locked(self) -> int:
        async with self._write_lock:
            if not self._pending:
                return 0
            self._ensure_open()
            batch, self._pending = self._pending, {}
            started = time.perf_counter()
            try:
                # Sorted: concurrent writers lock the rows in the same order, so they never deadlock.
                await self._write_counts(sorted(batch.items()))
            except BaseException as exc:
                self._tell_flush(started, ok=False)
                for name, n in batch.items():  # nothing counted is lost
                    self._pending[name] = self._pending.get(name, 0) + n
                if isinstance(exc, self._driver_errors):
                    raise DatabaseError(
                        f"Could not save the usage counts of {len(batch)} commands to {self.location}: "
                        f"{exc}. They are kept in memory and retried."
                    ) from exc
                raise
            self._tell_flush(started, ok=True)
            return len(batch)

    def _tell_flush(self, started: float, *, ok: bool) -> None:
        seconds = time.perf_counter() - started
        for listener in self.flush_listeners:
            try:
                listener(seconds, ok)
            except Exception:
                log.exception("A flush listener failed")

    async def _flush_loop(self, stop: asyncio.Event) -> None:
        failing = False
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.flush_interval)
            if stop.is_set() or not self._pending:
                continue
            try:
                await self.flush_stats()
            except Exception:
                if not failing:
                    log.exception(
                        "Saving command usage counts failed; retrying every %ss", self.flush_interval
                    )
                failing = True
            else:
                if failing:
                    log.info("Saving command usage counts works again")
                failing = False

    async def get_command_stats(self, limit: int | None = None) -> list[tuple[str, int]]:
        """``(command, uses)`` most used first (ties by name), including counts not yet flushed."""
        totals = await self._stored_command_stats()
        for name, n in self._pending.items():
            totals[name] = totals.get(name, 0) + n
        ordered = sorted(totals.items(), key=lambda item: (-item[1], item[0]))
        return ordered if limit is None else ordered[: max(limit, 0)]


def _counted(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
