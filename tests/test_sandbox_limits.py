"""Discord's limits as the sandbox enforces them, seen through the real discord.py client.

Every entry of ``tui_bot.sandbox.limits.LIMITS`` has a case here (``test_every_limit_is_tested``
checks it): a body one past the limit is refused as Discord refuses it (``discord.HTTPException``,
status 400, code 50035, the error at its path, e.g. ``In embeds.0.fields: Must be 25 or fewer in
length.``), and the body exactly at the limit is accepted. Message bodies go through discord.py's
``HTTPClient`` (logged in over REST, no gateway needed); discord.py's own checks refuse some of these
bodies before sending, so those are sent as raw JSON with ``HTTPClient.request``. Interaction
responses go through a connected ``discord.Client``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import discord
import pytest
from discord.ext import commands
from discord.http import Route
from helpers.waiting import wait_until

from tui_bot.sandbox import LIMITS, CommandLimits, Sandbox
from tui_bot.sandbox.limits import limit

StartBot = Callable[..., Awaitable[Any]]
CV2 = 1 << 15
ROLE_ID = "1191168943587328000"


# -- helpers --


@asynccontextmanager
async def rest_client(sb: Sandbox, **options: Any) -> AsyncIterator[commands.Bot]:
    """A discord.py bot logged in over REST only (no gateway): its ``http`` is the real client."""
    bot = commands.Bot(
        command_prefix="!",
        intents=discord.Intents.none(),
        application_id=sb.world.application.id,
        **options,
    )
    await bot.login(sb.token)
    try:
        yield bot
    finally:
        await bot.close()


def channel_id(sb: Sandbox, name: str = "general") -> int:
    return sb.world.find_channel(name).id


async def post_message(bot: commands.Bot, sb: Sandbox, body: dict[str, Any]) -> Any:
    route = Route("POST", "/channels/{channel_id}/messages", channel_id=channel_id(sb))
    return await bot.http.request(route, json=body)


def error_at(exc: discord.HTTPException, path: str) -> list[dict[str, str]]:
    """The errors Discord's body lists at ``path`` (discord.py keeps the parsed ``errors`` object)."""
    node: Any = exc._errors or {}
    for part in path.split("."):
        assert part in node, f"no error at {path!r}: {exc.text}"
        node = node[part]
    return list(node["_errors"])


def assert_form_error(exc: discord.HTTPException, path: str, code: str) -> None:
    assert exc.status == 400 and exc.code == 50035, exc.text
    assert f"In {path}: " in exc.text, exc.text
    assert code in [e["code"] for e in error_at(exc, path)], exc.text


def embed(**fields: Any) -> dict[str, Any]:
    return {"description": "d", **fields}


def button(index: int, **extra: Any) -> dict[str, Any]:
    return {"type": 2, "style": 1, "label": f"b{index}", "custom_id": f"b{index}", **extra}


def row(*components: dict[str, Any]) -> dict[str, Any]:
    return {"type": 1, "components": list(components)}


def select(options: int = 1, **extra: Any) -> dict[str, Any]:
    choices = [{"label": f"o{i}", "value": f"o{i}"} for i in range(options)]
    return {"type": 3, "custom_id": "pick", "options": choices, **extra}


def texts(*contents: str) -> list[dict[str, Any]]:
    return [{"type": 10, "content": text} for text in contents]


def ids(count: int) -> list[str]:
    return [str(1191168900000000000 + i) for i in range(count)]


# -- message bodies: (limit, body over the limit, body at it, error path, Discord's error code) --

