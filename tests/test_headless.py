"""`tui-bot --headless --sandbox` as a real process: starts, connects, stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest


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
