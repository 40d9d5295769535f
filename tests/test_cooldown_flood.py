"""A 5,000-message flood from one member gets one cooldown reply per window (issue 10).

The sandbox injects the flood as fast as it can, under Discord's per-channel limit for sending
messages (5 per 5 s). Before the fix each refused message got its own "slow down" reply: 4,994 replies
for 5,000 messages, and another member's reply queued behind them. Now the flood gets the allowed uses
and one refusal, and another member's command is answered next.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import BotHarness

FLOOD = 5_000
RATE, WINDOW = 3, 3_600.0  # the flood stays inside one window however slow the machine is

PING = """
from discord.ext import commands


class Ping(commands.Cog):
    @commands.command()
    async def ping(self, ctx):
        await ctx.send(f"pong {ctx.author.name}")


async def setup(bot):
    await bot.add_cog(Ping())
"""


async def test_a_5000_message_flood_gets_one_cooldown_reply(harness: BotHarness) -> None:
    harness.write_extension("ping", PING)
    # The config's default cooldown (the command declares none), with a window longer than the test.
    await harness.start(cooldowns={"default_rate": RATE, "default_per": WINDOW})
    sb = harness.sandbox
    sb.set_rate_limit("POST channels/*/messages", 5, 5.0)  # Discord's per-channel limit

    started = time.monotonic()
    for _ in range(FLOOD):
        await sb.send_message("alice", "general", "!ping")
    injected = time.monotonic() - started
    sent_at = time.monotonic()
    await sb.send_message("bob", "general", "!ping")
    answer = await sb.wait_for_bot_message(check=lambda m: m.content == "pong bob", timeout=60)
    bob_waited = time.monotonic() - sent_at
    # A last probe in the same channel (it waits out the per-channel limit the five replies used up):
    # every reply the flood could still cause was sent before this one.
    await sb.send_message("operator", "general", "!ping")
    await sb.wait_for_bot_message(check=lambda m: m.content == "pong operator", timeout=60)

    sent = sb.sent_messages
    pongs = [m for m in sent if m.content == "pong alice"]
    refusals = [m for m in sent if m.embeds and m.embeds[0]["title"] == "⚠️ Slow down"]
    assert len(pongs) == RATE and len(refusals) == 1
    assert len(sent) == RATE + 1 + 2  # nothing else: one refusal for 4,997 refused commands
    # bob's reply waits for the flood's four replies at most (sent concurrently, in any order), and
    # the probe comes last: nothing the flood caused was still queued behind bob.
    assert answer.id in {m.id for m in sent[: RATE + 2]} and sent[-1].content == "pong operator"
    print(  # the figures in README "Reliability and security" (run with -s to see them)
        f"\nflood: {FLOOD} messages injected in {injected:.1f} s; {len(refusals)} cooldown reply; "
        f"another member's reply after {bob_waited * 1000:.0f} ms"
    )
