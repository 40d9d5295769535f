"""The shipped ``moderation`` and ``fun`` extensions, used by members of the sandbox's demo guild.

alice is a Moderator (kick, ban, manage messages), bob has no role, the operator owns the guild and
the bot. Each command is driven by prefix and by slash; what the bot did is read back from the
sandbox (members, bans, deleted messages), not from the bot.
"""

from __future__ import annotations

import random
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BotHarness
from tui_bot.core.responses import Colour
from tui_bot.sandbox import EventKind, Sandbox
from tui_bot.sandbox.world import Message

REPO = Path(__file__).resolve().parent.parent
GENERAL = "general"
KICK_MEMBERS = 1 << 1


@pytest.fixture
async def bot_harness(harness: BotHarness) -> BotHarness:
    """The bot with both shipped extensions loaded; cooldowns loose enough for many invocations."""
    for name in ("moderation", "fun"):
        harness.write_extension(
            name, (REPO / "tui_bot" / "starter" / "extensions" / f"{name}.py").read_text(encoding="utf-8")
        )
    bot = await harness.start(cooldowns={"default_rate": 100, "default_per": 1})
    await bot.tree.sync()
    return harness


def guild(sb: Sandbox) -> Any:
    return sb.find_guild()


def member_names(sb: Sandbox) -> set[str]:
    return {m.user.username for m in guild(sb).members.values()}


def general_history(sb: Sandbox) -> list[Message]:
    return sb.world.history(sb.world.find_channel(GENERAL).id, limit=100)


async def reply_to(sb: Sandbox, author: str, content: str) -> Message:
    """Post ``content`` as ``author`` in #general and return the bot's next message there."""
    await sb.send_message(author, GENERAL, content)
    # Slash replies are channel messages too: skip them, they are read from their interaction.
    return await sb.wait_for_bot_message(channel=GENERAL, check=lambda m: m.interaction_metadata is None)


def title(message: Message) -> str:
    return message.embeds[0]["title"]


# --- moderation ---------------------------------------------------------------------------------


async def test_moderator_kicks_a_member(bot_harness: BotHarness) -> None:
    sb = bot_harness.sandbox
    bob = guild(sb).find_member("bob")
    reply = await reply_to(sb, "alice", "!kick bob spamming links")
    assert title(reply) == "✅ Kicked Bob" and reply.embeds[0]["color"] == Colour.SUCCESS
    fields = {f["name"]: f["value"] for f in reply.embeds[0]["fields"]}
    assert fields["Reason"] == "spamming links" and str(bob.id) in fields["Member"]
    removed = await sb.wait_for_event(EventKind.MEMBER_REMOVE)
    assert removed.data["user_id"] == bob.id and removed.data["reason"] == "kick"
    assert "bob" not in member_names(sb)


async def test_kick_refusals_leave_everyone_in_place(bot_harness: BotHarness) -> None:
    sb = bot_harness.sandbox
    # bob lacks Kick Members: the framework's error handler says so; nothing happens.
    reply = await reply_to(sb, "bob", "!kick alice")
    assert title(reply) == "❌ Missing permission" and "Kick Members" in reply.embeds[0]["description"]
    # Nobody may act on the guild owner, on themselves, or on an equal role.
    reply = await reply_to(sb, "alice", "!kick operator")
    assert title(reply) == "❌ Can't kick Operator"
    assert reply.embeds[0]["description"] == "Operator owns this server: nobody can kick them."
    reply = await reply_to(sb, "alice", "!kick alice")
    assert reply.embeds[0]["description"] == "You can't kick yourself."
    await sb.add_member(None, "carol", roles=["Moderator"])
    await sb.wait_for_event(EventKind.MEMBER_ADD)
    reply = await reply_to(sb, "alice", "!ban carol")
    assert reply.embeds[0]["description"] == (
        "carol's highest role (Moderator) is equal to or higher than yours (Moderator)."
    )
    assert {"operator", "alice", "bob", "carol"} <= member_names(sb)
    assert not any(e.kind in (EventKind.MEMBER_REMOVE, EventKind.BAN_ADD) for e in sb.events)


