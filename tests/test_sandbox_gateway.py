"""Gateway resilience and sharding against the real discord.py client: RESUME, RECONNECT,
INVALID_SESSION, session expiry and shards that each see only their guilds.

Nothing in discord.py is mocked; synchronisation is by awaiting sandbox events or discord.py events.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import discord
import pytest
from sandbox_bots import GUILD_ID, make_bot, next_item, running

from tui_bot.sandbox import EventKind, Sandbox, demo_world


def kinds(sandbox: Sandbox, kind: EventKind) -> list[Any]:
    return [e for e in sandbox.events if e.kind is kind]


def message_queue(bot: discord.Client) -> asyncio.Queue[discord.Message]:
    queue: asyncio.Queue[discord.Message] = asyncio.Queue()

    @bot.listen()
    async def on_message(message: discord.Message) -> None:
        if not message.author.bot:
            await queue.put(message)

    return queue


# --- RESUME --------------------------------------------------------------------------------------


@pytest.mark.parametrize("code", [None, 4000], ids=["abort", "close-4000"])
async def test_dropped_connection_resumes_and_replays_missed_dispatches_once(
    sandbox: Sandbox, code: int | None
) -> None:
    bot = make_bot()
    seen = message_queue(bot)
    resumed = asyncio.Event()

    @bot.listen()
    async def on_resumed() -> None:
        resumed.set()

    async with running(bot, sandbox):
        await sandbox.send_message("alice", "general", "before")
        assert (await next_item(seen)).content == "before"

        dropped = await sandbox.drop_gateway(code=code)
        assert len(dropped) == 1
        # The session is detached: this is numbered and buffered, not written to the dead socket.
        await sandbox.send_message("bob", "general", "while down")
        resume = await sandbox.wait_for_event(EventKind.RESUME)
        assert resume.data["session_id"] == dropped[0] and resume.data["replayed"] == 1
        await asyncio.wait_for(resumed.wait(), timeout=5)

        await sandbox.send_message("alice", "general", "after")
        assert [(await next_item(seen)).content for _ in range(2)] == ["while down", "after"]
        assert seen.empty()  # "while down" arrived exactly once
        closed = await sandbox.wait_for_event(EventKind.GATEWAY_CLOSED, timeout=0)
        assert closed.data["session_id"] == dropped[0] and closed.data["resumable"]
        # A resume, not a new identify.
        assert len(kinds(sandbox, EventKind.IDENTIFY)) == 1
        fault = await sandbox.wait_for_event(EventKind.FAULT, timeout=0)
        assert fault.data["fault"] == "drop_gateway" and fault.data["code"] == code

        await sandbox.send_message("alice", "general", "!ping")
        assert (await sandbox.wait_for_bot_message()).content == "pong"


async def test_reconnect_request_is_answered_with_a_resume(sandbox: Sandbox) -> None:
    bot = make_bot()
    seen = message_queue(bot)
    async with running(bot, sandbox):
        (session_id,) = await sandbox.send_reconnect()
        resume = await sandbox.wait_for_event(EventKind.RESUME)
        assert resume.data["session_id"] == session_id and resume.data["replayed"] == 0
        await sandbox.send_message("alice", "general", "still here")
        assert (await next_item(seen)).content == "still here"
        assert len(kinds(sandbox, EventKind.IDENTIFY)) == 1


async def test_resumable_invalid_session_is_resumed(sandbox: Sandbox) -> None:
    bot = make_bot()
    async with running(bot, sandbox):
        (session_id,) = await sandbox.invalidate_session(resumable=True)
        resume = await sandbox.wait_for_event(EventKind.RESUME)
        assert resume.data["session_id"] == session_id
        assert len(kinds(sandbox, EventKind.IDENTIFY)) == 1


async def test_non_resumable_invalid_session_makes_the_bot_identify_again(sandbox: Sandbox) -> None:
    bot = make_bot()
    seen = message_queue(bot)
    async with running(bot, sandbox):
        first = await sandbox.wait_for_event(EventKind.READY)
        (old,) = await sandbox.invalidate_session(resumable=False)
        again = await sandbox.wait_for_event(EventKind.READY, check=lambda e: e.index > first.index)
        assert again.data["session_id"] != old
        assert [e.data["session_id"] for e in kinds(sandbox, EventKind.IDENTIFY)] == [
            old,
            again.data["session_id"],
        ]
        assert sandbox.hub.session(old) is None  # ended: a RESUME of it would be refused
        assert kinds(sandbox, EventKind.RESUME) == []
        await sandbox.send_message("alice", "general", "hello again")
        assert (await next_item(seen)).content == "hello again"


async def test_expired_session_cannot_be_resumed(sandbox: Sandbox) -> None:
    sandbox.resume_timeout = 0  # every disconnected session is expired by the time it resumes
    bot = make_bot()
    seen = message_queue(bot)
    async with running(bot, sandbox):
        (old,) = await sandbox.drop_gateway()
        rejected = await sandbox.wait_for_event(EventKind.RESUME_REJECTED)
        assert rejected.data == {"session_id": old, "reason": "unknown or expired session"}
        await sandbox.wait_for_event(EventKind.READY, check=lambda e: e.data["session_id"] != old)
        await sandbox.send_message("alice", "general", "fresh session")
        assert (await next_item(seen)).content == "fresh session"


async def test_resume_protocol_over_a_raw_websocket(sandbox: Sandbox) -> None:
    """Replay starts right after the client's seq, ends with RESUMED; bad resumes get op 9 false."""
    url = sandbox.gateway_url + "?v=10&encoding=json"
    identify = {"token": sandbox.token, "intents": 1 | 1 << 9 | 1 << 15, "properties": {}}
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(url) as ws:
            assert (await ws.receive_json(timeout=5))["op"] == 10
            await ws.send_json({"op": 2, "d": identify})
            ready = await ws.receive_json(timeout=5)
            assert (ready["t"], ready["s"]) == ("READY", 1)
            assert (await ws.receive_json(timeout=5))["t"] == "GUILD_CREATE"
            await sandbox.send_message("alice", "general", "seen")
            assert (await ws.receive_json(timeout=5))["s"] == 3
            session_id = ready["d"]["session_id"]
        # aiohttp's client closes with 1000, which ends a session on Discord: it cannot be resumed.
        closed = await sandbox.wait_for_event(EventKind.GATEWAY_CLOSED)
        assert closed.data == {"session_id": session_id, "code": 1000, "resumable": False}
        assert sandbox.hub.session(session_id) is None

        async with http.ws_connect(url) as ws:
            await ws.receive_json(timeout=5)
            await ws.send_json({"op": 2, "d": identify})
            ready = await ws.receive_json(timeout=5)
            await ws.receive_json(timeout=5)  # GUILD_CREATE, s=2
            session_id = ready["d"]["session_id"]
            await sandbox.drop_gateway(code=4000)
            closing = await ws.receive(timeout=5)
            assert closing.type is aiohttp.WSMsgType.CLOSE and closing.data == 4000
        for text in ("one", "two"):
            await sandbox.send_message("bob", "general", text)

        async def resume(seq: int, sid: str = session_id, token: str = sandbox.token) -> list[Any]:
            async with http.ws_connect(url) as ws:
                await ws.receive_json(timeout=5)
                await ws.send_json({"op": 6, "d": {"token": token, "session_id": sid, "seq": seq}})
                received = []
                while True:
                    payload = await ws.receive_json(timeout=5)
                    received.append(payload)
                    if payload["op"] == 9 or payload["t"] == "RESUMED":
                        break
                await sandbox.drop_gateway(code=4000)  # leave it resumable for the next attempt
                return received

        replay = await resume(2)
        assert [(p["s"], p["t"]) for p in replay] == [
            (3, "MESSAGE_CREATE"),
            (4, "MESSAGE_CREATE"),
            (5, "RESUMED"),
        ]
        assert [p["d"]["content"] for p in replay[:2]] == ["one", "two"]
        # Resuming again from an older seq replays from there; RESUMED took s=5 but is not replayed.
        assert [(p["s"], p["t"]) for p in await resume(3)] == [(4, "MESSAGE_CREATE"), (6, "RESUMED")]
        for bad in (await resume(99), await resume(2, sid="nope")):
            assert [(p["op"], p["d"]) for p in bad] == [(9, False)]
        reasons = [e.data["reason"] for e in kinds(sandbox, EventKind.RESUME_REJECTED)]
        assert reasons == ["cannot replay from seq 99 (session at 6)", "unknown or expired session"]


