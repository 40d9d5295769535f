"""The database is never silently replaced: blank files refused, retention keeps the data, shutdown
failures reported, and temporary files of crashed writes removed. Real files, real SQLite, real bot."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tui_bot import exit_codes
from tui_bot.config import ConfigStore
from tui_bot.config.env import Secrets
from tui_bot.runtime import BotRuntime
from tui_bot.storage.backups import list_backups
from tui_bot.storage.database import Database, DatabaseCorruptError, DatabaseError

HOUR = 3600


def query(path: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def folder_state(folder: Path) -> dict[str, bytes]:
    """Every file in ``folder`` with its bytes: what "nothing changed" is checked against."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def age(path: Path, seconds: float) -> Path:
    """Set ``path``'s modification time ``seconds`` in the past."""
    stamp = time.time() - seconds
    os.utime(path, (stamp, stamp))
    return path


def touch(path: Path, seconds_old: float = 0, data: bytes = b"partial") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return age(path, seconds_old)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "bot.db"


async def make_backup_with_data(db_path: Path) -> Path:
    """A database with a guild prefix, closed with its shutdown backup; returns that backup."""
    db = Database(db_path, backup_keep=3)
    await db.connect()
    await db.set_guild_prefix(1, "?")
    backup = await db.close()
    assert backup is not None
    return backup


# ---------------------------------------------------------------------------- blank files at start-up


async def test_zero_byte_file_with_a_backup_is_refused_untouched(db_path: Path) -> None:
    good = await make_backup_with_data(db_path)
    db_path.write_bytes(b"")
    before = folder_state(db_path.parent)

    db = Database(db_path, backup_keep=3)
    with pytest.raises(DatabaseCorruptError) as info:
        await db.connect()
    message = str(info.value)
    assert f"{db_path} is empty (0 bytes)" in message
    assert f"The newest good backup is {good}. To restore it: stop the bot" in message
    assert f"copy {good} to {db_path}" in message
    assert "only set up as a new database when it has no backup; this one has 1 backup." in message
    assert info.value.backup == good
    assert folder_state(db_path.parent) == before  # the file still 0 bytes, no backup made or deleted
    assert not db.connected


async def test_schemaless_file_is_refused_naming_the_backup_with_data(db_path: Path) -> None:
    good = await make_backup_with_data(db_path)
    # Newer backups of an empty database (a run that started over) do not hide the one with data.
    db_path.rename(db_path.with_name("old.db"))
    db = Database(db_path, backup_keep=3)
    await db.connect()
    empty_backup = await db.backup()
    await db.close(backup=False)
    # A real SQLite file whose tables are gone (dropped, or an empty file some tool wrote).
    db_path.unlink()
    with sqlite3.connect(db_path) as conn:
        conn.execute("CREATE TABLE t (x)")
        conn.execute("DROP TABLE t")
    conn.close()
    before = folder_state(db_path.parent)

    with pytest.raises(DatabaseCorruptError) as info:
        await Database(db_path).connect()
    assert "without any table (schema version 0): its schema is gone" in str(info.value)
    assert info.value.backup == good and str(empty_backup) not in str(info.value)
    assert folder_state(db_path.parent) == before


async def test_tables_gone_at_a_schema_version_is_refused_even_without_backups(db_path: Path) -> None:
    db_path.parent.mkdir()
    with sqlite3.connect(db_path) as conn:
        conn.execute("PRAGMA user_version = 1")
    conn.close()
    before = db_path.read_bytes()
    with pytest.raises(DatabaseCorruptError, match=r"schema version 1.*contents were lost") as info:
        await Database(db_path).connect()
    assert info.value.backup is None and db_path.read_bytes() == before


