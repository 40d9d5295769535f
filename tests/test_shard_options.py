"""Running some of the bot's shards: ``sharding.shard_ids`` in config.json and ``--shard-count N
--shard-ids A-B`` on the command line, which override it.

The ids are read as lists or as ranges (``parse_shard_ids``) with clear errors; a bot given shard ids
connects only those shards, and so serves only the guilds Discord routes to them
(``(guild_id >> 22) % shard_count``): a ``!ping`` in a guild of another shard gets no reply from it.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tui_bot import cli, exit_codes
from tui_bot.config import ConfigErrors, parse_config
from tui_bot.config.shards import format_shard_ids, parse_shard_ids, plan_shards
from tui_bot.sandbox import EventKind, Guild, Sandbox, demo_world

if TYPE_CHECKING:
    from conftest import BotHarness

SHARDS = 4
PING = """
from discord.ext import commands


class Ping(commands.Cog):
    @commands.command()
    async def ping(self, ctx):
        await ctx.send(f"pong from shard {ctx.guild.shard_id}")


async def setup(bot):
    await bot.add_cog(Ping())
"""


# --- reading shard ids ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("0-3,5", (0, 1, 2, 3, 5)),
        ("0,2,4", (0, 2, 4)),
        ("7", (7,)),
        (" 4 - 5 , 1 ", (1, 4, 5)),
        ("2-2", (2,)),
    ],
)
def test_shard_ids_are_read_from_ranges_and_lists(text: str, ids: tuple[int, ...]) -> None:
    assert parse_shard_ids(text) == ids
    assert parse_shard_ids(format_shard_ids(ids)) == ids


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "no shard ids"),
        ("0,,2", "an empty part"),
        ("3-1", "runs backwards: write it 1-3"),
        ("a", "'a' is not a shard id"),
        ("-1", "'-1' is not a shard id"),
        ("0-2,2", "shard 2 is listed twice"),
        ("0-99999999", "past the limit: ids run from 0 to 16,383"),
        ("١", "is not a shard id"),  # a digit, but not an ASCII one
    ],
)
def test_bad_shard_ids_are_refused_saying_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(ValueError) as refused:
        parse_shard_ids(text)
    assert says in str(refused.value)


def test_config_reads_shard_ids_as_a_list_or_as_text() -> None:
    assert parse_config({"sharding": {"shard_count": 4, "shard_ids": "2-3"}}).sharding.shard_ids == (2, 3)
    assert parse_config({"sharding": {"shard_count": 4, "shard_ids": [3, 0]}}).sharding.shard_ids == (0, 3)
    assert parse_config({"sharding": {"shard_count": 4}}).sharding.shard_ids is None
    assert parse_config({}).sharding.shard_ids is None


@pytest.mark.parametrize(
    ("sharding", "says"),
    [
        ({"shard_ids": "0-1"}, "null unless sharding.shard_count is a number"),
        ({"shard_count": "auto", "shard_ids": [0]}, "(sharding.shard_count is 'auto')"),
        ({"shard_count": 4, "shard_ids": [0, 5]}, "ids from 0 to 3 (5 is not)"),
        ({"shard_count": 2, "shard_ids": "0-3"}, "(2 and 3 are not)"),
        ({"shard_count": 4, "shard_ids": [1, 1]}, "shard 1 is listed twice"),
        ({"shard_count": 4, "shard_ids": "1-0"}, "runs backwards"),
        ({"shard_count": 4, "shard_ids": [True]}, "'sharding.shard_ids[0]'"),
        ({"shard_count": 4, "shard_ids": []}, 'text such as "0-3"'),
        ({"shard_count": 4, "shard_ids": 2}, 'text such as "0-3"'),
    ],
)
def test_config_refuses_shard_ids_that_do_not_fit(sharding: dict[str, object], says: str) -> None:
    with pytest.raises(ConfigErrors) as refused:
        parse_config({"sharding": sharding})
    assert says in str(refused.value) and "sharding.shard_ids" in str(refused.value)


def test_the_command_line_overrides_the_configured_shards() -> None:
    assert plan_shards(4, (0, 1)).bot_options() == {"shard_count": 4, "shard_ids": [0, 1]}
    plan = plan_shards(4, (0, 1), shard_count=8, shard_ids="4-7")
    assert plan.bot_options() == {"shard_count": 8, "shard_ids": [4, 5, 6, 7]}
    assert plan.describe() == "shards 4-7 of 8"
    # --shard-count alone keeps the configured ids when they fit the new count.
    assert plan_shards(4, (0, 1), shard_count=6).bot_options() == {"shard_count": 6, "shard_ids": [0, 1]}
    assert plan_shards(None, None, shard_count=3).describe() == "3 shards"


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        (["--shard-ids", "0-1"], "--shard-ids 0-1 needs a shard count: pass --shard-count N"),
        (["--shard-count", "2", "--shard-ids", "2-3"], "does not fit --shard-count 2"),
        (["--shard-count", "4", "--shard-ids", "0-x"], "--shard-ids 0-x: '0-x' is not a shard id"),
        (["--shard-count", "0"], "--shard-count must be from 1 to 16,384"),
        (["--shard-count", "2"], "sharding.shard_ids in config.json does not fit --shard-count 2"),
    ],
)
def test_bad_shard_options_stop_the_start_with_a_clear_message(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    arguments: list[str],
    says: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    sharding = {"shard_count": 4, "shard_ids": "2-3"} if arguments == ["--shard-count", "2"] else {}
    (tmp_path / "config.json").write_text(json.dumps({"sharding": sharding}))
    (tmp_path / ".env").write_text("DISCORD_TOKEN=x.y.z\nBOT_OWNER_ID=42\n")
    assert cli.main(["--headless", *arguments]) == exit_codes.CONFIG_ERROR
    error = capsys.readouterr().err
    assert error.startswith("tui-bot: ") and says in error


# --- a bot running some of the shards -------------------------------------------------------------


def add_shard_guilds(sandbox: Sandbox) -> dict[int, Guild]:
    """One guild per shard of 4 (the demo guild is on shard 0), each with alice and a #general."""
    home = sandbox.find_guild()
    guilds = {(home.id >> 22) % SHARDS: home}
    for step in range(1, SHARDS):
        guild = sandbox.add_guild(f"Shard Guild {step}", guild_id=home.id + (step << 22), members=["alice"])
        guilds[(guild.id >> 22) % SHARDS] = guild
    assert sorted(guilds) == [0, 1, 2, 3]
    return guilds


