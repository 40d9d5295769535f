"""The tui-bot command line, run as a real process in a fresh working directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tui_bot import __version__

TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4OQ.GhIjKl.abcdefghijklmnopqrstuvwxyz0123456789AB"


def run_cli(cwd: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISCORD_TOKEN", "BOT_OWNER_ID", "DATABASE_URL")}
    return subprocess.run(
        [sys.executable, "-m", "tui_bot", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_version_and_help(tmp_path: Path) -> None:
    version = run_cli(tmp_path, "--version")
    assert version.returncode == 0
    assert version.stdout.strip() == f"tui-bot {__version__}"
    helptext = run_cli(tmp_path, "--help").stdout
    for option in (
        "--sandbox",
        "--headless",
        "--config PATH",
        "--env-file PATH",
        "--check-config",
        "--version",
    ):
        assert option in helptext
    assert list(tmp_path.iterdir()) == []  # neither writes anything


def test_missing_token_stops_start_up_with_the_fix(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "--headless")
    assert result.returncode == 78
    assert "DISCORD_TOKEN not found in .env!" in result.stderr
    assert "Add a line DISCORD_TOKEN=" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_owner_and_bad_owner(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"DISCORD_TOKEN={TOKEN}\n")
    result = run_cli(tmp_path, "--headless")
    assert result.returncode == 78
    assert "BOT_OWNER_ID not found in .env!" in result.stderr

    (tmp_path / ".env").write_text(f"DISCORD_TOKEN={TOKEN}\nBOT_OWNER_ID=me\n")
    result = run_cli(tmp_path, "--headless")
    assert result.returncode == 78
    assert "'me' is not one" in result.stderr
    assert "Traceback" not in result.stderr
    assert TOKEN not in result.stderr + result.stdout


def test_check_config_reports_and_exits_0_or_78(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"DISCORD_TOKEN={TOKEN}\nBOT_OWNER_ID=42\n")
    fresh = run_cli(tmp_path, "--check-config")
    assert fresh.returncode == 0, fresh.stderr
    assert "will be generated" in fresh.stdout
    assert not (tmp_path / "config.json").exists()  # checking writes nothing

    (tmp_path / "config.json").write_text(json.dumps({"prefix": "?", "colour": "red"}))
    ok = run_cli(tmp_path, "--check-config")
    assert ok.returncode == 0
    assert "config.json: valid" in ok.stdout
    assert "unknown key" in ok.stdout and "colour" in ok.stdout
    assert "DISCORD_TOKEN set" in ok.stdout and "BOT_OWNER_ID 42" in ok.stdout
    assert TOKEN not in ok.stdout

    (tmp_path / "config.json").write_text('{"prefix": "?", "status": {"type": "dancing"}}')
    bad = run_cli(tmp_path, "--check-config")
    assert bad.returncode == 78
    assert "'status.type'" in bad.stderr and '"dancing"' in bad.stderr


def test_check_config_says_which_database_a_run_opens_without_its_password(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"DISCORD_TOKEN={TOKEN}\nBOT_OWNER_ID=42\n")
    sqlite = run_cli(tmp_path, "--check-config")
    assert sqlite.returncode == 0
    assert (
        "database: SQLite at ./data/bot.db (set DATABASE_URL or database.url for PostgreSQL)" in sqlite.stdout
    )

    (tmp_path / "config.json").write_text(
        json.dumps({"database": {"url": "postgresql://bot:hunter22@db/bot"}})
    )
    configured = run_cli(tmp_path, "--check-config")
    assert "database: PostgreSQL at postgresql://bot@db/bot (config.json's database.url)" in configured.stdout
    # DATABASE_URL in .env wins, as it does when the bot runs.
    with (tmp_path / ".env").open("a") as env:
        env.write("DATABASE_URL=postgresql://ops:swordfish9@10.0.0.5:5432/prod\n")
    overridden = run_cli(tmp_path, "--check-config")
    assert overridden.returncode == 0
    assert (
        "database: PostgreSQL at postgresql://ops@10.0.0.5:5432/prod (DATABASE_URL, which wins over "
        "config.json's database.url)"
    ) in overridden.stdout
    for result in (configured, overridden):
        assert "hunter22" not in result.stdout + result.stderr
        assert "swordfish9" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ('{"prefix": "!" "owner_ids": []}', "line 1, column 16"),
        ('{"cooldowns": {"default_rate": "three"}}', "'cooldowns.default_rate'"),
        ('{"logging": {"level": "CHATTY"}}', "'logging.level'"),
    ],
)
def test_bad_config_exits_78_and_leaves_the_file_byte_for_byte(
    tmp_path: Path, content: str, fragment: str
) -> None:
    (tmp_path / "config.json").write_text(content)
    result = run_cli(tmp_path, "--headless", "--sandbox")
    assert result.returncode == 78
    assert fragment in result.stderr
    assert (tmp_path / "config.json").read_text() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json"]


def test_config_and_env_paths_are_configurable(tmp_path: Path) -> None:
    (tmp_path / "settings").mkdir()
    (tmp_path / "settings" / "bot.env").write_text(f"DISCORD_TOKEN={TOKEN}\nBOT_OWNER_ID=7\n")
    (tmp_path / "settings" / "bot.json").write_text('{"prefix": "$"}')
    result = run_cli(
        tmp_path, "--check-config", "--config", "settings/bot.json", "--env-file", "settings/bot.env"
    )
    assert result.returncode == 0, result.stderr
    assert "settings/bot.json: valid" in result.stdout
    assert "BOT_OWNER_ID 7" in result.stdout
