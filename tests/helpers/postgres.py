"""A fresh PostgreSQL database per test, on the PostgreSQL 15 of the development and CI machines.

``postgres_url`` (a fixture: import it into the test module) creates ``tui_bot_test_<random>`` through
the ``test`` database, yields its URL and drops it afterwards (``WITH (FORCE)``: a bot that left a
connection open cannot keep it alive). PostgreSQL not answering FAILS the test, with how to start it:
these tests are never skipped.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import pytest

HOST, PORT, USER = "127.0.0.1", 5432, "postgres"
ADMIN_URL = f"postgresql://{USER}@{HOST}:{PORT}/test"
START_HINT = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"


def url_for(database: str, *, password: str | None = None) -> str:
    """The URL of ``database`` on the test server (trust authentication: any password is accepted)."""
    credentials = f"{USER}:{password}" if password else USER
    return f"postgresql://{credentials}@{HOST}:{PORT}/{database}"


async def admin_connection() -> Any:
    """A connection to the ``test`` database, or a failed test saying PostgreSQL does not answer."""
    try:
        return await asyncpg.connect(ADMIN_URL, timeout=10)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        problem = f"{type(error).__name__}: {error}"
    # Outside the except block: the failure is this one line, not a chained traceback.
    pytest.fail(
        f"PostgreSQL does not answer at {ADMIN_URL} ({problem}). These tests need it: start it with "
        f"`{START_HINT}` (.ci/run does this before the tests).",
        pytrace=False,
    )


@asynccontextmanager
async def fresh_database(*, password: str | None = None) -> AsyncIterator[str]:
    """A new, empty database for the block; its URL (with ``password`` written in it, if given)."""
    name = f"tui_bot_test_{secrets.token_hex(6)}"
    admin = await admin_connection()
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield url_for(name, password=password)
    finally:
        admin = await admin_connection()
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """The URL of a new database, dropped after the test."""
    async with fresh_database() as url:
        yield url


async def query(url: str, sql: str, *args: Any) -> list[dict[str, Any]]:
    """Rows of ``sql`` read through a connection of its own (what another process would see)."""
    conn = await asyncpg.connect(url, timeout=10)
    try:
        return [dict(row) for row in await conn.fetch(sql, *args)]
    finally:
        await conn.close()
