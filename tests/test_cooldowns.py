"""Cooldowns: the same behaviour and replies as discord.py's, at a cost that does not grow with users.

End to end through the sandbox with the real discord.py client, plus the bucket table driven through
discord.py's own ``get_bucket``/``update_rate_limit`` API with 10,000 distinct users.
"""

from __future__ import annotations

import asyncio
import re
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from discord.ext import commands

from tui_bot.core.cooldowns import LruCooldownMapping, bucket_count

if TYPE_CHECKING:
    from conftest import BotHarness

COOLDOWNS = """
import discord
from discord import app_commands
from discord.ext import commands


class Cooled(commands.Cog):
    @commands.command()
    async def plain(self, ctx):
        await ctx.send(f"plain {ctx.author.name}")

    @commands.command()
    async def probe(self, ctx):
        await ctx.send(f"probe {ctx.author.name}")

    @commands.command()
    @commands.cooldown(1, 60, commands.BucketType.guild)
    async def guildwide(self, ctx):
        await ctx.send(f"guildwide {ctx.author.name}")

    @commands.command()
    @commands.cooldown(2, 60, commands.BucketType.channel)
    async def perchannel(self, ctx):
        await ctx.send(f"perchannel {ctx.author.name}")

    @commands.command()
    @commands.cooldown(1, 60, commands.BucketType.user)
    async def forgiving(self, ctx, reset: bool = False):
        if reset:
            ctx.command.reset_cooldown(ctx)
        await ctx.send(f"forgiving {reset}")

    @commands.command()
    @commands.dynamic_cooldown(lambda ctx: commands.Cooldown(1, 60), commands.BucketType.user)
    async def dynamic(self, ctx):
        await ctx.send("dynamic")

    @app_commands.command(name="pcool", description="a pure slash command with a cooldown")
    @app_commands.checks.cooldown(1, 60)
    async def pcool(self, interaction: discord.Interaction):
        await interaction.response.send_message("pcool ok")


async def setup(bot):
    await bot.add_cog(Cooled())
"""

COOLDOWN_TEXT = re.compile(r"`(?P<name>[a-z]+)` is on cooldown: try again in (?P<secs>\d+\.\d) s\.")


async def reply_to(harness: BotHarness, author: str, content: str, channel: str = "general") -> Any:
    await harness.sandbox.send_message(author, channel, content)
    return await harness.sandbox.wait_for_bot_message(timeout=10)


async def cooldown_seconds(harness: BotHarness, author: str, content: str, channel: str = "general") -> float:
    """Send ``content`` and return the retry-after of the cooldown refusal it gets."""
    reply = await reply_to(harness, author, content, channel)
    assert reply.content == "" and len(reply.embeds) == 1, reply.content
    assert reply.embeds[0]["title"] == "⚠️ Slow down"
    match = COOLDOWN_TEXT.fullmatch(reply.embeds[0]["description"])
    assert match is not None, reply.embeds[0]["description"]
    return float(match["secs"])


async def test_default_cooldown_per_user_with_the_same_reply_text(harness: BotHarness) -> None:
    harness.write_extension("cooled", COOLDOWNS)
    bot = await harness.start(cooldowns={"default_rate": 2, "default_per": 30})
    assert (await reply_to(harness, "alice", "!plain")).content == "plain alice"
    assert (await reply_to(harness, "alice", "!plain")).content == "plain alice"
    retry_after = await cooldown_seconds(harness, "alice", "!plain")
    assert 25.0 <= retry_after <= 30.0
    assert (await reply_to(harness, "bob", "!plain")).content == "plain bob"  # per user
    assert bucket_count(bot.get_command("plain")) == 2


async def test_decorator_cooldowns_keep_their_bucket_types(harness: BotHarness) -> None:
    harness.write_extension("cooled", COOLDOWNS)
    bot = await harness.start(cooldowns={"default_rate": 100, "default_per": 1})
    assert bot.get_command("guildwide").cooldown.rate == 1  # the decorator wins over the default
    assert (await reply_to(harness, "alice", "!guildwide")).content == "guildwide alice"
    assert 55.0 <= await cooldown_seconds(harness, "bob", "!guildwide") <= 60.0  # one bucket per guild

    assert (await reply_to(harness, "alice", "!perchannel")).content == "perchannel alice"
    assert (await reply_to(harness, "bob", "!perchannel")).content == "perchannel bob"
    assert await cooldown_seconds(harness, "operator", "!perchannel") > 55.0  # the channel's 2 uses are spent
    reply = await reply_to(harness, "operator", "!perchannel", channel="bot-commands")
    assert reply.content == "perchannel operator"  # another channel, another bucket

    assert (await reply_to(harness, "alice", "!dynamic")).content == "dynamic"
    assert await cooldown_seconds(harness, "alice", "!dynamic") > 55.0


async def test_reset_cooldown_still_works(harness: BotHarness) -> None:
    harness.write_extension("cooled", COOLDOWNS)
    await harness.start(cooldowns={"default_rate": 100, "default_per": 1})
    assert (await reply_to(harness, "alice", "!forgiving yes")).content == "forgiving True"
    # The command reset its own cooldown: the next use is allowed.
    assert (await reply_to(harness, "alice", "!forgiving")).content == "forgiving False"
    assert await cooldown_seconds(harness, "alice", "!forgiving") > 55.0