async def test_discord_refusing_the_kick_gets_a_clear_reply(bot_harness: BotHarness) -> None:
    sb = bot_harness.sandbox
    # The bot's role loses Kick Members without the bot being told (no GUILD_ROLE_UPDATE): its checks
    # pass on its stale cache, and Discord answers 403 / 50013.
    bot_role = next(r for r in guild(sb).roles.values() if r.name == "tui-bot")
    bot_role.permissions &= ~KICK_MEMBERS
    reply = await reply_to(sb, "alice", "!kick bob")
    assert title(reply) == "❌ Can't kick Bob"
    assert reply.embeds[0]["description"].startswith("Discord refused: I am missing the **Kick Members**")
    assert any(method == "DELETE" and status == 403 for method, _path, status in sb.requests)
    assert "bob" in member_names(sb)


async def test_ban_by_prefix_and_slash_and_kick_by_slash(bot_harness: BotHarness) -> None:
    sb = bot_harness.sandbox
    bob = guild(sb).find_member("bob")
    response = await (await sb.invoke_slash("alice", GENERAL, "ban", member="bob", reason="spam")).response()
    assert not response.ephemeral and response.embeds[0]["title"] == "✅ Banned Bob"
    banned = await sb.wait_for_event(EventKind.BAN_ADD)
    assert banned.data["user_id"] == bob.id and "spam" in banned.data["reason"]
    assert bob.id in guild(sb).bans and "bob" not in member_names(sb)

    refused = await (await sb.invoke_slash("alice", GENERAL, "kick", member="operator")).response()
    assert refused.ephemeral and refused.embeds[0]["title"] == "❌ Can't kick Operator"
    await sb.add_member(None, "dave")
    await sb.wait_for_event(EventKind.MEMBER_ADD)
    response = await (await sb.invoke_slash("alice", GENERAL, "kick", member="dave")).response()
    assert response.embeds[0]["title"] == "✅ Kicked dave"
    assert "dave" not in member_names(sb)

    await sb.add_member(None, "erin")
    reply = await reply_to(sb, "alice", "!ban erin raiding")
    assert title(reply) == "✅ Banned erin"
    banned = await sb.wait_for_event(EventKind.BAN_ADD, check=lambda e: e is not banned)
    assert banned.data["reason"].endswith(": raiding") and "erin" not in member_names(sb)


async def test_purge_by_prefix_and_by_slash(bot_harness: BotHarness) -> None:
    sb = bot_harness.sandbox
    posted = [await sb.send_message("bob", GENERAL, f"message {n}") for n in range(6)]
    reply = await reply_to(sb, "alice", "!purge 3")
    assert title(reply) == "✅ Deleted 3 messages"
    bulk = await sb.wait_for_event(EventKind.MESSAGE_DELETE_BULK)
    assert sorted(int(i) for i in bulk.data["message_ids"]) == [m.id for m in posted[3:]]
    # The command itself is deleted too; the confirmation stays (for replies.delete_after seconds).
    contents = [m.content for m in general_history(sb) if not m.embeds]
    assert contents == ["message 2", "message 1", "message 0"]

    handle = await sb.invoke_slash("alice", GENERAL, "purge", amount=2)
    assert (await handle.response()).deferred  # acknowledged first: deleting may take a while
    confirmation = await handle.wait_for_followup()
    assert confirmation.embeds[0]["title"] == "✅ Deleted 2 messages" and confirmation.flags & 64
    await sb.wait_for_event(EventKind.MESSAGE_DELETE_BULK, check=lambda e: e is not bulk)
    # The two newest: the prefix confirmation and "message 2".
    assert [m.content for m in general_history(sb)] == ["message 1", "message 0"]

    reply = await reply_to(sb, "alice", "!purge 0")
    assert title(reply) == "❌ Invalid argument"
    reply = await reply_to(sb, "bob", "!purge 1")
    assert title(reply) == "❌ Missing permission"
    assert [m.content for m in general_history(sb) if not m.author.bot][:2] == ["!purge 1", "!purge 0"]


# --- fun ----------------------------------------------------------------------------------------


ROLL = re.compile(r"^🎲 \*\*(\d+)d(\d+)\*\*: (?:([\d + ]+) = )?\*\*(\d+)\*\*$")


def check_roll(text: str, count: int, sides: int) -> None:
    match = ROLL.match(text)
    assert match, text
    assert (int(match[1]), int(match[2])) == (count, sides)
    total = int(match[4])
    if match[3]:
        rolls = [int(r) for r in match[3].split(" + ")]
        assert len(rolls) == count and all(1 <= r <= sides for r in rolls) and sum(rolls) == total
    assert count <= total <= count * sides


