"""``bot.db`` on PostgreSQL (database.url / DATABASE_URL), against the real PostgreSQL 15 of the machine.

The bot runs through the sandbox with config.json's ``database.url`` set: prefixes, role rules and usage
counts land in PostgreSQL and the commands reply as they do on SQLite. Migrations run once however many
processes start together, usage counts from several processes add up exactly, backups point to pg_dump,
and a bad or unreachable URL is one clear line that never shows the password.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import discord
import pytest
from console_harness import console, running  # noqa: F401 - console is a fixture
from helpers import postgres as postgres_helpers
from helpers.postgres import query
from helpers.waiting import wait_until

from tui_bot.config import read_env
from tui_bot.config.env import EnvError
from tui_bot.logs.redaction import PROCESS_REDACTOR
from tui_bot.storage import BackupNotAvailable, Database, DatabaseError, PostgresDatabase, open_database
from tui_bot.storage.migrations import MIGRATIONS, Migration
from tui_bot.storage.pg_migrations import VERSION_TABLE

if TYPE_CHECKING:
    from conftest import BotHarness

postgres_url = postgres_helpers.postgres_url  # the fixture: a fresh database per test

PASSWORD = "hunter2-very-secret"  # trust authentication accepts any password: it only has to stay hidden

GREETER = """
from discord.ext import commands


class Greeter(commands.Cog):
    @commands.command()
    async def hello(self, ctx):
        await ctx.send(f"hello {ctx.author.name}")


async def setup(bot):
    await bot.add_cog(Greeter())
"""

ROOMY = {"default_rate": 100, "default_per": 1}


async def say(harness: BotHarness, author: str, content: str) -> Any:
    """Send as ``author`` in #general and return the bot's next message there."""
    await harness.sandbox.send_message(author, "general", content)
    return await harness.sandbox.wait_for_bot_message(channel="general", timeout=10)


async def embed_of(harness: BotHarness, author: str, content: str) -> dict[str, Any]:
    reply = await say(harness, author, content)
    assert reply.content == "" and len(reply.embeds) == 1, reply.content
    return dict(reply.embeds[0])


def with_password(url: str) -> str:
    return url.replace("postgresql://postgres@", f"postgresql://postgres:{PASSWORD}@")


# -- the bot on PostgreSQL, through the sandbox ---------------------------------------------------


async def test_prefixes_role_rules_and_counts_live_in_postgresql(
    harness: BotHarness, postgres_url: str
) -> None:
    harness.write_extension("greeter", GREETER)
    url = with_password(postgres_url)
    bot = await harness.start(database={"url": url}, cooldowns=ROOMY, replies={"delete_after": 0})
    assert isinstance(bot.db, PostgresDatabase) and bot.db.dialect == "postgresql"
    assert PASSWORD not in bot.db.location and PASSWORD not in repr(bot.db)
    # The password of database.url is hidden wherever a secret is (log lines, console, Discord replies).
    assert PROCESS_REDACTOR.redact(f"connecting with {PASSWORD}") == "connecting with [REDACTED]"
    assert not harness.db_path.exists()  # no SQLite file is created beside it
    guild = bot.guilds[0]

    done = await embed_of(harness, "operator", "!setprefix ?")
    assert done["title"] == "✅ Prefix changed" and "now start with `?`, e.g. `?help`" in done["description"]
    assert await query(postgres_url, "SELECT guild_id, prefix FROM guild_settings") == [
        {"guild_id": guild.id, "prefix": "?"}
    ]
    assert (await say(harness, "bob", "?hello")).content == "hello bob"

    moderator = discord.utils.get(guild.roles, name="Moderator")
    assert moderator is not None
    added = await embed_of(harness, "operator", f"?config hello <@&{moderator.id}>")
    assert added["title"] == "✅ Permission updated"
    assert "`hello` may now be used by members with: **Moderator**" in added["description"]
    assert await query(postgres_url, "SELECT guild_id, command_name, role_id FROM command_permissions") == [
        {"guild_id": guild.id, "command_name": "hello", "role_id": moderator.id}
    ]
    refused = await embed_of(harness, "bob", "?hello")
    assert refused["description"] == "You need one of these roles to use `hello`: Moderator."
    assert (await say(harness, "alice", "?hello")).content == "hello alice"
    reset = await embed_of(harness, "operator", "?config hello default")
    assert reset["title"] == "✅ Permission reset"
    assert await query(postgres_url, "SELECT * FROM command_permissions") == []

    await embed_of(harness, "operator", "?setprefix !")
    assert await bot.db.get_all_guild_prefixes() == {}

    await bot.db.flush_stats()
    stats = {
        row["command_name"]: row["usage_count"]
        for row in await query(postgres_url, "SELECT * FROM command_stats")
    }
    assert stats == {"setprefix": 2, "hello": 2, "config": 2}  # the refused ?hello did not complete
    await harness.stop()
    assert not bot.db.connected


