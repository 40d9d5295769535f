"""Membership and moderation against the real discord.py client: joins, leaves, guild joins and
removals, kicks, bans and role changes with Discord's permission and hierarchy checks.
"""

from __future__ import annotations

import asyncio
from typing import Any

import discord
import pytest
from sandbox_bots import (
    BOT_ID,
    BOT_ROLE_ID,
    GUILD_ID,
    MODERATOR_ROLE_ID,
    OPERATOR_ID,
    make_bot,
    next_item,
    running,
)

from tui_bot.sandbox import EventKind, Sandbox

MANAGE_ROLES = discord.Permissions(manage_roles=True).value
BAN_MEMBERS = discord.Permissions(ban_members=True).value


def queue_for(bot: discord.Client, event: str) -> asyncio.Queue[Any]:
    """A queue of the arguments of every ``event`` discord.py dispatches."""
    queue: asyncio.Queue[Any] = asyncio.Queue()

    async def listener(*args: Any) -> None:
        await queue.put(args[0] if len(args) == 1 else args)

    bot.add_listener(listener, f"on_{event}")
    return queue


async def test_member_join_and_leave_reach_the_bot(sandbox: Sandbox) -> None:
    bot = make_bot(members=True)
    joined, left = queue_for(bot, "member_join"), queue_for(bot, "member_remove")
    async with running(bot, sandbox):
        guild = bot.get_guild(GUILD_ID)
        assert guild is not None and guild.member_count == 4

        carol = await sandbox.add_member(None, "carol", roles=["Moderator"], nick="Caz")
        member: discord.Member = await next_item(joined)
        assert (member.id, member.name, member.nick) == (carol.id, "carol", "Caz")
        assert [r.name for r in member.roles] == ["@everyone", "Moderator"]
        assert guild.get_member(carol.id) is member and guild.member_count == 5
        assert sandbox.world.find_user("carol").id == carol.id  # a new user was created

        await sandbox.remove_member(None, "carol")
        gone: discord.Member = await next_item(left)
        assert gone.id == carol.id and guild.get_member(carol.id) is None and guild.member_count == 4
        event = await sandbox.wait_for_event(EventKind.MEMBER_REMOVE, timeout=0)
        assert event.data == {"guild_id": GUILD_ID, "user_id": carol.id, "reason": "left", "by": None}


async def test_member_events_need_the_members_intent(sandbox: Sandbox) -> None:
    bot = make_bot(members=False)
    joined = queue_for(bot, "member_join")
    seen = queue_for(bot, "message")
    async with running(bot, sandbox):
        await sandbox.add_member(None, "dave")
        await sandbox.send_message("alice", "general", "marker")
        assert (await next_item(seen)).content == "marker"  # ordered after the (unsent) join
        assert joined.empty()


async def test_bot_joins_and_leaves_guilds(sandbox: Sandbox) -> None:
    bot = make_bot(members=True)
    joins, removals = queue_for(bot, "guild_join"), queue_for(bot, "guild_remove")
    async with running(bot, sandbox):
        new = await sandbox.join_guild("Second Guild", members=["alice"])
        guild: discord.Guild = await next_item(joins)
        assert (guild.id, guild.name, guild.owner_id) == (new.id, "Second Guild", OPERATOR_ID)
        assert [c.name for c in guild.text_channels] == ["general"]
        assert sorted(m.name for m in guild.members) == ["alice", "operator", "tui-bot"]
        assert guild.me.top_role.managed and guild.me.guild_permissions.kick_members
        assert bot.get_guild(new.id) is guild

        # The sandbox removes the bot...
        await sandbox.leave_guild(new.id)
        assert (await next_item(removals)).id == new.id
        assert bot.get_guild(new.id) is None and BOT_ID not in new.members

        # ...it joins again, then leaves by itself (DELETE users/@me/guilds/{id}).
        await sandbox.join_guild(new.id)
        assert (await next_item(joins)).id == new.id
        await bot.get_guild(new.id).leave()  # type: ignore[union-attr]
        assert (await next_item(removals)).id == new.id
        leave = [e.data for e in sandbox.events if e.kind is EventKind.GUILD_LEAVE]
        assert leave == [{"guild_id": new.id, "by": None}, {"guild_id": new.id, "by": BOT_ID}]
        assert [g.id for g in bot.guilds] == [GUILD_ID]


async def test_kick_needs_permission_and_rank_and_is_dispatched(sandbox: Sandbox) -> None:
    bot = make_bot(members=True)
    removed = queue_for(bot, "member_remove")
    async with running(bot, sandbox):
        guild = bot.get_guild(GUILD_ID)
        assert guild is not None
        owner, bob = guild.get_member(OPERATOR_ID), guild.get_member_named("bob")
        assert owner is not None and bob is not None

        with pytest.raises(discord.Forbidden) as refused:
            await owner.kick(reason="no")  # nobody outranks the owner
        assert (refused.value.status, refused.value.code, refused.value.text) == (
            403,
            50013,
            "Missing Permissions",
        )
        assert guild.get_member(OPERATOR_ID) is not None

        await bob.kick(reason="spam")
        assert (await next_item(removed)).id == bob.id
        event = await sandbox.wait_for_event(EventKind.MEMBER_REMOVE, timeout=0)
        assert event.data == {"guild_id": GUILD_ID, "user_id": bob.id, "reason": "kick", "by": BOT_ID}
        with pytest.raises(discord.NotFound) as missing:
            await guild.kick(bob)  # no longer a member
        assert missing.value.code == 10007

        # Without KICK_MEMBERS (the bot's role loses it on the sandbox side) a kick is refused.
        sandbox.world.guilds[GUILD_ID].roles[BOT_ROLE_ID].permissions &= ~discord.Permissions(
            kick_members=True
        ).value
        alice = guild.get_member_named("alice")
        assert alice is not None
        with pytest.raises(discord.Forbidden) as refused:
            await alice.kick()
        assert refused.value.code == 50013


