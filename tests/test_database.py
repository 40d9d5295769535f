"""The SQLite storage layer, on real database files: what a user would see in the db, on disk, in messages."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import re
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from tui_bot.storage import backups as backups_module
from tui_bot.storage.backups import list_backups
from tui_bot.storage.database import Database, DatabaseCorruptError, DatabaseError
from tui_bot.storage.migrations import MIGRATIONS, Migration, latest_version

EXPECTED_TABLES = {"guild_settings", "user_data", "command_stats", "command_permissions"}


# ---------------------------------------------------------------------------- helpers


def query(path: Path, sql: str, params: tuple = ()) -> list[tuple]:
    """Read with a second, plain sqlite3 connection (what another program would see on disk)."""
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def read(path: Path) -> bytes:
    return path.read_bytes()


def write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def names_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def tables(path: Path) -> set[str]:
    return {name for (name,) in query(path, "SELECT name FROM sqlite_master WHERE type = 'table'")}


def user_version(path: Path) -> int:
    return query(path, "PRAGMA user_version")[0][0]


def backup_re(db_path: Path) -> re.Pattern[str]:
    return re.compile(re.escape(db_path.name) + r"\.backup_\d{8}_\d{6}(_\d+)?")


async def poll(condition: Callable[[], bool], limit: float = 3.0) -> float:
    """Wait until ``condition()`` holds; returns the seconds it took. Fails after ``limit`` seconds."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > limit:
            raise AssertionError(f"condition not met within {limit}s")
        await asyncio.sleep(0.01)
    return time.monotonic() - start


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "bot.db"  # "data" does not exist yet: connect() creates it


@pytest.fixture
async def open_db(db_path: Path) -> AsyncIterator[Callable[..., Awaitable[Database]]]:
    """``await open_db(**kwargs)`` connects a Database; every one is closed (without backup) afterwards."""
    opened: list[Database] = []

    async def factory(path: Path | None = None, **kwargs) -> Database:
        db = Database(path or db_path, **kwargs)
        await db.connect()
        opened.append(db)
        return db

    yield factory
    for db in opened:
        with contextlib.suppress(DatabaseError):
            await db.close(backup=False)


# ---------------------------------------------------------------------------- connect / schema


async def test_fresh_connect_creates_schema_wal_and_pragmas(open_db, db_path: Path) -> None:
    db = await open_db()
    assert names_in(db_path.parent) == ["bot.db", "bot.db-shm", "bot.db-wal"]
    assert tables(db_path) >= EXPECTED_TABLES
    cols = {row[1]: row for row in query(db_path, "PRAGMA table_info(guild_settings)")}
    assert cols["settings"][3] == 1 and cols["settings"][4] == "'{}'"  # NOT NULL DEFAULT '{}'

    async def pragma(name: str):
        rows = await db.conn.execute_fetchall(f"PRAGMA {name}")
        return next(iter(rows))[0]

    assert await pragma("journal_mode") == "wal"
    assert await pragma("synchronous") == 1  # NORMAL
    assert await pragma("foreign_keys") == 1
    assert await pragma("busy_timeout") == 5000
    assert await pragma("user_version") == latest_version(MIGRATIONS)
    assert query(db_path, "PRAGMA journal_mode")[0][0] == "wal"  # persistent, seen by other programs
    # A brand-new empty file has nothing worth saving: no backup before its first migration.
    assert list_backups(db_path) == []
    assert await db.integrity_ok()


async def test_conn_before_connect_and_after_close_raises_clear_error(db_path: Path) -> None:
    db = Database(db_path)
    with pytest.raises(DatabaseError, match=r"not open.*connect"):
        _ = db.conn
    await db.connect()
    await db.connect()  # idempotent
    assert await db.close(backup=False) is None
    assert await db.close() is None  # idempotent, and no backup of a closed database
    with pytest.raises(DatabaseError, match="not open"):
        await db.get_guild_prefix(1)
    assert list_backups(db_path) == []


# ---------------------------------------------------------------------------- prefixes