def general(guild: Guild) -> int:
    return next(c.id for c in guild.channels.values() if c.name == "general")


async def test_shard_ids_in_config_json_connect_only_those_shards(
    harness: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tui_bot.core.bot import ShardedTuiBot

    async def identify_now(self, shard_id, *, initial=False):  # type: ignore[no-untyped-def]
        """discord.py waits 5 s between shards' IDENTIFYs; this sandbox does not enforce the window."""

    monkeypatch.setattr(ShardedTuiBot, "before_identify_hook", identify_now)
    guilds = add_shard_guilds(harness.sandbox)
    harness.write_extension("ping", PING)
    bot = await harness.start(sharding={"shard_count": SHARDS, "shard_ids": "2-3"})
    assert sorted(bot.shards) == [2, 3] and bot.shard_count == SHARDS
    assert {guild.id for guild in bot.guilds} == {guilds[2].id, guilds[3].id}
    await harness.sandbox.send_message("alice", general(guilds[0]), "!ping")  # shard 0: not this bot's
    await harness.sandbox.send_message("alice", general(guilds[3]), "!ping")
    reply = await harness.sandbox.wait_for_bot_message(timeout=10)
    assert (reply.content, reply.channel_id) == ("pong from shard 3", general(guilds[3]))
    assert harness.sandbox.world.history(general(guilds[0]))[0].content == "!ping"  # and no answer


async def read_until(stream: asyncio.StreamReader, needle: str, output: list[str]) -> None:
    async with asyncio.timeout(60):
        while True:
            line = (await stream.readline()).decode()
            if not line:
                raise AssertionError("the bot exited early:\n" + "".join(output))
            output.append(line)
            if needle in line:
                return


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
async def test_a_bot_started_with_shard_ids_0_1_of_4_serves_only_those_shards_guilds(tmp_path: Path) -> None:
    # Discord's real IDENTIFY window: the bot's shards, spaced by discord.py, must pass it.
    sandbox = Sandbox(demo_world(), identify_window=5.0)
    guilds = add_shard_guilds(sandbox)
    async with sandbox:
        (tmp_path / ".env").write_text(
            f"DISCORD_TOKEN={sandbox.token}\nBOT_OWNER_ID={sandbox.world.owner_id}\n"
            f"DISCORD_API_BASE={sandbox.api_base}\nDISCORD_GATEWAY_URL={sandbox.gateway_url}\n"
        )
        (tmp_path / "config.json").write_text(json.dumps({"auto_reload": False}))
        (tmp_path / "extensions").mkdir()
        (tmp_path / "extensions" / "ping.py").write_text(textwrap.dedent(PING))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "BOT_OWNER"))}
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tui_bot",
            "--headless",
            "--shard-count",
            "4",
            "--shard-ids",
            "0-1",
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        assert proc.stdout is not None
        output: list[str] = []
        try:
            await read_until(proc.stdout, "Connected as", output)
            assert any("Running shards 0-1 of 4 (from the command line)" in line for line in output)
            # A guild of shard 2 first: nobody serves it, so it is never answered.
            await sandbox.send_message("alice", general(guilds[2]), "!ping")
            for shard in (0, 1):
                await sandbox.send_message("alice", general(guilds[shard]), "!ping")
                reply = await sandbox.wait_for_bot_message(timeout=15)
                assert (reply.content, reply.channel_id) == (
                    f"pong from shard {shard}",
                    general(guilds[shard]),
                )
            assert [m.content for m in sandbox.world.history(general(guilds[2]))] == ["!ping"]
            accepted = [tuple(e.data["shard"]) for e in sandbox.events if e.kind is EventKind.IDENTIFY]
            assert accepted == [(0, 4), (1, 4)]
            assert sandbox.identify_refusals == []
            proc.send_signal(signal.SIGTERM)
            async with asyncio.timeout(30):
                rest = await proc.stdout.read()
                output.append(rest.decode())
                assert await proc.wait() == 0, "".join(output)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        assert sandbox.token not in "".join(output)
