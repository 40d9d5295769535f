"""The sandbox as the real discord.py client sees it: login, gateway, messages, commands, presence.

Every bot here is an unmodified ``commands.Bot`` pointed at the sandbox; nothing in discord.py is
mocked. Synchronisation is by awaiting sandbox events or discord.py's own events, never by sleeping.
"""

from __future__ import annotations

import asyncio
import json
import logging
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import discord
import discord.gateway
import discord.http
import pytest
from discord.ext import commands

from tui_bot.sandbox import (
    SANDBOX_TOKEN,
    CloseCode,
    EventKind,
    Sandbox,
    SnowflakeGenerator,
    demo_world,
    snowflake_time,
)
from tui_bot.sandbox.payloads import message_payload

GUILD_ID = 1191168935198720000
OPERATOR_ID = 1191168922615808000
BOT_ID = 1191168918421504000


# --- fixtures and helpers ---------------------------------------------------------------------


@pytest.fixture(autouse=True)
def restore_discord_endpoints() -> Any:
    """discord.py's endpoints are process-wide class attributes: put them back after every test."""
    base, gateway = discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    yield
    discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = base, gateway


@pytest.fixture
async def sb() -> AsyncIterator[Sandbox]:
    sandbox = Sandbox(heartbeat_interval_ms=5000)
    await sandbox.start()
    sandbox.point_discord_py_here()
    try:
        yield sandbox
    finally:
        await sandbox.stop()


def make_bot(*, message_content: bool = True, members: bool = False) -> commands.Bot:
    intents = discord.Intents.default()
    intents.message_content = message_content
    intents.members = members
    # guild_ready_timeout: discord.py waits this long after the last GUILD_CREATE before on_ready.
    bot = commands.Bot(command_prefix="!", intents=intents, guild_ready_timeout=0.01)

    @bot.command()
    async def ping(ctx: commands.Context[commands.Bot]) -> None:
        await ctx.send("pong")

    return bot


@asynccontextmanager
async def running(bot: commands.Bot, sb: Sandbox, token: str | None = None) -> AsyncIterator[commands.Bot]:
    """Start ``bot`` against ``sb`` in a task; on exit close it and surface any error it raised."""
    task = asyncio.create_task(bot.start(token or sb.token))
    ready = asyncio.create_task(sb.wait_until_ready())
    try:
        done, _ = await asyncio.wait({task, ready}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            task.result()  # start() ended early: raise its error
        assert ready in done, "the bot never became ready"
        await asyncio.wait_for(bot.wait_until_ready(), timeout=5)
        yield bot
    finally:
        ready.cancel()
        await bot.close()
        await asyncio.wait_for(task, timeout=5)


async def rest(
    sb: Sandbox, method: str, path: str, *, token: str | None = None, **kwargs: Any
) -> tuple[int, str, Any]:
    """A raw REST call: (status, Content-Type header, parsed body)."""
    headers = {"Authorization": f"Bot {token or sb.token}"}
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, sb.api_base + path, headers=headers, **kwargs) as response,
    ):
        text = await response.text()
        return response.status, response.headers.get("Content-Type", ""), json.loads(text) if text else None


# --- the real client --------------------------------------------------------------------------


async def test_bot_sees_demo_guild_and_answers_ping(sb: Sandbox) -> None:
    bot = make_bot()
    async with running(bot, sb):
        assert bot.user is not None and bot.user.id == BOT_ID and bot.user.bot
        assert bot.application_id == BOT_ID
        guild = bot.get_guild(GUILD_ID)
        assert guild is not None and guild.name == "Sandbox Guild"
        assert guild.owner_id == OPERATOR_ID
        assert [c.name for c in guild.text_channels] == ["general", "bot-commands"]
        assert {r.name for r in guild.roles} == {"@everyone", "Moderator", "tui-bot"}
        assert guild.default_role.id == GUILD_ID
        assert guild.member_count == 4
        # Without the members intent Discord sends only the bot's own member.
        assert guild.me is not None and guild.me.get_role(1191168943587328000) is not None
        assert guild.me.guild_permissions.kick_members and guild.me.guild_permissions.embed_links
        general = guild.text_channels[0]
        assert general.permissions_for(guild.me).send_messages

        sent = await sb.send_message("alice", "general", "!ping")
        reply = await sb.wait_for_bot_message(channel="general")
        assert reply.content == "pong"
        assert reply.author.id == BOT_ID and reply.channel_id == general.id
        assert reply.id > sent.id
        assert sb.sent_messages == [reply]

        history = [m async for m in general.history(limit=10)]
        assert [(m.author.name, m.content) for m in history] == [("tui-bot", "pong"), ("alice", "!ping")]
        assert any(
            method == "GET" and f"/channels/{general.id}/messages" in path
            for method, path, _status in sb.requests
        )

        # is_owner() with no owner_id set asks GET oauth2/applications/@me: the operator owns the app.
        operator = await bot.fetch_user(OPERATOR_ID)
        assert await bot.is_owner(operator)
        alice = await guild.fetch_member(sent.author.id)
        assert not await bot.is_owner(alice)
        assert [r.name for r in alice.roles] == ["@everyone", "Moderator"]


