"""The gateway's limits and heartbeat faults, and bans enforced on rejoin, against real clients.

Discord's rules (discord-api-docs ``docs/events/gateway.mdx``): at most 120 payloads per connection in
60 s (close 4008, resumable); a connection that stops heartbeating is closed and must RESUME; a client
that gets no HEARTBEAT_ACK reconnects and RESUMEs; op 1 from the server asks for a heartbeat at once.
The sandbox's limits are made small here so the tests are fast. Nothing in discord.py is mocked; the
zombie test uses a raw aiohttp websocket, since discord.py never stops heartbeating on its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import discord
import pytest
from helpers.waiting import wait_until
from sandbox_bots import GUILD_ID, make_bot, next_item, running

from tui_bot.sandbox import EventKind, Sandbox, SandboxEvent, demo_world
from tui_bot.sandbox.membership import BannedError

IDENTIFY = {"intents": 1 | 1 << 9 | 1 << 15, "properties": {}}


def kinds(sandbox: Sandbox, kind: EventKind) -> list[SandboxEvent]:
    return [e for e in sandbox.events if e.kind is kind]


def fault(name: str, action: str) -> Any:
    return lambda e: e.data.get("fault") == name and e.data.get("action") == action


@asynccontextmanager
async def started(**options: Any) -> AsyncIterator[Sandbox]:
    async with Sandbox(demo_world(), **options) as sandbox:
        sandbox.point_discord_py_here()
        yield sandbox


@asynccontextmanager
async def raw_session(sandbox: Sandbox) -> AsyncIterator[tuple[aiohttp.ClientWebSocketResponse, Any]]:
    """A raw websocket that has had HELLO, sent one heartbeat (ACKed) and IDENTIFYed; yields it and READY."""
    async with aiohttp.ClientSession() as http, http.ws_connect(sandbox.gateway_url + "?v=10") as ws:
        assert (await ws.receive_json(timeout=5))["op"] == 10
        await ws.send_json({"op": 1, "d": None})
        assert (await ws.receive_json(timeout=5))["op"] == 11
        await ws.send_json({"op": 2, "d": {**IDENTIFY, "token": sandbox.token}})
        ready = await ws.receive_json(timeout=5)
        assert ready["t"] == "READY"
        assert (await ws.receive_json(timeout=5))["t"] == "GUILD_CREATE"
        yield ws, ready


async def control(sandbox: Sandbox, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, f"{sandbox.base_url}/_sandbox{path}", json=body) as response,
    ):
        return response.status, await response.json()


# --- the send limit: 120 payloads per 60 s per connection -------------------------------------------


async def test_a_burst_over_the_send_limit_is_closed_with_4008_and_discord_py_resumes() -> None:
    async with started(gateway_send_limit=10, gateway_send_window=60) as sandbox:
        bot = make_bot()
        async with running(bot, sandbox):
            (session,) = sandbox.hub.identified_sessions
            for i in range(20):  # discord.py's own limiter allows 110 a minute: all 20 go out
                await bot.change_presence(activity=discord.Game(f"g{i}"))
            closed = await sandbox.wait_for_event(EventKind.GATEWAY_CLOSED)
            assert closed.data == {
                "session_id": session.session_id,
                "code": 4008,
                "resumable": True,
                "reason": "Rate limited.",
            }
            resume = await sandbox.wait_for_event(EventKind.RESUME, timeout=10)
            assert resume.data["session_id"] == session.session_id
            # The payload over the limit and everything after it on that connection were not handled.
            names = [e.data["activities"][0]["name"] for e in kinds(sandbox, EventKind.PRESENCE_UPDATE)]
            assert 0 < len(names) < 20 and names == [f"g{i}" for i in range(len(names))]
            assert len(kinds(sandbox, EventKind.IDENTIFY)) == 1  # resumed, not identified again
            # The new connection has a fresh count: the bot goes on working.
            await sandbox.send_message("alice", "general", "!ping")
            assert (await sandbox.wait_for_bot_message()).content == "pong"
            await bot.change_presence(activity=discord.Game("after"))
            await sandbox.wait_for_event(
                EventKind.PRESENCE_UPDATE, check=lambda e: e.data["activities"][0]["name"] == "after"
            )


async def test_the_send_limit_counts_heartbeats_over_a_sliding_window_and_is_set_at_run_time() -> None:
    async with started() as sandbox:
        status, state = await control(sandbox, "GET", "/gateway")
        assert status == 200
        assert (state["send_limit"], state["send_window"], state["heartbeat_grace"]) == (120, 60.0, 10.0)
        status, state = await control(sandbox, "PATCH", "/gateway", {"send_limit": 5, "send_window": 30})
        assert status == 200 and (state["send_limit"], state["send_window"]) == (5, 30)
        status, error = await control(sandbox, "PATCH", "/gateway", {"send_limit": 0})
        assert status == 400 and "send_limit" in error["error"]
        assert sandbox.gateway_rules.send_limit == 5  # a refused change changes nothing

        async with raw_session(sandbox) as (ws, ready):  # 2 payloads so far: a heartbeat, IDENTIFY
            for _ in range(3):  # heartbeats count as Discord counts them: 5 payloads, all allowed
                await ws.send_json({"op": 1, "d": 2})
                assert (await ws.receive_json(timeout=5))["op"] == 11
            await ws.send_json({"op": 1, "d": 2})  # the sixth
            closing = await ws.receive(timeout=5)
            assert closing.type is aiohttp.WSMsgType.CLOSE and closing.data == 4008
        closed = await sandbox.wait_for_event(EventKind.GATEWAY_CLOSED)
        assert closed.data["session_id"] == ready["d"]["session_id"] and closed.data["resumable"]

        sandbox.gateway_rules.send_limit = None  # not enforced
        async with raw_session(sandbox) as (ws, _ready):
            for _ in range(10):
                await ws.send_json({"op": 1, "d": 2})
                assert (await ws.receive_json(timeout=5))["op"] == 11


# --- zombies: a connection that stops heartbeating ----------------------------------------------------


async def test_a_connection_that_stops_heartbeating_is_closed_4009_and_its_session_resumes() -> None:
    loop = asyncio.get_running_loop()
    async with started(heartbeat_interval_ms=200, heartbeat_grace=0.1) as sandbox:
        async with raw_session(sandbox) as (ws, ready):
            last_ack = loop.time()  # roughly when the sandbox saw the only heartbeat (+20 ms)
            closing = await ws.receive(timeout=5)  # and then it sends nothing more
            silent = loop.time() - last_ack
            assert closing.type is aiohttp.WSMsgType.CLOSE and closing.data == 4009
        # Not before the interval (0.2 s) and the grace (0.1 s) since its heartbeat had passed.
        assert silent >= 0.25, f"closed as a zombie after only {silent:.3f}s"
        session_id = ready["d"]["session_id"]
        closed = await sandbox.wait_for_event(EventKind.GATEWAY_CLOSED)
        assert closed.data == {
            "session_id": session_id,
            "code": 4009,
            "resumable": True,
            "reason": "Session timed out.",
        }
        await sandbox.send_message("alice", "general", "while closed")
        async with aiohttp.ClientSession() as http, http.ws_connect(sandbox.gateway_url) as ws:
            await ws.receive_json(timeout=5)
            await ws.send_json({"op": 6, "d": {"token": sandbox.token, "session_id": session_id, "seq": 2}})
            replay = [await ws.receive_json(timeout=5) for _ in range(2)]
            assert [(p["t"], p["s"]) for p in replay] == [("MESSAGE_CREATE", 3), ("RESUMED", 4)]


async def test_a_heartbeating_client_is_never_taken_for_a_zombie() -> None:
    async with (
        started(heartbeat_interval_ms=200, heartbeat_grace=1.0) as sandbox,
        running(make_bot(), sandbox),
    ):
        (session,) = sandbox.hub.identified_sessions
        # Ten intervals and more: each heartbeat moves the deadline on.
        await wait_until(lambda: session.heartbeats >= 12, 20, what="twelve heartbeats")
        assert kinds(sandbox, EventKind.GATEWAY_CLOSED) == []
        assert session.connected


# --- withheld ACKs: the client's own zombie detection --------------------------------------------------


async def test_withheld_acks_make_discord_py_reconnect_and_resume() -> None:
    async with started(heartbeat_interval_ms=250) as sandbox:
        # heartbeat_timeout (a discord.py Client option, 60 s by default): how long discord.py waits
        # without receiving anything before it takes the connection for a zombie.
        bot = make_bot(heartbeat_timeout=1.0)
        async with running(bot, sandbox):
            (session,) = sandbox.hub.identified_sessions
            sandbox.withhold_heartbeat_acks()
            resume = await sandbox.wait_for_event(EventKind.RESUME, timeout=10)
            sandbox.release_heartbeat_acks()
            assert resume.data["session_id"] == session.session_id
            closed = await sandbox.wait_for_event(EventKind.GATEWAY_CLOSED, timeout=0)
            # discord.py closed the silent connection itself, with 4000 (resumable).
            assert closed.data["code"] == 4000 and closed.data["resumable"]
            assert kinds(sandbox, EventKind.FAULT)[0].data == {
                "fault": "withhold_acks",
                "action": "set",
                "count": None,
                "shard_id": None,
            }
            assert [e for e in kinds(sandbox, EventKind.FAULT) if fault("withhold_acks", "hit")(e)]
            assert len(kinds(sandbox, EventKind.IDENTIFY)) == 1
            await sandbox.wait_for_event(EventKind.FAULT, check=fault("withhold_acks", "released"), timeout=0)
            await sandbox.send_message("alice", "general", "!ping")
            assert (await sandbox.wait_for_bot_message()).content == "pong"


async def test_withholding_a_counted_number_of_acks_over_the_control_api() -> None:
    async with started() as sandbox, raw_session(sandbox) as (ws, ready):
        session = sandbox.hub.session(ready["d"]["session_id"])
        assert session is not None and session.heartbeats == 1

        def hits() -> int:
            return len([e for e in kinds(sandbox, EventKind.FAULT) if fault("withhold_acks", "hit")(e)])

        status, body = await control(
            sandbox, "POST", "/faults/gateway", {"action": "withhold_acks", "count": 2}
        )
        assert (status, body) == (200, {"sessions": []})
        for _ in range(3):
            await ws.send_json({"op": 1, "d": 2})
        await wait_until(lambda: session.heartbeats == 4, 5, what="three more heartbeats handled")
        # Two heartbeats went unanswered; the third was ACKed, and nothing else was sent.
        assert (await ws.receive_json(timeout=5))["op"] == 11
        await sandbox.send_message("alice", "general", "next")
        assert (await ws.receive_json(timeout=5))["t"] == "MESSAGE_CREATE"
        assert hits() == 2

        await control(sandbox, "POST", "/faults/gateway", {"action": "withhold_acks"})  # until released
        await ws.send_json({"op": 1, "d": 3})
        await wait_until(lambda: hits() == 3, 5, what="the heartbeat withheld")
        status, _ = await control(sandbox, "POST", "/faults/gateway", {"action": "release_acks"})
        assert status == 200
        await ws.send_json({"op": 1, "d": 3})
        assert (await ws.receive_json(timeout=5))["op"] == 11
        assert hits() == 3

        status, error = await control(
            sandbox, "POST", "/faults/gateway", {"action": "withhold_acks", "count": 0}
        )
        assert status == 400 and '"count"' in error["error"]


# --- server-requested heartbeats ---------------------------------------------------------------------


async def test_discord_py_answers_a_heartbeat_request_at_once() -> None:
    # The regular interval is 41.25 s: a heartbeat within seconds of the request is its answer.
    async with started() as sandbox, running(make_bot(), sandbox):
        (session,) = sandbox.hub.identified_sessions
        before = session.heartbeats
        asked = await sandbox.request_heartbeat()
        assert asked == [session.session_id]
        answer = await sandbox.wait_for_event(EventKind.FAULT, check=fault("request_heartbeat", "answered"))
        assert answer.data["session_id"] == session.session_id and answer.data["after"] < 5
        assert session.heartbeats == before + 1
        # The request, the answer and its ACK, in that order on the wire.
        await wait_until(
            lambda: "HEARTBEAT_ACK" in sandbox.transcript.lines(1)[0], 5, what="the answer's ACK"
        )
        request, heartbeat, ack = sandbox.transcript.lines(3)
        assert "sandbox->bot HEARTBEAT (op 1) null" in request
        assert "bot->sandbox HEARTBEAT (op 1)" in heartbeat
        assert "sandbox->bot HEARTBEAT_ACK (op 11)" in ack


async def test_a_heartbeat_request_over_the_control_api() -> None:
    async with started() as sandbox, raw_session(sandbox) as (ws, ready):
        status, body = await control(sandbox, "POST", "/faults/gateway", {"action": "heartbeat"})
        assert (status, body) == (200, {"sessions": [ready["d"]["session_id"]]})
        assert await ws.receive_json(timeout=5) == {"op": 1, "d": None, "s": None, "t": None}
        await ws.send_json({"op": 1, "d": 2})
        assert (await ws.receive_json(timeout=5))["op"] == 11
        await sandbox.wait_for_event(EventKind.FAULT, check=fault("request_heartbeat", "answered"), timeout=0)


# --- bans enforced on rejoin ---------------------------------------------------------------------------


async def test_a_user_banned_by_the_bot_cannot_rejoin_until_unbanned(sandbox: Sandbox) -> None:
    bot = make_bot(members=True)
    joined: asyncio.Queue[discord.Member] = asyncio.Queue()

    @bot.listen()
    async def on_member_join(member: discord.Member) -> None:
        await joined.put(member)

    async with running(bot, sandbox):
        guild = bot.get_guild(GUILD_ID)
        bob = guild.get_member_named("bob") if guild else None
        assert guild is not None and bob is not None
        await guild.ban(bob, reason="spam", delete_message_seconds=0)
        await sandbox.wait_for_event(EventKind.MEMBER_REMOVE)

        with pytest.raises(BannedError, match=r"'bob' is banned from 'Sandbox Guild' \(reason: spam\)"):
            await sandbox.add_member(None, "bob")
        status, error = await control(sandbox, "POST", "/members", {"user": "bob"})
        assert status == 400 and "is banned" in error["error"]
        assert bob.id not in sandbox.find_guild().members
        assert [entry.user.id async for entry in guild.bans()] == [bob.id]

        await guild.unban(bob)
        await sandbox.add_member(None, "bob")
        assert (await next_item(joined)).id == bob.id


async def test_bans_through_the_sandbox_and_a_banned_bot_cannot_rejoin(sandbox: Sandbox) -> None:
    bot = make_bot()
    joins: asyncio.Queue[discord.Guild] = asyncio.Queue()

    @bot.listen()
    async def on_guild_join(guild: discord.Guild) -> None:
        await joins.put(guild)

    async with running(bot, sandbox):
        await sandbox.ban(None, "alice", reason="raid")
        with pytest.raises(BannedError):
            await sandbox.add_member(None, "alice")
        status, body = await control(sandbox, "GET", "/bans")
        assert status == 200 and [(b["user"]["username"], b["reason"]) for b in body["bans"]] == [
            ("alice", "raid")
        ]
        status, body = await control(sandbox, "DELETE", "/bans?user=alice")
        assert (status, body["bans"]) == (200, [])
        await sandbox.add_member(None, "alice")
        status, error = await control(sandbox, "DELETE", "/bans?user=alice")
        assert status == 404 and "not banned" in error["error"]

        status, body = await control(sandbox, "POST", "/bans", {"user": "bob", "reason": "spam"})
        assert status == 200 and [b["user"]["username"] for b in body["bans"]] == ["bob"]
        await sandbox.unban(None, "bob")

        await sandbox.leave_guild(None)
        await sandbox.ban(None, "tui-bot")
        with pytest.raises(BannedError, match="'tui-bot' is banned"):
            await sandbox.join_guild("Sandbox Guild")
        await sandbox.unban(None, "tui-bot")
        await sandbox.join_guild("Sandbox Guild")
        assert (await next_item(joins)).id == GUILD_ID