async def test_backup_on_postgresql_says_to_use_pg_dump(
    harness: BotHarness, postgres_url: str, caplog
) -> None:
    bot = await harness.start(database={"url": with_password(postgres_url)})

    embed = await embed_of(harness, "operator", "!backup")
    assert embed["title"] == "⚠️ No backup file on PostgreSQL"
    assert embed["description"].startswith(
        "On PostgreSQL, back up with pg_dump (e.g. pg_dump --format=custom"
    )
    # The command to copy names the database without the password.
    assert postgres_url in embed["description"] and PASSWORD not in embed["description"]
    result = await bot.actions.backup()
    assert result.ok and result.path is None
    assert result.describe().startswith("backup: On PostgreSQL, back up with pg_dump")
    with pytest.raises(BackupNotAvailable):
        await bot.db.backup()

    with caplog.at_level(logging.INFO, logger="tui_bot.storage.database"):
        await harness.stop()
    assert any(
        r.getMessage().startswith("No shutdown backup: On PostgreSQL, back up with pg_dump")
        for r in caplog.records
    )
    assert not list(harness.root.rglob("*.backup_*"))


async def test_console_backup_key_answers_with_pg_dump(console, postgres_url: str) -> None:  # noqa: F811
    console.write_config(database={"path": "data/bot.db", "url": postgres_url})
    app = console.build()
    async with running(app) as pilot:
        await pilot.press("b")
        await wait_until(
            lambda: any(m.startswith("backup: On PostgreSQL, back up with pg_dump") for m, _ in app.notified)
        )
        assert not app.errors_notified()
    assert not list(console.root.rglob("*.backup_*"))


# -- raw SQL: the pool, conn, and the portable helper ---------------------------------------------


