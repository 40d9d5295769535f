"""``tui-bot sandbox serve`` as a real process: a discord.py bot in this process connects to it with the
printed token and endpoints, and the test drives it through the control API over HTTP.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import discord
import pytest

from tui_bot.runtime.endpoints import apply_endpoints, restore_endpoints


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("DISCORD_TOKEN", "BOT_OWNER_ID")}


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[asyncio.subprocess.Process, dict[str, str]]]:
    """``python -m tui_bot sandbox serve --port 0``, its banner read up to the control API line."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tui_bot",
        "sandbox",
        "serve",
        "--port",
        "0",
        cwd=tmp_path,
        env=_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    info: dict[str, str] = {}
    try:
        while "control api" not in info:
            line = await asyncio.wait_for(process.stdout.readline(), timeout=20)
            assert line, "sandbox serve exited before printing its addresses"
            name, sep, value = line.decode().partition(": ")
            if sep:
                info[name.strip()] = value.strip()
        yield process, info
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_serve_runs_a_sandbox_a_bot_and_a_client_can_share(
    served: tuple[asyncio.subprocess.Process, dict[str, str]],
) -> None:
    process, info = served
    port = int(info["port"])
    assert info["rest api"] == f"http://127.0.0.1:{port}/api/v10"
    assert info["gateway"] == f"ws://127.0.0.1:{port}/gateway"
    assert info["control api"] == f"http://127.0.0.1:{port}/_sandbox"

    intents = discord.Intents.default()
    intents.message_content = True
    client = discord.Client(intents=intents, guild_ready_timeout=0.01)

    @client.event
    async def on_message(message: discord.Message) -> None:
        if message.content == "!ping" and not message.author.bot:
            await message.channel.send(f"pong to {message.author.name}")

    previous = apply_endpoints(info["rest api"], info["gateway"])
    task = asyncio.create_task(client.start(info["bot token"]))
    try:
        await asyncio.wait_for(client.wait_until_ready(), timeout=15)
        control = info["control api"]
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{control}/events", params={"kind": "ready"}) as response:
                after = (await response.json())["next_after"]
            body = {"author": "bob", "channel": "general", "content": "!ping"}
            async with http.post(f"{control}/messages", json=body) as response:
                assert response.status == 200
                sent = await response.json()
            params = {"after": str(after), "kind": "message_create", "wait": "10"}
            async with http.get(f"{control}/events", params=params) as response:
                [event] = (await response.json())["events"]
        assert event["message"]["content"] == "pong to bob"
        assert event["message"]["channel_id"] == sent["channel_id"]
    finally:
        await client.close()
        await asyncio.wait_for(task, timeout=10)
        restore_endpoints(previous)

    process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(process.wait(), timeout=10) == 0
    assert process.stderr is not None
    log = (await process.stderr.read()).decode()
    assert "sandbox stopped" in log and "Traceback" not in log


def test_a_bad_world_file_exits_78_with_the_reason(tmp_path: Path) -> None:
    (tmp_path / "world.json").write_text('{"users": [], "guilds": [}', encoding="utf-8")
    for world, says in (("world.json", "is not valid JSON"), ("missing.json", "not found")):
        result = subprocess.run(
            [sys.executable, "-m", "tui_bot", "sandbox", "serve", "--port", "0", "--world", world],
            cwd=tmp_path,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode == 78
        assert says in result.stderr and world in result.stderr and "Traceback" not in result.stderr
        assert result.stdout == ""


def test_a_world_file_is_served(tmp_path: Path) -> None:
    from tui_bot.sandbox.serve import load_world_file

    demo = Path(__file__).parent.parent / "tui_bot" / "sandbox" / "demo_world.json"
    world = load_world_file(demo)
    assert [c.name for g in world.guilds.values() for c in g.channels.values()] == ["general", "bot-commands"]
    (tmp_path / "w.json").write_text('{"application": {}, "users": [], "guilds": []}', encoding="utf-8")
    with pytest.raises(ValueError, match="lacks the key 'bot'"):
        load_world_file(tmp_path / "w.json")