async def test_roll_by_prefix_and_slash(bot_harness: BotHarness) -> None:
    sb, bot = bot_harness.sandbox, bot_harness.bot
    assert bot is not None
    check_roll((await reply_to(sb, "bob", "!roll")).content, 1, 6)
    check_roll((await reply_to(sb, "bob", "!roll 3d8")).content, 3, 8)
    check_roll((await reply_to(sb, "bob", "!roll d20")).content, 1, 20)
    check_roll((await reply_to(sb, "bob", "!roll 50d6")).content, 50, 6)  # total only
    response = await (await sb.invoke_slash("bob", GENERAL, "roll", dice="2d4")).response()
    check_roll(response.content or "", 2, 4)

    # With a seeded generator the result is exactly predictable.
    bot.get_cog("Fun").rng = random.Random(42)  # type: ignore[union-attr]
    expected = random.Random(42)
    rolls = [expected.randint(1, 6) for _ in range(2)]
    text = (await reply_to(sb, "bob", "!roll 2d6")).content
    assert text == f"🎲 **2d6**: {rolls[0]} + {rolls[1]} = **{sum(rolls)}**"

    for bad in ("0d0", "abc", "101d6", "2d1", "1d1001"):
        reply = await reply_to(sb, "bob", f"!roll {bad}")
        assert title(reply) == f"❌ Can't roll `{bad}`"
        assert reply.embeds[0]["description"].startswith("Write dice as `NdM`")
    refused = await (await sb.invoke_slash("bob", GENERAL, "roll", dice="0d0")).response()
    assert refused.ephemeral and refused.embeds[0]["title"] == "❌ Can't roll `0d0`"


async def test_coinflip_choose_and_8ball(bot_harness: BotHarness) -> None:
    sb, bot = bot_harness.sandbox, bot_harness.bot
    assert bot is not None
    fun = bot.get_cog("Fun")
    answers = sys.modules[type(fun).__module__].EIGHT_BALL_ANSWERS
    coins = {"🪙 **Heads!**", "🪙 **Tails!**"}

    assert (await reply_to(sb, "bob", "!coinflip")).content in coins
    assert (await (await sb.invoke_slash("bob", GENERAL, "coinflip")).response()).content in coins

    picks = {(await reply_to(sb, "bob", "!choose pizza, ice cream | sushi")).content for _ in range(3)}
    assert picks <= {"🤔 I choose **pizza**", "🤔 I choose **ice cream**", "🤔 I choose **sushi**"}
    quoted = (await reply_to(sb, "bob", '!choose "ice cream" cake')).content
    assert quoted in {"🤔 I choose **ice cream**", "🤔 I choose **cake**"}
    response = await (
        await sb.invoke_slash("bob", GENERAL, "choose", options={"options": "tea coffee"})
    ).response()
    assert response.content in {"🤔 I choose **tea**", "🤔 I choose **coffee**"}
    reply = await reply_to(sb, "bob", "!choose pizza")
    assert title(reply) == "❌ Give me at least two options"

    reply = await reply_to(sb, "bob", "!8ball will the tests pass?")
    assert reply.content.startswith("🎱 ") and reply.content.removeprefix("🎱 ") in answers
    response = await (await sb.invoke_slash("bob", GENERAL, "8ball", question="really?")).response()
    assert (response.content or "").removeprefix("🎱 ") in answers
    reply = await reply_to(sb, "bob", "!8ball")
    assert title(reply) == "❌ Missing argument"


async def test_roll_and_choose_answer_oversized_input_with_a_clear_message(bot_harness: BotHarness) -> None:
    sb = bot_harness.sandbox
    huge = "9" * 4400  # more digits than Python reads as an integer by default
    refused = await (await sb.invoke_slash("bob", GENERAL, "roll", dice=huge)).response()
    assert refused.ephemeral and refused.embeds[0]["title"] == f"❌ Can't roll `{huge[:40]}`"
    assert "error id" not in refused.embeds[0]["description"]
    refused = await (await sb.invoke_slash("bob", GENERAL, "roll", dice=f"2d{huge}")).response()
    assert refused.embeds[0]["title"].startswith("❌ Can't roll")

    long_options = ", ".join(["x" * 2500, "y" * 2500])
    response = await (
        await sb.invoke_slash("bob", GENERAL, "choose", options={"options": long_options})
    ).response()
    assert response.content is not None and len(response.content) <= 2000
    assert response.content.startswith("🤔 I choose **") and "…" in response.content
