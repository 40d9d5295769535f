"""The typed model of ``config.json``: its settings and their defaults.

The dataclasses below are the one source of the defaults. What a fresh config.json holds
(:data:`DEFAULT_CONFIG`, the short file operators know) and the optional keys understood when an
operator adds them (:data:`OPTIONAL_KEYS`) are derived from them: a field made with :func:`optional` is
understood but not written by default; every other field is written. :mod:`tui_bot.config.validation`
reads a file into this model (``parse_config``).
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from tui_bot.config.errors import ConfigErrors, ConfigValueError, show_key
from tui_bot.config.readers import validate_prefix

# Re-exported: ``from tui_bot.config.model import ConfigValueError, ConfigErrors, validate_prefix`` works.
__all__ = [
    "DEFAULT_CONFIG",
    "OPTIONAL_KEYS",
    "BotConfig",
    "ConfigErrors",
    "ConfigValueError",
    "default_config",
    "default_value",
    "known_keys",
    "optional",
    "unknown_keys",
    "validate_prefix",
]

T = TypeVar("T")

_OPTIONAL = "tui_bot.optional"  # field metadata: understood, not written to a fresh config.json
_FILE_KEY = "tui_bot.key"  # field metadata: the dotted key in config.json, when not the field's path


def optional(default: T, *, key: str | None = None) -> T:
    """A setting with ``default`` that a fresh config.json leaves out (operators add it when needed).

    ``key``: its dotted key in config.json when that is not the field's own path.
    """
    metadata: dict[str, object] = {_OPTIONAL: True}
    if key is not None:
        metadata[_FILE_KEY] = key
    return field(default=default, metadata=metadata)


STATUS_TYPES = ("playing", "watching", "listening", "competing")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# "minimal": only the bot's own member (and members in voice) stay cached; "all": every member.
MEMBER_CACHE_MODES = ("minimal", "all")


@dataclass(frozen=True)
class StatusConfig:
    """The bot's presence: an activity type and a text with {guilds}, {users}, {commands}."""

    type: str = "watching"
    text: str = "{guilds} servers"


@dataclass(frozen=True)
class DatabaseConfig:
    """Where the SQLite database lives and how many online backups to keep; or, with ``url`` (a
    ``postgresql://`` URL; ``DATABASE_URL`` in .env wins over it), the PostgreSQL database used instead.
    The URL may hold a password: ``repr`` and messages never show it."""

    path: str = "./data/bot.db"
    backup_keep: int = optional(10)
    url: str | None = field(default=None, repr=False, metadata={_OPTIONAL: True})


@dataclass(frozen=True)
class LoggingConfig:
    """Log level and rotation of ``permanent.log``."""

    level: str = "INFO"
    max_bytes: int = 10485760
    backup_count: int = 5
    directory: str = optional("./botlogs")


@dataclass(frozen=True)
class ExtensionsConfig:
    """Which extensions load at start-up, and from where."""

    auto_load: bool = True
    blacklist: tuple[str, ...] = ()
    directory: str = optional("./extensions")
    # Seconds one load, unload or reload may take before it is cancelled and recorded as failed.
    load_timeout: float = optional(30.0)


@dataclass(frozen=True)
class CooldownConfig:
    """The per-user cooldown of commands that declare none: ``default_rate`` uses per ``default_per`` s."""

    default_rate: int = 3
    default_per: float = 5.0


@dataclass(frozen=True)
class RepliesConfig:
    """How command replies behave: prefix success/error replies delete themselves after ``delete_after``
    seconds (0 keeps them); a reply failing on transient REST errors is retried for up to
    ``retry_deadline`` seconds before it is given up (see core/context.py)."""

    delete_after: float = optional(10.0)
    retry_deadline: float = optional(60.0)


