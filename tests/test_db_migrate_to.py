"""``tui-bot db migrate-to URL``: a populated SQLite database copied into PostgreSQL, every row accounted for.

The command runs as a user runs it (a real process in a bot folder), against a fresh PostgreSQL database.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import datetime
from pathlib import Path

import pytest
from helpers import postgres as postgres_helpers
from helpers.postgres import query

from tui_bot.storage import Database, PostgresDatabase
from tui_bot.storage.transfer import postgres_type

postgres_url = postgres_helpers.postgres_url  # the fixture: a fresh database per test

PASSWORD = "migrate-secret-pw"
GUILDS = {111: "?", 222: "$", 333: None}  # 333 has settings but no prefix of its own
ROLE_RULES = [(111, "ban", 900), (111, "ban", 901), (222, "kick", 902)]
USES = {"help": 7, "ban": 2, "ping": 40}
# An extension's own table, with the column types extensions write (and one without a type).
REMINDERS = """
CREATE TABLE reminders (
    id      INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL,
    due     TIMESTAMP,
    text    VARCHAR(200),
    done    BOOLEAN,
    payload BLOB,
    score   REAL,
    misc
)
"""
REMINDER_ROWS = [
    (1, 501, "2024-05-01 12:00:00", "stretch", 0, b"\x00\x01", 1.5, 7),
    (2, 502, "2024-05-02T08:30:00", "water the plants", 1, None, None, 8),
    (5, 501, None, "it's a 'quoted' text; DROP TABLE x", 1, b"", -2.0, None),
]


async def populate(path: Path) -> None:
    """A database as a bot leaves it: prefixes, role rules, usage counts, user data, an extension's table."""
    db = Database(path)
    await db.connect()
    for guild_id, prefix in GUILDS.items():
        await db.set_guild_prefix(guild_id, prefix)
    for guild_id, command, role_id in ROLE_RULES:
        await db.add_command_role(guild_id, command, role_id)
    for command, uses in USES.items():
        await db.increment_command_usage(command, uses)
    await db.flush_stats()
    await db.execute("INSERT INTO user_data (user_id, data) VALUES ($1, $2)", 501, '{"theme": "dark"}')
    await db.execute(REMINDERS)
    await db.executemany("INSERT INTO reminders VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", REMINDER_ROWS)
    await db.close(backup=False)


