"""Failure transcripts: a failing test that used the plugin's fixtures shows the sandbox's recent traffic.

The plugin's report section lists gateway frames (both ways, op and event names, payloads cut short)
and REST calls (method, path, status) in the order they happened, bounded to the last 50; tokens are
masked. Run in a fresh project through the installed plugin, as a user's test suite would run it.
"""

from __future__ import annotations

import pytest

from tui_bot.sandbox import SANDBOX_TOKEN, Sandbox, demo_world
from tui_bot.sandbox.transcript import TRANSCRIPT_SIZE

pytest_plugins = ["pytester"]

PROJECT_TESTS = """
import discord
import pytest
from discord.ext import commands


def make_bot():
    intents = discord.Intents.default()
    intents.message_content = True
    bot = commands.Bot(command_prefix="!", intents=intents)

    @bot.command()
    async def ping(ctx):
        await ctx.send("pong")

    return bot


@pytest.mark.asyncio
async def test_the_bot_answers_wrongly(discord_sandbox, sandbox_bot):
    await sandbox_bot(make_bot(), guild_ready_timeout=0.01)
    await discord_sandbox.send_message("alice", "general", "!ping")
    assert (await discord_sandbox.wait_for_bot_message()).content == "PONG"


@pytest.mark.asyncio
async def test_a_busy_bot_that_passes(discord_sandbox, sandbox_bot):
    await sandbox_bot(make_bot(), guild_ready_timeout=0.01)
    for n in range(30):
        await discord_sandbox.send_message("bob", "general", "!ping")
        assert (await discord_sandbox.wait_for_bot_message()).content == "pong"


@pytest.mark.asyncio
async def test_a_busy_bot_that_fails(discord_sandbox, sandbox_bot):
    await sandbox_bot(make_bot(), guild_ready_timeout=0.01)
    for n in range(30):
        await discord_sandbox.send_message("bob", "general", f"!ping {n}")
        await discord_sandbox.wait_for_bot_message()
    assert False, "failed after 30 rounds"


def test_without_the_sandbox():
    assert 1 == 2
"""


def run_project(pytester: pytest.Pytester) -> pytest.RunResult:
    pytester.makepyfile(test_bot=PROJECT_TESTS)
    pytester.makeini("[pytest]\nasyncio_mode = strict\nasyncio_default_fixture_loop_scope = function\n")
    # -rP prints passed tests' report sections too: a passing test must not have a transcript.
    return pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-rP", "-k", "wrongly or passes", timeout=90
    )


def test_a_failing_test_shows_the_gateway_frames_and_rest_calls_in_order(pytester: pytest.Pytester) -> None:
    result = run_project(pytester)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*test_the_bot_answers_wrongly*",
            "*AssertionError*",
            "*- sandbox transcript -*",
            "the last * of the * gateway frames, gateway closes and REST calls kept, oldest first*",
            "*rest    GET /api/v10/users/@me -> 200",
            '*gateway * sandbox->bot HELLO (op 10) {"heartbeat_interval":41250*',
            '*gateway * bot->sandbox IDENTIFY (op 2) {*"token":"<token>"*',
            "*gateway * sandbox->bot READY (op 0, s=1) {*",
            '*gateway * sandbox->bot GUILD_CREATE (op 0, s=2) {*"name":"Sandbox Guild"*',
            '*gateway * sandbox->bot MESSAGE_CREATE (op 0, s=3) {*"content":"!ping"*',
            "*rest    POST /api/v10/channels/*/messages -> 200",
            '*gateway * sandbox->bot MESSAGE_CREATE (op 0, s=4) {*"content":"pong"*',
        ]
    )
    output = result.stdout.str()
    assert output.count("sandbox transcript") == 1  # not for the test that passed
    assert SANDBOX_TOKEN not in output  # IDENTIFY's token is masked
    # Payloads are cut short: no line carries a whole GUILD_CREATE.
    assert all(len(line) < 250 for line in output.splitlines() if "gateway [" in line)


def test_the_transcript_is_bounded_and_tests_without_the_sandbox_get_none(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_bot=PROJECT_TESTS)
    pytester.makeini("[pytest]\nasyncio_mode = strict\nasyncio_default_fixture_loop_scope = function\n")
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-k", "busy_bot_that_fails or without_the_sandbox", timeout=90
    )
    result.assert_outcomes(failed=2)
    output = result.stdout.str()
    assert output.count("sandbox transcript") == 1  # test_without_the_sandbox used no sandbox
    section = output.split("- sandbox transcript -", 1)[1].split("\n", 1)[1]
    lines = section.split("\n=")[0].split("\n_")[0].strip().splitlines()
    header, entries = lines[0], [line for line in lines[1:] if line.startswith("+")]
    assert header.startswith("the last 50 of the ")
    assert len(entries) == 50
    # The newest entries, oldest first: the last rounds' messages and answers, ending with the last.
    assert '"content":"!ping 29"' in "\n".join(entries[-4:])
    times = [float(line.split("s ", 1)[0].lstrip("+ ")) for line in entries]
    assert times == sorted(times)


async def test_the_sandbox_keeps_a_bounded_ring_of_recent_traffic() -> None:
    async with Sandbox(demo_world()) as sandbox:
        for n in range(TRANSCRIPT_SIZE + 100):
            await sandbox.send_message("alice", "general", f"message {n}")  # no bot: nothing on the wire
        assert len(sandbox.transcript) == 0
        sandbox.transcript.rest("GET", "/api/v10/users/@me", 200)
        for n in range(TRANSCRIPT_SIZE + 100):
            sandbox.transcript.received("abcdef123", f'{{"op": 1, "d": {n}}}')
        assert len(sandbox.transcript) == TRANSCRIPT_SIZE
        lines = sandbox.transcript.lines(3)
        assert [line.split("HEARTBEAT (op 1) ")[1] for line in lines] == [
            str(TRANSCRIPT_SIZE + 97),
            str(TRANSCRIPT_SIZE + 98),
            str(TRANSCRIPT_SIZE + 99),
        ]
        assert len(sandbox.transcript.lines(None)) == TRANSCRIPT_SIZE
        assert not any("rest" in line for line in sandbox.transcript.lines(None))  # the oldest went first