MESSAGE_CASES: list[tuple[str, dict[str, Any], dict[str, Any], str, str]] = [
    ("content", {"content": "x" * 2001}, {"content": "x" * 2000}, "content", "BASE_TYPE_MAX_LENGTH"),
    ("embeds", {"embeds": [embed()] * 11}, {"embeds": [embed()] * 10}, "embeds", "BASE_TYPE_MAX_LENGTH"),
    (
        "embed.title",
        {"embeds": [embed(title="t" * 257)]},
        {"embeds": [embed(title="t" * 256)]},
        "embeds.0.title",
        "BASE_TYPE_MAX_LENGTH",
    ),
    (
        "embed.description",
        {"embeds": [{"description": "d" * 4097}]},
        {"embeds": [{"description": "d" * 4096}]},
        "embeds.0.description",
        "BASE_TYPE_MAX_LENGTH",
    ),
    (
        "embed.fields",
        {"embeds": [embed(fields=[{"name": "n", "value": "v"}] * 26)]},
        {"embeds": [embed(fields=[{"name": "n", "value": "v"}] * 25)]},
        "embeds.0.fields",
        "BASE_TYPE_MAX_LENGTH",
    ),
    (
        "embed.field.name",
        {"embeds": [embed(fields=[{"name": "n" * 257, "value": "v"}])]},
        {"embeds": [embed(fields=[{"name": "n" * 256, "value": "v"}])]},
        "embeds.0.fields.0.name",
        "BASE_TYPE_MAX_LENGTH",
    ),
    (
        "embed.field.value",
        {"embeds": [embed(fields=[{"name": "n", "value": "v" * 1025}])]},
        {"embeds": [embed(fields=[{"name": "n", "value": "v" * 1024}])]},
        "embeds.0.fields.0.value",
        "BASE_TYPE_MAX_LENGTH",
    ),
    (
        "embed.footer.text",
        {"embeds": [embed(footer={"text": "f" * 2049})]},
        {"embeds": [embed(footer={"text": "f" * 2048})]},
        "embeds.0.footer.text",
        "BASE_TYPE_MAX_LENGTH",
    ),
    (
        "embed.author.name",
        {"embeds": [embed(author={"name": "a" * 257})]},
        {"embeds": [embed(author={"name": "a" * 256})]},
        "embeds.0.author.name",
        "BASE_TYPE_MAX_LENGTH",
    ),
    (
        "embeds.total",
        {"embeds": [{"description": "d" * 4096}, {"title": "t" * 256, "description": "d" * 1649}]},
        {"embeds": [{"description": "d" * 4096}, {"title": "t" * 256, "description": "d" * 1648}]},
        "embeds",
        "MAX_EMBED_SIZE_EXCEEDED",
    ),
    (
        "components.rows",
        {"components": [row(button(i)) for i in range(6)]},
        {"components": [row(button(i)) for i in range(5)]},
        "components",
        "BASE_TYPE_MAX_LENGTH",
    ),
    (
        "action_row.buttons",
        {"components": [row(*(button(i) for i in range(6)))]},
        {"components": [row(*(button(i) for i in range(5)))]},
        "components.0.components.5",
        "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
    ),
    (
        "action_row.select",
        {"components": [row(select(), button(1))]},
        {"components": [row(select()), row(button(1))]},
        "components.0.components.1",
        "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
    ),
    (
        "component.custom_id",
        {"components": [row(button(0, custom_id="c" * 101))]},
        {"components": [row(button(0, custom_id="c" * 100))]},
        "components.0.components.0.custom_id",
        "BASE_TYPE_MAX_LENGTH",
    ),
    (
        "button.label",
        {"components": [row(button(0, label="l" * 81))]},
        {"components": [row(button(0, label="l" * 80))]},
        "components.0.components.0.label",
        "BASE_TYPE_MAX_LENGTH",
    ),
    (
        "select.options",
        {"components": [row(select(26))]},
        {"components": [row(select(25))]},
        "components.0.components.0.options",
        "BASE_TYPE_BAD_LENGTH",
    ),
    (
        "select.placeholder",
        {"components": [row(select(placeholder="p" * 151))]},
        {"components": [row(select(placeholder="p" * 150))]},
        "components.0.components.0.placeholder",
        "BASE_TYPE_MAX_LENGTH",
    ),
    (
        "select.min_values",
        {"components": [row(select(25, min_values=26, max_values=25))]},
        {"components": [row(select(25, min_values=25, max_values=25))]},
        "components.0.components.0.min_values",
        "NUMBER_TYPE_MAX",
    ),
    (
        "select.max_values",
        {"components": [row(select(25, max_values=26))]},
        {"components": [row(select(25, max_values=25))]},
        "components.0.components.0.max_values",
        "NUMBER_TYPE_MAX",
    ),
    (
        "cv2.content",
        {"flags": CV2, "content": "hi", "components": texts("hi")},
        {"flags": CV2, "components": texts("hi")},
        "content",
        "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
    ),
    (
        "cv2.embeds",
        {"flags": CV2, "embeds": [embed()], "components": texts("hi")},
        {"flags": CV2, "embeds": [], "components": texts("hi")},
        "embeds",
        "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
    ),
    (
        "cv2.components",
        {"flags": CV2, "components": [{"type": 17, "components": texts(*"x" * 40)}]},
        {"flags": CV2, "components": [{"type": 17, "components": texts(*"x" * 39)}]},
        "components",
        "COMPONENT_COUNT_EXCEEDED",
    ),
    (
        "cv2.text",
        {"flags": CV2, "components": texts("a" * 2000, "b" * 2001)},
        {"flags": CV2, "components": texts("a" * 2000, "b" * 2000)},
        "components",
        "COMPONENT_TEXT_LENGTH_EXCEEDED",
    ),
    (
        "allowed_mentions.parse",
        {"content": "hi", "allowed_mentions": {"parse": ["users"], "users": ids(1)}},
        {"content": "hi", "allowed_mentions": {"users": ids(1)}},
        "allowed_mentions",
        "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
    ),
    (
        "allowed_mentions.users",
        {"content": "hi", "allowed_mentions": {"users": ids(101)}},
        {"content": "hi", "allowed_mentions": {"users": ids(100)}},
        "allowed_mentions.users",
        "BASE_TYPE_MAX_LENGTH",
    ),
    (
        "allowed_mentions.roles",
        {"content": "hi", "allowed_mentions": {"roles": ids(101)}},
        {"content": "hi", "allowed_mentions": {"roles": ids(100)}},
        "allowed_mentions.roles",
        "BASE_TYPE_MAX_LENGTH",
    ),
]


