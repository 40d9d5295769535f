"""Every reply a command sends arrives exactly once through REST faults, end to end: the real TuiBot on
the sandbox, 503s and 429 storms on the message route, failures after the message was created (the
nonce deduplicates the retry), a deadline that runs out, 4xx refusals that are not retried, slash."""

from __future__ import annotations

import logging
from collections import Counter
from typing import TYPE_CHECKING, Any

import pytest
from helpers.waiting import wait_until
from sandbox_bots import BOT_ROLE_ID

from tui_bot.config.model import OPTIONAL_KEYS, ConfigValueError
from tui_bot.config.validation import parse_config
from tui_bot.core.context import TuiContext
from tui_bot.core.retries import backoff_delay
from tui_bot.sandbox.rest import SEND_MESSAGES
from tui_bot.sandbox.world import PermissionOverwrite

if TYPE_CHECKING:
    from conftest import BotHarness

REPLIES = """
import io

import discord
from discord.ext import commands


class Replies(commands.Cog):
    def __init__(self, bot):
        self.bot = bot
        self.contexts = []

    @commands.command()
    async def say(self, ctx, *, text):
        self.contexts.append(ctx)
        await ctx.send(text)  # plain extension code: nothing about nonces or retries

    @commands.command()
    async def twice(self, ctx, *, text):
        await ctx.send(text * 2)  # a member's message holds 2,000 characters; the bot's answer may not

    @commands.hybrid_command(description="Replies to the invoker")
    async def answer(self, ctx, text: str):
        await ctx.reply(text)

    @commands.command()
    async def upload(self, ctx):
        await ctx.send("with a file", file=discord.File(io.BytesIO(b"payload"), "data.txt"))


async def setup(bot):
    await bot.add_cog(Replies(bot))
"""

ROOMY = {"default_rate": 1000, "default_per": 1}  # no cooldown refusals in the bulk tests
MESSAGES_ROUTE = "POST channels/*/messages"


async def start(harness: BotHarness, **config: Any) -> Any:
    harness.write_extension("replies_ext", REPLIES)
    return await harness.start(cooldowns=ROOMY, **config)


def bot_messages(harness: BotHarness, channel: str = "general") -> list[Any]:
    """The bot's messages stored in ``channel``: what a member scrolling it would see."""
    sandbox = harness.sandbox
    target = sandbox.world.find_channel(channel).id
    bot_id = sandbox.world.bot_user.id
    return [m for m in sandbox.world.messages[target].values() if m.author.id == bot_id]


def message_posts(harness: BotHarness) -> list[int]:
    """Statuses of the bot's message creates, in order."""
    return [
        status
        for method, path, status in harness.sandbox.requests
        if method == "POST" and path.endswith("/messages")
    ]


async def settle(bot: Any) -> None:
    """Until every running command has finished (its retries included)."""
    assert await bot.lifecycle.drain(30) == 0


# --- prefix commands -----------------------------------------------------------------------------


async def test_100_replies_through_503s_each_arrive_exactly_once(harness: BotHarness) -> None:
    bot = await start(harness)
    # Every other create fails, 50 times: half the first tries, and no retry is lost either.
    fault = harness.sandbox.fail_route(MESSAGES_ROUTE, 503, count=50, every=2)
    for index in range(100):
        await harness.sandbox.send_message("alice", "general", f"!say reply {index}")
    expected = {f"reply {index}" for index in range(100)}
    for _ in range(100):
        await harness.sandbox.wait_for_bot_message(check=lambda m: m.content in expected, timeout=30)
    await settle(bot)
    counts = Counter(m.content for m in bot_messages(harness))
    assert {text: counts[text] for text in expected} == dict.fromkeys(expected, 1)
    assert fault.hits == 50 and message_posts(harness).count(503) == 50
    assert len(message_posts(harness)) == 150
    assert bot.metrics.get_stats()["replies_failed"] == 0


async def test_a_40_long_429_storm_loses_no_reply(harness: BotHarness) -> None:
    bot = await start(harness)
    # discord.py gives up after 5 tries per request: 8 of its sends are used up by this storm.
    harness.sandbox.force_429(40, route=MESSAGES_ROUTE, retry_after=0.01)
    for index in range(3):
        await harness.sandbox.send_message("alice", "general", f"!say storm {index}")
    for _ in range(3):
        await harness.sandbox.wait_for_bot_message(check=lambda m: m.content.startswith("storm"), timeout=30)
    await settle(bot)
    assert Counter(m.content for m in bot_messages(harness)) == {f"storm {i}": 1 for i in range(3)}
    assert message_posts(harness).count(429) == 40
    assert bot.metrics.get_stats()["replies_failed"] == 0


