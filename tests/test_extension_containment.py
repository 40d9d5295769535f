"""Extension code is contained: a load, unload or reload that hangs is cancelled after
``extensions.load_timeout``, and SystemExit/KeyboardInterrupt from an extension are failures like any other.

Through the real bot on the sandbox, as the owner sees it: the bot's replies to ``!load``/``!unload``/
``!reload``/``!extensions``, and the commands that answer (or no longer do) afterwards.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

import pytest

from tui_bot.config.model import ConfigValueError
from tui_bot.config.validation import parse_config
from tui_bot.core.extensions import ExtensionStatus

if TYPE_CHECKING:
    from conftest import BotHarness

OPERATOR = "operator"  # owns the demo guild and the bot

HANGING_SETUP = """
import asyncio
from discord.ext import commands


class Half(commands.Cog):
    @commands.command()
    async def halfway(self, ctx):
        await ctx.send("registered before the hang")


async def setup(bot):
    await bot.add_cog(Half())  # registered, then the setup never finishes
    bot.dispatch("hanging_setup_waits")
    await asyncio.Event().wait()
"""

GREETER = """
from discord.ext import commands


class Greeter_{name}(commands.Cog):
    @commands.command()
    async def {name}(self, ctx):
        await ctx.send("{reply}")


async def setup(bot):
    await bot.add_cog(Greeter_{name}())
"""

EXITS_AT_IMPORT = """
import argparse

argparse.ArgumentParser().parse_args(["--not-an-option"])  # SystemExit(2), as a script would
"""

INTERRUPTS_IN_SETUP = """
from discord.ext import commands


class Doomed(commands.Cog):
    @commands.command()
    async def doomed(self, ctx):
        await ctx.send("should not be here")


async def setup(bot):
    await bot.add_cog(Doomed())
    raise KeyboardInterrupt
"""

HANGING_COG_UNLOAD = """
import asyncio
from discord.ext import commands


class Sticky(commands.Cog):
    @commands.command()
    async def sticky(self, ctx):
        await ctx.send("still here")

    async def cog_unload(self):
        await asyncio.Event().wait()


async def setup(bot):
    await bot.add_cog(Sticky())
"""


def greeter(name: str, reply: str) -> str:
    return GREETER.format(name=name, reply=reply)


async def say(harness: BotHarness, content: str) -> Any:
    """Send as the operator in #general and return the bot's next message there."""
    await harness.sandbox.send_message(OPERATOR, "general", content)
    return await harness.sandbox.wait_for_bot_message(channel="general", timeout=10)


def embed_text(message: Any) -> str:
    assert message.embeds, message.content
    embed = message.embeds[0]
    return f"{embed.get('title', '')}\n{embed.get('description', '')}"


async def test_a_hanging_setup_at_start_up_is_cancelled_and_the_bot_connects(harness: BotHarness) -> None:
    harness.write_extension("hanging", HANGING_SETUP)
    harness.write_extension("greeter", greeter("hello", "hi there"))
    bot = await harness.start(extensions={"load_timeout": 0.5})  # ready: it connected

    assert bot.extension_manager.status_of("hanging") is ExtensionStatus.FAILED
    listing = embed_text(await say(harness, "!extensions"))
    assert "`hanging` failed" in listing
    assert "'hanging' did not finish loading within 0.5 s (extensions.load_timeout)" in listing
    assert "`greeter` loaded" in listing
    assert (await say(harness, "!hello")).content == "hi there"
    # The cog its setup had added before hanging was removed with it, as after a setup that raised.
    assert bot.get_command("halfway") is None and "Half" not in bot.cogs
    # Where it hung, for the owner's `extensions hanging` and the console.
    trace = bot.extension_manager.states["hanging"].traceback or ""
    assert "hanging.py" in trace and "await asyncio.Event().wait()" in trace


async def test_load_of_a_hanging_extension_answers_and_frees_the_next_load(harness: BotHarness) -> None:
    await harness.start(extensions={"load_timeout": 0.5})
    harness.write_extension("hanging", HANGING_SETUP)
    harness.write_extension("other", greeter("other", "other answers"))

    reply = embed_text(await say(harness, "!load hanging"))
    assert "Could not load `hanging`" in reply
    assert "did not finish loading within 0.5 s (extensions.load_timeout) and was cancelled" in reply

    assert "`other` loaded" in embed_text(await say(harness, "!load other"))  # the lock was released
    assert (await say(harness, "!other")).content == "other answers"
    # A second attempt at the hanging one is refused the same way, not "already loaded".
    assert "did not finish loading" in embed_text(await say(harness, "!load hanging"))


async def test_sys_exit_and_keyboard_interrupt_are_failures_at_start_up(harness: BotHarness) -> None:
    harness.write_extension("exits", EXITS_AT_IMPORT)
    harness.write_extension("interrupts", INTERRUPTS_IN_SETUP)
    bot = await harness.start()

    manager = bot.extension_manager
    assert manager.status_of("exits") is ExtensionStatus.FAILED
    assert manager.status_of("interrupts") is ExtensionStatus.FAILED
    listing = embed_text(await say(harness, "!extensions"))
    assert "`exits` failed" in listing and "SystemExit: 2 (raised by the extension" in listing
    assert "`interrupts` failed" in listing and "KeyboardInterrupt (raised by the extension" in listing
    assert bot.get_command("doomed") is None  # its half-done setup was undone
    assert "Bot statistics" in embed_text(await say(harness, "!stats"))  # and the bot runs on


