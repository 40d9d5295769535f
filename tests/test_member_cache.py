"""config.json's ``cache`` section: by default discord.py keeps no member list, and everything still works.

With the default config the bot asks for no members intent, caches only its own member and chunks
nothing: memory stays flat however many members the guilds have. Role rules, ``has_role`` and
``has_permissions``, the help menu, the moderation converters, the console's Guilds pane, ``{users}`` and
``!stats`` are each driven here through the sandbox with that default. ``cache.members: "all"`` turns the
intent and the full cache back on; the sandbox behaves as Discord does for both (GUILD_CREATE members,
REQUEST_GUILD_MEMBERS, ``GET /guilds/{id}/members/{user}``).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import discord
import pytest

from tests.conftest import BotHarness
from tui_bot.config import ConfigFileError, ConfigStore, Secrets
from tui_bot.config.validation import parse_config
from tui_bot.core.bot import TuiBot, create_bot, default_intents
from tui_bot.core.permissions import can_use_command
from tui_bot.core.responses import Colour
from tui_bot.runtime import BotRuntime
from tui_bot.sandbox import EventKind, Sandbox
from tui_bot.sandbox.world import Member, Message, User
from tui_bot.tui.panes.guilds import describe_guild
from tui_bot.tui.reader import BotReader

REPO = Path(__file__).resolve().parent.parent
GENERAL = "general"
GUILD_MEMBERS = 1 << 1
GUILD_PRESENCES = 1 << 8
# The application flags that allow the privileged intents, as the Developer Portal toggles them.
MEMBERS_FLAGS = (1 << 14) | (1 << 15)

CHECKED = '''
from discord.ext import commands


class Checked(commands.Cog):
    """Commands guarded by discord.py's own checks and by a role rule."""

    @commands.command()
    @commands.has_role("Moderator")
    async def modrole(self, ctx):
        await ctx.send(f"modrole {ctx.author.name}")

    @commands.command()
    @commands.has_permissions(kick_members=True)
    async def kickperm(self, ctx):
        await ctx.send(f"kickperm {ctx.author.name}")

    @commands.hybrid_command(description="Gated by a role rule")
    async def gated(self, ctx):
        await ctx.send(f"gated {ctx.author.name}")


async def setup(bot):
    await bot.add_cog(Checked())
