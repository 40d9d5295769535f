"""SIGKILL while config.json is being rewritten leaves the old or the new file, never a torn one."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tui_bot.config import ConfigStore
from tui_bot.config.store import render_config
from tui_bot.config.validation import parse_config

HELPER = Path(__file__).parent / "helpers" / "config_rewriter.py"


def assert_whole_config(path: Path) -> dict:
    data = path.read_bytes()
    raw = json.loads(data)  # a torn file fails here
    parse_config(raw)  # and a half-merged one here
    assert data == render_config(raw)  # byte-identical to a complete save
    return raw


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_sigkill_during_rewrites_never_tears_config(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    ConfigStore.load(path)
    rng = random.Random(1234)
    kills = 0
    for _ in range(8):
        proc = subprocess.Popen([sys.executable, str(HELPER), str(path)], stdout=subprocess.PIPE, text=True)
        try:
            # Let it complete a random number of saves, then kill it at once, wherever it is.
            wanted = rng.randint(1, 4)
            for _ in range(wanted):
                assert proc.stdout is not None and proc.stdout.readline(), "the rewriter stopped early"
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            proc.kill()
            proc.wait(timeout=10)
            if proc.stdout:
                proc.stdout.close()
        kills += proc.returncode == -signal.SIGKILL
        raw = assert_whole_config(path)
        assert raw["status"]["text"].startswith(("version", "{guilds}"))
        assert_whole_config(tmp_path / "config.json.bak")
        leftovers = [p.name for p in tmp_path.iterdir() if p.name not in ("config.json", "config.json.bak")]
        # A kill between mkstemp and os.replace may leave one hidden temporary file; never a damaged config.
        assert all(name.startswith(".config.json") and name.endswith(".tmp") for name in leftovers)
    assert kills == 8