@pytest.mark.parametrize(
    ("name", "over", "at", "path", "code"), MESSAGE_CASES, ids=[c[0] for c in MESSAGE_CASES]
)
async def test_message_limit(
    discord_sandbox: Sandbox, name: str, over: dict[str, Any], at: dict[str, Any], path: str, code: str
) -> None:
    sb = discord_sandbox
    async with rest_client(sb) as bot:
        with pytest.raises(discord.HTTPException) as refused:
            await post_message(bot, sb, over)
        assert_form_error(refused.value, path, code)
        assert not sb.sent_messages  # nothing was created
        accepted = await post_message(bot, sb, at)
        assert accepted["id"] and len(sb.sent_messages) == 1


async def test_a_26_field_embed_through_discord_py_is_refused_and_25_fields_pass(
    discord_sandbox: Sandbox,
) -> None:
    sb = discord_sandbox
    async with rest_client(sb) as bot:
        channel = bot.get_partial_messageable(channel_id(sb))
        big = discord.Embed(title="help")
        for i in range(26):
            big.add_field(name=f"f{i}", value="v")
        with pytest.raises(discord.HTTPException) as refused:
            await channel.send(embed=big)
        assert refused.value.code == 50035
        assert "In embeds.0.fields: Must be 25 or fewer in length." in refused.value.text
        big.remove_field(25)
        sent = await channel.send(embed=big)
        assert len(sent.embeds[0].fields) == 25


async def test_embeds_over_6000_characters_in_total_through_discord_py(discord_sandbox: Sandbox) -> None:
    sb = discord_sandbox
    async with rest_client(sb) as bot:
        channel = bot.get_partial_messageable(channel_id(sb))
        first = discord.Embed(description="a" * 4000)
        with pytest.raises(discord.HTTPException) as refused:
            await channel.send(embeds=[first, discord.Embed(description="b" * 2001)])
        assert "In embeds: Embed size exceeds maximum size of 6000" in refused.value.text
        sent = await channel.send(embeds=[first, discord.Embed(description="b" * 2000)])
        assert len(sent.embeds) == 2


