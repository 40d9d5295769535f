"""``bot.metrics`` counters and the graceful shutdown, with the real discord.py client on the sandbox."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from typing import TYPE_CHECKING

import pytest
from helpers.waiting import wait_until

from tui_bot.core.metrics import LATENCY_SAMPLES, Metrics

if TYPE_CHECKING:
    from conftest import BotHarness

WORK = """
import asyncio

from discord import app_commands
from discord.ext import commands


class Work(commands.Cog):
    def __init__(self, bot):
        self.bot = bot

    @commands.hybrid_command(description="Say hi")
    async def hi(self, ctx):
        await ctx.send("hi")

    @app_commands.command(description="Pure")
    async def pure(self, interaction):
        await interaction.response.send_message("pure")

    @commands.command()
    async def slow(self, ctx):
        self.bot.test_started.set()
        await self.bot.test_release.wait()
        await ctx.send("slow done")

    @commands.command()
    async def quick(self, ctx):
        self.bot.test_quick_ran = True
        await ctx.send("quick")


async def setup(bot):
    bot.test_started = asyncio.Event()
    bot.test_release = asyncio.Event()
    bot.test_quick_ran = False
    await bot.add_cog(Work(bot))
"""


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeBot:
    guilds = ()
    latency = float("inf")


def test_per_minute_ring_latency_summary_and_top_commands() -> None:
    clock = FakeClock()
    metrics = Metrics(FakeBot(), clock=clock)
    for ms in range(1, 101):
        metrics.command_finished("ping", ms / 1000)
    metrics.command_finished("ban", 0.5)
    clock.now += 60
    metrics.command_finished("ban", 0.5)
    stats = metrics.get_stats()
    assert stats["top_commands"] == {"ping": 100, "ban": 2}
    assert stats["latency"]["ping"] == {"count": 100, "avg_ms": 50.5, "max_ms": 100.0, "p95_ms": 95.0}
    assert stats["commands_per_minute"][-2:] == [101, 1] and len(stats["commands_per_minute"]) == 60
    assert stats["uptime"] == 60.0 and stats["gateway_latency_ms"] is None
    assert stats["commands_processed"] == 102

    # An hour later the old minutes have left the ring; the samples ring keeps the newest only.
    clock.now += 3600
    assert metrics.commands_per_minute() == [0] * 60
    metrics.command_finished("ping", 0.001)
    assert metrics.commands_per_minute()[-1] == 1
    for _ in range(LATENCY_SAMPLES):
        metrics.command_finished("ping", 0.2)
    assert metrics.get_stats()["latency"]["ping"]["p95_ms"] == 200.0
    assert metrics.get_stats()["latency"]["ping"]["max_ms"] == 200.0


async def test_stats_count_messages_prefix_hybrid_slash_and_pure_slash(harness: BotHarness) -> None:
    harness.write_extension("work", WORK)
    bot = await harness.start()
    await bot.actions.sync()
    for text in ("hello there", "just chatting", "!hi"):
        await harness.sandbox.send_message("alice", "general", text)
    assert (await harness.sandbox.wait_for_bot_message()).content == "hi"
    hybrid = await (await harness.sandbox.invoke_slash("bob", "general", "hi")).response()
    assert hybrid.content == "hi"
    assert (await (await harness.sandbox.invoke_slash("bob", "general", "pure")).response()).content == "pure"

    # The reply reaches the sandbox a moment before the invocation ends on the bot's side.
    await wait_until(lambda: bot.metrics.commands_processed == 3)
    stats = bot.metrics.get_stats()
    assert stats["messages_seen"] >= 3  # the members' three, plus the bot's own replies
    assert stats["commands_processed"] == 3 and stats["error_count"] == 0
    assert stats["top_commands"] == {"hi": 2, "pure": 1}
    assert stats["latency"]["hi"]["count"] == 2 and stats["latency"]["hi"]["max_ms"] > 0
    assert stats["commands_per_minute"][-1] == 3
    guild = bot.guilds[0]
    assert stats["guilds"] == 1 and stats["users"] == guild.member_count
    assert stats["gateway_latency_ms"] is None or stats["gateway_latency_ms"] >= 0
    # The database counts hybrid commands used as slash commands, and pure slash commands.
    assert await bot.metrics.top_commands_all_time() == {"hi": 2, "pure": 1}


async def test_close_lets_running_commands_finish_and_refuses_new_ones(harness: BotHarness) -> None:
    harness.write_extension("work", WORK)
    bot = await harness.start()
    await bot.actions.sync()
    sandbox = harness.sandbox

    await sandbox.send_message("alice", "general", "!slow")
    await asyncio.wait_for(bot.test_started.wait(), 5)  # type: ignore[attr-defined]
    closing = asyncio.create_task(bot.close())
    await wait_until(lambda: not bot.lifecycle.accepting)

    # A prefix command sent now is read but not run; a slash command is told why.
    seen = bot.metrics.messages_seen
    await sandbox.send_message("bob", "general", "!quick")
    await wait_until(lambda: bot.metrics.messages_seen > seen)
    refused = await (await sandbox.invoke_slash("bob", "general", "hi")).response()
    assert refused.ephemeral and refused.embeds[0]["title"].endswith("Shutting down")
    assert not closing.done() and bot.lifecycle.running == 1

    bot.test_release.set()  # type: ignore[attr-defined]
    await asyncio.wait_for(closing, 10)
    assert bot.is_closed() and not bot.db.connected
    assert [m.content for m in sandbox.sent_messages if m.content] == ["slow done"]
    assert bot.test_quick_ran is False  # type: ignore[attr-defined]
    with sqlite3.connect(harness.db_path) as conn:
        assert dict(conn.execute("SELECT command_name, usage_count FROM command_stats")) == {"slow": 1}
    assert list(harness.db_path.parent.glob("bot.db.backup_*"))
    await bot.close()  # a second close is harmless


async def test_close_waits_only_up_to_the_bound(
    harness: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    harness.write_extension("work", WORK)
    bot = await harness.start()
    bot.shutdown_timeout = 0.2
    await harness.sandbox.send_message("alice", "general", "!slow")
    await asyncio.wait_for(bot.test_started.wait(), 5)  # type: ignore[attr-defined]
    loop = asyncio.get_running_loop()
    started = loop.time()
    with caplog.at_level(logging.WARNING, logger="tui_bot.lifecycle"):
        await asyncio.wait_for(bot.close(), 5)
    assert 0.2 <= loop.time() - started < 3
    assert "1 command(s) still running after 0 s; cancelling them" in caplog.text
    # The stuck command was cancelled before the connection closed: it never replies, is not counted.
    assert bot.lifecycle.running == 0 and bot.metrics.top_commands() == {}
    assert not [m for m in harness.sandbox.sent_messages if m.content == "slow done"]
    with sqlite3.connect(harness.db_path) as conn:
        assert list(conn.execute("SELECT command_name FROM command_stats")) == []


ANSWERED_THEN_STUCK = """
import asyncio