@dataclass(frozen=True)
class ShardingConfig:
    """``shard_count``: None for one gateway connection; a number, or "auto" (Discord's recommendation),
    for discord.py's AutoShardedBot. ``shard_ids``: None runs every shard; else only these (a numeric
    ``shard_count`` is then needed), other processes running the rest (see ``config/shards.py``)."""

    shard_count: int | Literal["auto"] | None = optional(None)
    shard_ids: tuple[int, ...] | None = optional(None)


@dataclass(frozen=True)
class ClusterConfig:
    """Timings of cluster mode (PostgreSQL and a numeric ``sharding.shard_count``): how often a worker
    records its state (``heartbeat``), after how long without one it counts as gone and its shards can be
    taken over (``stale_after``), the IDENTIFY spacing per bucket (``identify_window``: Discord's 5 s) and
    how long a cluster-wide owner action waits for every worker (``action_timeout``)."""

    heartbeat: float = optional(3.0)
    stale_after: float = optional(15.0)
    identify_window: float = optional(5.0)
    action_timeout: float = optional(10.0)


@dataclass(frozen=True)
class CacheConfig:
    """What discord.py keeps in memory.

    ``members``: "minimal" keeps only the bot's own member (and members in voice channels): memory stays
    flat however many members the guilds have, and the privileged Server Members intent is not asked for.
    "all" keeps every member and asks for that intent. ``chunk_guilds_at_startup`` (only with "all")
    downloads every guild's member list at start-up. ``max_messages``: how many recent messages are
    cached (for ``on_message_edit``, ``on_message_delete``, ``on_reaction_add``); 0 disables the cache.
    """

    members: Literal["minimal", "all"] = optional("minimal")
    chunk_guilds_at_startup: bool = optional(False)
    max_messages: int = optional(100)

    @property
    def keeps_all_members(self) -> bool:
        """Whether every member is cached (and so the Server Members intent is needed)."""
        return self.members == "all"


@dataclass(frozen=True)
class DiscordEndpoints:
    """Optional REST and gateway endpoints, for proxies and local Discord-compatible servers."""

    api_base: str | None = optional(None)
    gateway_url: str | None = optional(None)


@dataclass(frozen=True)
class AdminConfig:
    """The admin endpoint every running bot serves for ``tui-bot attach``: a Unix socket (mode 0600) at
    ``socket`` (None: ``admin.sock`` in the folder of ``database.path``; a worker running some shards
    names its own, ``admin-shards-0-3.sock``), and optionally TCP on ``tcp_host`` (loopback only) and
    ``tcp_port``, which needs ``ADMIN_TOKEN`` in .env. ``enabled`` false serves neither."""

    enabled: bool = optional(True)
    socket: str | None = optional(None)
    tcp_port: int | None = optional(None)
    tcp_host: str = optional("127.0.0.1")


@dataclass(frozen=True)
class MetricsConfig:
    """Prometheus metrics and the health check: ``GET /metrics`` and ``GET /healthz`` on ``host``:``port``
    (``port`` None: not served). A process running some of the shards adds its first shard id to the port,
    so that the workers of one host never ask for the same one."""

    port: int | None = optional(None)
    host: str = optional("127.0.0.1")


@dataclass(frozen=True)
class BotConfig:
    """The whole validated config.json."""

    prefix: str = "!"
    owner_ids: tuple[int, ...] = ()
    auto_reload: bool = True
    status: StatusConfig = field(default_factory=StatusConfig)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    extensions: ExtensionsConfig = field(default_factory=ExtensionsConfig)
    cooldowns: CooldownConfig = field(default_factory=CooldownConfig)
    # command name -> role names or role ids allowed to run it, in every guild that has no rule of its own.
    command_permissions: dict[str, tuple[str | int, ...]] = field(default_factory=dict)
    discord: DiscordEndpoints = field(default_factory=DiscordEndpoints)
    cache_ttl: float = optional(300.0, key="storage.cache_ttl")  # in the "storage" section of the file
    replies: RepliesConfig = field(default_factory=RepliesConfig)
    sharding: ShardingConfig = field(default_factory=ShardingConfig)
    cache: CacheConfig = field(default_factory=CacheConfig)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    admin: AdminConfig = field(default_factory=AdminConfig)


