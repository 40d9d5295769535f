"""Routes discord.py calls that the sandbox once answered 404, and responses shaped as Discord shapes them.

Each route is driven through the real discord.py client (``application_info``, ``create_dm`` then
``send``, ``fetch_role``, ``fetch_guilds``, ``tree.fetch_command``); each shape is read as JSON from the
REST API (the keys Discord's OpenAPI description requires, optional ones absent rather than null).
"""

from __future__ import annotations

import io
import json
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.ext import commands

from tui_bot.sandbox import Sandbox

GUILD_ID = 1191168935198720000
MODERATOR_ROLE_ID = 1191168939393024000

StartBot = Callable[..., Awaitable[Any]]

# Keys Discord always sends (its OpenAPI description: GuildResponse, PrivateApplicationResponse,
# MyGuildResponse; discord.py's types/guild.py and types/appinfo.py require the same or fewer).
GUILD_KEYS = {
    "id", "name", "features", "owner_id", "region", "afk_timeout", "system_channel_flags", "widget_enabled",
    "verification_level", "roles", "default_message_notifications", "mfa_level", "explicit_content_filter",
    "premium_tier", "premium_subscription_count", "preferred_locale", "premium_progress_bar_enabled", "nsfw",
    "nsfw_level", "emojis", "stickers", "max_presences", "widget_channel_id",
}  # fmt: skip
APPLICATION_KEYS = {
    "id", "name", "description", "verify_key", "flags", "redirect_uris", "owner",
    "approximate_user_install_count", "approximate_user_authorization_count", "explicit_content_filter",
    "bot_public", "bot_require_code_grant", "icon", "summary",
}  # fmt: skip
MY_GUILD_KEYS = {"id", "name", "owner", "permissions", "features", "icon", "banner"}
COUNTS = {"approximate_member_count", "approximate_presence_count"}


def make_bot() -> commands.Bot:
    intents = discord.Intents.default()
    return commands.Bot(command_prefix="!", intents=intents, guild_ready_timeout=0.01)


async def raw(sb: Sandbox, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
    headers = {"Authorization": f"Bot {sb.token}"}
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, sb.api_base + path, headers=headers, **kwargs) as response,
    ):
        text = await response.text()
        return response.status, json.loads(text) if text else None


# -- routes --


async def test_application_info_and_the_current_application(
    discord_sandbox: Sandbox, sandbox_bot: StartBot
) -> None:
    sb = discord_sandbox
    bot = await sandbox_bot(make_bot())
    info = await bot.application_info()
    assert (info.id, info.owner.id) == (sb.world.application.id, sb.world.owner_id)
    status, oauth2 = await raw(sb, "GET", "/oauth2/applications/@me")
    assert status == 200 and oauth2.keys() >= APPLICATION_KEYS
    assert oauth2["explicit_content_filter"] == 0 and oauth2["approximate_user_install_count"] == 0
    status, current = await raw(sb, "GET", "/applications/@me")
    assert (status, current) == (200, oauth2)
    async with aiohttp.ClientSession() as session, session.get(sb.api_base + "/applications/@me") as response:
        assert response.status == 401  # no token


async def test_the_bot_opens_a_dm_and_sends_in_it(discord_sandbox: Sandbox, sandbox_bot: StartBot) -> None:
    sb = discord_sandbox
    bot = await sandbox_bot(make_bot())
    alice = sb.world.find_user("alice")
    user = await bot.fetch_user(alice.id)
    dm = await user.create_dm()
    assert dm.recipient is not None and dm.recipient.id == alice.id
    await dm.send("hello alice")
    sent = await sb.wait_for_bot_message()
    assert (sent.content, sent.channel_id, sent.guild_id) == ("hello alice", dm.id, None)
    assert (await user.create_dm()).id == dm.id  # the same channel again
    with pytest.raises(discord.HTTPException) as caught:
        await (await bot.fetch_user(bot.user.id)).create_dm()  # type: ignore[union-attr]
    assert caught.value.code == 50007


async def test_fetch_role(discord_sandbox: Sandbox, sandbox_bot: StartBot) -> None:
    bot = await sandbox_bot(make_bot())
    guild = bot.get_guild(GUILD_ID)
    assert guild is not None
    role = await guild.fetch_role(MODERATOR_ROLE_ID)
    assert (role.id, role.name) == (MODERATOR_ROLE_ID, "Moderator")
    assert role.permissions.kick_members and role.permissions.ban_members
    with pytest.raises(discord.NotFound) as caught:
        await guild.fetch_role(1)
    assert caught.value.code == 10011