async def test_guild_prefixes_set_get_clear_and_survive_reconnect(open_db, db_path: Path) -> None:
    db = await open_db()
    assert await db.get_guild_prefix(1) is None
    await db.set_guild_prefix(1, "!")
    await db.set_guild_prefix(2, "?")
    await db.set_guild_prefix(3, ">>")
    await db.set_guild_prefix(1, "$")  # overwrite
    await db.set_guild_prefix(3, None)  # clear
    assert await db.get_guild_prefix(1) == "$"
    assert await db.get_guild_prefix(3) is None
    assert await db.get_all_guild_prefixes() == {1: "$", 2: "?"}
    with pytest.raises(ValueError):
        await db.set_guild_prefix(4, "  ")
    await db.close(backup=False)

    assert query(db_path, "SELECT guild_id, prefix FROM guild_settings ORDER BY guild_id") == [
        (1, "$"),
        (2, "?"),
        (3, None),
    ]
    db2 = await open_db()
    assert await db2.get_all_guild_prefixes() == {1: "$", 2: "?"}
    assert await db2.get_guild_prefix(2) == "?"


async def test_readme_extension_author_example_via_conn(open_db, db_path: Path) -> None:
    db = await open_db()
    await db.conn.execute(
        "INSERT OR REPLACE INTO user_data (user_id, data) VALUES (?, ?)", (42, '{"coins": 10}')
    )
    await db.conn.commit()
    await db.conn.execute(
        "INSERT OR REPLACE INTO user_data (user_id, data) VALUES (?, ?)", (42, '{"coins": 15}')
    )
    await db.conn.commit()
    async with db.conn.execute("SELECT data FROM user_data WHERE user_id = ?", (42,)) as cursor:
        row = await cursor.fetchone()
    assert row["data"] == '{"coins": 15}'
    # committed, so another program sees it, with last_seen filled by its default
    assert query(db_path, "SELECT data, last_seen IS NOT NULL FROM user_data") == [('{"coins": 15}', 1)]


# ---------------------------------------------------------------------------- command stats


async def test_ten_thousand_increments_stay_in_memory_until_flush(open_db, db_path: Path) -> None:
    db = await open_db(flush_interval=3600)  # no background flush during this test
    names = [f"cmd{i}" for i in range(50)]
    changes_before = db.conn.total_changes
    for i in range(10_000):
        await db.increment_command_usage(names[i % 50])
    assert db.conn.total_changes == changes_before
    assert query(db_path, "SELECT count(*) FROM command_stats") == [(0,)]

    assert await db.flush_stats() == 50
    rows = query(db_path, "SELECT usage_count, last_used FROM command_stats")
    assert len(rows) == 50 and {count for count, _ in rows} == {200}
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", last_used) for _, last_used in rows)
    assert await db.flush_stats() == 0  # nothing pending: nothing written


async def test_close_saves_every_pending_count(open_db, db_path: Path) -> None:
    db = await open_db(flush_interval=3600)
    await db.increment_command_usage("help", 5)
    await db.flush_stats()
    for i in range(10_000):
        await db.increment_command_usage(("help", "ping", "roll")[i % 3])
    await db.close(backup=False)
    counts = dict(query(db_path, "SELECT command_name, usage_count FROM command_stats"))
    assert counts == {"help": 5 + 3334, "ping": 3333, "roll": 3333}
    assert sum(counts.values()) == 10_005


async def test_command_stats_most_used_first_including_pending(open_db) -> None:
    db = await open_db(flush_interval=3600)
    await db.increment_command_usage("help", 3)
    await db.increment_command_usage("ping", 1)
    await db.flush_stats()
    await db.increment_command_usage("ping", 5)  # pending only: ping 6 total
    await db.increment_command_usage("roll", 3)  # new and pending; ties with help -> by name
    assert await db.get_command_stats() == [("ping", 6), ("help", 3), ("roll", 3)]
    assert await db.get_command_stats(limit=2) == [("ping", 6), ("help", 3)]
    with pytest.raises(ValueError):
        await db.increment_command_usage("ping", 0)


async def test_cancelled_flush_neither_loses_nor_doubles_counts(open_db, db_path: Path) -> None:
    db = await open_db(flush_interval=3600)
    await db.increment_command_usage("ping", 3)
    caller = asyncio.create_task(db.flush_stats())
    await asyncio.sleep(0)  # the flush has started writing
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    await db.increment_command_usage("ping", 2)
    await db.close(backup=False)
    assert query(db_path, "SELECT usage_count FROM command_stats") == [(5,)]


async def test_counts_are_flushed_automatically_within_a_second(open_db, db_path: Path) -> None:
    db = await open_db()  # default flush_interval=1.0
    await db.increment_command_usage("ping", 7)
    took = await poll(lambda: query(db_path, "SELECT usage_count FROM command_stats") == [(7,)])
    assert took < 1.8