async def test_ban_unban_and_ban_list(sandbox: Sandbox) -> None:
    bot = make_bot(members=True)
    bans, removed = queue_for(bot, "member_ban"), queue_for(bot, "member_remove")
    unbans = queue_for(bot, "member_unban")
    async with running(bot, sandbox):
        guild = bot.get_guild(GUILD_ID)
        alice = guild.get_member_named("alice") if guild else None
        assert guild is not None and alice is not None

        await alice.ban(reason="rude words", delete_message_seconds=0)
        banned_guild, banned = await next_item(bans)
        assert banned_guild is guild and banned.id == alice.id
        assert (await next_item(removed)).id == alice.id  # GUILD_BAN_ADD, then GUILD_MEMBER_REMOVE
        entries = [entry async for entry in guild.bans()]
        assert [(e.user.id, e.reason) for e in entries] == [(alice.id, "rude words")]
        assert (await guild.fetch_ban(alice)).reason == "rude words"
        kinds = [e.kind for e in sandbox.events if e.data.get("user_id") == alice.id]
        assert kinds == [EventKind.BAN_ADD, EventKind.MEMBER_REMOVE]

        await guild.unban(alice)
        assert (await next_item(unbans))[1].id == alice.id
        assert [entry async for entry in guild.bans()] == []
        with pytest.raises(discord.NotFound) as unknown_ban:
            await guild.unban(alice)
        assert unknown_ban.value.code == 10026
        with pytest.raises(discord.NotFound):
            await guild.fetch_ban(alice)

        # A user who is not a member can be banned too (by id); an unknown user cannot.
        carol = await sandbox.add_member(None, "carol")
        await sandbox.remove_member(None, "carol")
        await guild.ban(carol)
        _guild, user = await next_item(bans)
        assert user.id == carol.id and isinstance(user, discord.User)
        with pytest.raises(discord.NotFound) as unknown_user:
            await guild.ban(discord.Object(OPERATOR_ID + 1))
        assert unknown_user.value.code == 10013


async def test_ban_without_permission_or_rank_is_forbidden(sandbox: Sandbox) -> None:
    guild_model = sandbox.world.guilds[GUILD_ID]
    guild_model.roles[BOT_ROLE_ID].permissions &= ~BAN_MEMBERS  # a world where the bot cannot ban
    bot = make_bot(members=True)
    async with running(bot, sandbox):
        guild = bot.get_guild(GUILD_ID)
        bob = guild.get_member_named("bob") if guild else None
        assert guild is not None and bob is not None and not guild.me.guild_permissions.ban_members
        with pytest.raises(discord.Forbidden) as refused:
            await bob.ban()
        assert refused.value.code == 50013
        with pytest.raises(discord.Forbidden):
            [entry async for entry in guild.bans()]

        # With the permission back, rank still decides: Moderator moved above the bot's role.
        guild_model.roles[BOT_ROLE_ID].permissions |= BAN_MEMBERS
        guild_model.roles[MODERATOR_ROLE_ID].position = guild_model.roles[BOT_ROLE_ID].position
        alice = guild.get_member_named("alice")
        assert alice is not None
        with pytest.raises(discord.Forbidden) as refused:
            await alice.ban()
        assert refused.value.code == 50013
        assert alice.id in guild_model.members and not guild_model.bans
        await bob.ban()
        assert bob.id in guild_model.bans and bob.id not in guild_model.members


async def test_role_changes_need_manage_roles_and_a_lower_role(sandbox: Sandbox) -> None:
    bot = make_bot(members=True)
    updates = queue_for(bot, "member_update")
    async with running(bot, sandbox):
        guild = bot.get_guild(GUILD_ID)
        bob = guild.get_member_named("bob") if guild else None
        assert guild is not None and bob is not None
        moderator = guild.get_role(MODERATOR_ROLE_ID)
        bot_role = guild.get_role(BOT_ROLE_ID)
        assert moderator is not None and bot_role is not None

        with pytest.raises(discord.Forbidden) as refused:
            await bob.add_roles(moderator)  # the demo bot lacks MANAGE_ROLES
        assert refused.value.code == 50013

        sandbox.world.guilds[GUILD_ID].roles[BOT_ROLE_ID].permissions |= MANAGE_ROLES
        await bob.add_roles(moderator, reason="promoted")
        before, after = await next_item(updates)
        assert [r.id for r in before.roles[1:]] == [] and [r.id for r in after.roles[1:]] == [
            MODERATOR_ROLE_ID
        ]
        event = await sandbox.wait_for_event(EventKind.MEMBER_UPDATE, timeout=0)
        assert event.data["role_ids"] == [MODERATOR_ROLE_ID] and event.data["by"] == BOT_ID

        await bob.remove_roles(moderator)
        _before, after = await next_item(updates)
        assert after.roles == [guild.default_role]

        with pytest.raises(discord.Forbidden):
            await bob.add_roles(bot_role)  # its own top role: not below it
        with pytest.raises(discord.NotFound) as unknown_role:
            await bob.add_roles(discord.Object(GUILD_ID + 12345))
        assert unknown_role.value.code == 10011