async def test_conn_on_postgresql_says_to_use_the_pool_and_pool_on_sqlite_says_conn(
    postgres_url: str, tmp_path: Path
) -> None:
    pg = PostgresDatabase(postgres_url)
    await pg.connect()
    try:
        with pytest.raises(DatabaseError, match=r"bot\.db\.conn is the SQLite connection.*use bot\.db\.pool"):
            pg.conn  # noqa: B018
        async with pg.pool.acquire() as conn:
            assert await conn.fetchval("SELECT count(*) FROM guild_settings") == 0
    finally:
        await pg.close(backup=False)

    sqlite = Database(tmp_path / "bot.db")
    await sqlite.connect()
    try:
        with pytest.raises(
            DatabaseError, match=r"bot\.db\.pool is the PostgreSQL connection pool.*bot\.db\.conn"
        ):
            sqlite.pool  # noqa: B018
    finally:
        await sqlite.close(backup=False)


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
async def test_the_portable_helper_runs_the_same_sql_on_both(
    engine: str, postgres_url: str, tmp_path: Path
) -> None:
    db = Database(tmp_path / "bot.db") if engine == "sqlite" else PostgresDatabase(postgres_url)
    await db.connect()
    try:
        assert db.dialect == engine
        await db.execute("CREATE TABLE notes (user_id BIGINT PRIMARY KEY, body TEXT NOT NULL, tag TEXT)")
        assert await db.execute("INSERT INTO notes (user_id, body, tag) VALUES ($1, $2, $2)", 1, "one") == 1
        await db.executemany(
            "INSERT INTO notes (user_id, body) VALUES ($1, $2)", [(2, "two"), (3, "it's $1")]
        )
        # "$1" inside a string literal is text, not a placeholder.
        assert await db.fetchval("SELECT count(*) FROM notes WHERE body LIKE '%$1%' OR user_id = $1", 2) == 2
        assert await db.fetch("SELECT user_id, body, tag FROM notes ORDER BY user_id") == [
            {"user_id": 1, "body": "one", "tag": "one"},
            {"user_id": 2, "body": "two", "tag": None},
            {"user_id": 3, "body": "it's $1", "tag": None},
        ]
        assert await db.fetchone("SELECT body FROM notes WHERE user_id = $1", 3) == {"body": "it's $1"}
        assert await db.fetchone("SELECT body FROM notes WHERE user_id = $1", 99) is None
        assert await db.fetchval("SELECT body FROM notes WHERE user_id = $1", 99) is None
        upsert = (
            "INSERT INTO notes (user_id, body) VALUES ($1, $2) "
            "ON CONFLICT (user_id) DO UPDATE SET body = excluded.body"
        )
        await db.execute(upsert, 1, "uno")
        assert await db.execute("DELETE FROM notes WHERE user_id > $1", 1) == 2
        assert await db.fetch("SELECT user_id, body FROM notes") == [{"user_id": 1, "body": "uno"}]
        with pytest.raises(DatabaseError, match="The query failed on") as refused:
            await db.execute("INSERT INTO notes (user_id, body) VALUES ($1, $2)", 1, "duplicate")
        assert refused.value.__cause__ is not None  # the driver's own error, for those who need it
    finally:
        await db.close(backup=False)


# -- migrations and concurrent processes ----------------------------------------------------------


RACE_PROBE = Migration(
    2,
    "race probe",
    "CREATE TABLE race_probe (n INTEGER); INSERT INTO race_probe VALUES (1)",
    # Slow on purpose: the other pool is waiting for the lock meanwhile, not running it too.
    postgres="CREATE TABLE race_probe (n INTEGER); INSERT INTO race_probe VALUES (1); SELECT pg_sleep(0.3)",
)


async def test_migrations_run_once_when_two_pools_start_together(postgres_url: str, caplog) -> None:
    migrations = (*MIGRATIONS, RACE_PROBE)
    first = PostgresDatabase(postgres_url, migrations=migrations)
    second = PostgresDatabase(postgres_url, migrations=migrations)
    with caplog.at_level(logging.INFO, logger="tui_bot.storage.database"):
        await asyncio.gather(first.connect(), second.connect())
    try:
        applied = await query(
            postgres_url, f"SELECT version, description FROM {VERSION_TABLE} ORDER BY version"
        )
        assert applied == [
            {"version": 1, "description": "initial schema"},
            {"version": 2, "description": "race probe"},
        ]
        assert await query(postgres_url, "SELECT n FROM race_probe") == [{"n": 1}]
        applying = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Applying database")]
        assert applying == [
            "Applying database migration 1 (initial schema)",
            "Applying database migration 2 (race probe)",
        ]
    finally:
        await first.close(backup=False)
        await second.close(backup=False)

    # A third start finds nothing to do.
    third = PostgresDatabase(postgres_url, migrations=migrations)
    await third.connect()
    await third.close(backup=False)
    assert len(await query(postgres_url, f"SELECT version FROM {VERSION_TABLE}")) == 2


RACING_PROCESS = """
import asyncio, sys
from tui_bot.storage import PostgresDatabase
from tui_bot.storage.migrations import MIGRATIONS, Migration

probe = Migration(2, "race probe", "SELECT 1", postgres=(
    "CREATE TABLE race_probe (n INTEGER); INSERT INTO race_probe VALUES (1); SELECT pg_sleep(0.3)"
))

async def main() -> None:
    db = PostgresDatabase(sys.argv[1], migrations=(*MIGRATIONS, probe))
    await db.connect()
    await db.close(backup=False)

asyncio.run(main())
"""