from discord import app_commands
from discord.ext import commands


class Lingering(commands.Cog):
    def __init__(self, bot):
        self.bot = bot

    @app_commands.command(description="Answers, then keeps working")
    async def linger(self, interaction):
        await interaction.response.send_message("answered")
        self.bot.test_answered.set()
        await asyncio.Event().wait()  # works on until the shutdown cancels it


async def setup(bot):
    bot.test_answered = asyncio.Event()
    await bot.add_cog(Lingering(bot))
"""


async def test_a_slash_command_cancelled_after_answering_is_counted(harness: BotHarness) -> None:
    harness.write_extension("lingering", ANSWERED_THEN_STUCK)
    bot = await harness.start()
    assert (await bot.actions.sync()).ok
    bot.shutdown_timeout = 0.2
    handle = await harness.sandbox.invoke_slash("bob", "general", "linger")
    assert (await handle.response()).content == "answered"
    await asyncio.wait_for(bot.test_answered.wait(), 5)  # type: ignore[attr-defined]
    await asyncio.wait_for(bot.close(), 5)
    # The user had the answer before the drain ran out: the use is saved like any other.
    with sqlite3.connect(harness.db_path) as conn:
        assert dict(conn.execute("SELECT command_name, usage_count FROM command_stats")) == {"linger": 1}
