"""`tui-bot --headless` always ends, whatever its extensions do: hung set-ups and clean-ups, threads
left running, a blocked event loop. A real process against a sandbox run by the test, signalled as
systemd would, with its log read line by line.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sqlite3
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tui_bot import exit_codes
from tui_bot.core.lifecycle import DEFAULT_SHUTDOWN_TIMEOUT
from tui_bot.runtime import shutdown
from tui_bot.sandbox import Sandbox, demo_world

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

# The documented bound: the drain time plus the grace, after which the process is ended regardless.
SHUTDOWN_BOUND = DEFAULT_SHUTDOWN_TIMEOUT + shutdown.PROCESS_GRACE_SECONDS
MARGIN = 10.0  # a loaded machine: the process must be gone by the bound plus this

GREETER = """
from discord.ext import commands


class Greeter(commands.Cog):
    @commands.command()
    async def hello(self, ctx):
        await ctx.send("hello there")


async def setup(bot):
    await bot.add_cog(Greeter())
"""

HANGING_SETUP = """
import asyncio


async def setup(bot):
    await asyncio.Event().wait()
"""

EXITS_AT_IMPORT = """
import sys

sys.exit("this extension thinks it is a script")
"""

INTERRUPTS_IN_SETUP = """
async def setup(bot):
    raise KeyboardInterrupt
"""

SLOW_COMMAND = """
import time
from discord.ext import commands


class Slow(commands.Cog):
    @commands.command()
    async def slow(self, ctx):
        time.sleep(1.5)  # blocks the event loop: what the watchdog names
        await ctx.send("done sleeping")


async def setup(bot):
    await bot.add_cog(Slow())
"""

SLOW_IMPORT = """
import time

time.sleep(0.8)  # in the module body: runs on the event loop's thread while it is imported


async def setup(bot):
    pass
"""

NON_DAEMON_THREAD = """
import threading
import time


def forever():
    while True:
        time.sleep(0.1)


async def setup(bot):
    threading.Thread(target=forever, name="worker-forever").start()  # not a daemon, never stopped
"""

UNLOAD_IGNORES_CANCEL = """
import asyncio
from discord.ext import commands


class Stubborn(commands.Cog):
    async def cog_unload(self):
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                pass  # ignores every cancellation


async def setup(bot):
    await bot.add_cog(Stubborn())
"""

UNLOAD_BLOCKS_THE_LOOP = """
import time
from discord.ext import commands


class Sleeper(commands.Cog):
    def cog_unload(self):
        time.sleep(3600)  # the event loop never runs again


async def setup(bot):
    await bot.add_cog(Sleeper())
"""


class HeadlessBot:
    """``tui-bot --headless`` in a subprocess, connected to the test's sandbox; its output collected."""

    def __init__(self, root: Path, server: Sandbox) -> None:
        self.root = root
        self.server = server
        self.lines: list[str] = []
        self.proc: asyncio.subprocess.Process | None = None
        self._changed = asyncio.Condition()
        self._reader: asyncio.Task[None] | None = None

    def write_extensions(self, **sources: str) -> None:
        folder = self.root / "extensions"
        folder.mkdir(exist_ok=True)
        for name, source in sources.items():
            (folder / f"{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")

    async def start(self) -> None:
        server = self.server
        (self.root / ".env").write_text(
            f"DISCORD_TOKEN={server.token}\nBOT_OWNER_ID={server.world.owner_id}\n"
            f"DISCORD_API_BASE={server.api_base}\nDISCORD_GATEWAY_URL={server.gateway_url}\n"
        )
        (self.root / "config.json").write_text(
            json.dumps({"auto_reload": False, "extensions": {"load_timeout": 1}})
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "BOT_OWNER"))}
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tui_bot",
            "--headless",
            cwd=self.root,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        self._reader = asyncio.create_task(self._read())
        await self.wait_for_line("Connected as")

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        async for raw in self.proc.stdout:
            async with self._changed:
                self.lines.append(raw.decode(errors="replace"))
                self._changed.notify_all()

    @property
    def output(self) -> str:
        return "".join(self.lines)

    async def wait_for_line(self, pattern: str, timeout: float = 30) -> re.Match[str]:  # noqa: ASYNC109
        """The first output line matching ``pattern`` (a regex), waiting for it if need be."""
        regex = re.compile(pattern)

        def found() -> re.Match[str] | None:
            return next((m for line in self.lines if (m := regex.search(line))), None)

        try:
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(lambda: found() is not None or self._ended())
        except TimeoutError:
            pass
        match = found()
        assert match is not None, f"no line matching {pattern!r} in:\n{self.output}"
        return match

    def _ended(self) -> bool:
        return self._reader is not None and self._reader.done()

    async def say(self, content: str) -> Any:
        await self.server.send_message("operator", "general", content)
        return await self.server.wait_for_bot_message(channel="general", timeout=10)

    def send_signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    async def exit_code(self, within: float) -> int:
        """The exit code; the test fails if the process is still alive ``within`` seconds from now."""
        assert self.proc is not None
        try:
            code = await asyncio.wait_for(self.proc.wait(), within)
        except TimeoutError:
            pytest.fail(f"the process was still running {within:.0f} s later:\n{self.output}")
        if self._reader is not None:
            await self._reader  # the rest of its output
        return code

    async def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        if self._reader is not None:
            self._reader.cancel()