async def test_migrations_run_once_when_three_processes_start_together(postgres_url: str) -> None:
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", RACING_PROCESS, postgres_url, stderr=asyncio.subprocess.PIPE
        )
        for _ in range(3)
    ]
    results = await asyncio.gather(*(asyncio.wait_for(p.communicate(), 60) for p in processes))
    assert [p.returncode for p in processes] == [0, 0, 0], [err.decode() for _, err in results]
    assert await query(postgres_url, "SELECT n FROM race_probe") == [{"n": 1}]
    versions = await query(postgres_url, f"SELECT version FROM {VERSION_TABLE} ORDER BY version")
    assert versions == [{"version": 1}, {"version": 2}]


async def test_a_schema_newer_than_this_tui_bot_is_refused_untouched(postgres_url: str) -> None:
    newer = PostgresDatabase(postgres_url, migrations=(*MIGRATIONS, RACE_PROBE))
    await newer.connect()
    await newer.close(backup=False)
    older = PostgresDatabase(postgres_url)
    with pytest.raises(
        DatabaseError, match="has schema version 2, but this tui-bot only knows versions up to 1"
    ):
        await older.connect()
    assert not older.connected


async def test_a_failing_migration_changes_nothing(postgres_url: str) -> None:
    broken = Migration(
        2, "broken", "SELECT 1", postgres="CREATE TABLE half_done (n INTEGER); SELECT no_such_column"
    )
    db = PostgresDatabase(postgres_url, migrations=(*MIGRATIONS, broken))
    with pytest.raises(
        DatabaseError, match=r"Upgrading .* failed in migration 2 \(broken\).*still at schema version 0"
    ):
        await db.connect()
    # Migration 1 ran in the same transaction: it is rolled back too.
    assert await query(
        postgres_url,
        "SELECT to_regclass('half_done') IS NULL AS gone, to_regclass('guild_settings') IS NULL AS no_schema",
    ) == [{"gone": True, "no_schema": True}]


async def test_usage_counts_from_three_processes_add_up_exactly(postgres_url: str) -> None:
    # Three Database objects with pools of their own stand for three bot processes.
    workers = [PostgresDatabase(postgres_url, flush_interval=0.005) for _ in range(3)]
    await asyncio.gather(*(worker.connect() for worker in workers))
    names = ("ping", "help", "stats", "hello")

    async def burst(worker: PostgresDatabase, offset: int) -> None:
        for n in range(500):
            await worker.increment_command_usage(names[(n + offset) % len(names)])
            if n % 7 == 0:
                await asyncio.sleep(0.001)  # let the flushers of all three write meanwhile
            if n % 50 == 49:
                await worker.flush_stats()  # the three bursts upsert the same rows at the same moments

    await asyncio.gather(*(burst(worker, offset) for offset, worker in enumerate(workers)))
    await asyncio.gather(*(worker.close(backup=False) for worker in workers))
    rows = await query(postgres_url, "SELECT command_name, usage_count FROM command_stats")
    counts = {row["command_name"]: row["usage_count"] for row in rows}
    assert sum(counts.values()) == 1500
    assert counts == {name: 375 for name in names}


# -- choosing the database, and bad or unreachable URLs -------------------------------------------


def test_open_database_picks_postgresql_only_with_a_url(tmp_path: Path) -> None:
    from tui_bot.config.model import DatabaseConfig

    settings = DatabaseConfig(path=str(tmp_path / "bot.db"), backup_keep=3)
    sqlite = open_database(settings)
    assert isinstance(sqlite, Database) and sqlite.backup_keep == 3
    configured = DatabaseConfig(path="x.db", url=f"postgresql://bot:{PASSWORD}@db.example/bot")
    assert isinstance(open_database(configured), PostgresDatabase)
    assert PASSWORD not in repr(configured)
    # DATABASE_URL wins over database.url.
    chosen = open_database(configured, url="postgres://other@127.0.0.1/other")
    assert isinstance(chosen, PostgresDatabase) and chosen.location == "postgres://other@127.0.0.1/other"


