"""Is this bot process healthy? Every shard of it ready and the database answering: ``GET /healthz``.

A small JSON report saying what is wrong, for uptime monitors and orchestrators (a 503 restarts or alerts;
the body tells the operator why).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from tui_bot.logs.redaction import redact

if TYPE_CHECKING:
    from tui_bot.core.bot import TuiBot

DATABASE_TIMEOUT = 2.0  # seconds the check query may take before the database counts as not answering


async def database_status(bot: TuiBot, timeout: float = DATABASE_TIMEOUT) -> str:  # noqa: ASYNC109
    """``"ok"``, or why the database does not answer (one line, no secret)."""
    db = bot.db
    if not db.connected:
        return "not connected"
    try:
        async with asyncio.timeout(timeout):
            await db.fetchval("SELECT 1")
    except TimeoutError:
        return f"no answer within {timeout:g} s"
    except Exception as error:
        return redact(f"{type(error).__name__}: {error}").partition("\n")[0][:300]
    return "ok"


async def health_report(bot: TuiBot) -> dict[str, Any]:
    """``{"status": "ok"|"unhealthy", "shards": {"0": "ready"}, "database": "ok"|..., "problems": [...]}``."""
    problems: list[str] = []
    shards = {shard: entry["state"] for shard, entry in bot.health.gateway.summary().items()}
    for shard, state in shards.items():
        if state != "ready":
            problems.append(f"shard {shard} is {state}")
    if not bot.lifecycle.accepting or bot.is_closed():
        problems.append("the bot is shutting down")
    database = await database_status(bot)
    if database != "ok":
        problems.append(f"database: {database}")
    return {
        "status": "unhealthy" if problems else "ok",
        "shards": shards,
        "database": database,
        "problems": problems,
    }
