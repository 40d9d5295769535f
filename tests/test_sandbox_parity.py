"""The parity table (docs/sandbox-parity.md) against discord.py's routes and the sandbox's router.

The table is regenerated in memory and compared with the file; every route it calls implemented is
requested for real and must reach a handler, every route it calls not implemented must answer the
sandbox's named 404; and discord.py's own exception for a missing route names the route and the table.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import discord
import pytest
from discord.ext import commands

from tui_bot.sandbox import EventKind, Sandbox, parity
from tui_bot.sandbox.parity import PARITY_DOC, REGENERATE, Status

ROOT = Path(__file__).resolve().parent.parent
GUILD_ID = 1191168935198720000

StartBot = Callable[..., Awaitable[Any]]

# The routes issue 15 found answering 404 to discord.py (GET applications/@me is for other libraries:
# discord.py 2.7 only PATCHes it, so it is listed among the sandbox's extra routes).
ISSUE_ROUTES = (
    ("POST", "/users/@me/channels"),
    ("GET", "/guilds/{guild_id}/roles/{role_id}"),
    ("GET", "/users/@me/guilds"),
    ("GET", "/applications/{application_id}/commands/{command_id}"),
    ("GET", "/applications/{application_id}/guilds/{guild_id}/commands/{command_id}"),
)


@pytest.fixture(scope="module")
def table() -> parity.Parity:
    return parity.compute()


def test_docs_table_matches_the_sandbox_and_discord_py() -> None:
    diff = parity.check(ROOT)
    assert diff is None, f"{PARITY_DOC} is stale: run `{REGENERATE}`\n{diff}"


def test_routes_the_issue_listed_are_implemented(table: parity.Parity) -> None:
    for method, path in ISSUE_ROUTES:
        assert table.row(method, path).status is Status.IMPLEMENTED, (method, path)
    assert ("GET", "/applications/@me") in table.extra


def test_discord_py_routes_are_read_from_its_source(table: parity.Parity) -> None:
    names = {row.route.name: row.route for row in table.rows}
    # Both classes are read: the bot's client and the webhook adapter interactions answer through.
    assert names["GET /guilds/{guild_id}/roles/{role_id}"].callers == ("HTTPClient.get_role",)
    callback = names["POST /interactions/{webhook_id}/{webhook_token}/callback"]
    assert callback.callers == ("AsyncWebhookAdapter.create_interaction_response",)
    # One row per (method, template), every caller kept.
    assert len(names) == len(table.rows)
    assert set(names["PATCH /guilds/{guild_id}/members/{user_id}"].callers) >= {
        "HTTPClient.edit_member",
        "HTTPClient.change_nickname",
    }
    # discord.py 2.7 builds one path with an f-string; it is read, not skipped.
    assert "PUT /guilds/{guild_id}/onboarding" in names
    counts = (table.count(Status.IMPLEMENTED), table.count(Status.PARTIAL), table.count(Status.MISSING))
    assert sum(counts) == len(table.rows) and all(counts)


def test_a_route_built_some_other_way_is_an_error_not_a_gap() -> None:
    source = (
        "class Client:\n"
        "    def one(self, x):\n"
        "        return Route('GET', f'/guilds/{x}/emojis', guild_id=x)\n"
        "    def two(self, path):\n"
        "        return Route('GET', '/users/' + path)\n"
    )
    with pytest.raises(ValueError, match=r"Client\.two"):
        parity.routes_in_source(source, "Client")
    found = parity.routes_in_source(source.split("    def two")[0], "Client")
    assert [(r.method, r.path, r.callers) for r in found] == [("GET", "/guilds/{x}/emojis", ("Client.one",))]


def test_check_reports_a_missing_or_edited_table(tmp_path: Path) -> None:
    assert parity.main(["--check", "--root", str(tmp_path)]) == 1
    assert parity.main(["--write", "--root", str(tmp_path)]) == 0
    assert parity.main(["--check", "--root", str(tmp_path)]) == 0
    written = tmp_path / PARITY_DOC
    written.write_text(written.read_text(encoding="utf-8").replace("| implemented |", "| partial |", 1))
    diff = parity.check(tmp_path)
    assert diff is not None and "-| " in diff and "+| " in diff


def _concrete(path: str) -> str:
    # Any number fits every parameter the sandbox routes (ids, emoji, token); nothing has id 1.
    return re.sub(r"\{[^{}]*\}", "1", path)


def _is_unknown_route(status: int, body: Any) -> bool:
    return (
        status == 404
        and isinstance(body, dict)
        and body.get("code") == 0
        and "does not implement" in str(body.get("message"))
    )


async def test_every_route_answers_as_the_table_says(table: parity.Parity) -> None:
    async with Sandbox() as sb:
        headers = {"Authorization": f"Bot {sb.token}"}
        wrong: list[str] = []
        async with aiohttp.ClientSession(headers=headers) as session:
            for row in table.rows:
                url = sb.api_base + _concrete(row.route.path)
                async with session.request(row.route.method, url, json={}) as response:
                    body = await response.json(content_type=None)
                    status = response.status
                unknown = _is_unknown_route(status, body)
                if unknown != (row.status is Status.MISSING):
                    wrong.append(f"{row.route.name} ({row.status}): {status} {body}")
                elif unknown and f"{row.route.method} {row.route.path}" not in body["message"]:
                    wrong.append(f"{row.route.name}: the 404 does not name it: {body['message']}")
        assert not wrong, "\n".join(wrong)
        missing = table.count(Status.MISSING)
        assert len([e for e in sb.events if e.kind is EventKind.UNKNOWN_ROUTE]) == missing


async def test_discord_py_sees_the_missing_route_and_the_table_named(
    discord_sandbox: Sandbox, sandbox_bot: StartBot
) -> None:
    intents = discord.Intents.default()
    bot = await sandbox_bot(commands.Bot(command_prefix="!", intents=intents, guild_ready_timeout=0.01))
    guild = bot.get_guild(GUILD_ID)
    assert guild is not None
    with pytest.raises(discord.NotFound) as caught:
        await guild.fetch_emojis()
    text = str(caught.value)
    assert caught.value.code == 0
    assert "404: Not Found" in text
    assert "GET /guilds/{guild_id}/emojis" in text and "docs/sandbox-parity.md" in text
    event = await discord_sandbox.wait_for_event(EventKind.UNKNOWN_ROUTE, timeout=0)
    assert event.data["route"] == "GET /guilds/{guild_id}/emojis"
    assert event.data["path"] == f"/api/v10/guilds/{GUILD_ID}/emojis"