async def test_fetch_guilds_pages_like_discord(discord_sandbox: Sandbox, sandbox_bot: StartBot) -> None:
    sb = discord_sandbox
    second = sb.add_guild("Second Guild", members=["alice"])
    third = sb.add_guild("Third Guild", owner="bob")
    sb.add_guild("Not The Bot's", with_bot=False)
    bot = await sandbox_bot(make_bot())
    ids = sorted([GUILD_ID, second.id, third.id])

    guilds = [g async for g in bot.fetch_guilds()]
    assert [g.id for g in guilds] == ids
    assert {g.name for g in guilds} == {"Sandbox Guild", "Second Guild", "Third Guild"}
    # discord.py asks with_counts=1 by default.
    assert [g.approximate_member_count for g in guilds] == [len(sb.world.guilds[i].members) for i in ids]
    assert [g.id async for g in bot.fetch_guilds(limit=1)] == ids[:1]
    assert [g.id async for g in bot.fetch_guilds(limit=1, before=discord.Object(ids[-1]))] == [ids[-2]]
    assert [g.id async for g in bot.fetch_guilds(after=discord.Object(ids[0]))] == ids[1:]
    assert [g.approximate_member_count async for g in bot.fetch_guilds(with_counts=False)] == [None] * 3

    status, body = await raw(sb, "GET", "/users/@me/guilds")
    assert status == 200 and all(g.keys() == MY_GUILD_KEYS for g in body)
    assert [(g["owner"], int(g["permissions"]) > 0) for g in body] == [(False, True)] * 3
    status, body = await raw(sb, "GET", "/users/@me/guilds", params={"limit": "201"})
    assert (status, body["code"], list(body["errors"])) == (400, 50035, ["limit"])


