"""The error handler and the reply helper, end to end on the sandbox (prefix, hybrid slash, pure slash)."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

import discord
import pytest

from tui_bot.config.model import DEFAULT_CONFIG, OPTIONAL_KEYS, ConfigValueError
from tui_bot.config.validation import parse_config
from tui_bot.core.errors import describe_error, permission_names
from tui_bot.core.replies import delete_after_for

if TYPE_CHECKING:
    from conftest import BotHarness

ERRORS = """
import discord
from discord import app_commands
from discord.ext import commands

from tui_bot.core.replies import send_reply
from tui_bot.core.responses import success_embed


class Errs(commands.Cog):
    def __init__(self, bot):
        self.bot = bot

    @commands.command()
    async def add(self, ctx, a: int, b: int):
        await ctx.send(str(a + b))

    @commands.command()
    async def poke(self, ctx, who: discord.Member):
        await ctx.send(f"poked {who.name}")

    @commands.command()
    async def boom(self, ctx):
        raise RuntimeError("leaking " + self.bot.http.token)

    @commands.hybrid_command(description="Explodes")
    async def hboom(self, ctx):
        raise RuntimeError("kaboom")

    @commands.hybrid_command(description="Once a minute")
    @commands.cooldown(1, 60, commands.BucketType.user)
    async def honce(self, ctx):
        await ctx.send("honce ok")

    @app_commands.command(description="Pure explosion")
    async def pboom(self, interaction):
        raise RuntimeError("pure kaboom")

    @commands.command()
    async def own(self, ctx, n: int):
        await ctx.send("own ok")

    @own.error
    async def own_error(self, ctx, error):
        await ctx.send(f"own handler: {type(error).__name__}")

    @commands.command()
    async def done(self, ctx):
        await send_reply(ctx, embed=success_embed("Done"), kind="success")

    @commands.command()
    async def echo(self, ctx, *, text):
        await send_reply(ctx, content=text)


class Handled(commands.Cog):
    @commands.command()
    async def handled(self, ctx):
        raise RuntimeError("the cog handles it")

    async def cog_command_error(self, ctx, error):
        await ctx.send("cog handler")


async def setup(bot):
    await bot.add_cog(Errs(bot))
    await bot.add_cog(Handled())
