"""`tui-bot --headless` with Discord out of reach: one clear line and exit code 1, no traceback.

Real processes against a closed local port, a host name that cannot resolve, and a server that does not
speak TLS; the token must appear nowhere in what they print.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from tui_bot.sandbox import Sandbox, demo_world

TOKEN = "MTExMTExMTExMTExMTExMTExMQ.AbCdEf.unreachableunreachableunreach12"
CHECK = "Check the network connection, any proxy, and discord.api_base in config.json"


def closed_port() -> int:
    """A local port nothing listens on (bound once by us, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_headless(folder: Path, api_base: str) -> tuple[int, str]:
    """Run ``python -m tui_bot --headless`` in ``folder`` with config.json's discord.api_base set."""
    (folder / ".env").write_text(f"DISCORD_TOKEN={TOKEN}\nBOT_OWNER_ID=42\n")
    (folder / "config.json").write_text(json.dumps({"discord": {"api_base": api_base}}))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "BOT_OWNER"))}
    done = subprocess.run(
        [sys.executable, "-m", "tui_bot", "--headless"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.returncode, done.stdout + done.stderr


def assert_one_clear_line(code: int, output: str, expected: str) -> None:
    assert code == 1, output
    lines = [line for line in output.splitlines() if "Cannot reach Discord" in line]
    assert len(lines) == 1, output
    assert expected in lines[0] and CHECK in lines[0]
    assert "Traceback" not in output
    assert TOKEN not in output
    assert "CRITICAL" in lines[0] and lines[0] == output.rstrip().splitlines()[-1]  # it ends the run


def test_a_closed_port_is_one_line_naming_host_and_port(tmp_path: Path) -> None:
    port = closed_port()
    code, output = run_headless(tmp_path, f"http://127.0.0.1:{port}/api/v10")
    assert_one_clear_line(code, output, f"connecting to 127.0.0.1:{port} failed (connection refused")


def test_a_host_name_that_does_not_resolve_is_one_line(tmp_path: Path) -> None:
    code, output = run_headless(tmp_path, "http://no-such-host.invalid/api/v10")
    assert_one_clear_line(code, output, "the host name no-such-host.invalid does not resolve (DNS)")


async def test_a_server_that_does_not_speak_tls_is_one_line(tmp_path: Path) -> None:
    async with Sandbox(demo_world()) as server:  # plain HTTP, asked for with https://
        api_base = server.api_base.replace("http://", "https://")
        code, output = await asyncio.to_thread(run_headless, tmp_path, api_base)
    host = api_base.split("/")[2]
    assert_one_clear_line(code, output, f"the TLS connection to {host} failed")