async def test_background_flush_only_writes_when_something_is_pending(open_db, monkeypatch) -> None:
    db = await open_db(flush_interval=0.02)
    calls = 0
    real_flush = db.flush_stats

    async def counting_flush() -> int:
        nonlocal calls
        calls += 1
        return await real_flush()

    monkeypatch.setattr(db, "flush_stats", counting_flush)
    await db.increment_command_usage("ping")
    await poll(lambda: calls == 1 and not db._pending)
    changes = db.conn.total_changes
    await asyncio.sleep(0.2)  # ten idle intervals: asserting an absence, polling can't do it
    assert calls == 1
    assert db.conn.total_changes == changes


async def test_failed_flush_keeps_counts_and_the_flusher_survives(open_db, db_path: Path, caplog) -> None:
    db = await open_db(flush_interval=0.02)
    await db.conn.execute("ALTER TABLE command_stats RENAME TO command_stats_away")
    await db.conn.commit()
    await db.increment_command_usage("ping", 4)
    with caplog.at_level(logging.ERROR, logger="tui_bot.storage.database"):
        await poll(lambda: any("usage counts" in r.getMessage() for r in caplog.records))
    with pytest.raises(DatabaseError, match="kept in memory"):
        await db.flush_stats()
    assert db._flush_task is not None and not db._flush_task.done()

    await db.increment_command_usage("ping", 1)
    await db.conn.execute("ALTER TABLE command_stats_away RENAME TO command_stats")
    await db.conn.commit()
    await poll(lambda: query(db_path, "SELECT usage_count FROM command_stats") == [(5,)])


# ---------------------------------------------------------------------------- migrations


async def test_new_migration_runs_once_in_a_transaction_after_a_backup(open_db, db_path: Path) -> None:
    db = await open_db()
    await db.set_guild_prefix(1, "!")
    await db.close(backup=False)
    assert list_backups(db_path) == []

    seen: list[dict] = []

    async def add_notes(conn) -> None:
        backups = list_backups(db_path)
        seen.append(
            {
                "in_transaction": conn.in_transaction,
                "backups": backups,
                "backup_version": user_version(backups[0]) if backups else None,
                "backup_tables": tables(backups[0]) if backups else set(),
                "backup_prefix": query(backups[0], "SELECT prefix FROM guild_settings") if backups else None,
            }
        )
        await conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
        await conn.execute("INSERT INTO notes (body) VALUES ('hello')")

    migrations = (*MIGRATIONS, Migration(2, "add notes", add_notes))
    db2 = await open_db(migrations=migrations)
    assert len(seen) == 1
    assert seen[0]["in_transaction"] is True
    assert len(seen[0]["backups"]) == 1
    assert backup_re(db_path).fullmatch(seen[0]["backups"][0].name)
    assert seen[0]["backup_version"] == 1 and "notes" not in seen[0]["backup_tables"]
    assert seen[0]["backup_prefix"] == [("!",)]
    assert user_version(db_path) == 2
    assert query(db_path, "SELECT body FROM notes") == [("hello",)]
    assert await db2.get_guild_prefix(1) == "!"
    await db2.close(backup=False)

    db3 = await open_db(migrations=migrations)  # already at 2: nothing runs, no new backup
    assert len(seen) == 1
    assert len(list_backups(db_path)) == 1
    assert query(db_path, "SELECT body FROM notes") == [("hello",)]
    await db3.close(backup=False)


async def test_failing_migration_rolls_back_and_names_it(open_db, db_path: Path) -> None:
    db = await open_db()
    await db.set_guild_prefix(1, "!")
    await db.close(backup=False)
    tables_before = tables(db_path)

    broken = Migration(
        2,
        "add notes and seed them",
        """
        CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);  -- a comment; with a semicolon
        INSERT INTO notes (body) VALUES ('semi;colon');
        INSERT INTO no_such_table VALUES (1);
        """,
    )
    db2 = Database(db_path, migrations=(*MIGRATIONS, broken))
    with pytest.raises(
        DatabaseError, match=r"migration 2 \(add notes and seed them\).*no_such_table"
    ) as info:
        await db2.connect()
    assert "still at schema version 1" in str(info.value)
    with pytest.raises(DatabaseError):
        _ = db2.conn
    assert user_version(db_path) == 1
    assert tables(db_path) == tables_before
    assert query(db_path, "SELECT prefix FROM guild_settings") == [("!",)]
    assert len(list_backups(db_path)) == 1  # the backup taken before trying

    db3 = await open_db()  # the old code still opens it fine
    assert await db3.get_guild_prefix(1) == "!"


