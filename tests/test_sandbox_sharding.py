"""The sandbox serves a cluster: Discord's limits on starting sessions, and events routed by shard.

Real discord.py ``AutoShardedBot``s connect: ``GET gateway/bot`` reports ``max_concurrency`` and a
session start limit that goes down with every IDENTIFY; an IDENTIFY breaking the bucket rule
(``shard_id % max_concurrency``, once per window) gets INVALID_SESSION, is recorded, and discord.py
identifies again; one beyond the session start limit is closed with 4004. Two clients holding disjoint
shard ids of one bot each get exactly their guilds' events, and only shard 0 gets DMs.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import aiohttp
import discord
import pytest
from discord.ext import commands
from helpers.waiting import wait_until
from sandbox_bots import GUILD_ID, running

from tui_bot.sandbox import EventKind, Guild, Sandbox, demo_world
from tui_bot.sandbox.identify_limits import IdentifyLimits, RefusalReason

SHARDS = 4
IdentifyHook = Callable[..., Awaitable[None]]


def four_shard_sandbox(**settings: Any) -> tuple[Sandbox, dict[int, Guild]]:
    """The demo world plus three guilds, so that each of 4 shards has one guild (by ``(id >> 22) % 4``)."""
    sandbox = Sandbox(demo_world(), **settings)
    guilds = {0: sandbox.find_guild(GUILD_ID)}
    for step in range(1, SHARDS):
        guild = sandbox.add_guild(f"Shard Guild {step}", guild_id=GUILD_ID + (step << 22), members=["alice"])
        guilds[(guild.id >> 22) % SHARDS] = guild
    assert sorted(guilds) == [0, 1, 2, 3] and (GUILD_ID >> 22) % SHARDS == 0
    return sandbox, guilds


def general(guild: Guild) -> int:
    return next(c.id for c in guild.channels.values() if c.name == "general")


def client(
    shard_ids: list[int] | None, *, hook: IdentifyHook | None = None, **options: Any
) -> commands.AutoShardedBot:
    """An ``AutoShardedBot`` of the sandbox bot; ``hook`` replaces discord.py's 5 s IDENTIFY spacing."""
    intents = discord.Intents.default()
    intents.message_content = True
    options.setdefault("shard_count", SHARDS)
    bot = commands.AutoShardedBot(
        command_prefix="!", intents=intents, shard_ids=shard_ids, guild_ready_timeout=0.01, **options
    )
    if hook is not None:
        bot.before_identify_hook = hook  # type: ignore[method-assign]
    return bot


def eager_hook(retry_after: float) -> IdentifyHook:
    """IDENTIFY each shard at once the first time (ignoring every bucket), ``retry_after`` s later on a retry.

    What a process does that spaces nothing: every shard after the first of its bucket breaks the rule.
    """
    attempts: Counter[int | None] = Counter()

    async def hook(shard_id: int | None, *, initial: bool = False) -> None:
        attempts[shard_id] += 1
        if attempts[shard_id] > 1:
            await asyncio.sleep(retry_after)

    return hook


