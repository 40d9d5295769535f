"""The package's pytest plugin, used by a fresh project that has nothing but a test file."""

from __future__ import annotations

import tomllib
from importlib.metadata import entry_points
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

PROJECT_TESTS = """
import discord
import discord.http
import pytest
from discord.ext import commands

from tui_bot.sandbox import demo_world

DISCORD_API = discord.http.Route.BASE  # before any sandbox moved it


@pytest.fixture
def sandbox_world():
    world = demo_world()
    world.find_channel("general").name = "lobby"
    return world


def make_bot():
    intents = discord.Intents.default()
    intents.message_content = True
    bot = commands.Bot(command_prefix="!", intents=intents)  # default guild_ready_timeout: 2 s

    @bot.command()
    async def ping(ctx):
        await ctx.send("pong")

    return bot


@pytest.mark.asyncio
async def test_a_bot_answers(discord_sandbox, sandbox_bot):
    bot = await sandbox_bot(make_bot(), guild_ready_timeout=0.01)
    assert bot.is_ready() and discord.http.Route.BASE == discord_sandbox.api_base
    await discord_sandbox.send_message("alice", "#lobby", "!ping")
    assert (await discord_sandbox.wait_for_bot_message(channel="lobby")).content == "pong"


@pytest.mark.asyncio
async def test_start_up_errors_are_raised(sandbox_bot):
    with pytest.raises(discord.LoginFailure):
        await sandbox_bot(make_bot(), token="not-the-token")


def test_endpoints_were_restored():
    assert discord.http.Route.BASE == DISCORD_API
"""


def test_pyproject_registers_the_plugin() -> None:
    pyproject = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["entry-points"]["pytest11"] == {"tui_bot_sandbox": "tui_bot.sandbox.testing"}


def test_fixtures_in_a_fresh_project(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_bot=PROJECT_TESTS)
    # strict mode (pytest-asyncio's default): the plugin's fixtures must not rely on auto mode.
    pytester.makeini("[pytest]\nasyncio_mode = strict\nasyncio_default_fixture_loop_scope = function\n")
    # The plugin must load through its installed entry point, as in a user's project.
    assert any(ep.name == "tui_bot_sandbox" for ep in entry_points(group="pytest11"))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q", timeout=60)
    result.assert_outcomes(passed=3)


def test_the_readme_pytest_example_works_as_written(pytester: pytest.Pytester) -> None:
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Testing your own bot with it (pytest)", 1)[1]
    example = section.split("```python\n", 1)[1].split("```", 1)[0]
    pytester.makepyfile(test_readme_example=example)
    pytester.makeini("[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q", timeout=60)
    result.assert_outcomes(passed=1)
