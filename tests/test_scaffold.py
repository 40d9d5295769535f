"""``tui-bot init``, ``tui-bot invite`` and the starter extensions the package carries (issue 12)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import discord
import pytest

from tui_bot import exit_codes
from tui_bot.cli import main
from tui_bot.config import EnvError, read_env
from tui_bot.sandbox import Sandbox, demo_world
from tui_bot.scaffold import STARTER_EXTENSIONS, client_id_from_token

REPO = Path(__file__).resolve().parent.parent
STARTERS = {"example", "fun", "moderation"}


def test_the_package_carries_the_starter_extensions_and_the_repo_has_one_copy() -> None:
    assert {path.stem for path in STARTER_EXTENSIONS.glob("*.py")} == STARTERS
    assert STARTER_EXTENSIONS.is_relative_to(REPO / "tui_bot")
    # Shipped in the wheel: package-data lists them (they are templates, not modules of the package).
    package_data = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    patterns = package_data["package-data"]["tui_bot"]
    for path in STARTER_EXTENSIONS.glob("*.py"):
        relative = path.relative_to(REPO / "tui_bot")
        assert any(relative.match(pattern) for pattern in patterns), relative
    # One source of truth: the clone's extensions/ is what `tui-bot --sandbox` creates there, git-ignored.
    assert "/extensions/" in (REPO / ".gitignore").read_text(encoding="utf-8").splitlines()


def test_init_creates_a_ready_bot_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in ("DISCORD_TOKEN", "BOT_OWNER_ID"):
        monkeypatch.delenv(key, raising=False)
    folder = tmp_path / "demo"
    assert main(["init", str(folder)]) == exit_codes.OK
    for name in STARTERS:
        copied = folder / "extensions" / f"{name}.py"
        assert copied.read_bytes() == (STARTER_EXTENSIONS / f"{name}.py").read_bytes()
    env_text = (folder / ".env").read_text(encoding="utf-8")
    assert "DISCORD_TOKEN=\n" in env_text and "BOT_OWNER_ID=\n" in env_text
    assert "discord.com/developers/applications" in env_text and "Copy User ID" in env_text
    # The template is a valid .env for --sandbox, and says what is missing to go live.
    assert read_env(folder / ".env", require_secrets=False).token is None
    with pytest.raises(EnvError, match="DISCORD_TOKEN"):
        read_env(folder / ".env", require_secrets=True)
    out = capsys.readouterr().out
    assert f"cd {folder}" in out and "tui-bot --sandbox" in out and "tui-bot invite" in out


def test_init_in_the_current_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["init"]) == exit_codes.OK
    assert {path.stem for path in (tmp_path / "extensions").glob("*.py")} == STARTERS
    assert (tmp_path / ".env").is_file()
    assert "cd " not in capsys.readouterr().out


def test_init_refuses_to_overwrite_and_names_the_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / ".env").write_text("DISCORD_TOKEN=keep-me\n", encoding="utf-8")
    assert main(["init", str(tmp_path)]) == exit_codes.CRITICAL
    error = capsys.readouterr().err
    assert str(tmp_path / ".env") in error and "not overwriting" in error
    assert (tmp_path / ".env").read_text(encoding="utf-8") == "DISCORD_TOKEN=keep-me\n"
    assert not (tmp_path / "extensions").exists()  # nothing written at all

    (tmp_path / ".env").unlink()
    (tmp_path / "extensions").mkdir()
    (tmp_path / "extensions" / "fun.py").write_text("# mine\n", encoding="utf-8")
    assert main(["init", str(tmp_path)]) == exit_codes.CRITICAL
    error = capsys.readouterr().err
    assert str(tmp_path / "extensions" / "fun.py") in error and "example.py" not in error
    assert (tmp_path / "extensions" / "fun.py").read_text(encoding="utf-8") == "# mine\n"
    assert not (tmp_path / ".env").exists() and not (tmp_path / "extensions" / "example.py").exists()


def test_the_token_carries_the_application_id() -> None:
    # The assumption `invite` rests on, checked against the sandbox, whose tokens are built as Discord's are.
    world = demo_world()
    assert client_id_from_token(Sandbox(world).token) == world.application.id == world.bot_user.id
    assert client_id_from_token("not a token") is None
    assert client_id_from_token("") is None


def _invite(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[dict[str, list[str]], str]:
    assert main(["invite", *args]) == exit_codes.OK
    out = capsys.readouterr().out
    url = next(word for word in out.split() if word.startswith("https://"))
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "discord.com", "/oauth2/authorize")
    return parse_qs(parts.query), out


REQUIRED = {
    "view_channel",
    "send_messages",
    "embed_links",
    "read_message_history",
    "add_reactions",
    "use_application_commands",
}
MODERATION = {"kick_members", "ban_members", "manage_messages"}


def test_invite_link_from_the_token_in_env(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for key in ("DISCORD_TOKEN", "BOT_OWNER_ID"):
        monkeypatch.delenv(key, raising=False)
    world = demo_world()
    token = Sandbox(world).token
    assert main(["init"]) == exit_codes.OK
    (tmp_path / ".env").write_text(f"DISCORD_TOKEN={token}\n", encoding="utf-8")
    capsys.readouterr()

    query, out = _invite(capsys)
    assert query["client_id"] == [str(world.application.id)]
    assert query["scope"] == ["bot applications.commands"]  # "+" in the URL
    permissions = discord.Permissions(int(query["permissions"][0]))
    granted = {name for name, value in permissions if value}
    expected = REQUIRED | MODERATION
    assert all(getattr(permissions, name) for name in expected)
    assert len(granted) == len(expected)  # nothing more (view_channel is read_messages under another name)
    assert "View Channels" in out and "Ban Members" in out and str(permissions.value) in out
    assert token not in out and token.split(".")[-1] not in out

    # Without the moderation extension, its permissions are not asked for.
    (tmp_path / "extensions" / "moderation.py").unlink()
    query, out = _invite(capsys, "--client-id", "42")
    assert query["client_id"] == ["42"]
    permissions = discord.Permissions(int(query["permissions"][0]))
    assert all(getattr(permissions, name) for name in REQUIRED)
    assert not any(getattr(permissions, name) for name in MODERATION)
    assert "moderation extension is off" in out


def test_invite_without_a_token_says_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for key in ("DISCORD_TOKEN", "BOT_OWNER_ID"):
        monkeypatch.delenv(key, raising=False)
    assert main(["init"]) == exit_codes.OK
    capsys.readouterr()
    assert main(["invite"]) == exit_codes.CONFIG_ERROR
    assert "--client-id" in capsys.readouterr().err
    (tmp_path / ".env").write_text("DISCORD_TOKEN=garbage!!.x.y\n", encoding="utf-8")
    assert main(["invite"]) == exit_codes.CONFIG_ERROR
    error = capsys.readouterr().err
    assert "does not look like a bot token" in error and "garbage" not in error
