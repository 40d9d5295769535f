"""The speed stack: uvloop as the event loop (console, headless, ``sandbox serve``) with its switch and
fallbacks, and the sandbox's gateway compressions (zstd-stream, zlib-stream, plain frames).

The bot runs for real: the console app and the discord.py client in-process, ``tui-bot --headless`` as a
subprocess. Nothing in discord.py is mocked; "uvloop is missing" and "uvloop is broken" are real
packages on the subprocess's ``PYTHONPATH`` that shadow the installed one.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import textwrap
from pathlib import Path
from typing import Any

import aiohttp
import discord
import pytest
from console_harness import GREETER, ConsoleHarness, console, running  # noqa: F401 - console is a fixture
from discord.utils import _ActiveDecompressionContext
from sandbox_bots import make_bot
from sandbox_bots import running as bot_running
from textual.widgets import Log

from tui_bot import loop as event_loop
from tui_bot.sandbox import Sandbox, demo_world
from tui_bot.sandbox.compression import ZLIB_STREAM, ZSTD_STREAM

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="uvloop and POSIX signals")
uvloop = pytest.importorskip("uvloop")  # a dependency everywhere but Windows

INTENTS = (1 << 0) | (1 << 9) | (1 << 15)  # GUILDS, GUILD_MESSAGES, MESSAGE_CONTENT


# --- the console on uvloop ------------------------------------------------------------------------


def test_console_runs_on_uvloop_and_its_bot_answers(console: ConsoleHarness) -> None:  # noqa: F811
    console.write_extension("greeter", GREETER)
    app = console.build()

    async def session() -> tuple[asyncio.AbstractEventLoop, str, list[str]]:
        async with running(app) as pilot:
            sandbox = app.runtime.sandbox
            assert sandbox is not None
            await sandbox.send_message("alice", "general", "!ping")
            reply = await sandbox.wait_for_bot_message(channel="general", timeout=10)
            await pilot.pause()
            log_lines = list(app.query_one(Log).lines)
            return asyncio.get_running_loop(), reply.content, log_lines

    # The console's own entry point runs it exactly so: event_loop.run(app.run_async()).
    loop, reply, log_lines = event_loop.run(session(), environ={})
    assert isinstance(loop, uvloop.Loop)
    assert reply == "pong"
    assert any("Event loop: uvloop" in line for line in log_lines), log_lines


# --- headless: uvloop by default, the switch, and the fallbacks ------------------------------------

MISSING_UVLOOP = "raise ImportError(\"No module named 'uvloop'\")\n"
BROKEN_UVLOOP = """
def new_event_loop():
    raise RuntimeError("this uvloop build is broken")