@pytest.fixture
async def headless(tmp_path: Path) -> AsyncIterator[HeadlessBot]:
    async with Sandbox(demo_world()) as server:
        bot = HeadlessBot(tmp_path, server)
        try:
            yield bot
        finally:
            await bot.kill()


def usage_count(root: Path, command: str) -> int:
    with sqlite3.connect(root / "data" / "bot.db") as conn:
        row = conn.execute(
            "SELECT usage_count FROM command_stats WHERE command_name = ?", (command,)
        ).fetchone()
    return 0 if row is None else row[0]


async def test_hostile_extensions_at_start_up_stop_neither_the_bot_nor_its_shutdown(
    headless: HeadlessBot,
) -> None:
    headless.write_extensions(
        greeter=GREETER, hanging=HANGING_SETUP, exits=EXITS_AT_IMPORT, interrupts=INTERRUPTS_IN_SETUP
    )
    await headless.start()  # connected, though one set-up hangs and two try to end the process

    listing = (await headless.say("!extensions")).embeds[0]["description"]
    assert "`hanging` failed" in listing
    assert "'hanging' did not finish loading within 1 s (extensions.load_timeout)" in listing
    assert "`exits` failed" in listing and "SystemExit: this extension thinks it is a script" in listing
    assert "`interrupts` failed" in listing and "KeyboardInterrupt (raised by the extension" in listing
    assert (await headless.say("!hello")).content == "hello there"

    headless.send_signal(signal.SIGTERM)
    assert await headless.exit_code(within=SHUTDOWN_BOUND + MARGIN) == exit_codes.OK
    assert "SIGTERM received: closing the bot" in headless.output
    assert "Closed database" in headless.output
    assert usage_count(headless.root, "hello") == 1


async def test_a_loop_blocking_command_is_named_and_a_thread_left_behind_does_not_keep_the_process(
    headless: HeadlessBot,
) -> None:
    headless.write_extensions(slow=SLOW_COMMAND, slowimport=SLOW_IMPORT, worker=NON_DAEMON_THREAD)
    await headless.start()
    await headless.wait_for_line(
        r"WARNING .*Extension 'slowimport' blocked the event loop for \d+\.\d s "
        r"\(in slowimport\.py:4 <module>\)"
    )

    assert (await headless.say("!slow")).content == "done sleeping"
    warning = await headless.wait_for_line(
        r"WARNING .*Extension 'slow' blocked the event loop for (\d+\.\d) s \(in slow\.py:\d+ slow\)"
    )
    assert 1.0 <= float(warning.group(1)) < 10

    headless.send_signal(signal.SIGTERM)
    assert await headless.exit_code(within=SHUTDOWN_BOUND + MARGIN) == exit_codes.OK
    assert "not waited for: thread(s) 'worker-forever'" in headless.output
    assert "Closed database" in headless.output


async def test_a_cog_unload_that_ignores_cancellation_does_not_hold_up_the_shutdown(
    headless: HeadlessBot,
) -> None:
    headless.write_extensions(greeter=GREETER, stubborn=UNLOAD_IGNORES_CANCEL)
    await headless.start()
    assert (await headless.say("!hello")).content == "hello there"

    headless.send_signal(signal.SIGTERM)
    assert await headless.exit_code(within=SHUTDOWN_BOUND + MARGIN) == exit_codes.OK
    output = headless.output
    assert "unload failed: ExtensionTimeout: 'stubborn' did not finish unloading" in output
    assert "Extension stubborn ignores cancellation" in output
    assert re.search(r"ignore cancellation: .*at extension 'stubborn' at stubborn\.py:\d+ cog_unload", output)
    assert "Closed database" in output  # counted, backed up and closed all the same
    assert usage_count(headless.root, "hello") == 1


async def test_a_second_signal_ends_a_blocked_shutdown_at_once(headless: HeadlessBot) -> None:
    headless.write_extensions(sleeper=UNLOAD_BLOCKS_THE_LOOP)
    await headless.start()

    headless.send_signal(signal.SIGTERM)
    await headless.wait_for_line("Shutting down")
    headless.send_signal(signal.SIGTERM)
    # Well before the process deadline, which would end it with 124.
    assert await headless.exit_code(within=SHUTDOWN_BOUND - 5) == exit_codes.for_signal(signal.SIGTERM) == 143
    assert "SIGTERM again during the shutdown: ending the process now (exit code 143)" in headless.output


async def test_a_shutdown_blocked_for_good_is_ended_at_the_deadline(headless: HeadlessBot) -> None:
    headless.write_extensions(greeter=GREETER, sleeper=UNLOAD_BLOCKS_THE_LOOP)
    await headless.start()
    assert (await headless.say("!hello")).content == "hello there"

    headless.send_signal(signal.SIGTERM)
    assert await headless.exit_code(within=SHUTDOWN_BOUND + MARGIN) == exit_codes.SHUTDOWN_FORCED
    line = (
        await headless.wait_for_line(
            r"CRITICAL .*The shutdown after SIGTERM did not end within (\d+) s: ending the process now "
            r"\(exit code 124\)\. (.*)"
        )
    ).groups()
    assert float(line[0]) == SHUTDOWN_BOUND
    assert re.search(r"the event loop is at extension 'sleeper' at sleeper\.py:\d+ cog_unload", line[1])
    assert "not saved: the shutdown backup, and any command usage counts not yet written" in line[1]
    assert usage_count(headless.root, "hello") == 1  # saved before extension code ran again
