"""Messages reach commands, listeners and ``wait_for`` as with discord.py, though the bot only starts
work for messages that can be commands (the real discord.py client on the sandbox)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import BotHarness

LISTENING = """
import asyncio

from discord.ext import commands


class Listening(commands.Cog):
    def __init__(self, bot):
        self.bot = bot
        self.heard = []
        self.waiting = asyncio.Event()

    @commands.Cog.listener()
    async def on_message(self, message):
        self.heard.append((message.author.name, message.content))

    @commands.command()
    async def echo(self, ctx, *, text):
        await ctx.send(f"echo {text}")

    @commands.command()
    async def ask(self, ctx):
        await ctx.send("say something")
        self.waiting.set()  # wait_for below registers before this task next yields
        answer = await self.bot.wait_for("message", check=lambda m: m.author == ctx.author, timeout=5)
        await ctx.send(f"you said {answer.content}")


async def setup(bot):
    await bot.add_cog(Listening(bot))
"""

CUSTOM_PREFIX = """
async def setup(bot):
    bot.command_prefix = lambda bot, message: ["??"]
"""


async def say(harness: BotHarness, author: str, content: str) -> str:
    await harness.sandbox.send_message(author, "general", content)
    return (await harness.sandbox.wait_for_bot_message(timeout=10)).content


async def test_listeners_and_wait_for_see_every_message(harness: BotHarness) -> None:
    harness.write_extension("listening", LISTENING)
    bot = await harness.start()
    seen_before = bot.metrics.messages_seen
    await harness.sandbox.send_message("alice", "general", "just chatting")
    assert await say(harness, "bob", "!echo hi") == "echo hi"
    assert await say(harness, "alice", "!ask") == "say something"
    cog = bot.get_cog("Listening")
    await asyncio.wait_for(cog.waiting.wait(), 5)
    assert await say(harness, "alice", "blue") == "you said blue"  # a plain message answers wait_for

    for _ in range(50):
        if ("tui-bot", "you said blue") in cog.heard:
            break
        await asyncio.sleep(0.02)
    # Plain chat, commands and the bot's own replies all reached the listener.
    assert ("alice", "just chatting") in cog.heard and ("bob", "!echo hi") in cog.heard
    assert ("tui-bot", "echo hi") in cog.heard and ("tui-bot", "you said blue") in cog.heard
    assert bot.metrics.messages_seen - seen_before == len(cog.heard)


async def test_an_extension_may_replace_the_prefix(harness: BotHarness) -> None:
    harness.write_extension("listening", LISTENING)
    harness.write_extension("custom_prefix", CUSTOM_PREFIX)
    await harness.start()
    assert await say(harness, "bob", "??echo custom") == "echo custom"