async def test_zero_byte_file_without_any_backup_becomes_a_new_database(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # What an interrupted first start leaves: nothing to restore, so it is set up like a new file.
    db_path.parent.mkdir()
    db_path.write_bytes(b"")
    db = Database(db_path)
    with caplog.at_level(logging.WARNING, logger="tui_bot.storage.database"):
        await db.connect()
    await db.set_guild_prefix(7, "$")
    await db.close(backup=False)
    assert "is empty (0 bytes) and has no backup: setting it up as a new database" in caplog.text
    assert query(db_path, "SELECT guild_id, prefix FROM guild_settings") == [(7, "$")]


async def test_missing_file_starts_over_while_the_backups_are_kept(db_path: Path) -> None:
    good = await make_backup_with_data(db_path)
    db_path.rename(db_path.with_name("moved-aside.db"))
    db = Database(db_path)
    await db.connect()
    assert await db.get_all_guild_prefixes() == {}
    await db.close()
    assert list_backups(db_path) == [good]


# ---------------------------------------------------------------------------- retention


async def test_restarts_on_an_empty_database_keep_the_backup_with_data(db_path: Path) -> None:
    good = await make_backup_with_data(db_path)
    good_bytes = good.read_bytes()

    # The case of the report: the file truncated to 0 bytes, then restarted again and again.
    db_path.write_bytes(b"")
    for _ in range(4):
        with pytest.raises(DatabaseCorruptError):
            await Database(db_path, backup_keep=3).connect()
    assert list_backups(db_path) == [good]

    # Started over on purpose (file moved aside): runs on the empty database take no shutdown backup.
    db_path.unlink()
    for _ in range(4):
        db = Database(db_path, backup_keep=3)
        await db.connect()
        assert await db.close() is None
    assert list_backups(db_path) == [good] and good.read_bytes() == good_bytes

    # Once the new database holds data its backups count, and retention applies as usual.
    db = Database(db_path, backup_keep=3)
    await db.connect()
    await db.increment_command_usage("ping")
    made = [await db.backup() for _ in range(3)]
    await db.close(backup=False)
    assert list_backups(db_path) == made[::-1]


async def test_explicit_backups_of_an_empty_database_never_push_out_the_one_with_data(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    good = await make_backup_with_data(db_path)
    db_path.unlink()
    for name in ("bot.db-wal", "bot.db-shm"):
        (db_path.parent / name).unlink(missing_ok=True)
    db = Database(db_path, backup_keep=2)
    await db.connect()
    with caplog.at_level(logging.INFO, logger="tui_bot.storage.database"):
        empties = [await db.backup() for _ in range(5)]  # asked for: taken, but hold no data
    await db.close(backup=False)
    assert list_backups(db_path) == [empties[-1], empties[-2], good]  # keep=2, plus the one with data
    assert f"Keeping backup {good}" in caplog.text and "newest backup that holds data" in caplog.text


# ---------------------------------------------------------------------------- shutdown saves

REFUSE_STATS = """
CREATE TRIGGER refuse_insert BEFORE INSERT ON command_stats BEGIN SELECT RAISE(ABORT, 'disk is full'); END;
CREATE TRIGGER refuse_update BEFORE UPDATE ON command_stats BEGIN SELECT RAISE(ABORT, 'disk is full'); END;
"""


async def test_close_says_how_many_command_runs_could_not_be_saved(db_path: Path) -> None:
    db = Database(db_path)
    await db.connect()
    await db.set_guild_prefix(1, "?")
    await db.conn.executescript(REFUSE_STATS)  # a write that fails inside SQLite, as a full disk does
    await db.increment_command_usage("ping", 9)
    await db.increment_command_usage("help", 3)
    with pytest.raises(DatabaseError) as info:
        await db.close()
    assert str(info.value).startswith(
        f"The usage counts of 12 command runs (2 commands) could not be saved to {db_path}: disk is full."
    )
    assert not db.connected and len(list_backups(db_path)) == 1  # the backup was still made


PING = """
from discord.ext import commands


@commands.command()
async def ping(ctx):
    await ctx.send("pong")


async def setup(bot):
    bot.add_command(ping)
"""


async def test_runtime_logs_unsaved_counts_at_shutdown_and_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "auto_reload": False,
                "logging": {"directory": "botlogs"},
                "cooldowns": {"default_rate": 100, "default_per": 1.0},
                "extensions": {"directory": "extensions"},
            }
        )
    )
    (tmp_path / "extensions").mkdir()
    (tmp_path / "extensions" / "ping.py").write_text(PING)
    # guild_ready_timeout: on_ready without discord.py's 2 s wait after the last guild.
    runtime = BotRuntime(
        ConfigStore.load(config), Secrets(), sandbox=True, bot_options={"guild_ready_timeout": 0.05}
    )
    run = asyncio.create_task(runtime.run())
    while runtime.bot is None:
        assert not run.done(), "the runtime ended before creating its bot"
        await asyncio.sleep(0.01)
    await asyncio.wait_for(runtime.bot.wait_until_ready(), 15)
    assert runtime.sandbox is not None
    with sqlite3.connect(tmp_path / "data" / "bot.db") as conn:
        conn.executescript(REFUSE_STATS)
    conn.close()
    for _ in range(3):
        await runtime.sandbox.send_message("alice", "general", "!ping")
        assert (await runtime.sandbox.wait_for_bot_message(channel="general")).content == "pong"

    with caplog.at_level(logging.INFO):
        await runtime.stop()
        code = await asyncio.wait_for(run, 15)
    assert code == exit_codes.CRITICAL == 1
    errors = [r for r in caplog.records if r.levelno == logging.ERROR and r.name == "tui_bot.runtime"]
    assert len(errors) == 1
    assert (
        errors[0]
        .getMessage()
        .startswith(
            "Shutdown: The usage counts of 3 command runs (1 command) could not be saved to data/bot.db: "
            "disk is full."
        )
    )