"""

ERROR_ID = re.compile(
    r"^Something went wrong \(error id `([0-9a-f]{8})`\); the bot owner can find it in the logs\.$"
)


async def say(harness: BotHarness, author: str, content: str) -> Any:
    await harness.sandbox.send_message(author, "general", content)
    return await harness.sandbox.wait_for_bot_message(timeout=10)


async def error_text(harness: BotHarness, author: str, content: str) -> str:
    reply = await say(harness, author, content)
    assert reply.content == "" and len(reply.embeds) == 1, reply.content
    return reply.embeds[0]["description"]


# --- the replies.delete_after key --------------------------------------------------------------


def test_replies_delete_after_is_an_optional_key_with_validation() -> None:
    assert OPTIONAL_KEYS["replies.delete_after"] == 10.0 and "replies" not in DEFAULT_CONFIG
    assert parse_config({}).replies.delete_after == 10.0
    assert parse_config({"replies": {"delete_after": 0}}).replies.delete_after == 0.0
    assert parse_config({"replies": {"delete_after": 2.5}}).replies.delete_after == 2.5
    for bad in (-1, "10", True, None):
        with pytest.raises(ConfigValueError, match=r"'replies\.delete_after'.*0 or more \(0 = never\)"):
            parse_config({"replies": {"delete_after": bad}})


def test_permission_names_and_unexpected_errors_have_no_description() -> None:
    assert permission_names(["ban_members", "manage_guild"]) == "Ban Members, Manage Server"
    assert describe_error(RuntimeError("x"), name="x") is None


# --- prefix commands ---------------------------------------------------------------------------


async def test_prefix_errors_get_specific_replies(
    harness: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    harness.write_extension("errs", ERRORS)
    bot = await harness.start(cooldowns={"default_rate": 100, "default_per": 1})
    assert await error_text(harness, "bob", "!add 1") == "`b` is required.\nUsage: `!add <a> <b>`"
    assert await error_text(harness, "bob", "!add 1 two") == (
        'Converting to "int" failed for parameter "b".\n`b` must be a whole number.\nUsage: `!add <a> <b>`'
    )
    assert await error_text(harness, "bob", "!poke zed") == (
        'Member "zed" not found.\n`who` must be a member of this server (mention, id or name).\n'
        "Usage: `!poke <who>`"
    )
    # An unknown command gets no reply at all: the next reply answers the next command.
    await harness.sandbox.send_message("bob", "general", "!nosuchcommand")
    assert (await say(harness, "bob", "!add 1 2")).content == "3"

    # Unexpected: the user sees an id, the log has the traceback under it, the token appears nowhere.
    with caplog.at_level(logging.ERROR, logger="tui_bot.errors"):
        text = await error_text(harness, "bob", "!boom")
    match = ERROR_ID.match(text)
    assert match is not None, text
    [record] = [r for r in caplog.records if match.group(1) in r.getMessage()]
    assert record.exc_info is not None and "leaking" in str(record.exc_info[1])
    assert "Unexpected error in command boom" in record.getMessage()
    token = bot.http.token
    assert token is not None and all(token not in str(m.embeds) for m in harness.sandbox.sent_messages)

    # A command's or cog's own handler answers alone.
    assert (await say(harness, "bob", "!own x")).content == "own handler: BadArgument"
    assert (await say(harness, "bob", "!handled")).content == "cog handler"
    assert (await say(harness, "bob", "!add 2 2")).content == "4"
    # boom and handled raised; the bad arguments (own's included) were refusals.
    assert (bot.metrics.error_count, bot.metrics.refusal_count) == (2, 4)


async def test_prefix_error_and_success_replies_delete_themselves(harness: BotHarness) -> None:
    harness.write_extension("errs", ERRORS)
    bot = await harness.start(replies={"delete_after": 0.2})
    error = await say(harness, "bob", "!add 1")
    success = await say(harness, "bob", "!done")
    info = await say(harness, "bob", "!echo staying")
    for message in (error, success):
        await harness.sandbox.wait_for_event(
            "message_delete", check=lambda e, m=message: e.message.id == m.id, timeout=5
        )
    # The info reply is still there after both deletions.
    world = harness.sandbox.world
    assert world.get_message(info.channel_id, info.id) is not None
    assert world.get_message(error.channel_id, error.id) is None
    assert delete_after_for(bot, "info") is None and delete_after_for(bot, "error") == 0.2
    await bot.config.set("replies", {"delete_after": 0})
    assert delete_after_for(bot, "error") is None  # 0 = never


async def test_replies_never_ping_even_when_the_bot_allows_mentions(harness: BotHarness) -> None:
    harness.write_extension("errs", ERRORS)
    bot = await harness.start()
    bot.allowed_mentions = discord.AllowedMentions.all()  # an extension loosened the bot-wide default
    bob = harness.sandbox.world.find_user("bob")
    reply = await say(harness, "alice", f"!echo @everyone hi <@{bob.id}>")
    assert reply.content == f"@everyone hi <@{bob.id}>"
    assert reply.mention_everyone is False and reply.mentions == []


# --- slash -------------------------------------------------------------------------------------


async def test_slash_errors_are_ephemeral(harness: BotHarness) -> None:
    harness.write_extension("errs", ERRORS)
    bot = await harness.start()
    assert (await bot.actions.sync()).ok

    async def slash(name: str) -> Any:
        return await (await harness.sandbox.invoke_slash("bob", "general", name)).response()

    hybrid = await slash("hboom")
    assert hybrid.ephemeral and ERROR_ID.match(hybrid.embeds[0]["description"])
    assert (await slash("honce")).content == "honce ok"
    cooldown = await slash("honce")
    assert cooldown.ephemeral
    assert re.fullmatch(
        r"`honce` is on cooldown: try again in \d+\.\d s\.", cooldown.embeds[0]["description"]
    )
    pure = await slash("pboom")
    assert pure.ephemeral and ERROR_ID.match(pure.embeds[0]["description"])
    assert (bot.metrics.error_count, bot.metrics.refusal_count) == (2, 1)  # the cooldown: a refusal