async def test_resuming_a_live_session_ends_its_old_connection(sandbox: Sandbox) -> None:
    url = sandbox.gateway_url + "?v=10&encoding=json"
    identify = {"token": sandbox.token, "intents": 1 | 1 << 9 | 1 << 15, "properties": {}}
    async with aiohttp.ClientSession() as http, http.ws_connect(url) as first:
        await first.receive_json(timeout=5)
        await first.send_json({"op": 2, "d": identify})
        ready = await first.receive_json(timeout=5)
        await first.receive_json(timeout=5)  # GUILD_CREATE
        resume = {"token": sandbox.token, "session_id": ready["d"]["session_id"], "seq": 2}
        async with http.ws_connect(url) as second:
            await second.receive_json(timeout=5)
            await second.send_json({"op": 6, "d": resume})
            assert (await second.receive_json(timeout=5))["t"] == "RESUMED"
            assert (await first.receive(timeout=5)).type in (
                aiohttp.WSMsgType.CLOSED,
                aiohttp.WSMsgType.ERROR,
            )
            await sandbox.send_message("alice", "general", "to the new connection")
            message = await second.receive_json(timeout=5)
            assert (message["t"], message["s"], message["d"]["content"]) == (
                "MESSAGE_CREATE",
                4,
                "to the new connection",
            )
        # The old connection's end did not end the session; the second client's close (1000) did.
        closed = await sandbox.wait_for_event(EventKind.GATEWAY_CLOSED)
        assert (closed.data["code"], closed.data["resumable"]) == (1000, False)
        assert sandbox.hub.sessions == []


