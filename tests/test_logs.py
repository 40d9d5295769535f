"""Log files: permanent (rotating) and current run, level from config, redaction, old-log clean-up."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tui_bot.config.model import LoggingConfig
from tui_bot.logs.redaction import REDACTED, SecretRedactor
from tui_bot.logs.setup import configure_logging, remove_old_logs

TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4OQ.GhIjKl.abcdefghijklmnopqrstuvwxyz0123456789AB"
OTHER_TOKEN = "OTg3NjU0MzIxMDk4NzY1NDMyMQ.XyZaBc.ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210"


@pytest.fixture
def clean_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_permanent_and_current_run_logs(tmp_path: Path, clean_root: None) -> None:
    directory = tmp_path / "botlogs"
    (directory).mkdir()
    (directory / "current_run.log").write_text("line from the previous run\n")
    (directory / "permanent.log").write_text("kept from the previous run\n")

    session = configure_logging(LoggingConfig(level="INFO", directory=str(directory)))
    logging.getLogger("tui_bot.test").info("hello from this run")
    logging.getLogger("tui_bot.test").debug("too detailed for INFO")
    session.close()

    current = (directory / "current_run.log").read_text()
    permanent = (directory / "permanent.log").read_text()
    assert "hello from this run" in current and "previous run" not in current
    assert "kept from the previous run" in permanent and "hello from this run" in permanent
    assert "too detailed" not in permanent


def test_level_comes_from_config(tmp_path: Path, clean_root: None) -> None:
    session = configure_logging(LoggingConfig(level="DEBUG", directory=str(tmp_path)))
    logging.getLogger("tui_bot.test").debug("debug line visible")
    session.close()
    assert "debug line visible" in (tmp_path / "current_run.log").read_text()


def test_permanent_log_rotates_at_max_bytes_keeping_backup_count(tmp_path: Path, clean_root: None) -> None:
    session = configure_logging(LoggingConfig(max_bytes=2048, backup_count=2, directory=str(tmp_path)))
    for i in range(200):
        logging.getLogger("tui_bot.test").info("line %04d %s", i, "x" * 60)
    session.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["current_run.log", "permanent.log", "permanent.log.1", "permanent.log.2"]
    for name in ("permanent.log", "permanent.log.1", "permanent.log.2"):
        assert (tmp_path / name).stat().st_size <= 2048
    # The newest lines are in permanent.log, older ones in .1; the oldest were dropped.
    assert "line 0199" in (tmp_path / "permanent.log").read_text()
    assert "line 0000" not in "".join((tmp_path / n).read_text() for n in names if n.startswith("permanent"))
    # current_run.log is never rotated: it holds the whole run.
    assert "line 0000" in (tmp_path / "current_run.log").read_text()


def test_token_is_redacted_in_messages_arguments_and_tracebacks(
    tmp_path: Path, clean_root: None, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    session = configure_logging(LoggingConfig(directory=str(tmp_path)), secrets=[TOKEN], stream=sys.stdout)
    log = logging.getLogger("tui_bot.test")
    log.info("token is " + TOKEN)
    log.info("token as argument: %s", TOKEN)
    log.warning("someone pasted %s", OTHER_TOKEN)
    try:
        raise RuntimeError(f"login failed with {TOKEN}")
    except RuntimeError:
        log.exception("boom")
    session.close()

    outputs = {
        "stdout": capsys.readouterr().out,
        "current_run.log": (tmp_path / "current_run.log").read_text(),
        "permanent.log": (tmp_path / "permanent.log").read_text(),
    }
    for where, text in outputs.items():
        assert TOKEN not in text, where
        assert OTHER_TOKEN not in text, where
        assert text.count(REDACTED) == 4, where  # message, argument, pasted token, exception
        assert "RuntimeError: login failed with [REDACTED]" in text, where
        assert "Traceback (most recent call last)" in text, where


def test_redactor_ignores_short_secrets() -> None:
    redactor = SecretRedactor(["abc", None])  # type: ignore[list-item]
    assert redactor.redact("abc def") == "abc def"


def test_old_logs_are_removed_but_live_files_kept(tmp_path: Path) -> None:
    now = time.time()
    old = now - 31 * 86400
    for name in ("permanent.log", "current_run.log", "permanent.log.1", "permanent.log.2"):
        (tmp_path / name).write_text("x")
    (tmp_path / "notes.txt").write_text("not a log")
    for name in ("permanent.log", "current_run.log", "permanent.log.2", "notes.txt"):
        os.utime(tmp_path / name, (old, old))

    removed = remove_old_logs(tmp_path, now=now)

    assert [p.name for p in removed] == ["permanent.log.2"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "current_run.log",
        "notes.txt",
        "permanent.log",
        "permanent.log.1",
    ]
