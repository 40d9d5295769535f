"""REST faults and rate limits against the real discord.py client and raw HTTP: forced 429s that
discord.py retries, real per-route and global limits with Discord's headers, 5xx answers and delays.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import discord
import pytest
from sandbox_bots import BOT_ID, OPERATOR_ID, make_bot, running

from tui_bot.sandbox import EventKind, Sandbox
from tui_bot.sandbox.ratelimits import RoutePattern


async def raw(sandbox: Sandbox, method: str, path: str, **kwargs: Any) -> tuple[int, Any, Any]:
    """(status, headers, parsed body) of one request with the bot's token."""
    headers = {"Authorization": f"Bot {sandbox.token}"}
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, sandbox.api_base + path, headers=headers, **kwargs) as response,
    ):
        text = await response.text()
        return response.status, response.headers, json.loads(text) if text else None


def statuses(sandbox: Sandbox, method: str, path_end: str) -> list[int]:
    return [status for m, path, status in sandbox.requests if m == method and path.endswith(path_end)]


def events(sandbox: Sandbox, kind: EventKind) -> list[dict[str, Any]]:
    return [e.data for e in sandbox.events if e.kind is kind]


# --- 429s ----------------------------------------------------------------------------------------


async def test_forced_429_burst_is_retried_transparently(sandbox: Sandbox) -> None:
    bot = make_bot()
    async with running(bot, sandbox):
        channel = bot.get_channel(sandbox.world.find_channel("general").id)
        assert isinstance(channel, discord.TextChannel)
        fault = sandbox.force_429(3, route="POST channels/{channel_id}/messages", retry_after=0.05)
        await bot.fetch_user(OPERATOR_ID)  # another route: not affected
        started = asyncio.get_running_loop().time()
        sent = await channel.send("eventually")
        elapsed = asyncio.get_running_loop().time() - started
        assert sent.content == "eventually"
        assert (await sandbox.wait_for_bot_message()).id == sent.id
        assert statuses(sandbox, "POST", f"/channels/{channel.id}/messages") == [429, 429, 429, 200]
        assert elapsed >= 3 * 0.05  # discord.py slept retry_after before each retry
        limited = events(sandbox, EventKind.RATE_LIMITED)
        assert [(e["scope"], e["forced"], e["method"]) for e in limited] == [("user", True, "POST")] * 3
        actions = [e["action"] for e in events(sandbox, EventKind.FAULT) if e["fault_id"] == fault.id]
        assert actions == ["set", "hit", "hit", "hit"]
        assert fault.remaining == 0 and sandbox.rest.faults.faults == []


async def test_forced_429_shape_and_global_scope(sandbox: Sandbox) -> None:
    sandbox.force_429(1, global_=True, retry_after=1.5)
    status, headers, body = await raw(sandbox, "GET", "/users/@me")
    assert (status, body) == (
        429,
        {"message": "You are being rate limited.", "retry_after": 1.5, "global": True, "code": 0},
    )
    assert headers["Content-Type"] == "application/json"
    assert (headers["Retry-After"], headers["X-RateLimit-Scope"], headers["X-RateLimit-Global"]) == (
        "2",
        "global",
        "true",
    )
    assert headers["Via"]  # without it discord.py takes a 429 for a Cloudflare ban and raises
    status, _headers, _body = await raw(sandbox, "GET", "/users/@me")
    assert status == 200  # count=1: used up


async def test_global_429_is_retried_by_discord_py(sandbox: Sandbox) -> None:
    bot = make_bot()
    async with running(bot, sandbox):
        sandbox.force_429(2, global_=True, retry_after=0.02)
        user = await bot.fetch_user(OPERATOR_ID)
        assert user.name == "operator"
        assert statuses(sandbox, "GET", f"/users/{OPERATOR_ID}") == [429, 429, 200]


async def test_route_rate_limit_gives_real_429s_with_discord_headers(sandbox: Sandbox) -> None:
    sandbox.set_rate_limit("GET users/@me", 2, per_seconds=30)
    first = await raw(sandbox, "GET", "/users/@me")
    second = await raw(sandbox, "GET", "/users/@me")
    third = await raw(sandbox, "GET", "/users/@me")
    assert [r[0] for r in (first, second, third)] == [200, 200, 429]
    assert [r[1]["X-RateLimit-Remaining"] for r in (first, second, third)] == ["1", "0", "0"]
    assert {r[1]["X-RateLimit-Limit"] for r in (first, second, third)} == {"2"}
    assert len({r[1]["X-RateLimit-Bucket"] for r in (first, second, third)}) == 1
    status, headers, body = third
    assert body["message"] == "You are being rate limited." and body["global"] is False and body["code"] == 0
    assert 29 < body["retry_after"] <= 30 and 29 < float(headers["X-RateLimit-Reset-After"]) <= 30
    assert headers["X-RateLimit-Scope"] == "user" and headers["Retry-After"] == "30" and headers["Via"]
    assert "X-RateLimit-Global" not in headers
    # Other routes keep the generous default.
    status, headers, _ = await raw(sandbox, "GET", f"/users/{OPERATOR_ID}")
    assert status == 200 and int(headers["X-RateLimit-Remaining"]) > 1000
    (limited,) = events(sandbox, EventKind.RATE_LIMITED)
    assert (limited["path"], limited["scope"], limited["forced"]) == ("/api/v10/users/@me", "user", False)

    sandbox.reset_rate_limits()
    assert (await raw(sandbox, "GET", "/users/@me"))[0] == 200