async def test_sys_exit_and_keyboard_interrupt_through_load(harness: BotHarness) -> None:
    bot = await harness.start()
    harness.write_extension("exits", EXITS_AT_IMPORT)
    harness.write_extension("interrupts", INTERRUPTS_IN_SETUP)

    reply = embed_text(await say(harness, "!load exits"))
    assert "Could not load `exits`" in reply and "SystemExit: 2" in reply
    reply = embed_text(await say(harness, "!load interrupts"))
    assert "Could not load `interrupts`" in reply and "KeyboardInterrupt" in reply
    assert bot.get_command("doomed") is None
    assert bot.extension_manager.status_of("interrupts") is ExtensionStatus.FAILED

    # Fixed, it loads: nothing of the failed attempt is left in the way (module, cog, command).
    harness.write_extension("interrupts", greeter("doomed", "fixed"))
    assert "`interrupts` loaded" in embed_text(await say(harness, "!load interrupts"))
    assert (await say(harness, "!doomed")).content == "fixed"


async def test_an_unload_whose_cog_unload_hangs_is_cut_short(harness: BotHarness) -> None:
    harness.write_extension("sticky", HANGING_COG_UNLOAD)
    bot = await harness.start(extensions={"load_timeout": 0.5})
    assert (await say(harness, "!sticky")).content == "still here"

    reply = embed_text(await say(harness, "!unload sticky"))
    assert "Could not unload `sticky`" in reply
    assert "did not finish unloading within 0.5 s (extensions.load_timeout)" in reply
    assert bot.get_command("sticky") is None
    assert f"{harness.extensions.name}.sticky" not in bot.extensions
    assert "`sticky` failed" in embed_text(await say(harness, "!extensions"))

    harness.write_extension("sticky", greeter("sticky", "back"))
    assert "`sticky` loaded" in embed_text(await say(harness, "!load sticky"))
    assert (await say(harness, "!sticky")).content == "back"


async def test_a_reload_that_hangs_puts_the_previous_version_back(harness: BotHarness) -> None:
    harness.write_extension("greeter", greeter("hello", "version one"))
    bot = await harness.start(extensions={"load_timeout": 0.5})
    harness.write_extension("greeter", HANGING_SETUP)

    reply = embed_text(await say(harness, "!reload greeter"))
    assert "Could not reload `greeter`" in reply
    assert "did not finish reloading within 0.5 s" in reply
    assert "the previous version was put back and keeps running" in reply
    assert (await say(harness, "!hello")).content == "version one"
    assert bot.get_command("halfway") is None
    assert bot.extension_manager.status_of("greeter") is ExtensionStatus.LOADED

    harness.write_extension("greeter", greeter("hello", "version two"))
    assert "`greeter` reloaded" in embed_text(await say(harness, "!reload greeter"))
    assert (await say(harness, "!hello")).content == "version two"


@pytest.mark.parametrize("value", [0, -1, 601, "30", True, None])
def test_load_timeout_must_be_seconds_within_bounds(value: object) -> None:
    with pytest.raises(ConfigValueError, match=r"extensions\.load_timeout.*greater than 0 and at most 600"):
        parse_config({"extensions": {"load_timeout": value}})


@pytest.mark.parametrize("text", ["NaN", "Infinity"])
def test_load_timeout_refuses_what_json_lets_through(text: str) -> None:
    raw = json.loads(f'{{"extensions": {{"load_timeout": {text}}}}}')  # Python's json accepts both
    with pytest.raises(ConfigValueError, match=r"'extensions\.load_timeout'"):
        parse_config(raw)


def test_load_timeout_default_and_value() -> None:
    assert parse_config({}).extensions.load_timeout == 30.0
    assert parse_config({"extensions": {"load_timeout": 2.5}}).extensions.load_timeout == 2.5


async def test_a_cancelled_caller_is_cancelled_and_leaves_nothing_behind(harness: BotHarness) -> None:
    # A `!load` cancelled mid-way (the shutdown cancels commands still running after the drain time): the
    # cancellation reaches the caller, and the half-loaded extension is cleaned up and the lock released.
    bot = await harness.start(extensions={"load_timeout": 30})
    harness.write_extension("hanging", HANGING_SETUP)
    manager = bot.extension_manager
    waiting = asyncio.create_task(bot.wait_for("hanging_setup_waits", timeout=10))
    loading = asyncio.create_task(manager.load("hanging"))
    await waiting  # its setup has added a cog and now hangs
    assert bot.get_command("halfway") is not None
    loading.cancel()
    with pytest.raises(asyncio.CancelledError):
        await loading

    assert bot.get_command("halfway") is None
    assert manager.status_of("hanging") is ExtensionStatus.FAILED
    assert "cancelled before it finished" in (manager.states["hanging"].last_error or "")
    harness.write_extension("other", greeter("other", "other answers"))
    assert "`other` loaded" in embed_text(await say(harness, "!load other"))
