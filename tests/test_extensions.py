"""Extensions: discovery, blacklist, load by name only, failures recorded, hot reload."""

from __future__ import annotations

import asyncio
import itertools
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import discord
import pytest
from discord.ext import commands

from tui_bot.core.extensions import ExtensionManager, ExtensionNameError, ExtensionStatus
from tui_bot.core.hot_reload import watch_extensions

_counter = itertools.count()

GOOD = """
from discord.ext import commands

class Greeter_{command}(commands.Cog):
    @commands.command()
    async def {command}(self, ctx):
        await ctx.send("{reply}")

async def setup(bot):
    await bot.add_cog(Greeter_{command}())
"""


def extension_source(command: str = "hello", reply: str = "hi") -> str:
    return textwrap.dedent(GOOD.format(command=command, reply=reply))


@pytest.fixture
async def folder(tmp_path: Path) -> AsyncIterator[Path]:
    # A unique package name per test: sys.modules caches packages by name.
    directory = tmp_path / f"exts_{next(_counter)}_{id(tmp_path)}"
    directory.mkdir()
    yield directory
    for name in [m for m in sys.modules if m == directory.name or m.startswith(directory.name + ".")]:
        del sys.modules[name]


@pytest.fixture
async def bot() -> AsyncIterator[commands.Bot]:
    instance = commands.Bot(command_prefix="!", intents=discord.Intents.none())
    yield instance
    await instance.close()


async def test_load_all_skips_blacklisted_and_survives_a_broken_one(folder: Path, bot: commands.Bot) -> None:
    (folder / "good.py").write_text(extension_source("hello"))
    (folder / "broken.py").write_text("def setup(:\n")
    (folder / "nosetup.py").write_text("x = 1\n")
    (folder / "skipped.py").write_text(extension_source("skipped"))
    (folder / "pkg").mkdir()
    (folder / "pkg" / "__init__.py").write_text(extension_source("frompkg"))
    (folder / "_private.py").write_text("raise SystemExit('must not be imported')\n")
    (folder / "notes.txt").write_text("ignored")

    manager = ExtensionManager(bot, folder, blacklist=[f"{folder.name}.skipped"])
    assert manager.discover() == ["broken", "good", "nosetup", "pkg", "skipped"]
    results = await manager.load_all()

    assert {r.name: r.ok for r in results} == {"broken": False, "good": True, "nosetup": False, "pkg": True}
    assert bot.get_command("hello") is not None and bot.get_command("frompkg") is not None
    assert bot.get_command("skipped") is None
    assert manager.states["skipped"].status is ExtensionStatus.BLACKLISTED
    broken = manager.states["broken"]
    assert broken.status is ExtensionStatus.FAILED
    assert broken.last_error is not None and broken.last_error.startswith("SyntaxError")
    assert broken.traceback is not None and "broken.py" in broken.traceback
    assert "has no 'setup' function" in (manager.states["nosetup"].last_error or "")
    good = manager.states["good"]
    assert good.status is ExtensionStatus.LOADED and good.load_seconds is not None


@pytest.mark.parametrize(
    "name",
    ["../evil", "/etc/passwd", "os", "good.py", "sub.module", "..", "", "exts.good/../../x", "tui_bot.cli"],
)
async def test_names_outside_the_folder_are_refused(folder: Path, bot: commands.Bot, name: str) -> None:
    (folder / "good.py").write_text(extension_source())
    manager = ExtensionManager(bot, folder)
    for action in (manager.load, manager.reload, manager.unload):
        with pytest.raises(ExtensionNameError):
            await action(name)
    assert bot.extensions == {}


async def test_names_with_or_without_the_package_prefix(folder: Path, bot: commands.Bot) -> None:
    (folder / "good.py").write_text(extension_source())
    manager = ExtensionManager(bot, folder, blacklist=["good"])
    assert manager.is_blacklisted(f"{folder.name}.good") and manager.is_blacklisted("good")
    result = await manager.load(f"{folder.name}.good")
    assert result.ok and f"{folder.name}.good" in bot.extensions
    with pytest.raises(ExtensionNameError, match="there is no extension 'missing'"):
        await manager.load("missing")
    again = await manager.load("good")
    assert not again.ok and "already loaded" in (again.error or "")
    assert (await manager.unload("good")).ok
    assert manager.states["good"].status is ExtensionStatus.UNLOADED
    assert bot.get_command("hello") is None


async def test_failed_reload_keeps_the_previous_version(folder: Path, bot: commands.Bot) -> None:
    path = folder / "good.py"
    path.write_text(extension_source("hello", "first"))
    manager = ExtensionManager(bot, folder)
    assert (await manager.load("good")).ok

    path.write_text("def broken(:\n")
    result = await manager.reload("good")
    assert not result.ok and "SyntaxError" in (result.error or "")
    assert bot.get_command("hello") is not None  # still running the old code
    assert manager.states["good"].status is ExtensionStatus.LOADED
    assert "SyntaxError" in (manager.states["good"].last_error or "")

    path.write_text(extension_source("hello2", "second"))
    assert (await manager.reload("good")).ok
    assert bot.get_command("hello2") is not None and bot.get_command("hello") is None
    assert manager.states["good"].last_error is None


async def test_hot_reload_picks_up_an_edit_and_survives_a_broken_one(folder: Path, bot: commands.Bot) -> None:
    path = folder / "good.py"
    path.write_text(extension_source("before"))
    manager = ExtensionManager(bot, folder)
    assert (await manager.load("good")).ok

    results: asyncio.Queue = asyncio.Queue()
    stop = asyncio.Event()
    watcher = asyncio.create_task(
        watch_extensions(manager, stop, on_result=results.put_nowait, debounce_ms=100)
    )
    try:
        # watchfiles gives no signal when its watch is in place: repeat the first edit until it is seen.
        for _ in range(20):
            path.write_text(extension_source("after"))
            try:
                result = await asyncio.wait_for(results.get(), timeout=0.5)
                break
            except TimeoutError:
                continue
        else:
            pytest.fail("the watcher never reported the edit")
        assert result.ok and result.action == "reload"
        assert bot.get_command("after") is not None and bot.get_command("before") is None

        path.write_text("def broken(:\n")
        result = await asyncio.wait_for(results.get(), timeout=10)
        assert not result.ok and "SyntaxError" in (result.error or "")
        assert bot.get_command("after") is not None

        (folder / "fresh.py").write_text(extension_source("fresh"))
        result = await asyncio.wait_for(results.get(), timeout=10)
        assert result.ok and result.name == "fresh" and bot.get_command("fresh") is not None
    finally:
        stop.set()
        await asyncio.wait_for(watcher, timeout=10)


def test_folder_name_must_be_a_package_name(tmp_path: Path) -> None:
    bad = tmp_path / "my-extensions"
    bad.mkdir()
    with pytest.raises(ExtensionNameError, match="usable as a Python package"):
        ExtensionManager(commands.Bot(command_prefix="!", intents=discord.Intents.none()), bad)