async def test_buckets_are_per_major_parameter(sandbox: Sandbox) -> None:
    sandbox.set_rate_limit("GET channels/{channel_id}", 1, per_seconds=30)
    general = sandbox.world.find_channel("general").id
    other = sandbox.world.find_channel("bot-commands").id
    assert [(await raw(sandbox, "GET", f"/channels/{c}"))[0] for c in (general, other, general)] == [
        200,
        200,
        429,
    ]


async def test_global_rate_limit(sandbox: Sandbox) -> None:
    sandbox.set_global_rate_limit(2, per_seconds=30)
    results = [
        await raw(sandbox, "GET", path) for path in ("/users/@me", f"/users/{OPERATOR_ID}", "/gateway/bot")
    ]
    assert [r[0] for r in results] == [200, 200, 429]
    _status, headers, body = results[2]
    assert body["global"] is True and headers["X-RateLimit-Global"] == "true"
    assert headers["X-RateLimit-Scope"] == "global"
    status, _headers, _body = await raw(sandbox, "GET", "/gateway")  # needs no token: not counted
    assert status == 200
    sandbox.set_global_rate_limit(None)
    assert (await raw(sandbox, "GET", "/users/@me"))[0] == 200


async def test_discord_py_waits_out_an_exhausted_bucket_instead_of_hitting_429(sandbox: Sandbox) -> None:
    bot = make_bot()
    async with running(bot, sandbox):
        sandbox.set_rate_limit("GET users/{user_id}", 1, per_seconds=0.3)
        loop = asyncio.get_running_loop()
        started = loop.time()
        for _ in range(2):
            await bot.fetch_user(OPERATOR_ID)
        # Remaining 0 makes discord.py sleep until the reset (inside the first call): no 429 ever.
        assert loop.time() - started >= 0.25
        assert statuses(sandbox, "GET", f"/users/{OPERATOR_ID}") == [200, 200]


# --- 5xx and delays ------------------------------------------------------------------------------


async def test_500_once_is_retried_by_discord_py(sandbox: Sandbox) -> None:
    bot = make_bot()
    async with running(bot, sandbox):
        fault = sandbox.fail_route("GET users/{user_id}", 500, count=1)
        user = await bot.fetch_user(OPERATOR_ID)  # discord.py sleeps 1 s, then retries
        assert user.id == OPERATOR_ID
        assert statuses(sandbox, "GET", f"/users/{OPERATOR_ID}") == [500, 200]
        assert fault.hits == 1 and sandbox.rest.faults.faults == []


async def test_server_error_that_is_not_retried_raises(sandbox: Sandbox) -> None:
    bot = make_bot()
    async with running(bot, sandbox):
        sandbox.fail_route("GET users/*", 503)  # until cleared; discord.py does not retry a 503
        with pytest.raises(discord.DiscordServerError) as failure:
            await bot.fetch_user(OPERATOR_ID)
        assert failure.value.status == 503 and failure.value.text == "503: Service Unavailable"
        with pytest.raises(discord.DiscordServerError):
            await bot.fetch_user(BOT_ID)
        sandbox.clear_faults()
        assert (await bot.fetch_user(OPERATOR_ID)).id == OPERATOR_ID
        actions = [e["action"] for e in events(sandbox, EventKind.FAULT)]
        assert actions == ["set", "hit", "hit", "cleared"]


async def test_delay_route_slows_only_matching_requests(sandbox: Sandbox) -> None:
    loop = asyncio.get_running_loop()
    sandbox.delay_route("GET users/@me", 150)

    async def timed(path: str) -> float:
        started = loop.time()
        assert (await raw(sandbox, "GET", path))[0] == 200
        return loop.time() - started

    assert await timed("/users/@me") >= 0.15
    assert await timed(f"/users/{OPERATOR_ID}") < 0.15
    sandbox.delay_route(None, 100, count=1)  # every route, once
    assert await timed(f"/users/{OPERATOR_ID}") >= 0.1
    assert await timed(f"/users/{OPERATOR_ID}") < 0.1
    sandbox.clear_faults()
    assert await timed("/users/@me") < 0.15


def test_route_patterns() -> None:
    cases = [
        ("POST channels/{channel_id}/messages", "POST", "channels/1/messages", True),
        ("POST channels/{channel_id}/messages", "GET", "channels/1/messages", False),
        ("channels/*/messages/*", "PATCH", "channels/1/messages/2", True),
        ("channels/*", "GET", "channels/1/messages", False),
        ("guilds/**", "GET", "guilds/1/members/2", True),
        ("guilds/**", "GET", "guilds", True),
        ("a/**/b", "GET", "a/b", True),
        ("a/**/b", "GET", "a/x/y/b", True),
        ("a/**/b", "GET", "a/x/c", False),
        ("/api/v10/users/@me", "GET", "users/@me", True),
        ("delete users/@me/guilds/*", "DELETE", "users/@me/guilds/5", True),
        ("**", "PUT", "anything/at/all", True),
    ]
    assert [RoutePattern(p).matches(m, path) for p, m, path, _ in cases] == [want for *_, want in cases]
    with pytest.raises(ValueError):
        Sandbox().fail_route("users/@me", status=404)
