"""``tui-bot db migrate-to URL``: copy an SQLite database into PostgreSQL, every row accounted for.

Every table of the SQLite file is copied: the framework's (guild settings, role rules, usage counts,
user data) and any other an extension created. A table PostgreSQL does not have yet is created with
the SQLite column types mapped to PostgreSQL's (:func:`postgres_type`), its primary key and NOT NULL
columns; an ``INTEGER PRIMARY KEY`` (SQLite's auto-numbered row id) becomes an identity column whose
sequence continues after the copied rows.

The copy is ONE PostgreSQL transaction: a row that cannot be stored (a value of the wrong type) stops
it, naming the table, row and column, and nothing is kept. After copying, the rows of each table are
counted on both sides; a mismatch rolls everything back too.

A target that already holds rows in any of the tables to copy is refused, unless ``force``: then rows
whose key is already there are kept as they are (``ON CONFLICT DO NOTHING``) and counted as "already
there"; a table without a key gets every row appended.

The SQLite file is opened as the bot opens it (:class:`~tui_bot.storage.database.Database`: checked,
upgraded to the current schema after a backup if it is older), and otherwise only read.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from tui_bot.storage.database import Database
from tui_bot.storage.errors import DatabaseError
from tui_bot.storage.pg_migrations import VERSION_TABLE
from tui_bot.storage.postgres import PostgresDatabase

__all__ = ["TableCount", "TransferError", "TransferReport", "copy_sqlite_to_postgres", "postgres_type"]

log = logging.getLogger("tui_bot.storage.transfer")

# The framework's tables first (in this order), then the others by name.
FRAMEWORK_TABLES = ("guild_settings", "command_permissions", "command_stats", "user_data")
BATCH_ROWS = 1000


class TransferError(DatabaseError):
    """The copy was refused or failed; nothing was kept in PostgreSQL. The message says why."""


@dataclass(frozen=True)
class TableCount:
    """One table's rows: in SQLite, copied, already in PostgreSQL (``force``), and in PostgreSQL after."""

    table: str
    source: int
    copied: int
    already_there: int
    target: int
    created: bool

    @property
    def accounted_for(self) -> bool:
        return self.copied + self.already_there == self.source


@dataclass(frozen=True)
class TransferReport:
    """What was copied where, table by table."""

    source: Path
    target: str  # the URL without its password
    tables: tuple[TableCount, ...]
    skipped_virtual: tuple[str, ...] = ()

    @property
    def total_source(self) -> int:
        return sum(table.source for table in self.tables)

    def lines(self) -> list[str]:
        """The table of counts, as printed by ``tui-bot db migrate-to``."""
        header = ("table", "SQLite rows", "copied", "already there", "PostgreSQL rows")
        rows = [
            (
                table.table + (" (created)" if table.created else ""),
                str(table.source),
                str(table.copied),
                str(table.already_there),
                str(table.target),
            )
            for table in self.tables
        ]
        rows.append(
            (
                "total",
                str(self.total_source),
                str(sum(t.copied for t in self.tables)),
                str(sum(t.already_there for t in self.tables)),
                str(sum(t.target for t in self.tables)),
            )
        )
        widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]

        def line(cells: Sequence[str]) -> str:
            first = cells[0].ljust(widths[0])
            rest = "  ".join(cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True))
            return f"{first}  {rest}"

        out = [line(header), "  ".join("-" * width for width in widths)]
        out.extend(line(row) for row in rows[:-1])
        out.append("  ".join("-" * width for width in widths))
        out.append(line(rows[-1]))
        for name in self.skipped_virtual:
            out.append(f"not copied: {name} is an SQLite virtual table (full-text search...): recreate it")
        return out


def quote_ident(name: str) -> str:
    """An SQL identifier in double quotes (valid in SQLite and PostgreSQL alike)."""
    return '"' + name.replace('"', '""') + '"'


# ---------------------------------------------------------------------------------------------
# Column types.


