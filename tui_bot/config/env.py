"""The secrets and endpoints that come from ``.env`` (or the process environment).

Variables already set in the environment win over the file, as with ``load_dotenv``: a systemd unit's
``Environment=`` or a container's variables override a stale .env. ``os.environ`` is never modified,
so the token does not leak into child processes.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import dotenv_values

from tui_bot.storage.urls import database_url_problem, redact_url

ENV_KEYS = (
    "DISCORD_TOKEN",
    "BOT_OWNER_ID",
    "DISCORD_API_BASE",
    "DISCORD_GATEWAY_URL",
    "DATABASE_URL",
    "ADMIN_TOKEN",
)

# Names of variables whose values are secrets, wherever they come from (.env or the environment):
# DISCORD_TOKEN, an ADMIN_TOKEN, DB_PASSWORD, API_KEY, CLIENT_SECRET...
SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|PRIVATE_?KEY|CREDENTIAL", re.IGNORECASE)
# Environment variables that may hold a URL with a password in it (DATABASE_URL, REDIS_URI, PG_DSN).
URL_NAME = re.compile(r"(URL|URI|DSN)$", re.IGNORECASE)


class EnvError(Exception):
    """A required variable is missing or malformed. ``str(error)`` says how to fix it."""


@dataclass(frozen=True)
class Secrets:
    """What .env provides. ``repr`` never shows the token."""

    token: str | None = field(default=None, repr=False)
    owner_ids: tuple[int, ...] = ()
    api_base: str | None = None
    gateway_url: str | None = None
    # DATABASE_URL: PostgreSQL instead of the SQLite file; wins over config.json's database.url. It may
    # hold a password, so repr shows only whether it is set.
    database_url: str | None = field(default=None, repr=False)
    # ADMIN_TOKEN: what a `tui-bot attach tcp://...` client must present to the TCP admin endpoint
    # (admin.tcp_port); never shown.
    admin_token: str | None = field(default=None, repr=False)
    # Other secret values found in .env or the environment (see :func:`secret_values`), for redaction.
    other_secrets: tuple[str, ...] = field(default=(), repr=False, compare=False)

    def values_to_redact(self) -> tuple[str, ...]:
        """Every secret value the framework knows: the token and the others, for the redactor."""
        return tuple(value for value in (self.token, *self.other_secrets) if value)

    def __repr__(self) -> str:
        shown = "set" if self.token else "missing"
        database = "set" if self.database_url else "unset"
        return (
            f"Secrets(token=<{shown}>, owner_ids={self.owner_ids!r}, "
            f"api_base={self.api_base!r}, gateway_url={self.gateway_url!r}, database_url=<{database}>)"
        )


def _url_password(value: str) -> str | None:
    try:
        return urlsplit(value).password if "://" in value else None
    except ValueError:  # a malformed URL (bad port): not ours to judge here
        return None


def secret_values(variables: Mapping[str, str]) -> tuple[str, ...]:
    """The secret values among ``variables``: those whose name says secret (``*TOKEN*``, ``*PASSWORD*``,
    ``*SECRET*``, ``*API_KEY*``...) and the password of any URL (``DATABASE_URL=postgresql://u:pw@h/db``)."""
    found: list[str] = []
    for name, value in variables.items():
        value = (value or "").strip()
        if not value:
            continue
        if SECRET_NAME.search(name):
            found.append(value)
        password = _url_password(value)
        if password:
            found.append(password)
    return tuple(dict.fromkeys(found))


def _missing(name: str, env_file: Path, how: str) -> EnvError:
    return EnvError(f"{name} not found in .env!\n{how}\n(looked in {env_file} and the environment)")


def parse_owner_ids(text: str) -> tuple[int, ...]:
    """``"123, 456"`` -> ``(123, 456)``; raises EnvError naming the part that is not an id."""
    ids: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if not part.isdigit() or int(part) == 0:
            raise EnvError(
                f"BOT_OWNER_ID must be Discord user ids separated by commas, but {part!r} is not one.\n"
                "Fix the line in .env, e.g. BOT_OWNER_ID=123456789012345678 or BOT_OWNER_ID=111,222 "
                "(Discord: Settings > Advanced > Developer Mode, then right-click your name > Copy User ID)."
            )
        ids.append(int(part))
    return tuple(ids)


def read_env(
    env_file: Path | str,
    *,
    require_secrets: bool,
    environ: Mapping[str, str] | None = None,
) -> Secrets:
    """Read ``env_file`` and the environment. With ``require_secrets`` (not in sandbox mode) the
    token and the owner id must be present."""
    env_file = Path(env_file)
    values: dict[str, str] = {}
    if env_file.is_file():
        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    source = os.environ if environ is None else environ
    values.update({key: source[key] for key in ENV_KEYS if source.get(key)})
    # For the redactor: secrets from the file and from the environment (DATABASE_URL set by systemd...).
    from_environment = {k: v for k, v in source.items() if SECRET_NAME.search(k) or URL_NAME.search(k)}
    others = secret_values({**from_environment, **values})

    token = (values.get("DISCORD_TOKEN") or "").strip() or None
    owner_text = (values.get("BOT_OWNER_ID") or "").strip()

    if require_secrets and not token:
        raise _missing(
            "DISCORD_TOKEN",
            env_file,
            "Add a line DISCORD_TOKEN=your_bot_token to .env (Discord Developer Portal > your application > "
            "Bot > Reset Token; no quotes needed), "
            "or run `tui-bot --sandbox` to try the bot without a token.",
        )
    if require_secrets and not owner_text:
        raise _missing(
            "BOT_OWNER_ID",
            env_file,
            "Add a line BOT_OWNER_ID=your_discord_user_id to .env, without spaces (Discord: Settings > "
            "Advanced > Developer Mode, then right-click your name > Copy User ID). Several owners: 111,222.",
        )

    database_url = (values.get("DATABASE_URL") or "").strip() or None
    if database_url is not None:
        problem = database_url_problem(database_url)
        if problem is not None:
            raise EnvError(
                f"DATABASE_URL ({redact_url(database_url)}) must be {problem}.\n"
                f"Fix or remove the line in .env (looked in {env_file} and the environment); without it the "
                "bot uses the SQLite file of config.json's database.path."
            )

    return Secrets(
        token=token,
        owner_ids=parse_owner_ids(owner_text),
        api_base=(values.get("DISCORD_API_BASE") or "").strip().rstrip("/") or None,
        gateway_url=(values.get("DISCORD_GATEWAY_URL") or "").strip().rstrip("/") or None,
        database_url=database_url,
        admin_token=(values.get("ADMIN_TOKEN") or "").strip() or None,
        other_secrets=tuple(value for value in others if value != token),
    )