def run_cli(folder: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {
        k: v for k, v in os.environ.items() if k not in ("DISCORD_TOKEN", "BOT_OWNER_ID", "DATABASE_URL")
    }
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "tui_bot", *args],
        cwd=folder,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"mysql://root:{PASSWORD}@127.0.0.1/bot", "it starts with mysql://"),
        (f"postgresql://bot:{PASSWORD}@127.0.0.1:notaport/bot", "a valid PostgreSQL URL"),
        (f"{PASSWORD}@127.0.0.1/bot", "it has no scheme"),
    ],
)
def test_a_bad_database_url_is_refused_without_its_password(tmp_path: Path, url: str, expected: str) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"database": {"url": url}}))
    checked = run_cli(tmp_path, "--check-config", "--sandbox")
    assert checked.returncode == 78
    assert "config key 'database.url'" in checked.stderr and expected in checked.stderr
    assert "postgresql://" in checked.stderr  # says what is expected
    assert PASSWORD not in checked.stdout + checked.stderr

    # The same URL in .env's DATABASE_URL.
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / ".env").write_text(f"DATABASE_URL={url}\n")
    with pytest.raises(EnvError) as refused:
        read_env(tmp_path / ".env", require_secrets=False)
    assert str(refused.value).startswith("DATABASE_URL (") and expected in str(refused.value)
    assert PASSWORD not in str(refused.value)


def test_database_url_from_the_environment_wins_and_is_redacted(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"DATABASE_URL=postgresql://bot:{PASSWORD}@file-host/bot\n")
    secrets = read_env(
        tmp_path / ".env", require_secrets=False, environ={"DATABASE_URL": "postgresql://env-host/bot"}
    )
    assert secrets.database_url == "postgresql://env-host/bot"
    from_file = read_env(tmp_path / ".env", require_secrets=False, environ={})
    assert from_file.database_url == f"postgresql://bot:{PASSWORD}@file-host/bot"
    assert PASSWORD in from_file.values_to_redact()  # hidden from every log line and the console
    assert PASSWORD not in repr(from_file) and "database_url=<set>" in repr(from_file)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_postgresql_unreachable_at_start_is_one_clear_line(tmp_path: Path) -> None:
    port = closed_port()
    url = f"postgresql://bot:{PASSWORD}@127.0.0.1:{port}/bot"
    (tmp_path / "config.json").write_text(json.dumps({"database": {"url": url}, "auto_reload": False}))
    done = run_cli(tmp_path, "--headless", "--sandbox")
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    lines = [line for line in output.splitlines() if "Could not connect to PostgreSQL" in line]
    assert len(lines) == 1, output
    assert f"at postgresql://bot:***@127.0.0.1:{port}/bot" in lines[0]
    assert "Check that PostgreSQL is running" in lines[0] and "CRITICAL" in lines[0]
    assert "Traceback" not in output
    assert PASSWORD not in output
    assert not (tmp_path / "data" / "bot.db").exists()  # no silent fallback to SQLite


async def test_database_url_in_env_reaches_the_bot(tmp_path: Path, postgres_url: str) -> None:
    from tui_bot.config import ConfigStore, Secrets
    from tui_bot.runtime import BotRuntime

    (tmp_path / "config.json").write_text(
        json.dumps(
            {
                "database": {"path": str(tmp_path / "bot.db")},
                "auto_reload": False,
                "extensions": {"auto_load": False},
                "logging": {"directory": str(tmp_path / "logs")},
            }
        )
    )
    runtime = BotRuntime(
        ConfigStore.load(tmp_path / "config.json"),
        Secrets(database_url=postgres_url),
        sandbox=True,
        bot_options={"guild_ready_timeout": 0.05},
    )
    task = asyncio.create_task(runtime.run())
    try:
        await wait_until(lambda: runtime.bot is not None and runtime.bot.is_ready(), what="the bot ready")
        assert runtime.bot is not None and isinstance(runtime.bot.db, PostgresDatabase)
        await runtime.bot.db.set_guild_prefix(1, "?")
    finally:
        await runtime.stop()
        assert await task == 0
    assert await query(postgres_url, "SELECT guild_id, prefix FROM guild_settings") == [
        {"guild_id": 1, "prefix": "?"}
    ]
    assert not (tmp_path / "bot.db").exists()
