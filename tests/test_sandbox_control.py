"""The ``/_sandbox/`` control API, driven with plain HTTP as a client in any language would.

A real discord.py bot answers on the other side; the test never sleeps: it long-polls
``GET /_sandbox/events?wait=`` for what the bot did.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import discord
import pytest
from discord.ext import commands

from tui_bot.sandbox import EventKind, Sandbox

BOT_ID = "1191168918421504000"
GUILD_ID = "1191168935198720000"

StartBot = Callable[..., Awaitable[Any]]


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def call(
    http: aiohttp.ClientSession, sb: Sandbox, method: str, path: str, **kwargs: Any
) -> tuple[int, Any]:
    async with http.request(method, f"{sb.base_url}/_sandbox{path}", **kwargs) as response:
        assert response.headers["Content-Type"] == "application/json"
        return response.status, await response.json()


def make_bot() -> commands.Bot:
    intents = discord.Intents.default()
    intents.message_content = True
    bot = commands.Bot(command_prefix="!", intents=intents, guild_ready_timeout=0.01)

    @bot.command()
    async def echo(ctx: commands.Context[commands.Bot], *, text: str) -> None:
        await ctx.reply(text.upper(), mention_author=False)

    @bot.tree.command(description="Greets")
    async def hello(interaction: discord.Interaction, name: str) -> None:
        await interaction.response.send_message(f"hello {name}")

    return bot


async def test_inject_a_message_and_long_poll_for_the_reply(
    discord_sandbox: Sandbox, sandbox_bot: StartBot, http: aiohttp.ClientSession
) -> None:
    sb = discord_sandbox
    await sandbox_bot(make_bot())
    after = len(sb.event_log) - 1

    # The poll starts before the message exists, and is answered when the bot's reply is recorded.
    poll = asyncio.create_task(
        call(http, sb, "GET", "/events", params={"after": after, "kind": "message_create", "wait": "10"})
    )
    status, sent = await call(
        http, sb, "POST", "/messages", json={"author": "alice", "channel": "#general", "content": "!echo hi"}
    )
    assert status == 200 and sent["content"] == "!echo hi" and sent["author"]["username"] == "alice"
    assert sent["guild_id"] == GUILD_ID and sent["member"]["roles"] == ["1191168939393024000"]
    status, polled = await poll
    assert status == 200
    [event] = polled["events"]
    assert event["kind"] == "message_create" and event["index"] > after
    assert event["data"]["message_id"] == event["message"]["id"]  # snowflakes are strings
    assert event["message"]["content"] == "HI" and event["message"]["author"]["id"] == BOT_ID
    assert event["message"]["message_reference"]["message_id"] == sent["id"]
    assert polled["next_after"] == event["index"]

    # Without a kind filter the member's message is there too; nothing newer yet: an empty answer.
    status, everything = await call(http, sb, "GET", "/events", params={"after": after})
    assert [e["kind"] for e in everything["events"]] == ["user_message", "message_create"]
    status, nothing = await call(http, sb, "GET", "/events", params={"after": polled["next_after"]})
    assert (status, nothing) == (200, {"events": [], "next_after": polled["next_after"]})

    status, listed = await call(http, sb, "GET", "/messages", params={"channel": "general", "limit": "10"})
    assert status == 200 and listed["channel_id"] == str(sb.world.find_channel("general").id)
    assert [(m["author"]["username"], m["content"]) for m in listed["messages"]] == [
        ("alice", "!echo hi"),
        ("tui-bot", "HI"),
    ]
    status, last = await call(http, sb, "GET", "/messages", params={"channel": "general", "limit": "1"})
    assert [m["content"] for m in last["messages"]] == ["HI"]


async def test_world_and_index(discord_sandbox: Sandbox, http: aiohttp.ClientSession) -> None:
    sb = discord_sandbox
    status, world = await call(http, sb, "GET", "/world")
    assert status == 200
    assert world["application"]["bot_id"] == BOT_ID and world["bot"]["bot"] is True
    assert {u["username"] for u in world["users"]} == {"tui-bot", "operator", "alice", "bob"}
    [guild] = world["guilds"]
    assert guild["id"] == GUILD_ID and guild["name"] == "Sandbox Guild"
    assert [c["name"] for c in guild["channels"]] == ["general", "bot-commands"]
    assert [r["name"] for r in guild["roles"]] == ["@everyone", "Moderator", "tui-bot"]
    assert sorted(m["user"]["username"] for m in guild["members"]) == ["alice", "bob", "operator", "tui-bot"]

    status, index = await call(http, sb, "GET", "")
    assert index["api_base"] == sb.api_base and index["gateway_url"] == sb.gateway_url
    assert "GET /_sandbox/events" in index["endpoints"]
    # No token needed here; the bot's REST API still wants one.
    async with http.get(f"{sb.api_base}/users/@me") as response:
        assert response.status == 401


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "says"),
    [
        ("POST", "/messages", {"json": {"channel": "general", "content": "x"}}, 400, 'missing "author"'),
        ("POST", "/messages", {"json": {"author": "alice", "channel": "general"}}, 400, '"content"'),
        ("POST", "/messages", {"json": {"author": "zed", "channel": "general", "content": "x"}}, 404, "zed"),
        ("POST", "/messages", {"json": {"author": "bob", "channel": "nope", "content": "x"}}, 404, "nope"),
        ("POST", "/messages", {"data": "{not json"}, 400, "not valid JSON"),
        ("POST", "/messages", {"json": ["a"]}, 400, "JSON object"),
        ("GET", "/messages", {}, 400, 'missing "channel"'),
        ("GET", "/messages", {"params": {"channel": "general", "limit": "0"}}, 400, '"limit"'),
        ("GET", "/events", {"params": {"kind": "message_sent"}}, 400, "message_create"),
        ("GET", "/events", {"params": {"wait": "soon"}}, 400, '"wait" must be a number'),
        ("POST", "/reactions", {"json": {"author": "bob", "message_id": "1", "emoji": "👍"}}, 404, "message"),
        ("GET", "/nothing-here", {}, 404, "GET /_sandbox/world"),
    ],
)
async def test_errors_say_what_to_fix(
    discord_sandbox: Sandbox,
    http: aiohttp.ClientSession,
    method: str,
    path: str,
    kwargs: dict[str, Any],
    status: int,
    says: str,
) -> None:
    got_status, body = await call(http, discord_sandbox, method, path, **kwargs)
    assert got_status == status and list(body) == ["error"] and says in body["error"]


async def test_reactions_through_the_control_api(
    discord_sandbox: Sandbox, sandbox_bot: StartBot, http: aiohttp.ClientSession
) -> None:
    sb = discord_sandbox
    bot = make_bot()
    reacted: asyncio.Queue[tuple[str, str]] = asyncio.Queue()

    @bot.event
    async def on_reaction_add(reaction: discord.Reaction, user: discord.abc.User) -> None:
        await reacted.put((str(reaction.emoji), user.name))

    await sandbox_bot(bot)
    await sb.send_message("alice", "general", "!echo react")
    reply = await sb.wait_for_bot_message()
    body = {"author": "bob", "message_id": str(reply.id), "emoji": "🔥"}
    status, answer = await call(http, sb, "POST", "/reactions", json=body)
    assert status == 200 and answer["message"]["reactions"][0]["count"] == 1
    assert await asyncio.wait_for(reacted.get(), 5) == ("🔥", "bob")
    status, answer = await call(http, sb, "DELETE", "/reactions", params=body)
    assert status == 200 and "reactions" not in answer["message"]
    status, bad = await call(http, sb, "POST", "/reactions", json={**body, "emoji": "fire"})
    assert status == 404 and "unicode emoji" in bad["error"]


async def test_forwarded_interactions_faults_and_members(
    discord_sandbox: Sandbox, sandbox_bot: StartBot, http: aiohttp.ClientSession
) -> None:
    sb = discord_sandbox
    bot = await sandbox_bot(make_bot())
    await bot.tree.sync()

    body = {
        "author": "alice",
        "channel": "general",
        "command": "hello",
        "options": {"name": "Bob"},
        "wait": 5,
    }
    status, answer = await call(http, sb, "POST", "/interactions/slash", json=body)
    assert status == 200 and answer["interaction"]["name"] == "hello"
    response = answer["response"]
    assert response["type"] == 4 and response["message"]["content"] == "hello Bob"
    status, refused = await call(http, sb, "POST", "/interactions/slash", json={**body, "command": "nope"})
    assert status == 400 and "nope" in refused["error"]

    fault = {"kind": "status", "route": "GET users/@me", "status": 503, "count": 1}
    status, described = await call(http, sb, "POST", "/faults/rest", json=fault)
    assert status == 200 and described["status"] == 503
    headers = {"Authorization": f"Bot {sb.token}"}
    async with http.get(f"{sb.api_base}/users/@me", headers=headers) as response_:
        assert response_.status == 503
    async with http.get(f"{sb.api_base}/users/@me", headers=headers) as response_:
        assert response_.status == 200  # count 1: used up
    assert (await call(http, sb, "DELETE", "/faults"))[0] == 200
    rule = {"route": "POST channels/*/messages", "limit": 5}
    assert await call(http, sb, "PUT", "/rate-limits", json=rule) == (200, {"ok": True})
    assert await call(http, sb, "DELETE", "/rate-limits") == (200, {"ok": True})

    status, member = await call(http, sb, "POST", "/members", json={"user": "carol", "nick": "C"})
    assert status == 200 and member["user"]["username"] == "carol" and member["nick"] == "C"
    assert (await sb.wait_for_event(EventKind.MEMBER_ADD)).data["user_id"] == int(member["user"]["id"])
    status, gone = await call(http, sb, "DELETE", "/members", params={"member": "carol"})
    assert status == 200 and gone["user"]["username"] == "carol"


async def test_a_pending_long_poll_does_not_hold_up_shutdown(http: aiohttp.ClientSession) -> None:
    sb = Sandbox()
    await sb.start()
    poll = asyncio.create_task(call(http, sb, "GET", "/events", params={"after": "0", "wait": "60"}))
    # Stop only once the request has reached its handler and is waiting on the event log.
    while not sb.event_log.waiters:  # noqa: ASYNC110 - no event to await: the request is in aiohttp
        await asyncio.sleep(0.001)
    started = time.monotonic()
    await sb.stop()
    assert time.monotonic() - started < 1.5  # aiohttp would otherwise wait its 2 s shutdown timeout
    assert await poll == (200, {"events": [], "next_after": 0})