def postgres_type(declared: str, stored_types: set[str] | None = None) -> str:
    """The PostgreSQL type for an SQLite column declared as ``declared`` (SQLite's affinity rules,
    with dates and booleans kept as such). A column without a declared type takes its type from the
    values it holds (``stored_types``: SQLite's ``typeof()`` of each, NULLs left out)."""
    upper = declared.upper()
    if not upper.strip():
        kinds = stored_types or set()
        if kinds and kinds <= {"integer"}:
            return "BIGINT"
        if kinds and kinds <= {"integer", "real"}:
            return "DOUBLE PRECISION"
        if kinds == {"blob"}:
            return "BYTEA"
        return "TEXT"
    if "BOOL" in upper:
        return "BOOLEAN"
    if "INT" in upper:
        return "BIGINT"
    if "CHAR" in upper or "CLOB" in upper or "TEXT" in upper or "JSON" in upper:
        return "TEXT"
    if "BLOB" in upper:
        return "BYTEA"
    if "REAL" in upper or "FLOA" in upper or "DOUB" in upper:
        return "DOUBLE PRECISION"
    if "TIMESTAMP" in upper or "DATETIME" in upper:
        return "TIMESTAMP"
    if "DATE" in upper:
        return "DATE"
    if "NUMERIC" in upper or "DECIMAL" in upper:
        return "NUMERIC"
    return "TEXT"


class _Unconvertible(ValueError):
    pass


def _to_int(value: Any) -> int:
    if isinstance(value, bool | int):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        return int(value.strip())
    raise _Unconvertible


def _to_float(value: Any) -> float:
    if isinstance(value, bool | int | float):
        return float(value)
    if isinstance(value, str):
        return float(value)
    raise _Unconvertible


def _to_text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return str(value)


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool | int) and int(value) in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("0", "1", "true", "false", "t", "f"):
        return value.strip().lower() in ("1", "true", "t")
    raise _Unconvertible


def _to_datetime(value: Any, *, aware: bool) -> datetime:
    if isinstance(value, int | float) and not isinstance(value, bool):
        moment = datetime.fromtimestamp(value, UTC)
    elif isinstance(value, str):
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    else:
        raise _Unconvertible
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # SQLite's CURRENT_TIMESTAMP is UTC
    moment = moment.astimezone(UTC)
    return moment if aware else moment.replace(tzinfo=None)


def _to_date(value: Any) -> date:
    if isinstance(value, str):
        text = value.strip()
        return datetime.fromisoformat(text).date() if len(text) > 10 else date.fromisoformat(text)
    raise _Unconvertible


def _to_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    raise _Unconvertible


def _to_json_text(value: Any) -> str:
    text = _to_text(value)
    json.loads(text)  # refused here with the row named, rather than by the server
    return text


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "bigint": _to_int,
    "integer": _to_int,
    "smallint": _to_int,
    "text": _to_text,
    "character varying": _to_text,
    "character": _to_text,
    "double precision": _to_float,
    "real": _to_float,
    "numeric": lambda value: Decimal(str(value)),
    "boolean": _to_bool,
    "timestamp without time zone": lambda value: _to_datetime(value, aware=False),
    "timestamp with time zone": lambda value: _to_datetime(value, aware=True),
    "date": _to_date,
    "bytea": _to_bytes,
    "json": _to_json_text,
    "jsonb": _to_json_text,
}


def _converter(pg_type: str) -> Callable[[Any], Any]:
    return _CONVERTERS.get(pg_type, _to_text)


# ---------------------------------------------------------------------------------------------
# Reading the source.


@dataclass(frozen=True)
class _Column:
    name: str
    declared: str
    not_null: bool
    pk_position: int  # 0: not part of the primary key


@dataclass(frozen=True)
class _SourceTable:
    name: str
    columns: tuple[_Column, ...]
    source_rows: int


