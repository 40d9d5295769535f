"""`tui-bot --headless --sandbox` as a real process: starts, connects, stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tui_bot.sandbox import Sandbox, demo_world


def wait_for_line(stream, needle: str, timeout: float, seen: list[str]) -> bool:  # type: ignore[no-untyped-def]
    """Read lines from ``stream`` (in a thread, so a silent process cannot hang the test)."""
    found = threading.Event()

    def reader() -> None:
        for line in stream:
            seen.append(line)
            if needle in line:
                found.set()
                return

    threading.Thread(target=reader, daemon=True).start()
    return found.wait(timeout)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_headless_sandbox_run_connects_and_shuts_down_cleanly(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISCORD_TOKEN", "BOT_OWNER_ID")}
    proc = subprocess.Popen(
        # -X importtime lists every module the process imports, on stderr.
        [sys.executable, "-X", "importtime", "-m", "tui_bot", "--headless", "--sandbox"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stdout: list[str] = []
    try:
        assert wait_for_line(proc.stdout, "Connected as", 60, stdout), "".join(stdout)
        # In sandbox mode the slash commands are synced once ready, so /help works straight away.
        assert wait_for_line(proc.stdout, "Sandbox: synced global: ", 30, stdout), "".join(stdout)
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
        shutdown_seconds = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    assert proc.returncode == 0, "".join(stdout)
    assert shutdown_seconds < 20
    imported = [
        line.rsplit("|", 1)[-1].strip() for line in stderr.splitlines() if line.startswith("import time:")
    ]
    assert "discord" in imported and "aiosqlite" in imported
    assert not [name for name in imported if name.split(".")[0] == "textual"]

    # First run: config.json generated with the defaults; the paths are relative to the working directory.
    assert json.loads((tmp_path / "config.json").read_text())["prefix"] == "!"
    assert (tmp_path / "data" / "bot.db").is_file()
    assert len(list((tmp_path / "data").glob("bot.db.backup_*"))) == 1
    for log_name in ("permanent.log", "current_run.log"):
        text = (tmp_path / "botlogs" / log_name).read_text()
        assert "Connected as" in text and "Shutting down" in text


async def run_headless_until_connected(cwd: Path, *extra: str) -> tuple[int, str]:
    """Start ``tui-bot --headless`` (not sandbox mode), wait for the connection, SIGTERM it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "BOT_OWNER"))}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tui_bot",
        "--headless",
        *extra,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert proc.stdout is not None
    output = []
    try:
        async with asyncio.timeout(60):
            async for raw in proc.stdout:
                output.append(raw.decode())
                if "Connected as" in output[-1]:
                    proc.send_signal(signal.SIGTERM)
            await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return proc.returncode or 0, "".join(output)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
async def test_env_endpoints_point_discord_py_at_another_server(tmp_path: Path) -> None:
    # A Discord-compatible server that is not the built-in sandbox mode: the bot only knows its URLs.
    async with Sandbox(demo_world()) as server:
        (tmp_path / ".env").write_text(
            f"DISCORD_TOKEN={server.token}\nBOT_OWNER_ID=42\n"
            f"DISCORD_API_BASE={server.api_base}\nDISCORD_GATEWAY_URL={server.gateway_url}\n"
        )
        code, output = await run_headless_until_connected(tmp_path)
        assert code == 0, output
        assert f"Discord endpoints: REST {server.api_base}, gateway {server.gateway_url}" in output
        assert "Connected as tui-bot" in output
        assert server.token not in output
        assert server.token not in (tmp_path / "botlogs" / "permanent.log").read_text()
        assert any(path.endswith("/users/@me") for _, path, _ in server.requests)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
async def test_config_endpoints_are_used_when_env_has_none(tmp_path: Path) -> None:
    async with Sandbox(demo_world()) as server:
        (tmp_path / ".env").write_text(f"DISCORD_TOKEN={server.token}\nBOT_OWNER_ID=42\n")
        (tmp_path / "config.json").write_text(
            json.dumps({"discord": {"api_base": server.api_base, "gateway_url": server.gateway_url}})
        )
        code, output = await run_headless_until_connected(tmp_path)
        assert code == 0, output
        assert "Connected as tui-bot" in output


async def test_a_rejected_token_exits_78_with_the_fix_and_without_the_token(tmp_path: Path) -> None:
    async with Sandbox(demo_world()) as server:
        wrong = "MTExMTExMTExMTExMTExMTExMQ.AbCdEf.wrongwrongwrongwrongwrongwrong12"
        (tmp_path / ".env").write_text(
            f"DISCORD_TOKEN={wrong}\nBOT_OWNER_ID=42\n"
            f"DISCORD_API_BASE={server.api_base}\nDISCORD_GATEWAY_URL={server.gateway_url}\n"
        )
        code, output = await run_headless_until_connected(tmp_path)
    assert code == 78
    assert "Discord rejected the token (401 Unauthorized)" in output
    assert wrong not in output
    assert "Traceback" not in output


async def test_corrupt_database_stops_start_up_naming_file_and_backup(tmp_path: Path) -> None:
    # A first clean run leaves a good backup behind.
    code, output = await run_headless_until_connected(tmp_path, "--sandbox")
    assert code == 0, output
    backup = next((tmp_path / "data").glob("bot.db.backup_*"))
    garbage = b"this is not a database" * 100
    (tmp_path / "data" / "bot.db").write_bytes(garbage)

    code, output = await run_headless_until_connected(tmp_path, "--sandbox")
    assert code == 1
    assert "data/bot.db" in output and backup.name in output
    assert (tmp_path / "data" / "bot.db").read_bytes() == garbage
