"""``!purge`` racing someone else who deletes some of the same messages (issue 10).

The race is made deterministic with the sandbox's ``delay_route`` fault: the bot's delete request is
held for a moment at the sandbox, and the test deletes messages (as a member would, MESSAGE_DELETE on
the gateway) while it waits. On Discord a bulk delete skips ids that no longer exist (204) and a single
delete of one gets 404 Unknown Message (10008); the sandbox does the same. The command must still
answer with what it really deleted, never with an error id.
"""

from __future__ import annotations

from pathlib import Path

import discord
import pytest

from tests.conftest import BotHarness
from tui_bot.sandbox import EventKind, Sandbox
from tui_bot.sandbox.events import SandboxEvent
from tui_bot.sandbox.faults import Fault
from tui_bot.sandbox.world import Message

REPO = Path(__file__).resolve().parent.parent
GENERAL = "general"
BULK_DELETE = "POST channels/*/messages/bulk-delete"
SINGLE_DELETE = "DELETE channels/*/messages/*"
HOLD_MS = 500  # long enough for the test to delete messages while the bot's request waits


@pytest.fixture
async def bot_harness(harness: BotHarness) -> BotHarness:
    """The bot with the shipped moderation extension; alice is a Moderator (Manage Messages)."""
    harness.write_extension(
        "moderation",
        (REPO / "tui_bot" / "starter" / "extensions" / "moderation.py").read_text(encoding="utf-8"),
    )
    bot = await harness.start()
    await bot.tree.sync()
    return harness


async def post(sb: Sandbox, count: int) -> list[Message]:
    return [await sb.send_message("bob", GENERAL, f"message {n}") for n in range(count)]


async def held(sb: Sandbox, fault: Fault) -> SandboxEvent:
    """Wait until the bot's request reached the sandbox and is being held by ``fault``."""
    return await sb.wait_for_event(
        EventKind.FAULT, check=lambda e: e.data["fault_id"] == fault.id and e.data["action"] == "hit"
    )


def user_messages_left(sb: Sandbox) -> list[str]:
    channel = sb.world.find_channel(GENERAL)
    return [m.content for m in sb.world.history(channel.id, limit=100) if not m.author.bot]


def no_error_id_anywhere(sb: Sandbox) -> bool:
    return not any("error id" in f"{m.content} {m.embeds}" for m in sb.sent_messages)


async def test_purge_50_while_8_of_them_are_deleted_by_someone_else(bot_harness: BotHarness) -> None:
    sb = bot_harness.sandbox
    posted = await post(sb, 60)
    targets = posted[-50:]
    fault = sb.delay_route(BULK_DELETE, HOLD_MS, count=1)
    await sb.send_message("alice", GENERAL, "!purge 50")
    await held(sb, fault)
    vanished = targets[::7]  # 8 of the 50, spread over the batch
    for message in vanished:
        await sb.delete_message(message)

    reply = await sb.wait_for_bot_message(channel=GENERAL, timeout=10)
    embed = reply.embeds[0]
    assert embed["title"] == "✅ Deleted 42 messages"
    assert embed["description"].endswith("8 more had already been deleted by someone else.")
    bulk = await sb.wait_for_event(EventKind.MESSAGE_DELETE_BULK)
    gone = {m.id for m in vanished}
    assert sorted(bulk.data["message_ids"]) == sorted(m.id for m in targets if m.id not in gone)
    # The 10 older messages stay; the command itself is deleted too.
    assert user_messages_left(sb) == [f"message {n}" for n in range(9, -1, -1)]
    assert no_error_id_anywhere(sb)


async def test_purge_1_whose_message_vanishes_gets_404_and_says_so(bot_harness: BotHarness) -> None:
    sb = bot_harness.sandbox
    posted = await post(sb, 3)
    fault = sb.delay_route(SINGLE_DELETE, HOLD_MS, count=1)  # one message: a single delete, not bulk
    await sb.send_message("alice", GENERAL, "!purge 1")
    await held(sb, fault)
    await sb.delete_message(posted[-1])

    reply = await sb.wait_for_bot_message(channel=GENERAL, timeout=10)
    assert reply.embeds[0]["title"] == "✅ Deleted 0 messages"
    assert reply.embeds[0]["description"].endswith("1 more had already been deleted by someone else.")
    assert any(method == "DELETE" and status == 404 for method, _path, status in sb.requests)
    assert user_messages_left(sb) == ["message 1", "message 0"]
    assert no_error_id_anywhere(sb)


async def test_slash_purge_while_messages_vanish(bot_harness: BotHarness) -> None:
    sb = bot_harness.sandbox
    posted = await post(sb, 25)
    fault = sb.delay_route(BULK_DELETE, HOLD_MS, count=1)
    handle = await sb.invoke_slash("alice", GENERAL, "purge", amount=20)
    await held(sb, fault)
    for message in posted[-5:]:
        await sb.delete_message(message)

    assert (await handle.response()).deferred
    confirmation = await handle.wait_for_followup(timeout=10)
    assert confirmation.embeds[0]["title"] == "✅ Deleted 15 messages"
    assert confirmation.embeds[0]["description"].endswith("5 more had already been deleted by someone else.")
    assert user_messages_left(sb) == [f"message {n}" for n in range(4, -1, -1)]
    assert no_error_id_anywhere(sb)


async def test_purge_without_a_race_counts_every_message(bot_harness: BotHarness) -> None:
    sb = bot_harness.sandbox
    await post(sb, 4)
    await sb.send_message("alice", GENERAL, "!purge 3")
    reply = await sb.wait_for_bot_message(channel=GENERAL, timeout=10)
    assert reply.embeds[0]["title"] == "✅ Deleted 3 messages"
    assert reply.embeds[0]["description"] == f"In <#{sb.world.find_channel(GENERAL).id}>."


async def test_the_sandbox_answers_deletes_of_vanished_messages_as_discord_does(
    bot_harness: BotHarness,
) -> None:
    """A bulk delete naming deleted ids skips them (204); a single delete of one is 404 / 10008."""
    sb, bot = bot_harness.sandbox, bot_harness.bot
    assert bot is not None
    posted = await post(sb, 3)
    for message in posted[:2]:
        await sb.delete_message(message)
    channel = bot.get_channel(sb.world.find_channel(GENERAL).id)
    assert channel is not None
    await channel.delete_messages([channel.get_partial_message(m.id) for m in posted])  # type: ignore[union-attr]
    bulk = await sb.wait_for_event(EventKind.MESSAGE_DELETE_BULK)
    assert bulk.data["message_ids"] == [posted[2].id]
    with pytest.raises(discord.NotFound) as refused:
        await channel.get_partial_message(posted[0].id).delete()  # type: ignore[union-attr]
    assert refused.value.code == 10008 and refused.value.text == "Unknown Message"