@pytest.mark.parametrize("status", [503, 500, None], ids=["503", "500", "dropped"])
async def test_created_then_failed_reply_exists_exactly_once(harness: BotHarness, status: int | None) -> None:
    bot = await start(harness)
    # The message is created and dispatched, then the bot gets a 5xx (or a dropped connection).
    harness.sandbox.fail_after_create(MESSAGES_ROUTE, status=status, count=1)
    await harness.sandbox.send_message("alice", "general", "!say only once")
    reply = await harness.sandbox.wait_for_bot_message()
    await settle(bot)
    assert [m.content for m in bot_messages(harness)] == ["only once"]
    assert reply.nonce is not None  # plain ctx.send got a nonce, and kept it for the retry
    assert message_posts(harness) == [0 if status is None else status, 200]
    # The command saw a successful send of that very message (discord.py retried the 500 itself).
    cog = bot.get_cog("Replies")
    assert isinstance(cog.contexts[-1], TuiContext)
    assert bot.metrics.get_stats()["replies_failed"] == 0


async def test_hybrid_reply_as_prefix_command_is_deduplicated_too(harness: BotHarness) -> None:
    bot = await start(harness)
    harness.sandbox.fail_after_create(MESSAGES_ROUTE, status=503, count=1)
    command = await harness.sandbox.send_message("bob", "general", "!answer hello")
    reply = await harness.sandbox.wait_for_bot_message()
    await settle(bot)
    assert [m.content for m in bot_messages(harness)] == ["hello"]
    assert reply.message_reference is not None and reply.message_reference["message_id"] == str(command.id)


async def test_a_reply_with_a_file_is_sent_again_whole(harness: BotHarness) -> None:
    bot = await start(harness)
    harness.sandbox.fail_route(MESSAGES_ROUTE, 503, count=2)
    await harness.sandbox.send_message("alice", "general", "!upload")
    reply = await harness.sandbox.wait_for_bot_message()
    await settle(bot)
    [attachment] = reply.attachments
    assert attachment["filename"] == "data.txt" and attachment["size"] == len(b"payload")
    assert message_posts(harness) == [503, 503, 200]