'''


# --- helpers ------------------------------------------------------------------------------------


async def reply_to(sb: Sandbox, author: str, content: str) -> Message:
    """Post ``content`` as ``author`` in #general and return the bot's next message there."""
    await sb.send_message(author, GENERAL, content)
    return await sb.wait_for_bot_message(channel=GENERAL, check=lambda m: m.interaction_metadata is None)


def is_refusal(message: Message) -> bool:
    return message.content == "" and [e.get("color") for e in message.embeds] == [Colour.ERROR]


def cached_member_names(bot: TuiBot) -> list[str]:
    return sorted(member.name for member in bot.guilds[0].members)


def member_fetches(sb: Sandbox, user_id: int) -> int:
    """How many times a bot asked ``GET /guilds/{id}/members/{user_id}``."""
    return sum(method == "GET" and path.endswith(f"/members/{user_id}") for method, path, _ in sb.requests)


def add_members(sb: Sandbox, count: int) -> None:
    """``count`` more members in the demo guild (no events: as if they had joined before the bot came)."""
    guild = sb.find_guild()
    for index in range(count):
        user = User(sb.world.snowflakes(), f"member{index:05d}")
        sb.world.users[user.id] = user
        guild.members[user.id] = Member(user)


@asynccontextmanager
async def running_bot(harness: BotHarness, **options: Any) -> AsyncIterator[TuiBot]:
    """A TuiBot built with extra ``create_bot`` options (``intents=``...), started on the sandbox."""
    harness.write_config()
    bot = create_bot(
        ConfigStore.load(harness.config_path),
        owner_ids={harness.sandbox.world.owner_id},
        guild_ready_timeout=0.05,
        **options,
    )
    task = asyncio.create_task(bot.start(harness.sandbox.token))
    try:
        await asyncio.wait_for(bot.wait_until_ready(), timeout=15)
        yield bot
    finally:
        await bot.close()
        await asyncio.wait_for(task, timeout=15)


# --- config validation --------------------------------------------------------------------------


def test_cache_defaults_keep_no_member_list_and_a_small_message_cache(tmp_path: Path) -> None:
    cache = parse_config({}).cache
    assert (cache.members, cache.chunk_guilds_at_startup, cache.max_messages) == ("minimal", False, 100)
    # Optional keys: a fresh config.json stays the short file, but the keys are known (no warning).
    path = tmp_path / "config.json"
    ConfigStore.load(path)
    assert "cache" not in json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps({"cache": {"members": "all", "chunk_guilds_at_startup": True}}))
    store = ConfigStore.load(path)
    assert store.warnings == [] and store.model.cache.keeps_all_members
    assert parse_config({"cache": {"max_messages": None}}).cache.max_messages == 0


@pytest.mark.parametrize(
    ("cache", "message_fragments"),
    [
        ({"members": "everyone"}, ["'cache.members'", '"everyone"', '"minimal"', '"all"']),
        ({"members": None}, ["'cache.members'", "null", '"minimal"']),
        ({"chunk_guilds_at_startup": "yes"}, ["'cache.chunk_guilds_at_startup'", '"yes"', "true or false"]),
        (
            {"chunk_guilds_at_startup": True},
            [
                "'cache.chunk_guilds_at_startup'",
                "true",
                'cache.members is "minimal"',
                'needs cache.members "all"',
            ],
        ),
        ({"max_messages": -1}, ["'cache.max_messages'", "-1", "at least 0"]),
        ({"max_messages": 2.5}, ["'cache.max_messages'", "2.5", "whole number"]),
        ({"max_messages": "100"}, ["'cache.max_messages'", '"100"', "whole number"]),
    ],
)
def test_wrong_cache_values_name_the_key_and_leave_the_file(
    tmp_path: Path, cache: dict[str, Any], message_fragments: list[str]
) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"cache": cache}, indent=2), encoding="utf-8")
    before = path.read_bytes()
    with pytest.raises(ConfigFileError) as caught:
        ConfigStore.load(path)
    message = str(caught.value)
    for fragment in message_fragments:
        assert fragment in message, message
    assert path.read_bytes() == before


def test_cache_must_be_an_object(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"cache": "all"}), encoding="utf-8")
    with pytest.raises(ConfigFileError, match=r"'cache'.*an object"):
        ConfigStore.load(path)


# --- intents and what discord.py caches -----------------------------------------------------------


def test_default_intents_leave_out_members() -> None:
    assert not default_intents().members and default_intents().message_content
    assert not default_intents(parse_config({}).cache).members
    assert default_intents(parse_config({"cache": {"members": "all"}}).cache).members


async def test_default_bot_connects_without_the_members_intent_and_caches_only_itself(
    harness: BotHarness,
) -> None:
    sb = harness.sandbox
    sb.world.application.flags &= ~MEMBERS_FLAGS  # Server Members intent off in the Developer Portal
    bot = await harness.start()
    identify = await sb.wait_for_event(EventKind.IDENTIFY)
    assert not identify.data["intents"] & GUILD_MEMBERS and not bot.intents.members
    guild = bot.guilds[0]
    assert cached_member_names(bot) == ["tui-bot"] and guild.me is not None
    assert guild.member_count == 4 and not guild.chunked


async def test_members_all_turns_the_intent_on_and_chunking_follows_the_config(harness: BotHarness) -> None:
    sb = harness.sandbox
    add_members(sb, 1200)  # more than one GUILD_MEMBERS_CHUNK (1000 members each)
    bot = await harness.start(cache={"members": "all", "chunk_guilds_at_startup": True})
    assert bot.intents.members
    assert (await sb.wait_for_event(EventKind.IDENTIFY)).data["intents"] & GUILD_MEMBERS
    guild = bot.guilds[0]
    assert guild.chunked and len(guild.members) == guild.member_count == 1204

    # "all" without chunking: the intent, and members cached as they appear (here: a join).
    await harness.stop()
    bot = await harness.start(cache={"members": "all", "chunk_guilds_at_startup": False})
    guild = bot.guilds[0]
    assert bot.intents.members and not guild.chunked and cached_member_names(bot) == ["tui-bot"]
    joined = asyncio.ensure_future(bot.wait_for("member_join", timeout=5))
    carol = await sb.add_member(None, "carol")
    await joined
    assert guild.get_member(carol.id) is not None and guild.member_count == 1205


async def test_members_all_without_the_portal_toggle_fails_with_the_fix(
    harness: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    sb = harness.sandbox
    sb.world.application.flags &= ~MEMBERS_FLAGS
    harness.write_config(cache={"members": "all"})
    secrets = Secrets(token=sb.token, owner_ids=(42,), api_base=sb.api_base, gateway_url=sb.gateway_url)
    runtime = BotRuntime(ConfigStore.load(harness.config_path), secrets)
    with caplog.at_level(logging.ERROR, logger="tui_bot.runtime"):
        assert await asyncio.wait_for(runtime.run(), timeout=20) == 78
    assert "'Server Members Intent'" in caplog.text and 'cache.members is "all"' in caplog.text

    # The default config asks only for Message Content, and says only that.
    caplog.clear()
    sb.world.application.flags &= ~((1 << 18) | (1 << 19))  # Message Content off too
    harness.write_config()
    runtime = BotRuntime(ConfigStore.load(harness.config_path), secrets)
    with caplog.at_level(logging.ERROR, logger="tui_bot.runtime"):
        assert await asyncio.wait_for(runtime.run(), timeout=20) == 78
    assert "'Message Content Intent'" in caplog.text and "Server Members" not in caplog.text


async def test_an_explicit_intents_argument_is_used_as_given(harness: BotHarness) -> None:
    intents = discord.Intents.default()
    intents.message_content = True
    intents.members = True
    async with running_bot(harness, intents=intents) as bot:
        assert bot.intents == intents
        assert (await harness.sandbox.wait_for_event(EventKind.IDENTIFY)).data["intents"] == intents.value
        # config.json still says "minimal": the intent is on, but no member list is downloaded or kept.
        assert not bot.guilds[0].chunked and cached_member_names(bot) == ["tui-bot"]


async def test_max_messages_sizes_the_message_cache_and_zero_disables_it(harness: BotHarness) -> None:
    sb = harness.sandbox
    bot = await harness.start(cache={"max_messages": 2})
    seen = asyncio.ensure_future(bot.wait_for("message", check=lambda m: m.content == "three", timeout=5))
    for text in ("one", "two", "three"):
        await sb.send_message("bob", GENERAL, text)
    await seen
    assert [m.content for m in bot.cached_messages] == ["two", "three"]

    await harness.stop()
    bot = await harness.start(cache={"max_messages": 0})
    seen = asyncio.ensure_future(bot.wait_for("message", check=lambda m: m.content == "four", timeout=5))
    await sb.send_message("bob", GENERAL, "four")
    await seen
    assert list(bot.cached_messages) == []


# --- what used the member cache, with the cache off -------------------------------------------------


async def test_role_rules_and_permission_checks_read_the_roles_each_message_brings(
    harness: BotHarness,
) -> None:
    sb = harness.sandbox
    harness.write_extension("checked", CHECKED)
    bot = await harness.start(command_permissions={"gated": ["Moderator"]})
    assert cached_member_names(bot) == ["tui-bot"]
    # alice (Moderator: kick, ban) and bob (no role) never spoke before: neither is cached.
    for command in ("modrole", "kickperm", "gated"):
        assert (await reply_to(sb, "alice", f"!{command}")).content == f"{command} alice"
        assert is_refusal(await reply_to(sb, "bob", f"!{command}"))

    # bob is given the role: the next message carries it; no member cache to go stale.
    guild, moderator = sb.find_guild(), sb.find_guild().find_role("Moderator")
    assert moderator is not None
    await sb.membership.set_roles(guild, sb.world.find_member(guild, "bob"), [moderator.id])
    assert (await reply_to(sb, "bob", "!gated")).content == "gated bob"
    assert (await reply_to(sb, "bob", "!modrole")).content == "modrole bob"
    assert cached_member_names(bot) == ["tui-bot"]

    # Slash: the interaction's member brings the roles too.
    await bot.tree.sync()
    assert (await (await sb.invoke_slash("alice", GENERAL, "gated")).response()).content == "gated alice"
    await sb.membership.set_roles(guild, sb.world.find_member(guild, "bob"), [])
    refused = await (await sb.invoke_slash("bob", GENERAL, "gated")).response()
    assert refused.ephemeral and "Moderator" in refused.embeds[0]["description"]


async def test_can_use_command_fetches_a_bare_user_once_over_rest(harness: BotHarness) -> None:
    sb = harness.sandbox
    harness.write_extension("checked", CHECKED)
    bot = await harness.start(command_permissions={"gated": ["Moderator"]})
    guild = bot.guilds[0]
    general = discord.utils.get(guild.text_channels, name=GENERAL)
    alice_id, bob_id = sb.world.find_user("alice").id, sb.world.find_user("bob").id
    alice, bob = await bot.fetch_user(alice_id), await bot.fetch_user(bob_id)  # users, not members
    assert await can_use_command(bot, alice, guild, general, "gated")
    assert await can_use_command(bot, alice, guild, general, "kickperm")
    assert not await can_use_command(bot, bob, guild, general, "gated")
    assert not await can_use_command(bot, bob, guild, general, "modrole")
    assert member_fetches(sb, alice_id) == 2 and member_fetches(sb, bob_id) == 2  # one per question
    outsider = User(sb.world.snowflakes(), "outsider")
    sb.world.users[outsider.id] = outsider  # a Discord user who is in no guild
    assert not await can_use_command(bot, await bot.fetch_user(outsider.id), guild, general, "gated")


async def test_help_menu_lists_only_what_each_member_may_run(harness: BotHarness) -> None:
    sb = harness.sandbox
    harness.write_extension("checked", CHECKED)
    bot = await harness.start(command_permissions={"gated": ["Moderator"]})

    def categories(menu: Message) -> list[str]:
        select = next(c for row in menu.components for c in row["components"] if c["type"] == 3)
        return [option["value"] for option in select["options"]]

    assert "Checked" in categories(await reply_to(sb, "alice", "!help"))
    assert "Checked" not in categories(await reply_to(sb, "bob", "!help"))
    assert cached_member_names(bot) == ["tui-bot"]


async def test_moderation_converters_fetch_members_who_never_spoke(harness: BotHarness) -> None:
    sb = harness.sandbox
    harness.write_extension(
        "moderation",
        (REPO / "tui_bot" / "starter" / "extensions" / "moderation.py").read_text(encoding="utf-8"),
    )
    bot = await harness.start(cooldowns={"default_rate": 100, "default_per": 1})
    guild = sb.find_guild()
    bob = sb.world.find_member(guild, "bob")
    assert bot.guilds[0].get_member(bob.id) is None  # bob never spoke: not cached

    kicked = await reply_to(sb, "operator", f"!kick <@{bob.id}> by mention")
    assert kicked.embeds[0]["title"] == "✅ Kicked Bob"
    assert bob.id not in guild.members
    await sb.add_member(None, "bob")
    kicked = await reply_to(sb, "operator", f"!kick {bob.id} by id")
    assert kicked.embeds[0]["title"] == "✅ Kicked Bob" and bob.id not in guild.members
    await sb.add_member(None, "bob")
    banned = await reply_to(sb, "alice", "!ban bob by name")
    assert banned.embeds[0]["title"] == "✅ Banned Bob" and bob.id in guild.bans
    # The hierarchy check reads the fetched member's roles: the owner cannot be kicked by alice.
    refused = await reply_to(sb, "alice", "!kick operator")
    assert is_refusal(refused) and "owns this server" in refused.embeds[0]["description"]


async def test_guilds_pane_presence_and_stats_count_discords_members_not_the_cache(
    harness: BotHarness,
) -> None:
    sb = harness.sandbox
    bot = await harness.start(status={"type": "watching", "text": "{users} members"})
    guild = bot.guilds[0]
    assert len(guild.members) == 1 and guild.member_count == 4

    reader = BotReader(bot)
    assert [row.members for row in reader.guilds()] == [4]
    details = await reader.guild_details(guild.id)
    assert details is not None and details.owner == "operator"  # fetched: the owner is not cached
    assert "Members  4\n" in describe_guild(details).plain
    assert (await reader.guild_details(guild.id)) == details
    assert member_fetches(sb, sb.world.owner_id) == 1  # once, not on every refresh of the pane

    presence = await sb.wait_for_presence(check=lambda p: bool(p["activities"]))
    assert presence["activities"][0]["name"] == "4 members"
    stats = await reply_to(sb, "bob", "!stats")
    fields = {field["name"]: field["value"] for field in stats.embeds[0]["fields"]}
    assert fields["Users"] == "4" and fields["Servers"] == "1"


# --- the sandbox behaves as Discord does ----------------------------------------------------------


async def identified_socket(
    http: aiohttp.ClientSession, sb: Sandbox, intents: int
) -> tuple[aiohttp.ClientWebSocketResponse, dict[str, Any]]:
    """A raw gateway connection identified with ``intents``, and the GUILD_CREATE it got."""
    ws = await http.ws_connect(sb.gateway_url + "?v=10&encoding=json")
    assert (await ws.receive_json(timeout=5))["op"] == 10
    await ws.send_json({"op": 2, "d": {"token": sb.token, "intents": intents, "properties": {}}})
    assert (await ws.receive_json(timeout=5))["t"] == "READY"
    guild_create = await ws.receive_json(timeout=5)
    assert guild_create["t"] == "GUILD_CREATE"
    return ws, guild_create["d"]


async def test_guild_create_lists_members_only_as_discord_does(sandbox: Sandbox) -> None:
    base = (1 << 0) | (1 << 9) | (1 << 15)  # GUILDS, GUILD_MESSAGES, MESSAGE_CONTENT
    async with aiohttp.ClientSession() as http:
        for intents, expected in [
            (base, ["tui-bot"]),
            (base | GUILD_MEMBERS, ["tui-bot"]),  # the intent alone adds nobody: chunking does
            (base | GUILD_PRESENCES, ["alice", "bob", "operator", "tui-bot"]),
        ]:
            ws, guild = await identified_socket(http, sandbox, intents)
            await ws.close()
            assert sorted(m["user"]["username"] for m in guild["members"]) == expected
            assert guild["member_count"] == 4


async def test_request_guild_members_by_id_needs_no_intent_but_the_whole_list_does(sandbox: Sandbox) -> None:
    alice = sandbox.world.find_user("alice")
    guild_id = str(sandbox.find_guild().id)
    async with aiohttp.ClientSession() as http:
        ws, _ = await identified_socket(http, sandbox, (1 << 0) | (1 << 9))
        ask = {"guild_id": guild_id, "presences": False}
        await ws.send_json({"op": 8, "d": {**ask, "user_ids": [str(alice.id), "42"], "nonce": "ids"}})
        await ws.send_json({"op": 8, "d": {**ask, "query": "", "limit": 0, "nonce": "all"}})
        await ws.send_json({"op": 8, "d": {**ask, "query": "bo", "limit": 10, "nonce": "query"}})
        answers = [await ws.receive_json(timeout=5) for _ in range(2)]
        await ws.close()
    by_id, by_query = (a["d"] for a in answers)
    assert {a["t"] for a in answers} == {"GUILD_MEMBERS_CHUNK"}
    assert by_id["nonce"] == "ids" and [m["user"]["username"] for m in by_id["members"]] == ["alice"]
    assert by_id["not_found"] == ["42"]
    # The whole list without GUILD_MEMBERS is not answered: the next answer is the query's.
    assert by_query["nonce"] == "query" and [m["user"]["username"] for m in by_query["members"]] == ["bob"]


async def test_get_guild_member_route_answers_members_and_404s_others(harness: BotHarness) -> None:
    bot = await harness.start()
    guild = bot.guilds[0]
    alice = await guild.fetch_member(harness.sandbox.world.find_user("alice").id)
    assert alice.name == "alice" and [role.name for role in alice.roles[1:]] == ["Moderator"]
    with pytest.raises(discord.NotFound):
        await guild.fetch_member(42)