async def test_fetch_command_global_and_per_guild(discord_sandbox: Sandbox, sandbox_bot: StartBot) -> None:
    sb = discord_sandbox
    bot = make_bot()

    @bot.tree.command(description="global")
    async def ping(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("pong")

    @bot.tree.command(description="guild only", guild=discord.Object(GUILD_ID))
    async def local(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("here")

    await sandbox_bot(bot)
    (synced,) = await bot.tree.sync()
    (synced_local,) = await bot.tree.sync(guild=discord.Object(GUILD_ID))
    fetched = await bot.tree.fetch_command(synced.id)
    assert (fetched.id, fetched.name, fetched.description) == (synced.id, "ping", "global")
    fetched_local = await bot.tree.fetch_command(synced_local.id, guild=discord.Object(GUILD_ID))
    assert (fetched_local.name, fetched_local.guild_id) == ("local", GUILD_ID)
    with pytest.raises(discord.NotFound) as caught:
        await bot.tree.fetch_command(synced_local.id)  # a guild command is not a global one
    assert caught.value.code == 10063
    status, body = await raw(sb, "GET", f"/applications/1/commands/{synced.id}")
    assert (status, body["code"]) == (403, 20012)


# -- shapes --


async def test_global_commands_carry_integration_types_as_discord_stores_them(
    discord_sandbox: Sandbox, sandbox_bot: StartBot
) -> None:
    sb = discord_sandbox
    bot = make_bot()

    @bot.tree.command(description="anywhere")
    async def ping(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("pong")

    @bot.tree.command(description="installed by users")
    @app_commands.allowed_installs(guilds=False, users=True)
    @app_commands.allowed_contexts(guilds=True, dms=True, private_channels=False)
    async def mine(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("mine")

    await sandbox_bot(bot)
    await bot.tree.sync()
    _status, listed = await raw(sb, "GET", f"/applications/{sb.world.application.id}/commands")
    by_name = {c["name"]: c for c in listed}
    # discord.py sends null for both when a command sets neither: Discord stores [0] (guild install)
    # and leaves contexts null (discord/discord-api-docs#6744).
    assert (by_name["ping"]["integration_types"], by_name["ping"]["contexts"]) == ([0], None)
    assert (by_name["mine"]["integration_types"], by_name["mine"]["contexts"]) == ([1], [0, 1])
    # Syncing the same commands again keeps their versions: nothing changed.
    await bot.tree.sync()
    _status, again = await raw(sb, "GET", f"/applications/{sb.world.application.id}/commands")
    assert [c["version"] for c in again] == [c["version"] for c in listed]


async def test_guild_object_has_discords_keys_and_counts_only_on_request(
    discord_sandbox: Sandbox, sandbox_bot: StartBot
) -> None:
    sb = discord_sandbox
    status, guild = await raw(sb, "GET", f"/guilds/{GUILD_ID}")
    assert status == 200 and guild.keys() >= GUILD_KEYS and not COUNTS & guild.keys()
    assert (guild["region"], guild["nsfw"], guild["widget_enabled"], guild["max_presences"]) == (
        "deprecated",
        False,
        False,
        None,
    )
    for flag in ("true", "1"):
        status, counted = await raw(sb, "GET", f"/guilds/{GUILD_ID}", params={"with_counts": flag})
        assert counted["approximate_member_count"] == len(sb.world.guilds[GUILD_ID].members)
    bot = await sandbox_bot(make_bot())
    fetched = await bot.fetch_guild(GUILD_ID)
    assert fetched.approximate_member_count == len(sb.world.guilds[GUILD_ID].members)
    assert (await bot.fetch_guild(GUILD_ID, with_counts=False)).approximate_member_count is None


async def test_components_get_ids_unique_in_the_message(
    discord_sandbox: Sandbox, sandbox_bot: StartBot
) -> None:
    sb = discord_sandbox
    bot = await sandbox_bot(make_bot())
    channel = bot.get_channel(sb.world.find_channel("general").id)
    assert isinstance(channel, discord.TextChannel)
    view = discord.ui.View()
    view.add_item(discord.ui.Button(label="Yes", custom_id="yes"))
    view.add_item(discord.ui.Button(label="No", custom_id="no"))
    view.add_item(discord.ui.Select(custom_id="pick", options=[discord.SelectOption(label="a")]))
    sent = await channel.send("vote", view=view)
    # discord.py reads the ids from the response: rows before their children, in order.
    rows = sent.components
    ids = [(row.id, [c.id for c in row.children]) for row in rows if isinstance(row, discord.ActionRow)]
    assert ids == [(1, [2, 3]), (4, [5])]
    status, stored = await raw(sb, "GET", f"/channels/{channel.id}/messages/{sent.id}")
    assert [c["id"] for c in stored["components"][0]["components"]] == [2, 3]

    # An id the sender chose is kept, and never handed out again.
    components = [
        {
            "type": 1,
            "components": [
                {"type": 2, "style": 1, "label": "a", "custom_id": "a"},
                {"type": 2, "style": 1, "label": "b", "custom_id": "b", "id": 2},
            ],
        }
    ]
    status, body = await raw(
        sb, "POST", f"/channels/{channel.id}/messages", json={"content": "x", "components": components}
    )
    assert status == 200
    row = body["components"][0]
    assert (row["id"], [c["id"] for c in row["components"]]) == (1, [3, 2])


async def test_attachment_description_is_absent_unless_given(
    discord_sandbox: Sandbox, sandbox_bot: StartBot
) -> None:
    sb = discord_sandbox
    bot = await sandbox_bot(make_bot())
    channel = bot.get_channel(sb.world.find_channel("general").id)
    assert isinstance(channel, discord.TextChannel)
    files = [
        discord.File(io.BytesIO(b"plain"), "plain.txt"),
        discord.File(io.BytesIO(b"described"), "described.txt", description="a picture of text"),
    ]
    sent = await channel.send(files=files)
    assert [a.description for a in sent.attachments] == [None, "a picture of text"]
    _status, stored = await raw(sb, "GET", f"/channels/{channel.id}/messages/{sent.id}")
    plain, described = stored["attachments"]
    assert "description" not in plain and described["description"] == "a picture of text"


async def test_components_v2_layouts_are_numbered_parent_first(discord_sandbox: Sandbox) -> None:
    sb = discord_sandbox
    channel = sb.world.find_channel("general")
    button = {"type": 2, "style": 1, "custom_id": "more", "label": "More"}
    section = {"type": 9, "components": [{"type": 10, "content": "Title"}], "accessory": button}
    container = {"type": 17, "components": [section, {"type": 10, "content": "Body", "id": 4}]}
    status, body = await raw(
        sb,
        "POST",
        f"/channels/{channel.id}/messages",
        json={"flags": 1 << 15, "components": [container]},  # IS_COMPONENTS_V2
    )
    assert status == 200, body
    (got,) = body["components"]
    got_section, got_body = got["components"]
    # container 1, section 2, its text 3, its accessory 5 (4 is the sender's), the sender's 4 kept.
    assert (got["id"], got_section["id"], got_section["components"][0]["id"]) == (1, 2, 3)
    assert (got_section["accessory"]["id"], got_body["id"]) == (5, 4)
    assert "id" not in sb.world.get_message(channel.id, int(body["id"])).components[0]  # stored as sent