async def test_a_layout_view_with_content_is_refused(discord_sandbox: Sandbox) -> None:
    """discord.py sets IS_COMPONENTS_V2 for a LayoutView; Discord then refuses ``content``."""
    sb = discord_sandbox
    view = discord.ui.LayoutView()
    view.add_item(discord.ui.TextDisplay("Hello from Components V2"))
    async with rest_client(sb) as bot:
        channel = bot.get_partial_messageable(channel_id(sb))
        with pytest.raises(discord.HTTPException) as refused:
            await channel.send("and some content", view=view)
        assert_form_error(refused.value, "content", "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2")
        sent = await channel.send(view=view)
        assert sent.flags.components_v2 and not sent.content


async def test_edits_are_checked_and_errors_come_all_at_once(discord_sandbox: Sandbox) -> None:
    sb = discord_sandbox
    async with rest_client(sb) as bot:
        channel = bot.get_partial_messageable(channel_id(sb))
        message = await channel.send("short")
        too_many = discord.Embed()
        for i in range(26):
            too_many.add_field(name=str(i), value="v")
        with pytest.raises(discord.HTTPException) as refused:
            await message.edit(content="x" * 2001, embed=too_many)
        assert_form_error(refused.value, "content", "BASE_TYPE_MAX_LENGTH")
        assert_form_error(refused.value, "embeds.0.fields", "BASE_TYPE_MAX_LENGTH")
        assert sb.world.get_message(channel_id(sb), message.id).content == "short"  # unchanged


# -- members' messages (Python and control APIs) --


async def test_a_members_message_over_2000_characters_is_refused(discord_sandbox: Sandbox) -> None:
    sb = discord_sandbox
    with pytest.raises(ValueError, match="limited to 2000 characters"):
        await sb.send_message("alice", "general", "x" * 2001)
    with pytest.raises(ValueError, match="limited to 2000 characters"):
        await sb.send_direct_message("alice", "x" * 2001)
    assert (await sb.send_message("alice", "general", "x" * 2000)).content == "x" * 2000
    async with aiohttp.ClientSession() as session:
        url = f"{sb.base_url}/_sandbox/messages"
        body = {"author": "alice", "channel": "general", "content": "x" * 2001}
        async with session.post(url, json=body) as response:
            assert response.status == 400
            assert "limited to 2000 characters" in (await response.json())["error"]
        async with session.post(url, json={**body, "content": "x" * 2000}) as response:
            assert response.status == 200


# -- application commands --


def slash(name: str = "ping", **extra: Any) -> dict[str, Any]:
    return {"type": 1, "name": name, "description": "d", **extra}


def option(name: str = "text", **extra: Any) -> dict[str, Any]:
    return {"type": 3, "name": name, "description": "d", **extra}


def sub(name: str, kind: int = 1, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "name": name, "description": "d", **extra}


