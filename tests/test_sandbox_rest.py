"""Reactions, bulk delete and pins, as a real discord.py bot uses them against the sandbox.

Bots run through the ``sandbox_bot`` fixture of the package's pytest plugin. Absence of a gateway
event is shown without sleeping: the socket is ordered, so once a later message has arrived, the event
never will.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import discord
import pytest
from discord.ext import commands

from tui_bot.sandbox import DISCORD_EPOCH_MS, EventKind, Message, PermissionOverwrite, Sandbox

BOT_ID = 1191168918421504000
BOB_ID = 1191168931004416000
BOT_ROLE_ID = 1191168943587328000
ADD_REACTIONS = 1 << 6
MANAGE_MESSAGES = 1 << 13

StartBot = Callable[..., Awaitable[Any]]


def make_bot(*, reactions: bool = True) -> commands.Bot:
    intents = discord.Intents.default()
    intents.message_content = True
    intents.reactions = reactions
    return commands.Bot(command_prefix="!", intents=intents, guild_ready_timeout=0.01)


def deny_bot(sb: Sandbox, channel: str, permissions: int) -> None:
    """A channel overwrite denying the bot's role ``permissions`` (the REST checks read it at once)."""
    sb.world.find_channel(channel).permission_overwrites.append(
        PermissionOverwrite(BOT_ROLE_ID, 0, deny=permissions)
    )


def old_message(sb: Sandbox, channel: str, days: float, content: str) -> Message:
    """A member's message stored as if posted ``days`` ago (its snowflake carries the time)."""
    target = sb.world.find_channel(channel)
    snowflake = (int((time.time() - days * 86400) * 1000) - DISCORD_EPOCH_MS) << 22 | len(
        sb.world.messages[target.id]
    )
    message = Message(snowflake, target.id, target.guild_id, sb.world.find_user("bob"), content)
    sb.world.messages[target.id][message.id] = message
    return message


async def raw(sb: Sandbox, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
    headers = {"Authorization": f"Bot {sb.token}"}
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, sb.api_base + path, headers=headers, **kwargs) as response,
    ):
        text = await response.text()
        return response.status, json.loads(text) if text else None


async def test_reactions_round_trip(discord_sandbox: Sandbox, sandbox_bot: StartBot) -> None:
    sb = discord_sandbox
    bot = make_bot()
    seen: asyncio.Queue[tuple[str, str, str, int]] = asyncio.Queue()

    @bot.command()
    async def poll(ctx: commands.Context[commands.Bot]) -> None:
        question = await ctx.send("Lunch?")
        await question.add_reaction("👍")
        await question.add_reaction("👎")
        await ctx.message.add_reaction("✅")

    @bot.event
    async def on_reaction_add(reaction: discord.Reaction, user: discord.abc.User) -> None:
        await seen.put(("add", str(reaction.emoji), user.name, reaction.count))

    @bot.event
    async def on_raw_reaction_remove(payload: discord.RawReactionActionEvent) -> None:
        await seen.put(("remove", str(payload.emoji), str(payload.user_id), 0))

    await sandbox_bot(bot)
    command = await sb.send_message("alice", "general", "!poll")
    question = await sb.wait_for_bot_message()
    got = [await asyncio.wait_for(seen.get(), 5) for _ in range(3)]
    assert got == [("add", "👍", "tui-bot", 1), ("add", "👎", "tui-bot", 1), ("add", "✅", "tui-bot", 1)]
    kinds = [(e.data["message_id"], e.data["emoji"]) for e in sb.events if e.kind is EventKind.REACTION_ADD]
    assert kinds == [(question.id, "👍"), (question.id, "👎"), (command.id, "✅")]

    # A member joins the bot's reaction: discord.py counts it on its cached message.
    stored = await sb.add_reaction("bob", question, "👍")
    assert stored.reactions == {"👍": [BOT_ID, BOB_ID], "👎": [BOT_ID]}
    assert await asyncio.wait_for(seen.get(), 5) == ("add", "👍", "bob", 2)
    assert await sb.add_reaction("bob", question.id, "👍") is stored  # twice: nothing new dispatched

    channel = bot.get_channel(question.channel_id)
    assert isinstance(channel, discord.TextChannel)
    fetched = await channel.fetch_message(question.id)
    assert [(str(r.emoji), r.count, r.me) for r in fetched.reactions] == [("👍", 2, True), ("👎", 1, True)]
    assert [u.id async for u in fetched.reactions[0].users(limit=1)] == [BOT_ID]  # pages by user id
    assert sorted([u.name async for u in fetched.reactions[0].users()]) == ["bob", "tui-bot"]

    # The bot removes bob's reaction (MANAGE_MESSAGES), then its own.
    await fetched.remove_reaction("👍", discord.Object(BOB_ID))
    assert await asyncio.wait_for(seen.get(), 5) == ("remove", "👍", str(BOB_ID), 0)
    await fetched.remove_reaction("👎", bot.user)  # type: ignore[arg-type]
    assert await asyncio.wait_for(seen.get(), 5) == ("remove", "👎", str(BOT_ID), 0)
    removed = [e for e in sb.events if e.kind is EventKind.REACTION_REMOVE]
    assert [(e.data["user_id"], e.data["emoji"]) for e in removed] == [(BOB_ID, "👍"), (BOT_ID, "👎")]
    assert removed[-1].message is not None and removed[-1].message.reactions == {"👍": [BOT_ID]}

    # A member takes a reaction back; clear one emoji, then everything.
    await sb.add_reaction("alice", question, "🎉")
    await asyncio.wait_for(seen.get(), 5)
    await sb.remove_reaction("alice", question, "🎉")
    assert await asyncio.wait_for(seen.get(), 5) == ("remove", "🎉", str(command.author.id), 0)
    await sb.add_reaction("alice", question, "🎉")
    await asyncio.wait_for(seen.get(), 5)
    await fetched.clear_reaction("🎉")
    cleared = await sb.wait_for_event(EventKind.REACTIONS_CLEAR)
    assert cleared.data["emoji"] == "🎉" and cleared.message is not None
    assert cleared.message.reactions == {"👍": [BOT_ID]}
    await fetched.clear_reactions()
    everything = await sb.wait_for_event(EventKind.REACTIONS_CLEAR, check=lambda e: e.data["emoji"] is None)
    assert everything.message is not None and everything.message.reactions == {}
    assert [e.data["user_id"] for e in sb.events if e.kind is EventKind.USER_REACTION_REMOVE] == [
        command.author.id
    ]
    assert "reactions" not in (await raw(sb, "GET", f"/channels/{channel.id}/messages/{question.id}"))[1]