def bucket_hook(max_concurrency: int, window: float) -> IdentifyHook:
    """Space IDENTIFYs as Discord asks: shards 0..max_concurrency-1 at once, the next ones a window later.

    With a margin: a timer may fire a few milliseconds early by the monotonic clock (uvloop's loop time
    is cached), and on Discord the network can bring two IDENTIFYs closer together.
    """

    async def hook(shard_id: int | None, *, initial: bool = False) -> None:
        await asyncio.sleep((window + 0.1) * ((shard_id or 0) // max_concurrency))

    return hook


# --- GET gateway/bot -----------------------------------------------------------------------------


async def test_gateway_bot_reports_max_concurrency_and_a_session_start_limit_that_goes_down() -> None:
    sandbox, _guilds = four_shard_sandbox(max_concurrency=2, session_start_limit=10, recommended_shards=4)
    async with sandbox:
        sandbox.point_discord_py_here()
        bot = client([0, 1], hook=bucket_hook(2, 0))
        await bot.login(sandbox.token)
        try:
            before = await bot.fetch_session_start_limits()  # discord.py's own reading of gateway/bot
            assert (before.total, before.remaining, before.max_concurrency) == (10, 10, 2)
            assert before.reset_after == 86_400_000  # a day, in milliseconds, until a first start
            shards, _url, _limits = await bot.http.get_bot_gateway()
            assert shards == 4
        finally:
            await bot.close()

        async with running(client([0, 1], hook=bucket_hook(2, 0)), sandbox):
            checker = client(None, shard_count=None)
            await checker.login(sandbox.token)
            try:
                after = await checker.fetch_session_start_limits()
            finally:
                await checker.close()
        assert (after.total, after.remaining, after.max_concurrency) == (10, 8, 2)
        assert 0 < after.reset_after <= 86_400_000
        assert sandbox.identify_refusals == []


def test_session_starts_come_back_after_the_reset_window() -> None:
    now = [100.0]
    limits = IdentifyLimits(session_start_total=2, session_reset_after=60.0, clock=lambda: now[0])
    assert limits.admit("a", 7, (0, 1)) is None
    now[0] += 10
    assert limits.session_start_limit(7) == {
        "total": 2,
        "remaining": 1,
        "reset_after": 50_000,
        "max_concurrency": 1,
    }
    assert limits.admit("b", 7, (0, 1)) is None
    refused = limits.admit("c", 7, (0, 1))
    assert refused is not None and refused.reason is RefusalReason.SESSION_START_LIMIT
    assert refused.retry_after == pytest.approx(50.0)
    assert limits.remaining(8) == 2  # another bot has its own limit
    now[0] += 50  # 60 s after the window's first start
    assert limits.remaining(7) == 2 and limits.admit("d", 7, (0, 1)) is None


# --- the bucket rule -----------------------------------------------------------------------------


def test_the_bucket_is_the_shard_id_modulo_max_concurrency_once_per_window() -> None:
    now = [0.0]
    limits = IdentifyLimits(max_concurrency=16, identify_window=5.0, clock=lambda: now[0])
    assert all(limits.admit(f"s{shard}", 7, (shard, 32)) is None for shard in range(16))  # one wave
    refused = limits.admit("s16", 7, (16, 32))  # 16 % 16: bucket 0, already used in this window
    assert refused is not None and (refused.bucket, refused.retry_after) == (0, 5.0)
    assert limits.admit("bot 8", 8, (16, 32)) is None  # another bot's buckets are its own
    now[0] = 4.9
    assert limits.admit("s16", 7, (16, 32)) is not None
    now[0] = 4.96  # within 50 ms of the window's end: a timer that fired early, not a violation
    assert limits.admit("s16", 7, (16, 32)) is None and limits.admit("s17", 7, (17, 32)) is None
    assert [(r.shard[0], r.reason) for r in limits.refusals] == [(16, RefusalReason.MAX_CONCURRENCY)] * 2


async def test_identifying_every_shard_at_once_is_refused_with_max_concurrency_1() -> None:
    window = 1.0
    sandbox, _guilds = four_shard_sandbox(max_concurrency=1, identify_window=window)
    async with sandbox:
        sandbox.point_discord_py_here()
        refused = asyncio.create_task(sandbox.wait_for_event(EventKind.IDENTIFY_REFUSED, timeout=15))
        async with running(client([0, 1], hook=eager_hook(window)), sandbox) as bot:
            # discord.py answered INVALID_SESSION by identifying again, after the window: both shards are up.
            assert sorted(bot.shards) == [0, 1]
            event = await refused
        [refusal] = sandbox.identify_refusals
        assert (refusal.shard, refusal.bucket, refusal.reason) == ((1, 4), 0, RefusalReason.MAX_CONCURRENCY)
        assert 0 < refusal.retry_after <= window
        assert event.data == refusal.as_json()
        accepted = [tuple(e.data["shard"]) for e in sandbox.events if e.kind is EventKind.IDENTIFY]
        assert accepted == [(0, 4), (1, 4)]
        starts = sandbox.identify_limits.session_start_limit(sandbox.world.application.bot_id)
        assert starts["remaining"] == 998  # the refused IDENTIFY used no session start


async def test_with_max_concurrency_2_one_shard_per_bucket_may_identify_at_once() -> None:
    window = 1.0
    sandbox, _guilds = four_shard_sandbox(max_concurrency=2, identify_window=window)
    async with sandbox:
        sandbox.point_discord_py_here()
        # Shards 0 and 1 fill buckets 0 and 1; shards 2 and 3 come too soon for the same buckets.
        async with running(client(None, hook=eager_hook(window)), sandbox) as bot:
            assert sorted(bot.shards) == [0, 1, 2, 3]
        refusals = sorted((r.shard[0], r.bucket) for r in sandbox.identify_refusals)
        assert refusals == [(2, 0), (3, 1)]

    sandbox, _guilds = four_shard_sandbox(max_concurrency=2, identify_window=window)
    async with sandbox:
        sandbox.point_discord_py_here()
        # Spaced by bucket, as Discord asks: two at once, then two more a window later. None refused.
        async with running(client(None, hook=bucket_hook(2, window)), sandbox) as bot:
            assert sorted(bot.shards) == [0, 1, 2, 3]
        assert sandbox.identify_refusals == []


async def test_discord_py_own_spacing_passes_the_discord_window_with_no_refusal() -> None:
    # Discord's real window, 5 s, and discord.py's own before_identify_hook (5 s between shards).
    sandbox, _guilds = four_shard_sandbox(max_concurrency=1, identify_window=5.0)
    async with sandbox:
        sandbox.point_discord_py_here()
        bot = client([0, 1])
        task = asyncio.create_task(bot.start(sandbox.token))
        try:
            await asyncio.wait_for(bot.wait_until_ready(), timeout=20)
            assert sorted(bot.shards) == [0, 1]
        finally:
            await bot.close()
            await asyncio.wait_for(task, timeout=5)
        assert sandbox.identify_refusals == []


async def test_an_identify_beyond_the_session_start_limit_is_closed_with_4004() -> None:
    sandbox, _guilds = four_shard_sandbox(session_start_limit=1)
    async with sandbox:
        sandbox.point_discord_py_here()
        async with running(client([0], hook=eager_hook(0)), sandbox):
            late = client([1], hook=eager_hook(0))
            with pytest.raises(discord.ConnectionClosed) as closed:
                await asyncio.wait_for(late.start(sandbox.token), timeout=10)
            assert closed.value.code == 4004
            await late.close()
        [refusal] = sandbox.identify_refusals
        assert (refusal.shard, refusal.reason) == ((1, 4), RefusalReason.SESSION_START_LIMIT)
        assert sandbox.identify_limits.remaining(sandbox.world.application.bot_id) == 0


# --- several processes' shards on one sandbox ----------------------------------------------------


@asynccontextmanager
async def two_clients(sandbox: Sandbox) -> AsyncIterator[tuple[commands.Bot, commands.Bot]]:
    """Clients of one bot holding shards [0, 1] and [2, 3] of 4, as two processes of a cluster would."""
    async with AsyncExitStack() as stack:
        first = await stack.enter_async_context(running(client([0, 1], hook=eager_hook(0)), sandbox))
        second = await stack.enter_async_context(running(client([2, 3], hook=eager_hook(0)), sandbox))
        yield first, second


def record_messages(
    bot: commands.Bot, name: str, seen: list[tuple[str, int | None, int | None, str]]
) -> None:
    @bot.listen()
    async def on_message(message: discord.Message) -> None:
        if not message.author.bot:
            guild = message.guild
            seen.append(
                (name, guild.id if guild else None, guild.shard_id if guild else None, message.content)
            )


async def test_each_guild_message_reaches_exactly_the_client_holding_its_shard() -> None:
    sandbox, guilds = four_shard_sandbox()
    async with sandbox:
        sandbox.point_discord_py_here()
        seen: list[tuple[str, int | None, int | None, str]] = []
        async with two_clients(sandbox) as (first, second):
            record_messages(first, "first", seen)
            record_messages(second, "second", seen)
            assert {g.id for g in first.guilds} == {guilds[0].id, guilds[1].id}
            assert {g.id for g in second.guilds} == {guilds[2].id, guilds[3].id}
            for shard, guild in guilds.items():
                await sandbox.send_message("alice", general(guild), f"hello shard {shard}")
            # A second round on every shard: a session's socket is ordered, so once each client has the
            # second round on all its shards, anything misrouted in the first round would be there too.
            for shard, guild in guilds.items():
                await sandbox.send_message("alice", general(guild), f"again shard {shard}")
            await wait_until(lambda: len(seen) >= 8, what="both rounds of messages")
        owner = {0: "first", 1: "first", 2: "second", 3: "second"}
        expected = {
            (owner[shard], guild.id, shard, f"{word} shard {shard}")
            for shard, guild in guilds.items()
            for word in ("hello", "again")
        }
        assert sorted(seen) == sorted(expected)  # each once, on the client and shard it belongs to


async def test_a_dm_reaches_only_the_client_holding_shard_0_which_can_answer_it() -> None:
    sandbox, guilds = four_shard_sandbox()
    async with sandbox:
        sandbox.point_discord_py_here()
        seen: list[tuple[str, int | None, int | None, str]] = []
        async with two_clients(sandbox) as (first, second):
            record_messages(first, "first", seen)
            record_messages(second, "second", seen)

            @first.listen()
            async def on_message(message: discord.Message) -> None:
                if message.guild is None and not message.author.bot:
                    await message.author.send(f"got {message.content!r}")  # opens the DM over REST

            sent = await sandbox.send_direct_message("alice", "psst")
            assert sent.guild_id is None
            answer = await sandbox.wait_for_bot_message(timeout=10)
            assert (answer.content, answer.channel_id, answer.guild_id) == (
                "got 'psst'",
                sent.channel_id,
                None,
            )
            # Then a message on each of the second client's shards: had the DM reached it, it would be first.
            for shard in (2, 3):
                await sandbox.send_message("alice", general(guilds[shard]), f"after {shard}")
            await wait_until(lambda: len(seen) >= 3, what="the DM and the messages after it")
        assert sorted(seen) == [
            ("first", None, None, "psst"),
            ("second", guilds[2].id, 2, "after 2"),
            ("second", guilds[3].id, 3, "after 3"),
        ]
        assert sandbox.world.history(sent.channel_id)[0].content == "got 'psst'"


# --- the control API ------------------------------------------------------------------------------


async def test_the_control_api_shows_refusals_and_changes_the_limits() -> None:
    sandbox, _guilds = four_shard_sandbox(max_concurrency=1, identify_window=1.0)
    async with sandbox, aiohttp.ClientSession() as http:
        sandbox.point_discord_py_here()
        base = f"{sandbox.base_url}/_sandbox"
        async with running(client([0, 1], hook=eager_hook(1.0)), sandbox):
            async with http.get(f"{base}/gateway") as response:
                state = await response.json()
            async with http.get(f"{base}/events", params={"kind": "identify_refused"}) as response:
                events = (await response.json())["events"]
        bot_id = str(sandbox.world.application.bot_id)
        assert (state["max_concurrency"], state["identify_window"], state["recommended_shards"]) == (
            1,
            1.0,
            1,
        )
        assert state["session_start_limits"][bot_id]["remaining"] == 998
        assert sorted(s["shard"] for s in state["sessions"]) == [[0, 4], [1, 4]]
        [refusal] = state["identify_refusals"]
        assert (refusal["shard"], refusal["bucket"], refusal["reason"]) == ([1, 4], 0, "max_concurrency")
        assert [e["data"]["reason"] for e in events] == ["max_concurrency"]

        change = {
            "max_concurrency": 16,
            "identify_window": 0,
            "session_start_limit": 2000,
            "recommended_shards": 8,
        }
        async with http.patch(f"{base}/gateway", json=change) as response:
            assert response.status == 200
            changed = await response.json()
        assert (changed["max_concurrency"], changed["identify_window"], changed["recommended_shards"]) == (
            16,
            None,
            8,
        )
        async with http.get(
            f"{sandbox.api_base}/gateway/bot", headers={"Authorization": f"Bot {sandbox.token}"}
        ) as response:
            gateway = await response.json()
        assert gateway["shards"] == 8
        assert gateway["session_start_limit"]["max_concurrency"] == 16
        assert gateway["session_start_limit"]["total"] == gateway["session_start_limit"]["remaining"] == 2000

        async with http.patch(f"{base}/gateway", json={"max_concurrency": 0}) as response:
            assert response.status == 400
            assert "at least 1" in (await response.json())["error"]
        async with http.patch(f"{base}/gateway", json={"max_concurency": 2}) as response:
            assert response.status == 400
            assert "max_concurrency" in (await response.json())["error"]
        assert sandbox.identify_limits.max_concurrency == 16  # a refused change changes nothing


async def test_a_dm_sent_through_the_control_api_reaches_shard_0() -> None:
    sandbox, _guilds = four_shard_sandbox()
    async with sandbox, aiohttp.ClientSession() as http:
        sandbox.point_discord_py_here()
        seen: list[tuple[str, int | None, int | None, str]] = []
        async with running(client([0], hook=eager_hook(0)), sandbox) as bot:
            record_messages(bot, "shard 0", seen)
            body = {"author": "bob", "content": "hi from http"}
            async with http.post(f"{sandbox.base_url}/_sandbox/direct-messages", json=body) as response:
                assert response.status == 200
                message = await response.json()
            assert message["content"] == "hi from http" and "guild_id" not in message
            await wait_until(lambda: bool(seen), what="the DM")
            params = {"channel": message["channel_id"]}
            async with http.get(f"{sandbox.base_url}/_sandbox/messages", params=params) as response:
                listed = await response.json()
            assert [m["content"] for m in listed["messages"]] == ["hi from http"]
            bad = {"author": "tui-bot", "content": "to myself"}
            async with http.post(f"{sandbox.base_url}/_sandbox/direct-messages", json=bad) as response:
                assert response.status == 400 and "is a bot" in (await response.json())["error"]
        assert seen == [("shard 0", None, None, "hi from http")]


# --- tui-bot sandbox serve -------------------------------------------------------------------------


async def test_sandbox_serve_takes_the_gateway_limits_as_options() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISCORD_TOKEN", "BOT_OWNER_ID")}
    options = [
        "--shards",
        "4",
        "--max-concurrency",
        "2",
        "--identify-window",
        "0.5",
        "--session-start-limit",
        "50",
    ]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tui_bot",
        "sandbox",
        "serve",
        "--port",
        "0",
        *options,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    info: dict[str, str] = {}
    try:
        while "gateway limits" not in info:
            line = await asyncio.wait_for(process.stdout.readline(), timeout=20)
            assert line, "sandbox serve exited before printing its addresses"
            name, sep, value = line.decode().partition(": ")
            if sep:
                info[name.strip()] = value.strip()
        assert info["gateway limits"] == (
            "shards 4, max_concurrency 2 (one IDENTIFY per bucket per 0.5s), 50 session starts per 86400s"
        )
        async with aiohttp.ClientSession() as http:
            headers = {"Authorization": f"Bot {info['bot token']}"}
            async with http.get(f"{info['rest api']}/gateway/bot", headers=headers) as response:
                gateway = await response.json()
            async with http.get(f"{info['control api']}/gateway") as response:
                state = await response.json()
        assert gateway["shards"] == 4
        assert gateway["session_start_limit"] == {
            "total": 50,
            "remaining": 50,
            "reset_after": 86_400_000,
            "max_concurrency": 2,
        }
        assert (state["identify_window"], state["identify_refusals"]) == (0.5, [])
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), timeout=20) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


@pytest.mark.parametrize(
    ("option", "says"),
    [
        (["--max-concurrency", "0"], "--max-concurrency must be at least 1"),
        (["--identify-window", "-1"], "--identify-window must be 0 (not enforced) or more seconds"),
        (["--shards", "0"], "--shards must be at least 1"),
        (["--session-start-limit", "-5"], "--session-start-limit must be 0 or more"),
        (["--session-reset-after", "0"], "--session-reset-after must be more than 0 seconds"),
    ],
)
def test_sandbox_serve_refuses_bad_gateway_limits(option: list[str], says: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tui_bot", "sandbox", "serve", "--port", "0", *option],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 78 and says in done.stderr