COMMAND_CASES: list[tuple[str, list[dict[str, Any]], list[dict[str, Any]], str, str]] = [
    (
        "command.name",
        [slash("Bad Name")],
        [slash("good-name_ok")],
        "0.name",
        "APPLICATION_COMMAND_INVALID_NAME",
    ),
    ("command.name", [slash("x" * 33)], [slash("x" * 32)], "0.name", "BASE_TYPE_BAD_LENGTH"),
    (
        "command.description",
        [slash(description="d" * 101)],
        [slash(description="d" * 100)],
        "0.description",
        "BASE_TYPE_BAD_LENGTH",
    ),
    (
        "command.options",
        [slash(options=[option(f"o{i}") for i in range(26)])],
        [slash(options=[option(f"o{i}") for i in range(25)])],
        "0.options",
        "BASE_TYPE_MAX_LENGTH",
    ),
    (
        "option.name",
        [slash(options=[option("Text")])],
        [slash(options=[option("text")])],
        "0.options.0.name",
        "APPLICATION_COMMAND_INVALID_NAME",
    ),
    (
        "option.description",
        [slash(options=[option(description="d" * 101)])],
        [slash(options=[option(description="d" * 100)])],
        "0.options.0.description",
        "BASE_TYPE_BAD_LENGTH",
    ),
    (
        "option.choices",
        [slash(options=[option(choices=[{"name": f"c{i}", "value": f"c{i}"} for i in range(26)])])],
        [slash(options=[option(choices=[{"name": f"c{i}", "value": f"c{i}"} for i in range(25)])])],
        "0.options.0.choices",
        "BASE_TYPE_MAX_LENGTH",
    ),
    (
        "choice.name",
        [slash(options=[option(choices=[{"name": "c" * 101, "value": "c"}])])],
        [slash(options=[option(choices=[{"name": "c" * 100, "value": "c"}])])],
        "0.options.0.choices.0.name",
        "BASE_TYPE_BAD_LENGTH",
    ),
    (
        "option.nesting",
        [slash(options=[sub("inner", 1, options=[sub("deeper", 1)])])],
        [slash(options=[sub("group", 2, options=[sub("leaf", 1, options=[option()])])])],
        "0.options.0.options",
        "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
    ),
    (
        "option.nesting",
        [slash(options=[sub("leaf", 1), option()])],
        [slash(options=[sub("leaf", 1), sub("other", 1)])],
        "0.options",
        "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
    ),
    (
        "option.required_first",
        [slash(options=[option("a"), option("b", required=True)])],
        [slash(options=[option("b", required=True), option("a")])],
        "0.options.1",
        "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
    ),
    (
        "command.unique_names",
        [slash("ping"), slash("ping")],
        [slash("ping"), {"type": 2, "name": "ping"}],
        "1",
        "APPLICATION_COMMANDS_DUPLICATE_NAME",
    ),
]


@pytest.mark.parametrize(
    ("name", "over", "at", "path", "code"), COMMAND_CASES, ids=[f"{c[0]}-{c[4]}" for c in COMMAND_CASES]
)
async def test_command_limit(
    discord_sandbox: Sandbox,
    name: str,
    over: list[dict[str, Any]],
    at: list[dict[str, Any]],
    path: str,
    code: str,
) -> None:
    sb = discord_sandbox
    app_id = sb.world.application.id
    async with rest_client(sb) as bot:
        with pytest.raises(discord.HTTPException) as refused:
            await bot.http.bulk_upsert_global_commands(app_id, over)
        assert_form_error(refused.value, path, code)
        assert not sb.world.commands.get(None)  # nothing was stored
        stored = await bot.http.bulk_upsert_global_commands(app_id, at)
        assert [c["name"] for c in stored] == [c["name"] for c in at]


@pytest.mark.parametrize(
    ("name", "kind"), [("commands.chat_input", 1), ("commands.user", 2), ("commands.message", 3)]
)
async def test_command_counts_per_type(discord_sandbox: Sandbox, name: str, kind: int) -> None:
    sb = discord_sandbox
    most = limit(name)
    made = [
        {"type": kind, "name": f"c{i}", **({"description": "d"} if kind == 1 else {})}
        for i in range(most + 1)
    ]
    async with rest_client(sb) as bot:
        for scope in (None, sb.find_guild().id):  # the same count for global and each guild's commands
            upsert = (
                bot.http.bulk_upsert_global_commands(sb.world.application.id, made)
                if scope is None
                else bot.http.bulk_upsert_guild_commands(sb.world.application.id, scope, made)
            )
            with pytest.raises(discord.HTTPException) as refused:
                await upsert
            assert refused.value.status == 400 and refused.value.code == 30032
            assert f"Maximum number of application commands reached ({most})" in refused.value.text
        assert len(await bot.http.bulk_upsert_global_commands(sb.world.application.id, made[:most])) == most