async def test_reaction_errors_are_discords(discord_sandbox: Sandbox, sandbox_bot: StartBot) -> None:
    sb = discord_sandbox
    bot = await sandbox_bot(make_bot())
    message = await sb.send_message("bob", "general", "react to me")
    channel = bot.get_channel(message.channel_id)
    assert isinstance(channel, discord.TextChannel)
    target = channel.get_partial_message(message.id)

    with pytest.raises(discord.HTTPException) as unknown_emoji:
        await target.add_reaction("thumbsup")
    assert (unknown_emoji.value.status, unknown_emoji.value.code) == (400, 10014)
    with pytest.raises(discord.NotFound) as unknown_message:
        await channel.get_partial_message(message.id + 1).add_reaction("👍")
    assert unknown_message.value.code == 10008

    # Without ADD_REACTIONS a bot may only join a reaction someone already made.
    deny_bot(sb, "general", ADD_REACTIONS | MANAGE_MESSAGES)
    with pytest.raises(discord.Forbidden) as forbidden:
        await target.add_reaction("👍")
    assert (forbidden.value.code, forbidden.value.text) == (50013, "Missing Permissions")
    await sb.add_reaction("bob", message, "👍")
    await target.add_reaction("👍")
    assert message.reactions == {"👍": [BOB_ID, BOT_ID]}
    # ...and without MANAGE_MESSAGES it may not remove others' reactions nor clear them.
    with pytest.raises(discord.Forbidden):
        await target.remove_reaction("👍", discord.Object(BOB_ID))
    with pytest.raises(discord.Forbidden):
        await target.clear_reactions()
    sb.world.find_channel("general").permission_overwrites.clear()

    for emoji in "🍎🍐🍊🍋🍌🍉🍇🍓🫐🍈🍒🍑🥭🍍🥥🥝🍅🍆🥑":  # 19 more: 20 distinct in all
        await target.add_reaction(emoji)
    with pytest.raises(discord.HTTPException) as too_many:
        await target.add_reaction("🥦")
    assert too_many.value.code == 30010
    assert len(message.reactions) == 20


async def test_purge_bulk_deletes_and_single_deletes_old_messages(
    discord_sandbox: Sandbox, sandbox_bot: StartBot
) -> None:
    sb = discord_sandbox
    bot = make_bot()
    bulk: asyncio.Queue[discord.RawBulkMessageDeleteEvent] = asyncio.Queue()

    @bot.event
    async def on_raw_bulk_message_delete(payload: discord.RawBulkMessageDeleteEvent) -> None:
        await bulk.put(payload)

    await sandbox_bot(bot)
    ancient = [old_message(sb, "general", 20, f"old {i}") for i in range(2)]
    recent = [await sb.send_message("bob", "general", f"new {i}") for i in range(3)]
    channel = bot.get_channel(recent[0].channel_id)
    assert isinstance(channel, discord.TextChannel)

    with pytest.raises(discord.HTTPException) as too_old:
        await channel.delete_messages([discord.Object(m.id) for m in ancient])
    assert (too_old.value.status, too_old.value.code) == (400, 50034)

    # purge pages history, bulk-deletes what is under 14 days old and deletes the rest one by one.
    purged = await channel.purge(limit=10)
    assert sorted(m.id for m in purged) == sorted(m.id for m in (*recent, *ancient))
    payload = await asyncio.wait_for(bulk.get(), 5)
    assert payload.message_ids == {m.id for m in recent} and payload.channel_id == channel.id
    assert [m.content for m in payload.cached_messages] == ["new 0", "new 1", "new 2"]
    event = await sb.wait_for_event(EventKind.MESSAGE_DELETE_BULK)
    assert sorted(event.data["message_ids"]) == sorted(m.id for m in recent)
    singles = [e.data["message_id"] for e in sb.events if e.kind is EventKind.MESSAGE_DELETE]
    assert sorted(singles) == sorted(m.id for m in ancient)
    assert sb.world.messages[channel.id] == {}


