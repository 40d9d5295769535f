"""The cluster's own tables, created once per database under an advisory lock.

They live beside the bot's tables (which the storage migrations own) and are created idempotently, so a
worker of any version can start first. The guild-change triggers notify ``tui_bot_guild`` with the guild
id whenever a guild's prefix or role rules change, whoever makes the change (a worker, the console, a
script using ``bot.db``): the worker serving that guild then drops its cached copy.
"""

from __future__ import annotations

from typing import Any

# An arbitrary, fixed key: "tui-bot cluster schema" for pg_advisory_xact_lock.
SCHEMA_LOCK_KEY = 0x7475_6962_6F74_0001 & 0x7FFF_FFFF_FFFF_FFFF

GUILD_CHANNEL = "tui_bot_guild"
ACTION_CHANNEL = "tui_bot_action"

_TABLES = """
CREATE TABLE IF NOT EXISTS tui_cluster_workers (
    worker_id   TEXT PRIMARY KEY,
    host        TEXT NOT NULL,
    pid         INTEGER NOT NULL,
    shard_ids   INTEGER[] NOT NULL,
    shard_count INTEGER NOT NULL,
    version     TEXT NOT NULL,
    state       JSONB NOT NULL DEFAULT '{}'::jsonb,
    started_at  TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    last_seen   TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    stopped     BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE TABLE IF NOT EXISTS tui_cluster_shards (
    shard_id    INTEGER PRIMARY KEY,
    shard_count INTEGER NOT NULL,
    worker_id   TEXT NOT NULL,
    last_seen   TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS tui_cluster_identify (
    bucket       INTEGER PRIMARY KEY,
    next_allowed TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS tui_cluster_actions (
    action_id  BIGSERIAL PRIMARY KEY,
    verb       TEXT NOT NULL,
    argument   TEXT NOT NULL,
    origin     TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
CREATE TABLE IF NOT EXISTS tui_cluster_action_results (
    action_id  BIGINT NOT NULL REFERENCES tui_cluster_actions(action_id) ON DELETE CASCADE,
    worker_id  TEXT NOT NULL,
    ok         BOOLEAN NOT NULL,
    message    TEXT NOT NULL,
    PRIMARY KEY (action_id, worker_id)
);
CREATE OR REPLACE FUNCTION tui_cluster_notify_guild() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('tui_bot_guild', OLD.guild_id::text);
        RETURN OLD;
    END IF;
    PERFORM pg_notify('tui_bot_guild', NEW.guild_id::text);
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
"""

# The bot's tables that hold per-guild settings a worker caches.
GUILD_TABLES = ("guild_settings", "command_permissions")


async def ensure_schema(connection: Any) -> None:
    """Create the cluster tables and the guild-change triggers (idempotent, one process at a time)."""
    async with connection.transaction():
        await connection.execute("SELECT pg_advisory_xact_lock($1)", SCHEMA_LOCK_KEY)
        await connection.execute(_TABLES)
        for table in GUILD_TABLES:
            exists = await connection.fetchval("SELECT to_regclass($1) IS NOT NULL", table)
            if not exists:
                continue  # the storage migrations create it; a later start adds the trigger
            await connection.execute(
                f"CREATE OR REPLACE TRIGGER tui_cluster_notify AFTER INSERT OR UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION tui_cluster_notify_guild()"
            )