async def test_a_user_on_cooldown_is_told_once_per_window(harness: BotHarness) -> None:
    harness.write_extension("cooled", COOLDOWNS)
    await harness.start(cooldowns={"default_rate": 1, "default_per": 60})
    assert (await reply_to(harness, "alice", "!plain")).content == "plain alice"
    assert await cooldown_seconds(harness, "alice", "!plain") > 55.0
    for _ in range(20):  # spam: no further reply, no further delete
        await harness.sandbox.send_message("alice", "general", "!plain")
    # The probe's answer is the bot's very next message: nothing was sent for the 20 spammed commands.
    assert (await reply_to(harness, "alice", "!probe")).content == "probe alice"
    # Another user on cooldown is told once too.
    assert (await reply_to(harness, "bob", "!plain")).content == "plain bob"
    assert await cooldown_seconds(harness, "bob", "!plain") > 55.0


async def test_slash_cooldowns_always_answer_privately(harness: BotHarness) -> None:
    harness.write_extension("cooled", COOLDOWNS)
    bot = await harness.start()
    assert (await bot.actions.sync()).ok

    async def slash() -> Any:
        return await (await harness.sandbox.invoke_slash("bob", "general", "pcool")).response()

    assert (await slash()).content == "pcool ok"
    for _ in range(2):  # an interaction must be acknowledged: each attempt gets its private answer
        refusal = await slash()
        assert refusal.ephemeral
        match = COOLDOWN_TEXT.fullmatch(refusal.embeds[0]["description"])
        assert match is not None and match["name"] == "pcool" and float(match["secs"]) > 55.0
    other = await (await harness.sandbox.invoke_slash("alice", "general", "pcool")).response()
    assert other.content == "pcool ok"  # per user


async def test_expired_buckets_are_dropped_as_users_come_and_go(harness: BotHarness) -> None:
    harness.write_extension("cooled", COOLDOWNS)
    bot = await harness.start(cooldowns={"default_rate": 5, "default_per": 0.5})
    for index in range(12):
        await harness.sandbox.add_member(None, f"visitor{index}")
        assert (await reply_to(harness, f"visitor{index}", "!plain")).content == f"plain visitor{index}"
    assert bucket_count(bot.get_command("plain")) <= 12
    # Everyone's window ends; the next use finds only its own bucket alive.
    await asyncio.sleep(0.6)
    assert (await reply_to(harness, "alice", "!plain")).content == "plain alice"
    assert bucket_count(bot.get_command("plain")) == 1


def _message(user_id: int) -> Any:
    # BucketType.user reads ``author.id``: the attribute discord.py's own key function uses.
    return SimpleNamespace(author=SimpleNamespace(id=user_id))


def test_live_buckets_stay_bounded_by_the_users_of_one_window() -> None:
    mapping = LruCooldownMapping(commands.Cooldown(3, 5.0), commands.BucketType.user)
    start = 1_700_000_000.0
    largest = 0
    for user in range(10_000):  # a new user every 10 ms: 500 users per 5 s window
        now = start + user * 0.01
        assert mapping.update_rate_limit(_message(user), now) is None
        largest = max(largest, len(mapping._cache))
    assert largest <= 502
    # Long after everyone's window: the next lookup leaves one bucket.
    mapping.update_rate_limit(_message(99_999), start + 1_000.0)
    assert len(mapping._cache) == 1


def test_the_lru_mapping_gives_discord_pys_retry_after() -> None:
    ours = LruCooldownMapping(commands.Cooldown(2, 10.0), commands.BucketType.user)
    theirs = commands.CooldownMapping(commands.Cooldown(2, 10.0), commands.BucketType.user)
    now = 1_700_000_000.0
    for step in range(40):
        moment = now + step * 0.7
        user = _message(step % 3)
        assert ours.update_rate_limit(user, moment) == theirs.update_rate_limit(user, moment)
    ours.get_bucket(_message(1), now + 40).reset()
    theirs.get_bucket(_message(1), now + 40).reset()
    assert ours.update_rate_limit(_message(1), now + 40) == theirs.update_rate_limit(_message(1), now + 40)


class _CountingCooldown(commands.Cooldown):
    """A Cooldown that counts how often a bucket table looks at its period (once per bucket examined)."""

    __slots__ = ()
    examined = 0

    @property  # type: ignore[override]
    def per(self) -> float:
        _CountingCooldown.examined += 1
        return 5.0

    @per.setter
    def per(self, value: float) -> None:
        pass


def test_a_lookup_examines_a_bounded_number_of_buckets_however_many_users_hold_one() -> None:
    mapping = LruCooldownMapping(_CountingCooldown(3, 5.0), commands.BucketType.user)
    now = 1_700_000_000.0
    for user in range(10_000):  # 10,000 users inside one window: every bucket is live
        mapping.update_rate_limit(_message(user), now + user * 0.0001)
    _CountingCooldown.examined = 0
    for user in range(10_000, 10_100):
        mapping.update_rate_limit(_message(user), now + 2.0)
    # discord.py's own mapping examines all 10,000 buckets on each of these 100 lookups.
    assert _CountingCooldown.examined <= 100 * 3