def tree_bot(names: list[str], **options: Any) -> Callable[[commands.Bot], None]:
    def add(bot: commands.Bot) -> None:
        for name in names:

            async def callback(interaction: discord.Interaction) -> None:
                await interaction.response.send_message("ok")

            bot.tree.add_command(discord.app_commands.Command(name=name, description="d", callback=callback))

    return add


async def test_command_counts_are_configurable_and_tree_sync_sees_them(discord_sandbox: Sandbox) -> None:
    sb = discord_sandbox
    sb.command_limits.chat_input = 3
    async with rest_client(sb) as bot:
        tree_bot(["a", "b", "c", "d"])(bot)
        with pytest.raises(discord.HTTPException) as refused:
            await bot.tree.sync()
        assert refused.value.code == 30032 and "reached (3)" in refused.value.text
        bot.tree.remove_command("d")
        assert len(await bot.tree.sync()) == 3


async def raw_put_commands(sb: Sandbox, body: list[dict[str, Any]]) -> tuple[int, dict[str, str], Any]:
    url = f"{sb.api_base}/applications/{sb.world.application.id}/commands"
    async with (
        aiohttp.ClientSession() as session,
        session.put(url, json=body, headers={"Authorization": f"Bot {sb.token}"}) as response,
    ):
        return response.status, dict(response.headers), json.loads(await response.text())


async def test_daily_command_creates(discord_sandbox: Sandbox) -> None:
    """After the day's creates (3 here, Discord's 200), a sync creating more is a 429 with code 30034,
    which discord.py raises at once (no waiting a day), as bots see it from Discord. Re-syncing commands
    that exist creates nothing; each guild has its own count."""
    sb = discord_sandbox
    sb.command_limits.daily_creates = 3
    async with rest_client(sb) as bot:
        tree_bot(["a", "b", "c"])(bot)
        assert len(await bot.tree.sync()) == 3
        assert len(await bot.tree.sync()) == 3  # nothing new: no creates used
        assert sb.command_limits.remaining_creates(None) == 0
        tree_bot(["d"])(bot)
        with pytest.raises(discord.HTTPException) as limited:
            await asyncio.wait_for(bot.tree.sync(), 10)
        assert limited.value.status == 429 and limited.value.code == 30034
        assert str(limited.value) == (
            "429 Too Many Requests (error code: 30034): "
            "Max number of daily application command creates has been reached (3)"
        )
        guild = discord.Object(sb.find_guild().id)
        bot.tree.remove_command("d")
        bot.tree.copy_global_to(guild=guild)
        assert len(await bot.tree.sync(guild=guild)) == 3  # a guild's creates are counted apart
    status, headers, body = await raw_put_commands(sb, [slash(n) for n in "abcd"])
    assert status == 429 and "Via" not in headers and float(headers["Retry-After"]) > 86_000  # a day
    assert body["code"] == 30034 and body["global"] is False
    assert body["message"] == "Max number of daily application command creates has been reached (3)"
    assert [c["name"] for c in sb.world.commands[None]] == ["a", "b", "c"]  # unchanged


async def test_the_daily_window_resets_and_the_creates_are_there_again(discord_sandbox: Sandbox) -> None:
    sb = discord_sandbox
    sb.command_limits.daily_creates = 1
    sb.command_limits.daily_reset_after = 0.5
    async with rest_client(sb) as bot:
        tree_bot(["a"])(bot)
        await bot.tree.sync()
        tree_bot(["b"])(bot)
        with pytest.raises(discord.HTTPException) as limited:
            await bot.tree.sync()
        assert limited.value.code == 30034
        await wait_until(lambda: sb.command_limits.remaining_creates(None) == 1, what="the window reset")
        assert len(await bot.tree.sync()) == 2
    assert [r[2] for r in sb.requests if r[0] == "PUT"] == [200, 429, 200]