async def _source_tables(db: Database) -> tuple[list[_SourceTable], list[str]]:
    """The tables of the SQLite file (framework ones first) and the names of virtual tables skipped."""
    conn = db.conn
    listed = await conn.execute_fetchall(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
    )
    virtual = sorted(
        str(row["name"]) for row in listed if str(row["sql"] or "").upper().startswith("CREATE VIRTUAL")
    )
    names = [str(row["name"]) for row in listed if str(row["name"]) not in virtual]
    names.sort(key=lambda name: (FRAMEWORK_TABLES.index(name) if name in FRAMEWORK_TABLES else 99, name))
    tables = []
    for name in names:
        info = await conn.execute_fetchall(f"PRAGMA table_info({quote_ident(name)})")
        columns = tuple(
            _Column(str(row["name"]), str(row["type"] or ""), bool(row["notnull"]), int(row["pk"]))
            for row in info
        )
        count = await conn.execute_fetchall(f"SELECT count(*) FROM {quote_ident(name)}")
        tables.append(_SourceTable(name, columns, int(next(iter(count))[0])))
    return tables, virtual


async def _stored_types(db: Database, table: str, column: str) -> set[str]:
    rows = await db.conn.execute_fetchall(
        f"SELECT DISTINCT typeof({quote_ident(column)}) FROM {quote_ident(table)} "
        f"WHERE {quote_ident(column)} IS NOT NULL"
    )
    return {str(row[0]) for row in rows}


# ---------------------------------------------------------------------------------------------
# The target.


async def _target_columns(conn: Any, table: str) -> dict[str, str]:
    """``{column: data_type}`` of ``table`` in PostgreSQL's current schema ({} when it does not exist)."""
    rows = await conn.fetch(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
        table,
    )
    return {str(row["column_name"]): str(row["data_type"]) for row in rows}


async def _count(conn: Any, table: str) -> int:
    return int(await conn.fetchval(f"SELECT count(*) FROM {quote_ident(table)}"))


async def _create_table(db: Database, conn: Any, table: _SourceTable) -> None:
    keys = sorted((c for c in table.columns if c.pk_position), key=lambda c: c.pk_position)
    row_id = len(keys) == 1 and keys[0].declared.strip().upper() == "INTEGER"
    parts = []
    for column in table.columns:
        if row_id and column is keys[0]:
            parts.append(f"{quote_ident(column.name)} BIGINT GENERATED BY DEFAULT AS IDENTITY")
            continue
        stored = await _stored_types(db, table.name, column.name) if not column.declared.strip() else None
        kind = postgres_type(column.declared, stored)
        parts.append(f"{quote_ident(column.name)} {kind}" + (" NOT NULL" if column.not_null else ""))
    if keys:
        parts.append(f"PRIMARY KEY ({', '.join(quote_ident(c.name) for c in keys)})")
    await conn.execute(f"CREATE TABLE {quote_ident(table.name)} ({', '.join(parts)})")


async def _continue_sequences(conn: Any, table: str, columns: Sequence[str]) -> None:
    """Identity and serial columns go on after the highest copied value, not from 1."""
    for column in columns:
        sequence = await conn.fetchval("SELECT pg_get_serial_sequence($1, $2)", quote_ident(table), column)
        if sequence is None:
            continue
        highest = await conn.fetchval(f"SELECT max({quote_ident(column)}) FROM {quote_ident(table)}")
        if highest is not None:
            await conn.execute("SELECT setval($1::regclass, $2)", sequence, int(highest))


