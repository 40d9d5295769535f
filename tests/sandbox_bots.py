"""Helpers for tests that run a real discord.py bot against the sandbox (not a test module).

Used by the gateway, faults and membership tests: a bot factory with the waits discord.py builds in
turned down, and a context manager that runs a bot until the block ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import discord
from discord.ext import commands

from tui_bot.sandbox import Sandbox

GUILD_ID = 1191168935198720000
BOT_ID = 1191168918421504000
OPERATOR_ID = 1191168922615808000
BOT_ROLE_ID = 1191168943587328000
MODERATOR_ROLE_ID = 1191168939393024000


async def no_identify_delay(shard_id: int | None, *, initial: bool = False) -> None:
    """Replaces ``Client.before_identify_hook``, which sleeps 5 s before every non-first IDENTIFY."""


def make_bot(*, members: bool = False, sharded: bool = False, **options: Any) -> commands.Bot:
    """A ``commands.Bot`` (``AutoShardedBot`` if ``sharded``) with a ``!ping`` command.

    ``guild_ready_timeout`` is small: discord.py fires on_ready that long after the last GUILD_CREATE.
    """
    intents = discord.Intents.default()
    intents.message_content = True
    intents.members = members
    cls = commands.AutoShardedBot if sharded else commands.Bot
    bot = cls(command_prefix="!", intents=intents, guild_ready_timeout=0.01, **options)
    bot.before_identify_hook = no_identify_delay  # type: ignore[method-assign]

    @bot.command()
    async def ping(ctx: commands.Context[commands.Bot]) -> None:
        await ctx.send("pong")

    return bot


@asynccontextmanager
async def running(bot: commands.Bot, sandbox: Sandbox) -> AsyncIterator[commands.Bot]:
    """Start ``bot`` in a task until it is ready; on exit close it and surface any error it raised."""
    task = asyncio.create_task(bot.start(sandbox.token))
    ready = asyncio.create_task(bot.wait_until_ready())
    try:
        done, _ = await asyncio.wait({task, ready}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            task.result()  # start() ended early: raise its error
        assert ready in done, "the bot never became ready"
        yield bot
    finally:
        ready.cancel()
        await bot.close()
        await asyncio.wait_for(task, timeout=5)


async def next_item(queue: asyncio.Queue[Any], timeout: float = 5.0) -> Any:  # noqa: ASYNC109
    """The next item a listener put in ``queue``, failing the test after ``timeout`` seconds."""
    return await asyncio.wait_for(queue.get(), timeout=timeout)