async def test_bulk_delete_validation(discord_sandbox: Sandbox) -> None:
    sb = discord_sandbox
    channel = sb.world.find_channel("general")
    ids = [str((await sb.send_message("bob", "general", f"m{i}")).id) for i in range(3)]
    path = f"/channels/{channel.id}/messages/bulk-delete"

    status, body = await raw(sb, "POST", path, json={"messages": ids[:1]})
    assert (status, body["code"], body["errors"]["messages"]["_errors"][0]["code"]) == (
        400,
        50035,
        "BASE_TYPE_MIN_LENGTH",
    )
    status, body = await raw(sb, "POST", path, json={"messages": [str(i) for i in range(101)]})
    assert (status, body["errors"]["messages"]["_errors"][0]["code"]) == (400, "BASE_TYPE_MAX_LENGTH")
    status, body = await raw(sb, "POST", path, json={"messages": [ids[0], ids[0]]})
    assert (status, body["code"]) == (400, 50035)
    status, body = await raw(sb, "POST", path, json={})
    assert (status, body["code"]) == (400, 50035)

    deny_bot(sb, "general", MANAGE_MESSAGES)
    status, body = await raw(sb, "POST", path, json={"messages": ids})
    assert (status, body) == (403, {"code": 50013, "message": "Missing Permissions"})
    channel.permission_overwrites.clear()

    # Unknown ids are skipped: the known ones go, and one MESSAGE_DELETE_BULK names only them.
    status, body = await raw(sb, "POST", path, json={"messages": [*ids[:2], str(int(ids[2]) + 1)]})
    assert (status, body) == (204, None)
    event = await sb.wait_for_event(EventKind.MESSAGE_DELETE_BULK, timeout=0)
    assert event.data["message_ids"] == [int(i) for i in ids[:2]]
    assert list(sb.world.messages[channel.id]) == [int(ids[2])]


async def test_pins(discord_sandbox: Sandbox, sandbox_bot: StartBot) -> None:
    sb = discord_sandbox
    bot = make_bot()
    updates: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

    @bot.event
    async def on_guild_channel_pins_update(channel: discord.abc.GuildChannel, last_pin: Any) -> None:
        await updates.put(("pins", last_pin))

    @bot.event
    async def on_raw_message_edit(payload: discord.RawMessageUpdateEvent) -> None:
        await updates.put(("edit", payload.data["pinned"]))

    await sandbox_bot(bot)
    first = await sb.send_message("bob", "general", "pin me")
    second = await sb.send_message("alice", "general", "me too")
    channel = bot.get_channel(first.channel_id)
    assert isinstance(channel, discord.TextChannel)

    await channel.get_partial_message(first.id).pin()
    await channel.get_partial_message(second.id).pin()
    got = [await asyncio.wait_for(updates.get(), 5) for _ in range(4)]
    assert [kind for kind, _value in got] == ["edit", "pins", "edit", "pins"]
    assert got[0] == ("edit", True) and got[1][1] is not None and got[3][1] > got[1][1]
    pinned = [m async for m in channel.pins()]
    assert [m.content for m in pinned] == ["me too", "pin me"]  # most recently pinned first
    assert pinned[0].pinned and pinned[0].pinned_at is not None
    assert [e.data["message_id"] for e in sb.events if e.kind is EventKind.MESSAGE_PIN] == [
        first.id,
        second.id,
    ]

    await channel.get_partial_message(second.id).unpin()
    assert [m.content async for m in channel.pins()] == ["pin me"]
    await sb.wait_for_event(EventKind.MESSAGE_UNPIN)

    deny_bot(sb, "general", MANAGE_MESSAGES)
    with pytest.raises(discord.Forbidden) as forbidden:
        await channel.get_partial_message(second.id).pin()
    assert forbidden.value.code == 50013


async def test_reaction_events_need_the_reactions_intent(
    discord_sandbox: Sandbox, sandbox_bot: StartBot
) -> None:
    sb = discord_sandbox
    bot = make_bot(reactions=False)
    seen: list[str] = []
    message_seen = asyncio.Event()

    @bot.event
    async def on_raw_reaction_add(payload: discord.RawReactionActionEvent) -> None:
        seen.append(str(payload.emoji))

    @bot.event
    async def on_message(message: discord.Message) -> None:
        if message.content == "after":
            message_seen.set()

    await sandbox_bot(bot)
    message = await sb.send_message("bob", "general", "before")
    await sb.add_reaction("alice", message, "👀")
    await sb.send_message("bob", "general", "after")
    await asyncio.wait_for(message_seen.wait(), 5)  # the reaction would have arrived first
    assert seen == []
    assert message.reactions == {"👀": [sb.world.find_user("alice").id]}