async def _copy_rows(source: Database, conn: Any, table: _SourceTable, target_types: dict[str, str]) -> None:
    names = [column.name for column in table.columns]
    converters = [_converter(target_types[name]) for name in names]
    insert = (
        f"INSERT INTO {quote_ident(table.name)} ({', '.join(quote_ident(n) for n in names)}) "
        f"VALUES ({', '.join(f'${i}' for i in range(1, len(names) + 1))}) ON CONFLICT DO NOTHING"
    )
    select = f"SELECT {', '.join(quote_ident(n) for n in names)} FROM {quote_ident(table.name)}"
    number = 0
    async with source.conn.execute(select) as cursor:
        while batch := await cursor.fetchmany(BATCH_ROWS):
            records: list[list[Any]] = []
            for row in batch:
                number += 1
                record: list[Any] = []
                for name, convert, value in zip(names, converters, tuple(row), strict=True):
                    if value is None:
                        record.append(None)
                        continue
                    try:
                        record.append(convert(value))
                    except (ValueError, TypeError, ArithmeticError) as error:
                        shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
                        raise TransferError(
                            f"Row {number} of table {table.name}: column {name} holds {shown}, which cannot "
                            f"be stored in PostgreSQL's {target_types[name]} column"
                            + (f" ({error})" if str(error) else "")
                            + ". Nothing was copied."
                        ) from error
                records.append(record)
            await conn.executemany(insert, records)


# ---------------------------------------------------------------------------------------------
# The whole copy.


async def copy_sqlite_to_postgres(source: Path, url: str, *, force: bool = False) -> TransferReport:
    """Copy every table of the SQLite file ``source`` into the PostgreSQL database at ``url``.

    Raises :class:`TransferError` (nothing copied) when the file is missing, the target already holds
    rows (unless ``force``), a value cannot be stored, or the counts do not match afterwards; and
    :class:`DatabaseError` when either database cannot be opened.
    """
    if not await asyncio.to_thread(source.is_file):
        raise TransferError(
            f"There is no SQLite database at {source} (give its path with --from, or run from the bot "
            "folder whose config.json names it)."
        )
    sqlite = Database(source)
    target = PostgresDatabase(url)
    await sqlite.connect()
    try:
        await target.connect()
        try:
            return await _copy(sqlite, target, force=force)
        finally:
            await target.close(backup=False)
    finally:
        await sqlite.close(backup=False)


async def _copy(sqlite: Database, target: PostgresDatabase, *, force: bool) -> TransferReport:
    import asyncpg

    tables, virtual = await _source_tables(sqlite)
    tables = [table for table in tables if table.name != VERSION_TABLE]
    counts: list[TableCount] = []
    async with target.pool.acquire() as conn:
        existing = {table.name: await _target_columns(conn, table.name) for table in tables}
        before = {name: await _count(conn, name) for name, columns in existing.items() if columns}
        holding = {name: rows for name, rows in before.items() if rows}
        if holding and not force:
            listed = ", ".join(
                f"{name} ({rows} {'row' if rows == 1 else 'rows'})" for name, rows in holding.items()
            )
            raise TransferError(
                f"The PostgreSQL database {target.location} already holds data: {listed}. Nothing was "
                "copied. To merge into it anyway, run again with --force (rows whose key is already there "
                "are kept as they are)."
            )
        try:
            async with conn.transaction():
                for table in tables:
                    columns = existing[table.name]
                    created = not columns
                    if created:
                        await _create_table(sqlite, conn, table)
                        columns = await _target_columns(conn, table.name)
                    missing = [c.name for c in table.columns if c.name not in columns]
                    if missing:
                        raise TransferError(
                            f"Table {table.name} in PostgreSQL has no column {', '.join(missing)} that the "
                            "SQLite table has. Nothing was copied: add the column in PostgreSQL (or drop "
                            "the table there to have it created), then run again."
                        )
                    await _copy_rows(sqlite, conn, table, columns)
                    await _continue_sequences(conn, table.name, list(columns))
                    after = await _count(conn, table.name)
                    copied = after - before.get(table.name, 0)
                    count = TableCount(
                        table.name, table.source_rows, copied, table.source_rows - copied, after, created
                    )
                    if copied > table.source_rows or (not force and not count.accounted_for):
                        raise TransferError(
                            f"Table {table.name}: {table.source_rows} rows in SQLite but {copied} added in "
                            "PostgreSQL. Nothing was copied."
                        )
                    counts.append(count)
        except (asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            raise TransferError(
                f"PostgreSQL refused the copy ({error}). Nothing was copied to {target.location}."
            ) from error
    return TransferReport(sqlite.path, target.location, tuple(counts), tuple(virtual))
