""".env: required secrets, owner ids, endpoints; the token never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from tui_bot.config.env import EnvError, read_env

TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4OQ.GhIjKl.abcdefghijklmnopqrstuvwxyz0123456789AB"


def write_env(tmp_path: Path, text: str) -> Path:
    path = tmp_path / ".env"
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_token_owners_and_endpoints(tmp_path: Path) -> None:
    env = write_env(
        tmp_path,
        f"DISCORD_TOKEN={TOKEN}\nBOT_OWNER_ID=111, 222\n"
        "DISCORD_API_BASE=http://127.0.0.1:8080/api/v10/\nDISCORD_GATEWAY_URL=ws://127.0.0.1:8080/gateway\n",
    )
    secrets = read_env(env, require_secrets=True, environ={})
    assert secrets.token == TOKEN
    assert secrets.owner_ids == (111, 222)
    assert secrets.api_base == "http://127.0.0.1:8080/api/v10"
    assert secrets.gateway_url == "ws://127.0.0.1:8080/gateway"
    assert TOKEN not in repr(secrets) and TOKEN not in str(secrets)


def test_environment_variables_override_the_file(tmp_path: Path) -> None:
    env = write_env(tmp_path, f"DISCORD_TOKEN={TOKEN}\nBOT_OWNER_ID=111\n")
    secrets = read_env(env, require_secrets=True, environ={"BOT_OWNER_ID": "333"})
    assert secrets.owner_ids == (333,)


@pytest.mark.parametrize(
    ("content", "first_line"),
    [
        ("BOT_OWNER_ID=111\n", "DISCORD_TOKEN not found in .env!"),
        (f"DISCORD_TOKEN={TOKEN}\n", "BOT_OWNER_ID not found in .env!"),
        (f"DISCORD_TOKEN={TOKEN}\nBOT_OWNER_ID=\n", "BOT_OWNER_ID not found in .env!"),
    ],
)
def test_missing_secret_names_it_and_says_how_to_fix(tmp_path: Path, content: str, first_line: str) -> None:
    env = write_env(tmp_path, content)
    with pytest.raises(EnvError) as caught:
        read_env(env, require_secrets=True, environ={})
    lines = str(caught.value).splitlines()
    assert lines[0] == first_line
    assert "Add a line" in lines[1]
    assert TOKEN not in str(caught.value)


def test_missing_file_is_the_same_as_missing_keys(tmp_path: Path) -> None:
    with pytest.raises(EnvError, match=r"DISCORD_TOKEN not found in \.env!"):
        read_env(tmp_path / "nope.env", require_secrets=True, environ={})


def test_sandbox_mode_needs_no_secrets(tmp_path: Path) -> None:
    secrets = read_env(tmp_path / "nope.env", require_secrets=False, environ={})
    assert secrets.token is None and secrets.owner_ids == ()


@pytest.mark.parametrize("owner", ["abc", "123abc", "12 34", "0", "-5"])
def test_non_numeric_owner_id_is_a_clear_error(tmp_path: Path, owner: str) -> None:
    env = write_env(tmp_path, f"DISCORD_TOKEN={TOKEN}\nBOT_OWNER_ID={owner}\n")
    with pytest.raises(EnvError) as caught:
        read_env(env, require_secrets=True, environ={})
    message = str(caught.value)
    assert "BOT_OWNER_ID must be Discord user ids" in message
    assert "e.g. BOT_OWNER_ID=123456789012345678" in message