async def test_the_control_api_shows_the_limits_and_changes_the_command_limits(
    discord_sandbox: Sandbox,
) -> None:
    """What a bot of any library, run against ``sandbox serve``, has to reach the daily limit quickly."""
    sb = discord_sandbox
    url = f"{sb.base_url}/_sandbox/limits"
    async with aiohttp.ClientSession() as session:
        async with session.get(url) as response:
            state = await response.json()
        assert (
            state["commands"]["daily_creates"] == 200
            and state["commands"]["remaining_creates"]["global"] == 200
        )
        assert {"name": "embed.fields", "value": 25} in [
            {"name": row["name"], "value": row["value"]} for row in state["table"]
        ]
        # A bad value changes nothing, not even the good one sent with it.
        bad = {"commands": {"chat_input": 10, "daily_creates": -1}}
        async with session.patch(url, json=bad) as response:
            assert response.status == 400
            assert "daily_creates must be a whole number of at least 0" in (await response.json())["error"]
        assert sb.command_limits.chat_input == 100 and sb.command_limits.daily_creates == 200
        async with session.patch(url, json={"commands": {"daily_creates": 2}}) as response:
            assert response.status == 200 and (await response.json())["commands"]["daily_creates"] == 2
        async with session.patch(url, json={"limits": {"content": 4000}}) as response:
            assert (
                response.status == 400 and "the rest of Discord's limits are fixed" in await response.text()
            )
    async with rest_client(sb) as bot:
        tree_bot(["a", "b"])(bot)
        assert len(await bot.tree.sync()) == 2
        tree_bot(["c"])(bot)
        with pytest.raises(discord.HTTPException) as limited:
            await bot.tree.sync()
        assert limited.value.code == 30034


def test_command_limits_refuse_bad_settings() -> None:
    limits = CommandLimits()
    for setting, value in (("chat_input", -1), ("daily_creates", 1.5), ("daily_reset_after", 0)):
        with pytest.raises(ValueError, match=setting):
            setattr(limits, setting, value)
    assert limits.settings()["daily_creates"] == 200 and limits.per_type()[3] == 15


# -- interaction responses (a connected client answers; the test looks at what discord.py raised) --


def interaction_client(
    answer: Callable[[discord.Interaction], Awaitable[None]],
) -> tuple[discord.Client, asyncio.Queue[Any]]:
    client = discord.Client(intents=discord.Intents.default())
    outcomes: asyncio.Queue[Any] = asyncio.Queue()

    @client.event
    async def on_interaction(interaction: discord.Interaction) -> None:
        try:
            await answer(interaction)
        except discord.HTTPException as exc:
            await outcomes.put(exc)
        else:
            await outcomes.put(None)

    return client, outcomes


def register(sb: Sandbox) -> None:
    sb.world.overwrite_commands(
        None,
        [slash("quiet"), slash("find", options=[option("query", autocomplete=True)]), slash("answer")],
    )


async def callback(sb: Sandbox, handle: Any, body: dict[str, Any]) -> tuple[int, Any]:
    url = f"{sb.api_base}/interactions/{handle.id}/{handle.token}/callback"
    async with aiohttp.ClientSession() as session, session.post(url, json=body) as response:
        return response.status, json.loads(await response.text() or "null")


async def test_autocomplete_choices_limit(discord_sandbox: Sandbox, sandbox_bot: StartBot) -> None:
    sb = discord_sandbox
    register(sb)
    count = iter([26, 25])

    async def answer(interaction: discord.Interaction) -> None:
        choices = [discord.app_commands.Choice(name=f"c{i}", value=f"c{i}") for i in range(next(count))]
        await interaction.response.autocomplete(choices)

    client, outcomes = interaction_client(answer)
    await sandbox_bot(client, guild_ready_timeout=0.01)
    asking = asyncio.create_task(sb.autocomplete("alice", "general", "find", "query", query="x", timeout=10))
    refused = await asyncio.wait_for(outcomes.get(), 5)
    assert isinstance(refused, discord.HTTPException)
    assert_form_error(refused, "data.choices", "BASE_TYPE_MAX_LENGTH")
    asking.cancel()
    choices = await sb.autocomplete("alice", "general", "find", "query", query="x")
    assert len(choices) == 25 and await outcomes.get() is None