async def test_members_intent_delivers_every_member(sb: Sandbox) -> None:
    bot = make_bot(members=True)
    async with running(bot, sb):
        guild = bot.get_guild(GUILD_ID)
        assert guild is not None and guild.chunked
        assert sorted(m.name for m in guild.members) == ["alice", "bob", "operator", "tui-bot"]
        alice = guild.get_member_named("alice")
        assert alice is not None and alice.guild_permissions.ban_members
        assert not guild.get_member_named("bob").guild_permissions.ban_members  # type: ignore[union-attr]


async def test_bad_token_is_a_login_failure(sb: Sandbox) -> None:
    bot = make_bot()
    with pytest.raises(discord.LoginFailure):
        await bot.start("not-the-sandbox-token")
    await bot.close()

    for path in ("/users/@me", f"/channels/{GUILD_ID}/messages", "/no/such/route"):
        status, content_type, body = await rest(sb, "GET", path, token="wrong")
        assert (status, content_type, body) == (
            401,
            "application/json",
            {"code": 0, "message": "401: Unauthorized"},
        )


async def test_message_content_intent_is_respected(sb: Sandbox) -> None:
    bot = make_bot(message_content=False)
    seen: asyncio.Queue[discord.Message] = asyncio.Queue()

    @bot.listen()
    async def on_message(message: discord.Message) -> None:
        await seen.put(message)

    async with running(bot, sb):
        await sb.send_message("alice", "general", "!ping")
        message = await asyncio.wait_for(seen.get(), timeout=5)
        assert message.author.name == "alice" and message.content == ""
        # Mentioning the bot is the exception: the content comes through.
        await sb.send_message("bob", "general", f"<@{BOT_ID}> hello")
        mention = await asyncio.wait_for(seen.get(), timeout=5)
        assert mention.content == f"<@{BOT_ID}> hello"
        assert [u.id for u in mention.mentions] == [BOT_ID]
    assert sb.sent_messages == []  # "!ping" was invisible, so the command never ran