# --- sharding ------------------------------------------------------------------------------------


def two_shard_world() -> tuple[Any, int]:
    """The demo world plus a guild on the other shard of two (``(id >> 22) % 2`` differs)."""
    world = demo_world()
    other_id = GUILD_ID + (1 << 22)
    assert (other_id >> 22) % 2 != (GUILD_ID >> 22) % 2
    return world, other_id


async def test_each_shard_receives_only_its_guilds() -> None:
    world, other_id = two_shard_world()
    async with Sandbox(world) as sandbox:
        sandbox.point_discord_py_here()
        other = sandbox.add_guild("Other Guild", guild_id=other_id, members=["alice", "bob"])
        bot = make_bot(sharded=True, shard_count=2)
        seen = message_queue(bot)
        shards_ready: list[int] = []

        @bot.listen()
        async def on_shard_ready(shard_id: int) -> None:
            shards_ready.append(shard_id)

        async with running(bot, sandbox):
            assert sorted(shards_ready) == [0, 1]
            assert sorted(tuple(e.data["shard"]) for e in kinds(sandbox, EventKind.IDENTIFY)) == [
                (0, 2),
                (1, 2),
            ]
            home_shard, other_shard = (GUILD_ID >> 22) % 2, (other_id >> 22) % 2
            by_session = {e.data["session_id"]: e.data["guild_ids"] for e in kinds(sandbox, EventKind.READY)}
            sessions = {s.shard[0]: s for s in sandbox.hub.identified_sessions}
            assert by_session[sessions[home_shard].session_id] == [GUILD_ID]
            assert by_session[sessions[other_shard].session_id] == [other_id]
            home = bot.get_guild(GUILD_ID)
            away = bot.get_guild(other_id)
            assert home is not None and away is not None
            assert (home.shard_id, away.shard_id) == (home_shard, other_shard)

            await sandbox.send_message("alice", "general", "home")
            await sandbox.send_message("bob", other.channels[next(iter(other.channels))].id, "away")
            got = sorted([(m.guild.id, m.content) for m in [await next_item(seen), await next_item(seen)]])
            assert got == sorted([(GUILD_ID, "home"), (other_id, "away")])
            assert seen.empty()

            # On the wire: each shard's session was sent only its own guild's events.
            for shard_id, session in sessions.items():
                guild_events = [p for p in session.sent if isinstance(p["d"], dict) and "guild_id" in p["d"]]
                guild_events += [p for p in session.sent if p["t"] == "GUILD_CREATE"]
                assert guild_events
                expected = GUILD_ID if shard_id == home_shard else other_id
                assert {int(p["d"].get("guild_id") or p["d"]["id"]) for p in guild_events} == {expected}

            # A fault can target one shard: only that one resumes.
            await sandbox.drop_gateway(shard_id=other_shard)
            resume = await sandbox.wait_for_event(EventKind.RESUME)
            assert resume.data["session_id"] == sessions[other_shard].session_id
            assert sessions[home_shard].resumes == 0


async def test_gateway_bot_recommends_the_configured_shard_count(sandbox: Sandbox) -> None:
    sandbox.recommended_shards = 3
    bot = make_bot(sharded=True)  # no shard_count: discord.py asks GET gateway/bot
    async with running(bot, sandbox):
        assert bot.shard_count == 3 and sorted(bot.shards) == [0, 1, 2]
        assert sorted(e.data["shard"][0] for e in kinds(sandbox, EventKind.IDENTIFY)) == [0, 1, 2]
        ready = {tuple(e.data["guild_ids"]) for e in kinds(sandbox, EventKind.READY)}
        assert ready == {(), (GUILD_ID,)}  # two shards have no guild, and still get READY
        guild = bot.get_guild(GUILD_ID)
        assert guild is not None and guild.shard_id == (GUILD_ID >> 22) % 3
    assert any(path.endswith("/gateway/bot") for _m, path, _s in sandbox.requests)


async def test_invalid_shard_is_refused(sandbox: Sandbox) -> None:
    async with aiohttp.ClientSession() as http, http.ws_connect(sandbox.gateway_url) as ws:
        await ws.receive_json(timeout=5)
        d = {"token": sandbox.token, "intents": 1, "properties": {}, "shard": [2, 2]}
        await ws.send_str(json.dumps({"op": 2, "d": d}))
        closing = await ws.receive(timeout=5)
        assert closing.type is aiohttp.WSMsgType.CLOSE and closing.data == 4010