def _as_json(value: Any) -> Any:
    """A default as config.json writes it: tuples as lists."""
    if isinstance(value, tuple | list):
        return [_as_json(item) for item in value]
    if isinstance(value, dict):
        return {key: _as_json(item) for key, item in value.items()}
    return value


def _settings(model: Any, prefix: str = "") -> Iterator[tuple[str, Any, bool]]:
    """``(dotted key, default as JSON, written to a fresh file)`` for every setting of ``model``, in the
    order of its fields; a field holding a dataclass is a section of the file."""
    for item in dataclasses.fields(model):
        key = item.metadata.get(_FILE_KEY) or f"{prefix}{item.name}"
        factory = item.default_factory
        if factory is not dataclasses.MISSING and dataclasses.is_dataclass(factory):
            yield from _settings(factory, f"{key}.")
            continue
        default = factory() if factory is not dataclasses.MISSING else item.default
        yield key, _as_json(default), not item.metadata.get(_OPTIONAL, False)


def _nested(flat: dict[str, Any]) -> dict[str, Any]:
    """``{"status.type": "watching"}`` -> ``{"status": {"type": "watching"}}``, keeping the order."""
    nested: dict[str, Any] = {}
    for dotted, value in flat.items():
        node = nested
        *sections, name = dotted.split(".")
        for section in sections:
            node = node.setdefault(section, {})
        node[name] = value
    return nested


_SETTINGS = list(_settings(BotConfig))
_DEFAULTS: dict[str, Any] = {key: default for key, default, _written in _SETTINGS}

# What a fresh config.json holds, in the order it is written.
DEFAULT_CONFIG: dict[str, Any] = _nested({key: default for key, default, written in _SETTINGS if written})

# Keys the model understands beyond the defaults, with the value used when they are absent.
OPTIONAL_KEYS: dict[str, Any] = {key: default for key, default, written in _SETTINGS if not written}


def default_config() -> dict[str, Any]:
    """A fresh copy of the defaults, as written to a new config.json."""
    return copy.deepcopy(DEFAULT_CONFIG)


def default_value(dotted_key: str) -> Any:
    """The default of one setting (``"replies.delete_after"``), as config.json would hold it."""
    return copy.deepcopy(_DEFAULTS[dotted_key])


def known_keys() -> set[str]:
    """Every dotted key the model understands (sections and leaves)."""
    keys = set(_DEFAULTS)
    keys.update(key.split(".")[0] for key in _DEFAULTS)
    return keys


# A file with thousands of unknown keys still gets a short report: the first ones are enough to act on.
MAX_UNKNOWN_KEYS_REPORTED = 50


def unknown_keys(raw: dict[str, Any]) -> list[str]:
    """Dotted keys present in ``raw`` that the model does not know, each with a did-you-mean hint.

    At most MAX_UNKNOWN_KEYS_REPORTED are listed (then a count of the rest); keys are shown clipped.
    """
    known = known_keys()
    found: list[str] = []
    for key, value in raw.items():
        if key not in known:
            found.append(key)
            continue
        if isinstance(value, dict) and key != "command_permissions":
            found.extend(f"{key}.{sub}" for sub in value if f"{key}.{sub}" not in known)
    shown = [_with_hint(key, known) for key in found[:MAX_UNKNOWN_KEYS_REPORTED]]
    if len(found) > MAX_UNKNOWN_KEYS_REPORTED:
        shown.append(f"... and {len(found) - MAX_UNKNOWN_KEYS_REPORTED:,} more")
    return shown


def _with_hint(key: str, known: set[str]) -> str:
    # A key longer than any known one cannot be a typo of one; difflib on it would only cost time.
    close = difflib.get_close_matches(key, sorted(known), n=1) if len(key) <= 100 else []
    return f"{show_key(key)} (did you mean '{close[0]}'?)" if close else show_key(key)
