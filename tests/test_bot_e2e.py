"""Every config.json key has an effect, shown end to end: the real discord.py client on the sandbox."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import BotHarness

GREETER = """
from discord.ext import commands


class Greeter(commands.Cog):
    @commands.command()
    async def hello(self, ctx):
        await ctx.send(f"hello {ctx.author.name}")

    @commands.command()
    async def probe(self, ctx):
        await ctx.send(f"probe {ctx.author.name}")

    @commands.command()
    @commands.cooldown(5, 60, commands.BucketType.user)
    async def roomy(self, ctx):
        await ctx.send("roomy")


async def setup(bot):
    await bot.add_cog(Greeter())
"""


async def say(harness: BotHarness, author: str, content: str, channel: str = "general") -> str:
    """Send as ``author`` and return the content of the bot's next message."""
    await harness.sandbox.send_message(author, channel, content)
    reply = await harness.sandbox.wait_for_bot_message(timeout=10)
    return reply.content


async def ignored_then(harness: BotHarness, author: str, ignored: str, probe: str, expected: str) -> None:
    """``ignored`` gets no reply: the bot's next message answers ``probe``, sent after it."""
    await harness.sandbox.send_message(author, "general", ignored)
    assert await say(harness, author, probe) == expected


async def refused_then(harness: BotHarness, author: str, refused: str, probe: str, expected: str) -> str:
    """``refused`` is not run: its only reply is an error embed (returned), then ``probe`` is answered."""
    await harness.sandbox.send_message(author, "general", refused)
    reply = await harness.sandbox.wait_for_bot_message(timeout=10)
    assert reply.content == "" and len(reply.embeds) == 1, reply.content
    assert await say(harness, author, probe) == expected
    return reply.embeds[0]["description"]


async def test_config_prefix_and_the_mention_prefix(harness: BotHarness) -> None:
    harness.write_extension("greeter", GREETER)
    bot = await harness.start(prefix="?")
    assert await say(harness, "alice", "?hello") == "hello alice"
    await ignored_then(harness, "alice", "!hello", "?probe", "probe alice")
    assert await say(harness, "bob", f"<@{bot.user.id}> hello") == "hello bob"


async def test_guild_prefix_is_stored_cached_and_needs_no_query_per_message(harness: BotHarness) -> None:
    harness.write_extension("greeter", GREETER)
    bot = await harness.start()
    guild = bot.guilds[0]
    await bot.set_guild_prefix(guild.id, "$")
    assert await say(harness, "alice", "$hello") == "hello alice"
    await ignored_then(harness, "alice", "!hello", "$probe", "probe alice")

    # No SQL runs while messages are read and prefixes resolved (stats are counted in memory).
    statements: list[str] = []
    await bot.db.conn.set_trace_callback(statements.append)
    for _ in range(5):
        await harness.sandbox.send_message("bob", "general", "just chatting")
    assert await say(harness, "bob", "$probe") == "probe bob"
    await bot.db.conn.set_trace_callback(None)
    assert statements == []

    # The prefix survives a restart: it is loaded from the database into the cache at start-up.
    await harness.stop()
    bot = await harness.start()
    assert bot.guild_prefixes == {guild.id: "$"}
    assert await say(harness, "alice", "$hello") == "hello alice"


async def test_default_cooldown_applies_to_commands_without_their_own(harness: BotHarness) -> None:
    harness.write_extension("greeter", GREETER)
    bot = await harness.start(cooldowns={"default_rate": 1, "default_per": 60})
    assert bot.get_command("hello").cooldown.rate == 1
    assert bot.get_command("hello").cooldown.per == 60
    assert bot.get_command("roomy").cooldown.rate == 5  # the decorator wins

    assert await say(harness, "alice", "!hello") == "hello alice"
    refusal = await refused_then(harness, "alice", "!hello", "!roomy", "roomy")  # second hello: on cooldown
    assert "`hello` is on cooldown: try again in" in refusal
    assert await say(harness, "alice", "!roomy") == "roomy"  # 5 per minute: still allowed
    assert await say(harness, "bob", "!hello") == "hello bob"  # cooldowns are per user


