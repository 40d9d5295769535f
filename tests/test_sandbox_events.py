"""The event log on its own: the bound on its size, absolute indexes, waiting, and message snapshots."""

from __future__ import annotations

import asyncio
import copy

import pytest

from tui_bot.sandbox import EventKind, EventLog, Sandbox, demo_world
from tui_bot.sandbox.events import snapshot


def test_the_log_keeps_the_last_max_events_with_absolute_indexes() -> None:
    log = EventLog(max_events=10)
    for n in range(25):
        log.record(EventKind.TYPING, {"n": n})
    assert len(log) == 25  # every event ever recorded: the next one gets index 25
    held = list(log)
    assert 10 <= len(held) <= 11 and held[-1].data == {"n": 24}  # trimmed in batches of a tenth
    assert [e.index for e in held] == list(range(log.first_index, 25))
    assert log[24] is log[-1] and log[log.first_index] is held[0]
    with pytest.raises(IndexError, match="not held"):
        log[log.first_index - 1]
    with pytest.raises(IndexError):
        log[25]
    assert [e.index for e in log.since(20)] == [20, 21, 22, 23, 24]
    assert log.since(0) == held

    unbounded = EventLog(max_events=None)
    for _ in range(300):
        unbounded.record(EventKind.TYPING)
    assert unbounded.first_index == 0 and len(list(unbounded)) == 300
    with pytest.raises(ValueError):
        EventLog(max_events=0)


async def test_waiting_skips_dropped_events_and_still_sees_new_ones() -> None:
    log = EventLog(max_events=5)
    for n in range(20):
        log.record(EventKind.TYPING, {"n": n})
    found = await log.wait_for(lambda e: e.data["n"] % 2 == 0, start=0, timeout=0)
    assert found.index == found.data["n"] >= log.first_index  # the oldest held match
    waiting = asyncio.create_task(log.wait_for(lambda e: e.kind is EventKind.READY, start=3, timeout=5))
    await asyncio.sleep(0)
    assert log.waiters == 1
    for _ in range(12):  # enough to trim past the waiter's position while it waits
        log.record(EventKind.TYPING, {"n": -1})
    ready = log.record(EventKind.READY)
    assert await waiting is ready and log.waiters == 0


def test_snapshots_are_deep_copies() -> None:
    world = demo_world()
    general = world.find_channel("general")
    message = world.create_message(general, world.find_user("alice"), "hi", embeds=[{"fields": [{"a": 1}]}])
    message.reactions["👍"] = [1]
    copied = snapshot(message)
    assert copied == message == copy.deepcopy(message)
    assert copied.author is not message.author and copied.reactions["👍"] is not message.reactions["👍"]
    assert copied.embeds[0]["fields"][0] is not message.embeds[0]["fields"][0]
    message.embeds[0]["fields"][0]["a"] = 2
    message.reactions["👍"].append(2)
    message.author.username = "renamed"
    assert copied.embeds[0]["fields"][0] == {"a": 1} and copied.reactions == {"👍": [1]}
    assert copied.author.username == "alice"
    shared = {"k": [1]}
    pair = snapshot([shared, shared])  # falls back to deepcopy, which keeps shared references shared
    assert pair[0] is pair[1] and pair[0] is not shared


async def test_a_bounded_sandbox_still_hands_out_bot_messages_in_order() -> None:
    async with Sandbox(max_events=20) as sb:
        general = sb.world.find_channel("general")
        for n in range(50):  # as the REST API records a bot's messages
            message = sb.world.create_message(general, sb.world.bot_user, f"bot {n}")
            sb.event_log.record(EventKind.MESSAGE_CREATE, {"message_id": message.id}, message=message)
        assert sb.event_log.first_index > 0 and len(sb.events) <= 22
        first = await sb.wait_for_bot_message(timeout=0)
        second = await sb.wait_for_bot_message(timeout=0)
        oldest_held = sb.event_log.first_index
        assert (first.content, second.content) == (f"bot {oldest_held}", f"bot {oldest_held + 1}")
