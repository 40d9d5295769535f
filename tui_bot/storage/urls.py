"""PostgreSQL connection URLs: which ones are accepted, and how they are shown without their password.

A URL such as ``postgresql://bot:s3cret@db.example:5432/bot`` carries a password, so it is never shown as
written: :func:`redact_url` replaces the password with ``***`` (for messages about the database) and
:func:`url_without_password` leaves it out (for a command line the operator can copy, e.g. ``pg_dump``).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

__all__ = [
    "POSTGRES_SCHEMES",
    "database_url_problem",
    "redact_url",
    "url_password",
    "url_without_password",
]

POSTGRES_SCHEMES = ("postgresql://", "postgres://")
REDACTED_PASSWORD = "***"
# A URL is a line of config, not a document: anything longer is a mistake (a pasted file).
MAX_URL_LENGTH = 4096

# "scheme://user:password@": the password is whatever lies between the first ":" after the user and the
# last "@" of the authority. Matched by hand rather than by urlsplit, which refuses some malformed URLs
# (a bad port) that must still be shown without their password.
_AUTHORITY = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<authority>[^/?#]*)")


def _split_userinfo(url: str) -> tuple[str, str, str | None, str] | None:
    """``(scheme://, user, password or None, rest after the "@")`` or None when there is no userinfo."""
    match = _AUTHORITY.match(url)
    if match is None:
        return None
    authority = match["authority"]
    if "@" not in authority:
        return None
    userinfo, _, hosts = authority.rpartition("@")
    user, colon, password = userinfo.partition(":")
    rest = hosts + url[match.end() :]
    return match["scheme"], user, password if colon else None, rest


def url_password(url: str) -> str | None:
    """The password written in ``url`` (None when it has none)."""
    parts = _split_userinfo(url)
    return parts[2] if parts is not None and parts[2] else None


def redact_url(url: str) -> str:
    """``url`` with its password replaced by ``***`` (the password of a ``?password=`` parameter too)."""
    parts = _split_userinfo(url)
    if parts is not None and parts[2]:
        scheme, user, _password, rest = parts
        url = f"{scheme}{user}:{REDACTED_PASSWORD}@{rest}"
    elif _AUTHORITY.match(url) is None and "@" in url:
        # No scheme ("user:password@host/db"): whatever precedes the "@" may be the password.
        url = f"{REDACTED_PASSWORD}@{url.rpartition('@')[2]}"
    return re.sub(r"([?&]password=)[^&#]*", rf"\g<1>{REDACTED_PASSWORD}", url, flags=re.IGNORECASE)


def url_without_password(url: str) -> str:
    """``url`` with no password at all: ``postgresql://bot@db.example:5432/bot``."""
    parts = _split_userinfo(url)
    if parts is not None and parts[2] is not None:
        scheme, user, _password, rest = parts
        url = f"{scheme}{user}@{rest}"
    return re.sub(r"[?&]password=[^&#]*", "", url, flags=re.IGNORECASE)


def database_url_problem(url: str) -> str | None:
    """Why ``url`` is not a PostgreSQL URL tui-bot can use, or None when it is.

    The message never contains the password (it shows the URL redacted where it shows it at all).
    """
    if not url.startswith(POSTGRES_SCHEMES):
        scheme = url.partition("://")[0] if "://" in url else ""
        found = f"it starts with {scheme}://" if scheme else "it has no scheme"
        return (
            f"a PostgreSQL URL starting with postgresql:// or postgres:// ({found}), "
            "e.g. postgresql://bot:password@127.0.0.1:5432/bot"
        )
    if len(url) > MAX_URL_LENGTH:
        return f"a PostgreSQL URL of at most {MAX_URL_LENGTH} characters"
    if any(ord(char) < 32 or ord(char) == 127 for char in url):
        return "a PostgreSQL URL without control characters (a line break pasted with it?)"
    try:
        parts = urlsplit(url)
        if "," not in parts.netloc:  # several hosts (h1:5432,h2:5432) have no single port to check
            parts.port  # noqa: B018 - raises ValueError on a port that is not a number in range
    except ValueError as error:
        return f"a valid PostgreSQL URL ({error})"
    if not parts.hostname and "host=" not in parts.query:
        return "a PostgreSQL URL naming a host, e.g. postgresql://bot:password@127.0.0.1:5432/bot"
    return None