async def test_command_permissions_defaults_gate_by_role_name(harness: BotHarness) -> None:
    harness.write_extension("greeter", GREETER)
    bot = await harness.start(command_permissions={"hello": ["moderator"]})
    assert await say(harness, "alice", "!hello") == "hello alice"  # alice has the Moderator role
    refusal = await refused_then(harness, "bob", "!hello", "!probe", "probe bob")  # bob has no role
    assert refusal == "You need one of these roles to use `hello`: Moderator."
    assert await say(harness, "operator", "!hello") == "hello operator"  # owner of guild and bot

    # A guild's own rule replaces the default for that command.
    guild = bot.guilds[0]
    bob = await guild.fetch_member(harness.sandbox.world.find_user("bob").id)  # no member cache by default
    everyone = guild.default_role
    await bot.permission_rules.add_role(guild.id, "hello", everyone.id)
    assert await say(harness, "bob", "!hello") == "hello bob"
    assert bob is not None


async def test_owner_ids_in_config_are_merged_with_bot_owner_id(harness: BotHarness) -> None:
    harness.write_extension("greeter", GREETER)
    bob_id = harness.sandbox.world.find_user("bob").id
    bot = await harness.start(owner_ids=[bob_id], command_permissions={"hello": ["Moderator"]})
    assert bot.owner_ids == {bob_id, harness.sandbox.world.owner_id}
    assert await say(harness, "bob", "!hello") == "hello bob"  # owners pass every role rule


async def test_status_sets_the_presence(harness: BotHarness) -> None:
    harness.write_extension("greeter", GREETER)
    bot = await harness.start(
        status={"type": "listening", "text": "{guilds} guild, {users} users, {commands} cmds"}
    )
    members, commands = bot.guilds[0].member_count, len(bot.commands)
    presence = await harness.sandbox.wait_for_presence(timeout=10)
    activity = presence["activities"][0]
    assert activity["type"] == 2  # listening
    assert activity["name"] == f"1 guild, {members} users, {commands} cmds"


async def test_blacklist_and_auto_load(harness: BotHarness) -> None:
    harness.write_extension("greeter", GREETER)
    harness.write_extension(
        "other",
        GREETER.replace("Greeter", "Other")
        .replace("hello", "hi")
        .replace("probe", "probe2")
        .replace("roomy", "roomy2"),
    )
    bot = await harness.start(extensions={"blacklist": [f"{harness.extensions.name}.other"]})
    assert bot.get_command("hello") is not None and bot.get_command("hi") is None
    assert bot.extension_manager.states["other"].status.value == "blacklisted"
    await ignored_then(harness, "alice", "!hi", "!probe", "probe alice")
    await harness.stop()

    bot = await harness.start(extensions={"auto_load": False, "blacklist": []})
    assert bot.extensions == {}
    result = await bot.extension_manager.load("other")
    assert result.ok
    assert await say(harness, "alice", "!hi") == "hi alice"


async def test_auto_reload_reloads_an_edited_extension_and_survives_a_broken_one(harness: BotHarness) -> None:
    path = harness.write_extension("greeter", GREETER)
    await harness.start(auto_reload=True)
    assert await say(harness, "alice", "!hello") == "hello alice"
    # Repeat the edit until the watcher has seen it (it gives no signal when its watch is in place).
    for _ in range(40):
        path.write_text(GREETER.replace('f"hello {ctx.author.name}"', '"hello again"'), encoding="utf-8")
        await asyncio.sleep(0.25)
        if await say(harness, "alice", "!hello") == "hello again":
            break
    else:
        pytest.fail("the edited extension was never reloaded")

    # A broken edit: the reload fails, is recorded, and the previous version keeps answering.
    state = harness.bot.extension_manager.states["greeter"]  # type: ignore[union-attr]
    path.write_text("def setup(:\n", encoding="utf-8")
    for _ in range(40):
        await asyncio.sleep(0.25)
        if state.last_error is not None:
            break
    else:
        pytest.fail("the broken edit was never picked up")
    assert state.last_error.startswith("SyntaxError") and state.status.value == "loaded"
    assert await say(harness, "alice", "!hello") == "hello again"