# ---------------------------------------------------------------------------- stale temporary files


async def test_connect_removes_stale_temporary_files_only(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = db_path.parent
    stale = [
        touch(data / ".bot.db.backup-k2x9_q7a.tmp", 2 * HOUR),  # a backup interrupted by a crash
        touch(data / ".state.json.a1b2c3d4.tmp", 2 * HOUR),  # an atomic write interrupted
        touch(data / "my_ext" / "deeper" / ".cache.json.zz__0099.tmp", 5 * HOUR),
    ]
    kept = [
        touch(data / ".state.json.e5f6g7h8.tmp", 60),  # another process may be writing it right now
        touch(data / ".state.json.tmp", 2 * HOUR),  # the user's: not our name pattern
        touch(data / "state.json.a1b2c3d4.tmp", 2 * HOUR),  # not hidden
        touch(data / ".state.json.a1b2c3d4.tmp.bak", 2 * HOUR),
        touch(data / ".state.json.A1B2C3D4.tmp", 2 * HOUR),  # mkstemp never uses capitals
        touch(data / ".hidden" / ".state.json.a1b2c3d4.tmp", 2 * HOUR),  # hidden folders are not searched
        touch(data / "a" / "b" / "c" / "d" / ".state.json.a1b2c3d4.tmp", 2 * HOUR),  # too deep
    ]
    (data / ".dir.json.a1b2c3d4.tmp").mkdir()
    age(data / ".dir.json.a1b2c3d4.tmp", 2 * HOUR)
    kept.append(data / ".dir.json.a1b2c3d4.tmp")

    db = Database(db_path)
    with caplog.at_level(logging.INFO, logger="tui_bot.storage.database"):
        await db.connect()
    await db.close(backup=False)
    assert [p for p in stale if p.exists()] == []
    assert [p for p in kept if not p.exists()] == []
    for path in stale:
        assert f"Removed a temporary file left by an interrupted write: {path}" in caplog.text


async def test_a_refused_database_removes_no_temporary_file(db_path: Path) -> None:
    await make_backup_with_data(db_path)
    db_path.write_bytes(b"")
    leftover = touch(db_path.parent / ".bot.db.backup-k2x9_q7a.tmp", 2 * HOUR)
    with pytest.raises(DatabaseCorruptError):
        await Database(db_path).connect()
    assert leftover.exists()


def test_config_load_removes_its_own_stale_temporary_files(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = tmp_path / "config.json"
    config.write_text('{"prefix": "?"}')
    stale = [
        touch(tmp_path / ".config.json.x7_k2m9p.tmp", 2 * HOUR, b'{"prefix": '),
        touch(tmp_path / ".config.json.bak.x7_k2m9p.tmp", 2 * HOUR),
    ]
    kept = [
        touch(tmp_path / ".config.json.x7_k2m9q.tmp", 10),  # a save in progress elsewhere
        touch(tmp_path / ".notes.txt.x7_k2m9p.tmp", 2 * HOUR),  # not config.json's
        touch(tmp_path / ".config.json.tmp", 2 * HOUR),
    ]
    ConfigStore.load(config, create=False)  # a check only: touches nothing
    assert all(p.exists() for p in stale + kept)

    store = ConfigStore.load(config)
    assert sorted(store.removed_temp_files) == sorted(stale)
    assert not any(p.exists() for p in stale) and all(p.exists() for p in kept)
    with caplog.at_level(logging.INFO, logger="tui_bot.config"):
        store.log_load_notes()
    assert f"Removed a temporary file left by an interrupted save: {stale[0]}" in caplog.text
    assert config.read_text() == '{"prefix": "?"}'


# ---------------------------------------------------------------------------- the real bot, as a process


def run_bot(cwd: Path, *, fsize_limit: int | None = None) -> tuple[int, str, str]:
    """``tui-bot --headless --sandbox`` in ``cwd`` until connected (or ended), then SIGTERM.

    ``fsize_limit``: once connected, cap the size of the files the process may write (RLIMIT_FSIZE,
    which binds root too): a write past it fails with EFBIG, as on a full disk.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "BOT_OWNER"))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui_bot", "--headless", "--sandbox"],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        for line in proc.stdout:  # ends at "Connected as", or when the process exits
            lines.append(line)
            if "Connected as" in line:
                if fsize_limit is not None:
                    import resource

                    resource.prlimit(proc.pid, resource.RLIMIT_FSIZE, (fsize_limit, fsize_limit))
                proc.send_signal(signal.SIGTERM)
                break
        rest, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, "".join(lines) + rest, stderr


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_bot_refuses_a_zero_byte_database_and_tidies_temp_files_of_a_good_start(tmp_path: Path) -> None:
    data = tmp_path / "data"
    stale = [
        touch(tmp_path / ".config.json.x7_k2m9p.tmp", 2 * HOUR),
        touch(data / ".bot.db.backup-k2x9_q7a.tmp", 2 * HOUR),
        touch(data / "my_ext" / ".state.json.a1b2c3d4.tmp", 2 * HOUR),
    ]
    users = [
        touch(data / ".state.json.tmp", 2 * HOUR),
        touch(tmp_path / "config.json.a1b2c3d4.tmp", 2 * HOUR),
    ]

    code, output, stderr = run_bot(tmp_path)
    assert code == 0, output + stderr
    assert not any(p.exists() for p in stale) and all(p.exists() for p in users)
    for path in stale:
        assert path.name in output
    (backup,) = data.glob("bot.db.backup_*")

    (data / "bot.db").write_bytes(b"")
    before = folder_state(data)
    code, output, stderr = run_bot(tmp_path)
    assert code == exit_codes.CRITICAL == 1, output + stderr
    assert "CRITICAL" in output and "data/bot.db is empty (0 bytes)" in output
    assert f"The newest good backup is data/{backup.name}. To restore it" in output
    assert folder_state(data) == before  # byte-identical, no backup made or deleted
    assert "Traceback" not in output + stderr


@pytest.mark.skipif(sys.platform != "linux", reason="prlimit on another process is Linux-only")
def test_bot_whose_shutdown_backup_fails_logs_it_and_exits_1(tmp_path: Path) -> None:
    code, output, stderr = run_bot(tmp_path)
    assert code == 0, output + stderr
    # Make the database bigger than what the process may write: its shutdown backup cannot be written.
    db = tmp_path / "data" / "bot.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE filler (body TEXT)")
        conn.executemany("INSERT INTO filler VALUES (?)", [("x" * 1000,)] * 1000)
    conn.close()
    backups_before = folder_state(tmp_path / "data")
    backups_before = {name: data for name, data in backups_before.items() if ".backup_" in name}
    limit = 256 * 1024
    assert db.stat().st_size > 2 * limit

    code, output, stderr = run_bot(tmp_path, fsize_limit=limit)
    assert code == exit_codes.CRITICAL == 1, output + stderr
    line = next(line for line in output.splitlines() if "Shutdown: " in line)
    assert " ERROR " in line and "No backup of data/bot.db was made at shutdown" in line
    assert "older ones are kept" in line
    assert "Traceback" not in output + stderr and "No backup" not in stderr
    assert (
        "No backup of data/bot.db was made at shutdown"
        in (tmp_path / "botlogs" / "permanent.log").read_text()
    )
    after = {name: data for name, data in folder_state(tmp_path / "data").items() if ".backup_" in name}
    assert after == backups_before
    assert query(db, "SELECT count(*) FROM filler") == [(1000,)]