async def test_tree_sync_overwrites_commands(sb: Sandbox) -> None:
    bot = make_bot()

    @bot.tree.command(description="Say hello")
    async def hello(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("hi")

    async with running(bot, sb):
        synced = await bot.tree.sync()
        assert [(c.name, c.description, c.application_id) for c in synced] == [("hello", "Say hello", BOT_ID)]
        event = await sb.wait_for_event(EventKind.COMMANDS_SYNC)
        assert event.data["guild_id"] is None and [c["name"] for c in event.data["commands"]] == ["hello"]

        fetched = await bot.tree.fetch_commands()
        assert [(c.id, c.name) for c in fetched] == [(synced[0].id, "hello")]
        assert (await bot.tree.sync())[0].id == synced[0].id  # ids survive a re-sync

        guild = discord.Object(GUILD_ID)
        bot.tree.copy_global_to(guild=guild)
        guild_synced = await bot.tree.sync(guild=guild)
        assert [c.guild_id for c in guild_synced] == [GUILD_ID]
        status, _ct, body = await rest(sb, "GET", f"/applications/{BOT_ID}/guilds/{GUILD_ID}/commands")
        assert status == 200 and [c["name"] for c in body] == ["hello"]


async def test_presence_change_is_recorded(sb: Sandbox) -> None:
    bot = make_bot()
    async with running(bot, sb):
        await bot.change_presence(
            activity=discord.Activity(type=discord.ActivityType.watching, name="1 servers")
        )
        presence = await sb.wait_for_presence()
        assert presence["source"] == "op3" and presence["status"] == "online"
        assert [(a["type"], a["name"]) for a in presence["activities"]] == [(3, "1 servers")]
        assert sb.presence == presence

        await bot.change_presence(status=discord.Status.idle)
        assert (await sb.wait_for_presence())["status"] == "idle"  # each update is handed out once


async def test_edit_and_delete_are_dispatched_and_recorded(sb: Sandbox) -> None:
    bot = make_bot()
    edited: asyncio.Queue[tuple[str, str]] = asyncio.Queue()

    @bot.command()
    async def countdown(ctx: commands.Context[commands.Bot]) -> None:
        message = await ctx.reply("3", mention_author=False)
        await message.edit(content="2")
        await message.delete()

    @bot.listen()
    async def on_message_edit(before: discord.Message, after: discord.Message) -> None:
        await edited.put((before.content, after.content))

    async with running(bot, sb):
        await sb.send_message("alice", "bot-commands", "!countdown")
        first = await sb.wait_for_bot_message(channel="#bot-commands")
        assert first.content == "3" and first.type == 19 and first.message_reference is not None
        deleted = await sb.wait_for_event(EventKind.MESSAGE_DELETE)
        assert deleted.data["message_id"] == first.id
        kinds = [e.kind for e in sb.events if e.data.get("message_id") == first.id]
        assert kinds == [EventKind.MESSAGE_CREATE, EventKind.MESSAGE_UPDATE, EventKind.MESSAGE_DELETE]
        assert await asyncio.wait_for(edited.get(), timeout=5) == ("3", "2")
        status, _ct, body = await rest(sb, "GET", f"/channels/{first.channel_id}/messages/{first.id}")
        assert (status, body) == (404, {"code": 10008, "message": "Unknown Message"})


async def test_privileged_intent_not_enabled_closes_4014(sb: Sandbox) -> None:
    sb.world.application.flags = 0
    bot = make_bot(message_content=True)
    with pytest.raises(discord.PrivilegedIntentsRequired):
        await asyncio.wait_for(bot.start(sb.token), timeout=10)
    await bot.close()


# --- REST and gateway protocol details --------------------------------------------------------


async def test_unknown_route_is_a_discord_404_and_recorded(
    sb: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="tui_bot.sandbox"):
        status, content_type, body = await rest(sb, "POST", "/stickers/123/nope", json={})
    # Discord's 404 body, its message naming the route and the parity table (tests/test_sandbox_parity.py).
    assert (status, content_type, body) == (
        404,
        "application/json",
        {
            "code": 0,
            "message": "404: Not Found (the sandbox does not implement POST /stickers/{id}/nope; "
            "see docs/sandbox-parity.md)",
        },
    )
    event = await sb.wait_for_event(EventKind.UNKNOWN_ROUTE, timeout=0)
    assert event.data["method"] == "POST" and event.data["path"] == "/api/v10/stickers/123/nope"
    assert any("unknown REST route" in r.getMessage() for r in caplog.records)


async def test_rest_errors_and_headers_are_discord_shaped(sb: Sandbox) -> None:
    status, content_type, body = await rest(sb, "GET", "/channels/123456789012345678")
    assert (status, content_type, body) == (
        404,
        "application/json",
        {"code": 10003, "message": "Unknown Channel"},
    )
    channel_id = sb.world.find_channel("general").id
    status, _ct, body = await rest(sb, "POST", f"/channels/{channel_id}/messages", json={"content": ""})
    assert (status, body["code"]) == (400, 50006)
    status, _ct, body = await rest(
        sb, "POST", f"/channels/{channel_id}/messages", json={"content": "x" * 2001}
    )
    assert (status, body["code"], list(body["errors"])) == (400, 50035, ["content"])

    async with (
        aiohttp.ClientSession() as session,
        session.get(
            f"{sb.api_base}/users/@me", headers={"Authorization": f"Bot {SANDBOX_TOKEN}"}
        ) as response,
    ):
        assert response.headers["Content-Type"] == "application/json"
        assert int(response.headers["X-RateLimit-Remaining"]) > 1000
        assert {
            "X-RateLimit-Limit",
            "X-RateLimit-Reset",
            "X-RateLimit-Reset-After",
            "X-RateLimit-Bucket",
        } <= set(response.headers)
        me = await response.json()
    assert me["id"] == str(BOT_ID) and me["bot"] is True and me["discriminator"] == "0"

    status, _ct, gateway = await rest(sb, "GET", "/gateway/bot")
    assert gateway["url"] == sb.gateway_url and gateway["shards"] == 1


async def test_gateway_protocol_over_a_raw_websocket(sb: Sandbox) -> None:
    async with aiohttp.ClientSession() as session:
        # Plain JSON text frames when no compression is asked for.
        async with session.ws_connect(sb.gateway_url + "?v=10&encoding=json") as ws:
            hello = await ws.receive_json(timeout=5)
            assert hello["op"] == 10 and hello["d"]["heartbeat_interval"] == 5000
            await ws.send_json({"op": 1, "d": None})
            assert (await ws.receive_json(timeout=5))["op"] == 11
            await ws.send_json({"op": 6, "d": {"token": sb.token, "session_id": "x", "seq": 3}})
            assert await ws.receive_json(timeout=5) == {"op": 9, "d": False, "s": None, "t": None}
            await ws.send_json({"op": 2, "d": {"token": "bad", "intents": 513, "properties": {}}})
            closing = await ws.receive(timeout=5)
            assert closing.type is aiohttp.WSMsgType.CLOSE and closing.data == CloseCode.AUTHENTICATION_FAILED

        # zlib-stream: binary frames, each ending with the Z_SYNC_FLUSH suffix.
        async with session.ws_connect(sb.gateway_url + "?v=10&encoding=json&compress=zlib-stream") as ws:
            inflate = zlib.decompressobj()

            async def receive() -> dict[str, Any]:
                frame = await ws.receive(timeout=5)
                assert frame.type is aiohttp.WSMsgType.BINARY and frame.data.endswith(b"\x00\x00\xff\xff")
                return json.loads(inflate.decompress(frame.data))

            assert (await receive())["op"] == 10
            intents = (1 << 0) | (1 << 9) | (1 << 15)  # GUILDS, GUILD_MESSAGES, MESSAGE_CONTENT
            await ws.send_json({"op": 2, "d": {"token": sb.token, "intents": intents, "properties": {}}})
            ready = await receive()
            assert (ready["t"], ready["s"]) == ("READY", 1)
            assert ready["d"]["resume_gateway_url"] == sb.gateway_url
            assert ready["d"]["guilds"] == [{"id": str(GUILD_ID), "unavailable": True}]
            guild = await receive()
            assert (guild["t"], guild["s"]) == ("GUILD_CREATE", 2)
            assert len(guild["d"]["members"]) == 1 and guild["d"]["member_count"] == 4
            await sb.wait_until_ready(timeout=0)

            await sb.send_message("bob", "general", "hi")
            created = await receive()
            assert (created["t"], created["s"], created["d"]["content"]) == ("MESSAGE_CREATE", 3, "hi")
            assert created["d"]["guild_id"] == str(GUILD_ID) and "member" in created["d"]


# --- the world on its own ---------------------------------------------------------------------


def test_snowflakes_are_unique_increasing_and_time_based() -> None:
    frozen = SnowflakeGenerator(clock=lambda: 1_700_000_000.0)
    ids = [frozen() for _ in range(5000)]
    assert ids == sorted(set(ids))
    assert snowflake_time(ids[0]).timestamp() == 1_700_000_000.0
    live = SnowflakeGenerator()
    assert live() < live()


def test_demo_world_is_deterministic_and_owner_overridable() -> None:
    world, again = demo_world(), demo_world()
    guild = world.guilds[GUILD_ID]
    assert list(guild.channels) == list(again.guilds[GUILD_ID].channels)
    assert world.application.owner_id == guild.owner_id == OPERATOR_ID
    assert world.bot_user.bot and world.user_for_token(SANDBOX_TOKEN) is world.bot_user

    assert world.owner_id == world.find_user("operator").id == OPERATOR_ID
    assert world.find_user("Alice").username == "alice"

    mine = demo_world(owner_id=42)
    assert mine.application.owner_id == mine.guilds[GUILD_ID].owner_id == 42
    assert mine.guilds[GUILD_ID].find_member("operator").id == 42  # type: ignore[union-attr]

    alice = guild.find_member("Alice")
    assert alice is not None and [guild.roles[r].name for r in alice.role_ids] == ["Moderator"]
    general = world.find_channel("#general")
    message = world.create_message(general, alice.user, f"hey <@{BOT_ID}> <@&{alice.role_ids[0]}>")
    payload = message_payload(world, message, gateway=True)
    assert payload["id"] == str(message.id) and payload["timestamp"].endswith("+00:00")
    assert [u["id"] for u in payload["mentions"]] == [str(BOT_ID)]
    assert payload["mention_roles"] == [str(alice.role_ids[0])]
    assert payload["member"]["roles"] == [str(alice.role_ids[0])]


async def test_resume_is_refused_and_the_bot_reidentifies(sb: Sandbox) -> None:
    bot = make_bot()
    connected: asyncio.Queue[None] = asyncio.Queue()

    # discord.py sleeps 5 s before every non-initial IDENTIFY (Client.before_identify_hook, client.py
    # ~611); the hook is documented as overridable, so skip the wait here.
    async def no_identify_delay(shard_id: int | None, *, initial: bool = False) -> None:
        return None

    bot.before_identify_hook = no_identify_delay  # type: ignore[method-assign]

    @bot.listen()
    async def on_connect() -> None:
        await connected.put(None)

    async with running(bot, sb):
        first = await sb.wait_for_event(EventKind.READY)
        await connected.get()
        # 1001 is resumable: discord.py reconnects to resume_gateway_url and sends RESUME (op 6); the
        # sandbox answers INVALID_SESSION(false), so the bot identifies again on a fresh connection.
        await sb.hub.close_all(1001)
        again = await sb.wait_for_event(EventKind.READY, check=lambda e: e.index > first.index)
        assert again.data["session_id"] != first.data["session_id"]
        await asyncio.wait_for(connected.get(), timeout=5)
        await sb.send_message("alice", "general", "!ping")
        assert (await sb.wait_for_bot_message()).content == "pong"