async def test_a_message_response_follows_the_message_rules_under_data(
    discord_sandbox: Sandbox, sandbox_bot: StartBot
) -> None:
    sb = discord_sandbox
    register(sb)

    async def answer(interaction: discord.Interaction) -> None:
        first = discord.Embed()
        for i in range(26):
            first.add_field(name=str(i), value="v")
        try:
            await interaction.response.send_message(embed=first)
        except discord.HTTPException as exc:
            await outcomes.put(exc)
        first.remove_field(25)
        await interaction.response.send_message(embed=first)
        oversized = discord.Embed(description="d" * 4097)
        await interaction.followup.send(embed=oversized)  # a follow-up: the body itself, no "data."

    client, outcomes = interaction_client(answer)
    await sandbox_bot(client, guild_ready_timeout=0.01)
    handle = await sb.invoke_slash("alice", "general", "answer")
    assert_form_error(
        await asyncio.wait_for(outcomes.get(), 5), "data.embeds.0.fields", "BASE_TYPE_MAX_LENGTH"
    )
    assert len((await handle.response()).embeds[0]["fields"]) == 25
    assert_form_error(
        await asyncio.wait_for(outcomes.get(), 5), "embeds.0.description", "BASE_TYPE_MAX_LENGTH"
    )


MODAL_CASES = [
    ("modal.title", {"title": "t" * 46}, {"title": "t" * 45}, "data.title"),
    ("modal.custom_id", {"custom_id": "c" * 101}, {"custom_id": "c" * 100}, "data.custom_id"),
    ("modal.components", {"components": []}, {}, "data.components"),
    ("modal.components", {"components": [{"type": 10, "content": "hi"}] * 6}, {}, "data.components"),
]


@pytest.mark.parametrize(
    ("name", "over", "at", "path"), MODAL_CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(MODAL_CASES)]
)
async def test_modal_limits(
    discord_sandbox: Sandbox,
    sandbox_bot: StartBot,
    name: str,
    over: dict[str, Any],
    at: dict[str, Any],
    path: str,
) -> None:
    sb = discord_sandbox
    register(sb)

    async def answer(interaction: discord.Interaction) -> None:
        return None  # the test answers with a raw callback body

    client, _ = interaction_client(answer)
    await sandbox_bot(client, guild_ready_timeout=0.01)
    text_input = {"type": 4, "custom_id": "what", "style": 1, "label": "What?"}
    modal = {"title": "Form", "custom_id": "form", "components": [{"type": 1, "components": [text_input]}]}
    handle = await sb.invoke_slash("alice", "general", "quiet")
    status, body = await callback(sb, handle, {"type": 9, "data": {**modal, **over}})
    assert status == 400 and body["code"] == 50035
    node = body["errors"]
    for part in path.split("."):
        node = node[part]
    assert node["_errors"][0]["code"] in ("BASE_TYPE_MAX_LENGTH", "BASE_TYPE_BAD_LENGTH")
    status, _ = await callback(sb, handle, {"type": 9, "data": {**modal, **at}})
    assert status == 204


def test_modal_limits_agree_with_the_table() -> None:
    from tui_bot.sandbox.forms import MODAL_LIMITS

    for key in ("title", "custom_id", "components"):
        assert MODAL_LIMITS[key] == limit(f"modal.{key}")


# -- the table --

TESTED_ELSEWHERE = {
    "commands.chat_input": test_command_counts_per_type,
    "commands.user": test_command_counts_per_type,
    "commands.message": test_command_counts_per_type,
    "commands.daily_creates": test_daily_command_creates,
    "autocomplete.choices": test_autocomplete_choices_limit,
    "member.content": test_a_members_message_over_2000_characters_is_refused,
}


def test_every_limit_is_tested() -> None:
    covered = {c[0] for c in MESSAGE_CASES} | {c[0] for c in COMMAND_CASES} | {c[0] for c in MODAL_CASES}
    covered |= set(TESTED_ELSEWHERE)
    assert {entry.name for entry in LIMITS} == covered
    assert len({entry.name for entry in LIMITS}) == len(LIMITS)  # names are unique