async def test_database_from_a_newer_tui_bot_is_refused_and_untouched(open_db, db_path: Path) -> None:
    db = await open_db()
    await db.close(backup=False)
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    before = read(db_path)

    with pytest.raises(DatabaseError, match=r"version 99.*newer tui-bot") as info:
        await Database(db_path).connect()
    assert not isinstance(info.value, DatabaseCorruptError)
    assert read(db_path) == before
    assert list_backups(db_path) == []


async def test_unversioned_database_of_an_older_bot_is_adopted_after_a_backup(open_db, db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    conn = sqlite3.connect(db_path)
    conn.execute("CREATE TABLE user_data (user_id INTEGER PRIMARY KEY, data TEXT, last_seen TIMESTAMP)")
    conn.execute("INSERT INTO user_data (user_id, data) VALUES (7, '{}')")
    conn.commit()
    conn.close()

    db = await open_db()
    (backup,) = list_backups(db_path)
    assert query(backup, "SELECT user_id FROM user_data") == [(7,)] and user_version(backup) == 0
    assert user_version(db_path) == 1 and tables(db_path) >= EXPECTED_TABLES
    rows = await db.conn.execute_fetchall("SELECT data FROM user_data WHERE user_id = 7")
    assert [r["data"] for r in rows] == ["{}"]


# ---------------------------------------------------------------------------- backups


async def test_backup_while_tasks_write_is_a_consistent_snapshot(open_db, db_path: Path) -> None:
    db = await open_db()
    await db.conn.execute("CREATE TABLE events (task INTEGER, seq INTEGER, payload BLOB)")
    await db.conn.executemany(
        "INSERT INTO events VALUES (-1, ?, randomblob(200))", [(i,) for i in range(20_000)]
    )
    await db.conn.commit()

    started = committed = 0
    stop = asyncio.Event()

    async def writer(task: int) -> None:
        nonlocal started, committed
        seq = 0
        while not stop.is_set():
            started += 1
            await db.conn.execute("INSERT INTO events VALUES (?, ?, randomblob(200))", (task, seq))
            await db.conn.commit()
            committed += 1
            seq += 1

    writers = [asyncio.create_task(writer(t)) for t in range(4)]
    await poll(lambda: committed >= 100)
    lower = committed  # certainly committed before the backup began
    started_before = started
    t0 = time.perf_counter()
    backup = await db.backup()
    elapsed = time.perf_counter() - t0
    upper = started  # nothing inserted after this point can be in the backup
    stop.set()
    await asyncio.gather(*writers)

    assert upper > started_before, "the writers should have kept writing during the backup"
    assert backup_re(db_path).fullmatch(backup.name) and backup.parent == db_path.parent
    assert query(backup, "PRAGMA integrity_check") == [("ok",)]
    assert query(backup, "PRAGMA journal_mode") == [("delete",)]  # one self-contained file
    in_backup = query(backup, "SELECT count(*) FROM events WHERE task >= 0")[0][0]
    assert lower <= in_backup <= upper
    # Snapshot consistency: every writer's rows in the backup are exactly 0..k (no holes).
    for task, count, top in query(backup, "SELECT task, count(*), max(seq) FROM events GROUP BY task"):
        assert count == top + 1, f"task {task}: {count} rows but max seq {top}"
    print(f"backup of {20_000 + in_backup} rows with 4 writers took {elapsed * 1000:.0f} ms")


async def test_backup_retention_keeps_only_the_newest(open_db, db_path: Path) -> None:
    keep = 3
    db = await open_db(backup_keep=keep)
    strangers = ["other.db.backup_20000101_000000", "bot.db.backup_20000101_000000.txt"]
    for name in strangers:
        write(db_path.parent / name, b"not a backup of bot.db")
    made = [await db.backup() for _ in range(keep + 3)]
    assert len(set(made)) == keep + 3  # same second: suffixed, never overwritten
    remaining = list_backups(db_path)
    assert sorted(remaining) == sorted(made[-keep:])
    assert all(backup_re(db_path).fullmatch(p.name) for p in remaining)
    assert set(strangers) <= set(names_in(db_path.parent))  # older, but not ours: untouched
    assert not list(db_path.parent.glob(".*.tmp"))


async def test_backup_that_fails_its_integrity_check_is_deleted(open_db, db_path: Path, monkeypatch) -> None:
    db = await open_db()
    monkeypatch.setattr(backups_module, "_integrity_errors_of", lambda conn: ["*** page 3: simulated damage"])
    with pytest.raises(DatabaseError, match=r"integrity check.*simulated damage"):
        await db.backup()
    assert list_backups(db_path) == []
    assert names_in(db_path.parent) == ["bot.db", "bot.db-shm", "bot.db-wal"]


async def test_close_backs_up_by_default_but_not_with_backup_false(open_db, db_path: Path) -> None:
    db = await open_db()
    await db.set_guild_prefix(5, "%")
    await db.increment_command_usage("ping", 2)
    backup = await db.close()
    assert backup is not None and list_backups(db_path) == [backup]
    # the backup was taken after the final flush: it has the counts too
    assert query(backup, "SELECT command_name, usage_count FROM command_stats") == [("ping", 2)]
    assert query(backup, "SELECT prefix FROM guild_settings") == [("%",)]

    db2 = await open_db()
    assert await db2.close(backup=False) is None
    assert list_backups(db_path) == [backup]


# ---------------------------------------------------------------------------- corrupt databases


async def test_garbage_database_is_refused_naming_the_good_backup_and_left_untouched(
    open_db, db_path: Path
) -> None:
    db = await open_db()
    await db.set_guild_prefix(1, "!")
    good = await db.close()
    assert good is not None
    garbage = random.Random(1).randbytes(8192)
    write(db_path, garbage)
    files_before = names_in(db_path.parent)

    db2 = Database(db_path)
    with pytest.raises(DatabaseCorruptError) as info:
        await db2.connect()
    message = str(info.value)
    assert str(db_path) in message and str(good) in message
    assert "restore" in message
    assert info.value.backup == good and info.value.path == db_path
    assert read(db_path) == garbage
    assert names_in(db_path.parent) == files_before
    with pytest.raises(DatabaseError):
        _ = db2.conn


async def test_garbage_database_without_backup_says_so(db_path: Path) -> None:
    write(db_path, b"this is not a database\n" * 10)
    with pytest.raises(DatabaseCorruptError, match="No good backup") as info:
        await Database(db_path).connect()
    assert str(db_path) in str(info.value) and info.value.backup is None
    assert read(db_path) == b"this is not a database\n" * 10


async def test_damaged_pages_and_damaged_newest_backup(open_db, db_path: Path) -> None:
    db = await open_db()
    await db.conn.execute("CREATE TABLE filler (id INTEGER PRIMARY KEY, body TEXT)")
    await db.conn.executemany("INSERT INTO filler (body) VALUES (?)", [("x" * 300,) for _ in range(2000)])
    await db.conn.execute("CREATE INDEX filler_body ON filler (body)")
    await db.conn.commit()
    older = await db.backup()
    newer = await db.close()
    assert newer is not None and newer != older
    write(newer, b"garbage" * 100)  # the newest backup is damaged too

    data = bytearray(read(db_path))
    page_size = 4096
    data[page_size * 5 : page_size * 12] = random.Random(2).randbytes(page_size * 7)  # keep the header
    write(db_path, bytes(data))

    with pytest.raises(DatabaseCorruptError) as info:
        await Database(db_path).connect()
    assert info.value.backup == older
    assert str(older) in str(info.value) and str(newer) not in str(info.value)
    assert read(db_path) == bytes(data)


# ---------------------------------------------------------------------------- command roles


async def test_command_roles_per_guild(open_db, db_path: Path) -> None:
    db = await open_db()
    await db.add_command_role(1, "ban", 300)
    await db.add_command_role(1, "ban", 100)
    await db.add_command_role(1, "ban", 100)  # duplicate: ignored
    await db.add_command_role(1, "kick", 200)
    await db.add_command_role(2, "ban", 999)
    assert await db.get_command_roles(1) == {"ban": [100, 300], "kick": [200]}
    assert await db.get_command_roles(2) == {"ban": [999]}
    assert await db.get_command_roles(3) == {}

    await db.clear_command_roles(1, "ban")
    assert await db.get_command_roles(1) == {"kick": [200]}
    assert await db.get_command_roles(2) == {"ban": [999]}
    await db.close(backup=False)
    assert sorted(query(db_path, "SELECT guild_id, command_name, role_id FROM command_permissions")) == [
        (1, "kick", 200),
        (2, "ban", 999),
    ]