async def test_auto_reload_off_ignores_edits(harness: BotHarness) -> None:
    path = harness.write_extension("greeter", GREETER)
    bot = await harness.start(auto_reload=False)
    assert not [t for t in asyncio.all_tasks() if t.get_name() == "tui-bot:hot-reload"]
    path.write_text(GREETER.replace('f"hello {ctx.author.name}"', '"hello again"'), encoding="utf-8")
    assert await say(harness, "alice", "!hello") == "hello alice"
    assert bot.extension_manager.states["greeter"].last_loaded_at is not None


async def test_usage_counts_and_a_backup_survive_a_clean_shutdown(harness: BotHarness) -> None:
    harness.write_extension("greeter", GREETER)
    await harness.start()
    for _ in range(3):
        assert await say(harness, "alice", "!hello") == "hello alice"
    assert await say(harness, "bob", "!probe") == "probe bob"
    await harness.stop()

    with sqlite3.connect(harness.db_path) as conn:
        counts = dict(conn.execute("SELECT command_name, usage_count FROM command_stats"))
    assert counts == {"hello": 3, "probe": 1}
    backups = sorted(harness.db_path.parent.glob("bot.db.backup_*"))
    assert len(backups) == 1
    with sqlite3.connect(backups[0]) as conn:
        assert dict(conn.execute("SELECT command_name, usage_count FROM command_stats")) == counts


async def test_storage_database_and_log_directory_keys(harness: BotHarness) -> None:
    logs = harness.root / "botlogs"
    logs.mkdir()
    stale = logs / "permanent.log.4"
    stale.write_text("from last month")
    month_ago = time.time() - 31 * 86400
    os.utime(stale, (month_ago, month_ago))
    (logs / "permanent.log.1").write_text("from today")

    from tui_bot.storage import global_file_handler

    try:
        bot = await harness.start(storage={"cache_ttl": 12}, database={"backup_keep": 2})
        assert bot.file_handler is global_file_handler and global_file_handler.cache_ttl == 12
        assert bot.db.backup_keep == 2 and harness.db_path.is_file()
        # The hourly clean-up runs once at start-up too.
        for _ in range(100):
            if not stale.exists():
                break
            await asyncio.sleep(0.05)
        assert not stale.exists() and (logs / "permanent.log.1").exists()
        await harness.stop()
        for _ in range(3):
            await harness.start()
            await harness.stop()
        assert len(list(harness.db_path.parent.glob("bot.db.backup_*"))) == 2
    finally:
        global_file_handler.cache_ttl = 300.0


async def test_sharding_shard_count_runs_an_auto_sharded_bot(
    harness: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    from discord.ext import commands

    from tui_bot.core.bot import ShardedTuiBot

    async def identify_now(self, shard_id, *, initial=False):  # type: ignore[no-untyped-def]
        """discord.py waits 5 s between shards' IDENTIFYs (Discord's rate limit); the sandbox has none."""

    monkeypatch.setattr(ShardedTuiBot, "before_identify_hook", identify_now)
    harness.write_extension("greeter", GREETER)
    home = harness.sandbox.find_guild()
    other = harness.sandbox.add_guild("Other Shard", guild_id=home.id + (1 << 22), members=["alice"])
    bot = await harness.start(sharding={"shard_count": 2})
    assert isinstance(bot, commands.AutoShardedBot) and bot.shard_count == 2
    shards = {guild.name: guild.shard_id for guild in bot.guilds}
    assert sorted(shards.values()) == [0, 1]
    for guild in (home, other):
        channel = next(c.id for c in guild.channels.values() if c.name == "general")
        await harness.sandbox.send_message("alice", channel, "!hello")
        reply = await harness.sandbox.wait_for_bot_message(channel=channel, timeout=10)
        assert reply.content == "hello alice"