async def migrate_to(folder: Path, *args: str) -> tuple[int, str, str]:
    """Run ``python -m tui_bot db migrate-to ARGS`` in ``folder``; (exit code, stdout, stderr)."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tui_bot",
        "db",
        "migrate-to",
        *args,
        cwd=folder,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def counts_table(stdout: str) -> dict[str, list[str]]:
    """The printed table of counts: ``{table: [SQLite rows, copied, already there, PostgreSQL rows]}``."""
    rows = {}
    for line in stdout.splitlines():
        cells = line.split()
        if len(cells) >= 5 and cells[-4:] and all(cell.isdigit() for cell in cells[-4:]):
            rows[cells[0]] = cells[-4:]
    return rows


def with_password(url: str) -> str:
    return url.replace("postgresql://postgres@", f"postgresql://postgres:{PASSWORD}@")


async def test_every_row_of_a_populated_database_is_copied_and_counted(
    tmp_path: Path, postgres_url: str
) -> None:
    data = tmp_path / "data"
    await populate(data / "bot.db")
    (tmp_path / "config.json").write_text(json.dumps({"database": {"path": "data/bot.db"}}))

    code, out, err = await migrate_to(tmp_path, with_password(postgres_url))
    assert code == 0, err
    assert PASSWORD not in out + err
    assert out.startswith(f"Copied data/bot.db to {with_password(postgres_url).replace(PASSWORD, '***')}:")
    assert counts_table(out) == {
        "guild_settings": ["3", "3", "0", "3"],
        "command_permissions": ["3", "3", "0", "3"],
        "command_stats": ["3", "3", "0", "3"],
        "user_data": ["1", "1", "0", "1"],
        "reminders": ["3", "3", "0", "3"],
        "total": ["13", "13", "0", "13"],
    }
    assert "reminders (created)" in out
    assert "Every row is accounted for: 13 rows in 5 tables." in out

    # Row by row, as the bot and the extension will read them.
    prefixes = await query(postgres_url, "SELECT guild_id, prefix FROM guild_settings ORDER BY guild_id")
    assert [(r["guild_id"], r["prefix"]) for r in prefixes] == list(GUILDS.items())
    rules = await query(
        postgres_url, "SELECT guild_id, command_name, role_id FROM command_permissions ORDER BY 1, 2, 3"
    )
    assert [tuple(r.values()) for r in rules] == ROLE_RULES
    stats = await query(postgres_url, "SELECT command_name, usage_count, last_used FROM command_stats")
    assert {r["command_name"]: r["usage_count"] for r in stats} == USES
    assert all(isinstance(r["last_used"], datetime) for r in stats)
    assert await query(postgres_url, "SELECT user_id, data FROM user_data") == [
        {"user_id": 501, "data": '{"theme": "dark"}'}
    ]
    reminders = await query(postgres_url, "SELECT * FROM reminders ORDER BY id")
    assert [tuple(r.values()) for r in reminders] == [
        (1, 501, datetime(2024, 5, 1, 12), "stretch", False, b"\x00\x01", 1.5, 7),
        (2, 502, datetime(2024, 5, 2, 8, 30), "water the plants", True, None, None, 8),
        (5, 501, None, "it's a 'quoted' text; DROP TABLE x", True, b"", -2.0, None),
    ]
    types = await query(
        postgres_url,
        "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
        "WHERE table_name = 'reminders' ORDER BY ordinal_position",
    )
    assert [(t["column_name"], t["data_type"], t["is_nullable"]) for t in types] == [
        ("id", "bigint", "NO"),
        ("user_id", "bigint", "NO"),
        ("due", "timestamp without time zone", "YES"),
        ("text", "text", "YES"),
        ("done", "boolean", "YES"),
        ("payload", "bytea", "YES"),
        ("score", "double precision", "YES"),
        ("misc", "bigint", "YES"),  # no declared type: its values are all integers
    ]
    # The row id goes on after the copied rows, as SQLite's would.
    added = await query(postgres_url, "INSERT INTO reminders (user_id) VALUES (503) RETURNING id")
    assert added == [{"id": 6}]
    # The SQLite file is still there, with its rows (it was only read).
    source = Database(data / "bot.db")
    await source.connect()
    assert await source.fetchval("SELECT count(*) FROM reminders") == 3
    await source.close(backup=False)


async def test_a_target_with_rows_is_refused_unless_forced(tmp_path: Path, postgres_url: str) -> None:
    await populate(tmp_path / "old.db")
    # The target already has one of the guilds, with another prefix, and a use of "ping".
    target = PostgresDatabase(postgres_url)
    await target.connect()
    await target.set_guild_prefix(111, "!!")
    await target.increment_command_usage("ping", 1)
    await target.close(backup=False)

    code, out, err = await migrate_to(tmp_path, postgres_url, "--from", "old.db")
    assert code == 1 and out == ""
    assert err.startswith("tui-bot db migrate-to: The PostgreSQL database")
    assert "already holds data: guild_settings (1 row), command_stats (1 row). Nothing was copied." in err
    assert "--force" in err
    assert await query(postgres_url, "SELECT count(*) AS n FROM command_permissions") == [{"n": 0}]

    code, out, err = await migrate_to(tmp_path, postgres_url, "--from", "old.db", "--force")
    assert code == 0, err
    table = counts_table(out)
    assert table["guild_settings"] == ["3", "2", "1", "3"]  # guild 111 was already there: kept
    assert table["command_stats"] == ["3", "2", "1", "3"]
    assert table["command_permissions"] == ["3", "3", "0", "3"]
    assert table["total"] == ["13", "11", "2", "13"]
    prefixes = await query(postgres_url, "SELECT guild_id, prefix FROM guild_settings ORDER BY guild_id")
    assert [(r["guild_id"], r["prefix"]) for r in prefixes] == [(111, "!!"), (222, "$"), (333, None)]


async def test_a_value_postgresql_cannot_store_copies_nothing(tmp_path: Path, postgres_url: str) -> None:
    db = Database(tmp_path / "bot.db")
    await db.connect()
    await db.set_guild_prefix(1, "?")
    await db.execute("CREATE TABLE scores (user_id INTEGER PRIMARY KEY, points INTEGER)")
    # SQLite keeps text in an INTEGER column; PostgreSQL will not.
    await db.executemany("INSERT INTO scores VALUES ($1, $2)", [(1, 10), (2, "lots")])
    await db.close(backup=False)

    code, out, err = await migrate_to(tmp_path, postgres_url, "--from", "bot.db")
    assert code == 1, out
    assert (
        "Row 2 of table scores: column points holds 'lots', which cannot be stored in PostgreSQL's bigint"
        in err
    )
    assert "Nothing was copied" in err and "Traceback" not in err
    # All or nothing: not even the guild's prefix, and no half-created table.
    assert await query(postgres_url, "SELECT count(*) AS n FROM guild_settings") == [{"n": 0}]
    assert await query(postgres_url, "SELECT to_regclass('scores') IS NULL AS gone") == [{"gone": True}]


async def test_missing_file_and_bad_url_are_clear_messages(tmp_path: Path, postgres_url: str) -> None:
    code, out, err = await migrate_to(tmp_path, postgres_url, "--from", "nowhere.db")
    assert code == 1 and out == ""
    assert err.startswith("tui-bot db migrate-to: There is no SQLite database at nowhere.db")

    code, out, err = await migrate_to(tmp_path, f"mysql://root:{PASSWORD}@127.0.0.1/bot")
    assert code == 78 and out == ""
    assert "must be a PostgreSQL URL starting with postgresql:// or postgres://" in err
    assert PASSWORD not in err and "mysql://root:***@127.0.0.1/bot" in err

    code, out, err = await migrate_to(tmp_path)  # no URL, no DATABASE_URL, no database.url
    assert code == 78 and "no PostgreSQL URL" in err


async def test_the_url_may_come_from_database_url_in_env(tmp_path: Path, postgres_url: str) -> None:
    await populate(tmp_path / "data" / "bot.db")
    (tmp_path / ".env").write_text(f"DATABASE_URL={with_password(postgres_url)}\n")
    code, out, err = await migrate_to(tmp_path)
    assert code == 0, err
    assert counts_table(out)["total"] == ["13", "13", "0", "13"] and PASSWORD not in out + err


@pytest.mark.parametrize(
    ("declared", "stored", "expected"),
    [
        ("INTEGER", None, "BIGINT"),
        ("unsigned big int", None, "BIGINT"),
        ("VARCHAR(20)", None, "TEXT"),
        ("JSON", None, "TEXT"),
        ("BLOB", None, "BYTEA"),
        ("DOUBLE", None, "DOUBLE PRECISION"),
        ("DATETIME", None, "TIMESTAMP"),
        ("DATE", None, "DATE"),
        ("BOOLEAN", None, "BOOLEAN"),
        ("DECIMAL(10,5)", None, "NUMERIC"),
        ("", {"integer", "real"}, "DOUBLE PRECISION"),
        ("", {"integer", "text"}, "TEXT"),
        ("", set(), "TEXT"),
    ],
)
def test_sqlite_column_types_map_to_postgresql(declared: str, stored: set[str] | None, expected: str) -> None:
    assert postgres_type(declared, stored) == expected