"""


async def run_headless_and_ping(
    tmp_path: Path, server: Sandbox, extra_env: dict[str, str], fake_uvloop: str | None = None
) -> tuple[str, str | None]:
    """``tui-bot --headless`` against ``server``: wait for the connection, have alice run ``!ping``,
    wait for the answer, SIGTERM it. Returns its stdout and the compression its gateway connection used."""
    (tmp_path / ".env").write_text(
        f"DISCORD_TOKEN={server.token}\nBOT_OWNER_ID=42\n"
        f"DISCORD_API_BASE={server.api_base}\nDISCORD_GATEWAY_URL={server.gateway_url}\n"
    )
    (tmp_path / "extensions").mkdir(exist_ok=True)
    (tmp_path / "extensions" / "greeter.py").write_text(textwrap.dedent(GREETER))
    (tmp_path / "config.json").write_text(json.dumps({"extensions": {"directory": "extensions"}}))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "BOT_OWNER", "TUI_BOT_"))}
    env.update(extra_env)
    if fake_uvloop is not None:
        shadow = tmp_path / "shadow" / "uvloop"
        shadow.mkdir(parents=True)
        (shadow / "__init__.py").write_text(textwrap.dedent(fake_uvloop))
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(shadow.parent), env.get("PYTHONPATH")]))
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tui_bot",
        "--headless",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert proc.stdout is not None
    output: list[str] = []

    async def read_output() -> None:
        assert proc.stdout is not None
        async for raw in proc.stdout:
            output.append(raw.decode())

    reader = asyncio.create_task(read_output())
    try:
        async with asyncio.timeout(60):
            while not any("Connected as" in line for line in output):
                assert not reader.done(), "".join(output)
                await asyncio.sleep(0.05)
            await server.send_message("alice", "general", "!ping")
            reply = await server.wait_for_bot_message(channel="general", timeout=15)
            assert reply.content == "pong"
            (session,) = server.hub.identified_sessions
            compression = session.compression
            proc.send_signal(signal.SIGTERM)
            await proc.wait()
            await reader
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        reader.cancel()
    assert proc.returncode == 0, "".join(output)
    return "".join(output), compression


@pytest.mark.parametrize(
    ("extra_env", "fake_uvloop", "expected"),
    [
        ({}, None, "Event loop: uvloop "),
        ({"TUI_BOT_LOOP": "uvloop"}, None, "Event loop: uvloop "),
        (
            {"TUI_BOT_LOOP": "asyncio"},
            None,
            "Event loop: asyncio (_UnixSelectorEventLoop) (TUI_BOT_LOOP=asyncio)",
        ),
        ({}, MISSING_UVLOOP, "Event loop: asyncio (_UnixSelectorEventLoop) (uvloop is not installed)"),
        ({}, BROKEN_UVLOOP, "uvloop could not create a loop (this uvloop build is broken); using asyncio's"),
    ],
    ids=["default", "switch-uvloop", "switch-asyncio", "uvloop-missing", "uvloop-broken"],
)
async def test_headless_runs_on_the_chosen_loop_and_answers(
    tmp_path: Path, extra_env: dict[str, str], fake_uvloop: str | None, expected: str
) -> None:
    async with Sandbox(demo_world()) as server:
        output, compression = await run_headless_and_ping(tmp_path, server, extra_env, fake_uvloop)
    assert expected in output, output
    assert sum("Event loop:" in line for line in output.splitlines()) == 1, output
    if fake_uvloop is BROKEN_UVLOOP:
        assert "Event loop: asyncio (_UnixSelectorEventLoop)" in output
    assert server.token not in output
    # discord.py 2.7 with zstandard installed asks for zstd-stream, and gets it.
    assert compression == ZSTD_STREAM


async def test_sandbox_serve_runs_on_uvloop(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tui_bot",
        "sandbox",
        "serve",
        "--port",
        "0",
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if k != "TUI_BOT_LOOP"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    try:
        async with asyncio.timeout(30):
            banner = [(await proc.stdout.readline()).decode() for _ in range(4)]
            gateway = next(line.split(": ", 1)[1].strip() for line in banner if line.startswith("gateway:"))
            # The server it started answers a zstd-stream client.
            async with (
                aiohttp.ClientSession() as http,
                http.ws_connect(f"{gateway}?compress={ZSTD_STREAM}") as ws,
            ):
                frame = await ws.receive(timeout=5)
                assert frame.type is aiohttp.WSMsgType.BINARY
                assert json.loads(_ActiveDecompressionContext().decompress(frame.data) or "")["op"] == 10
            proc.send_signal(signal.SIGTERM)
            _, stderr = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0
    assert "tui_bot.loop: Event loop: uvloop " in stderr.decode()


# --- gateway compression --------------------------------------------------------------------------


async def test_zstd_stream_frames_decode_with_discord_pys_own_decompressor(sandbox: Sandbox) -> None:
    # discord.py 2.7 picks zstd-stream when zstandard is installed (a dependency of tui-bot).
    assert _ActiveDecompressionContext.COMPRESSION_TYPE == ZSTD_STREAM
    # One decompression context for the whole connection, fed one websocket message at a time.
    client_side = _ActiveDecompressionContext()
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(f"{sandbox.gateway_url}?v=10&encoding=json&compress={ZSTD_STREAM}") as ws,
    ):

        async def receive() -> dict[str, Any]:
            frame = await ws.receive(timeout=5)
            assert frame.type is aiohttp.WSMsgType.BINARY
            text = client_side.decompress(frame.data)
            assert text is not None
            return json.loads(text)

        assert (await receive())["op"] == 10
        await ws.send_json({"op": 2, "d": {"token": sandbox.token, "intents": INTENTS, "properties": {}}})
        ready = await receive()
        assert (ready["t"], ready["s"]) == ("READY", 1)
        guild = await receive()
        assert (guild["t"], guild["s"]) == ("GUILD_CREATE", 2)
        for n, content in enumerate(["hi", "hi", "a longer message " * 50], start=3):
            await sandbox.send_message("bob", "general", content)
            created = await receive()
            assert (created["t"], created["s"], created["d"]["content"]) == ("MESSAGE_CREATE", n, content)
        (session,) = sandbox.hub.identified_sessions
        assert session.compression == ZSTD_STREAM


async def test_discord_py_bot_on_zstd_stream_answers_and_resumes_on_a_fresh_stream(sandbox: Sandbox) -> None:
    bot = make_bot()
    async with bot_running(bot, sandbox):
        (session,) = sandbox.hub.identified_sessions
        assert session.compression == ZSTD_STREAM
        await sandbox.send_message("alice", "general", "!ping")
        assert (await sandbox.wait_for_bot_message(timeout=10)).content == "pong"

        # A new connection is a new zstd stream: the resumed session must switch to it, or the
        # client's fresh decompressor could not read the replay.
        resumed = asyncio.Event()

        @bot.listen()
        async def on_resumed() -> None:
            resumed.set()

        await sandbox.drop_gateway(code=None)
        await sandbox.send_message("alice", "general", "!ping")  # buffered, replayed on RESUME
        await asyncio.wait_for(resumed.wait(), timeout=10)
        assert (await sandbox.wait_for_bot_message(timeout=10)).content == "pong"
        assert session.compression == ZSTD_STREAM and session.resumes == 1


async def test_with_zstd_switched_off_a_zstd_client_gets_plain_frames_and_works(sandbox: Sandbox) -> None:
    sandbox.hub.compressions = frozenset({ZLIB_STREAM})
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(f"{sandbox.gateway_url}?compress={ZSTD_STREAM}") as ws,
    ):
        hello = await ws.receive(timeout=5)
        assert hello.type is aiohttp.WSMsgType.TEXT and json.loads(hello.data)["op"] == 10

    bot = make_bot()
    async with bot_running(bot, sandbox):
        (session,) = sandbox.hub.identified_sessions
        assert session.compression is None
        await sandbox.send_message("alice", "general", "!ping")
        assert (await sandbox.wait_for_bot_message(timeout=10)).content == "pong"


async def test_an_undocumented_compression_is_refused_with_4000(sandbox: Sandbox) -> None:
    async with aiohttp.ClientSession() as http, http.ws_connect(f"{sandbox.gateway_url}?compress=gzip") as ws:
        closing = await ws.receive(timeout=5)
    assert closing.type is aiohttp.WSMsgType.CLOSE and closing.data == 4000
    assert closing.extra == "Unknown compression."
    assert sandbox.hub.sessions == []


def test_discord_py_uses_the_installed_speed_stack() -> None:
    # The dependencies pyproject.toml declares are what discord.py picks up at import time.
    assert discord.utils.HAS_ORJSON
    assert _ActiveDecompressionContext.COMPRESSION_TYPE == ZSTD_STREAM