async def test_a_reply_still_failing_at_the_deadline_is_an_error_and_counted(
    harness: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    bot = await start(harness, replies={"retry_deadline": 0.3})
    harness.sandbox.fail_route(MESSAGES_ROUTE, 503)  # until cleared
    with caplog.at_level(logging.ERROR, logger="tui_bot"):
        await harness.sandbox.send_message("alice", "general", "!say lost")
        # The reply (retried until the deadline), then the error handler's reply about it (tried once:
        # the same outage would only make the command wait out a second deadline).
        await wait_until(lambda: bot.metrics.get_stats()["replies_failed"] == 2)
    lost = [r for r in caplog.records if r.name == "tui_bot.replies" and r.levelno == logging.ERROR]
    assert len(lost) == 2 and all("lost after" in r.getMessage() for r in lost)
    assert "retry deadline reached" in lost[0].getMessage() and "503" in lost[0].getMessage()
    assert "lost after 1 attempt" in lost[1].getMessage()
    posts = message_posts(harness)
    assert set(posts) == {503} and len(posts) >= 3  # at least two tries for the reply, one for the error
    # The command's error handling saw the failure, as before.
    assert any("Unexpected error in command say" in r.getMessage() for r in caplog.records)
    assert bot_messages(harness) == []
    harness.sandbox.clear_faults()
    await harness.sandbox.send_message("alice", "general", "!say back")
    assert (await harness.sandbox.wait_for_bot_message()).content == "back"
    assert bot.metrics.replies_failed == 2


async def test_shutdown_stops_the_retries_at_its_drain_deadline(
    harness: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    bot = await start(harness)  # replies.retry_deadline: the default 60 s
    bot.shutdown_timeout = 0.5
    harness.sandbox.fail_route(MESSAGES_ROUTE, 503)
    with caplog.at_level(logging.ERROR, logger="tui_bot.replies"):
        await harness.sandbox.send_message("alice", "general", "!say goodbye")
        await harness.sandbox.wait_for_event("fault", check=lambda e: e.data["action"] == "hit")
        await bot.close()  # waits 0.5 s for the command, not the reply's 60 s
    # The reply, given up at the drain deadline (the error handler's reply about it may be lost too).
    [lost] = [r for r in caplog.records if "drain deadline" in r.getMessage()]
    assert "lost after" in lost.getMessage() and "503" in lost.getMessage()
    assert bot.metrics.replies_failed >= 1 and bot_messages(harness) == []


async def test_refusals_are_not_retried(harness: BotHarness, caplog: pytest.LogCaptureFixture) -> None:
    bot = await start(harness)
    doubled = "x" * 1001  # sent twice: 2,002 characters, which Discord refuses (400 Invalid Form Body)
    await harness.sandbox.send_message("alice", "general", f"!twice {doubled}")
    error = await harness.sandbox.wait_for_bot_message()  # the error handler's, once the send raised
    # One try for the reply (a retry would be another 400 before the error handler's reply).
    assert error.embeds and message_posts(harness) == [400, 200]

    # 403 Missing Permissions: the bot may not send messages in #bot-commands.
    channel = harness.sandbox.world.find_channel("bot-commands")
    channel.permission_overwrites.append(PermissionOverwrite(BOT_ROLE_ID, 0, deny=SEND_MESSAGES))
    path = f"/api/v10/channels/{channel.id}/messages"
    with caplog.at_level(logging.WARNING, logger="tui_bot.replies"):
        await harness.sandbox.send_message("alice", "bot-commands", "!say denied")
        # The error handler's reply is refused too; send_reply logs that, and only then.
        await wait_until(lambda: any(str(channel.id) in r.getMessage() for r in caplog.records))
    denied = [status for method, p, status in harness.sandbox.requests if method == "POST" and p == path]
    assert denied == [403, 403]  # the reply once, then the error handler's reply once
    assert bot.metrics.get_stats()["replies_failed"] == 0


# --- slash (hybrid used as a slash command) ------------------------------------------------------


async def test_slash_reply_is_retried_after_429s_but_not_after_an_ambiguous_5xx(
    harness: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    bot = await start(harness)
    assert (await bot.actions.sync()).ok
    callback = "POST interactions/*/*/callback"
    # More 429s than discord.py's 5 tries: the interaction response is refused unprocessed, so it is safe
    # to send again although it carries no nonce.
    harness.sandbox.force_429(7, route=callback, retry_after=0.01)
    handle = await harness.sandbox.invoke_slash("bob", "general", "answer", text="hi")
    assert (await handle.response(timeout=10)).content == "hi"

    # A dropped connection may or may not have been processed: without a nonce it is not repeated, and the
    # loss shows. (discord.py itself repeats an interaction callback on a 5xx, up to 5 times.)
    harness.sandbox.fail_route(callback, status=None, count=1)
    with caplog.at_level(logging.ERROR, logger="tui_bot.replies"):
        handle = await harness.sandbox.invoke_slash("bob", "general", "answer", text="maybe")
        # The error handler's reply, sent as the interaction response: this one went through.
        response = await handle.response(timeout=10)
    assert response.ephemeral and response.embeds[0]["title"].endswith("Something went wrong")
    [lost] = [r for r in caplog.records if r.name == "tui_bot.replies"]
    assert "lost after 1 attempt" in lost.getMessage() and "not safe to repeat" in lost.getMessage()
    assert bot.metrics.get_stats()["replies_failed"] == 1
    callbacks = [s for m, p, s in harness.sandbox.requests if m == "POST" and "/callback" in p]
    # 5 tries by discord.py, then ours: 2 more 429s and the answer; then the drop and the error's answer.
    assert callbacks == [429] * 7 + [200, 0, 200]


# --- the policy and the config key ---------------------------------------------------------------


def test_backoff_is_exponential_jittered_and_capped() -> None:
    for retry, base in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 8.0), (9, 8.0)]:
        delays = [backoff_delay(retry) for _ in range(50)]
        assert all(base / 2 <= d <= base for d in delays) and len(set(delays)) > 1


def test_retry_deadline_is_an_optional_key_with_validation() -> None:
    assert OPTIONAL_KEYS["replies.retry_deadline"] == 60.0
    assert parse_config({}).replies.retry_deadline == 60.0
    assert parse_config({"replies": {"retry_deadline": 2}}).replies.retry_deadline == 2.0
    assert parse_config({"replies": {"retry_deadline": 900}}).replies.retry_deadline == 900.0
    for bad in [0, -1, 901, float("inf"), float("nan"), "60", True, None]:
        with pytest.raises(
            ConfigValueError, match=r"'replies\.retry_deadline'.*greater than 0 and at most 900"
        ):
            parse_config({"replies": {"retry_deadline": bad}})
