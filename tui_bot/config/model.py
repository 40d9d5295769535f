"""The typed model of ``config.json``: its defaults, and validation that names what to fix.

Defaults live here and only here. The generated file holds exactly the keys of ``DEFAULT_CONFIG``;
a few optional keys (``OPTIONAL_KEYS``) are understood when an operator adds them but are not written
by default, so a fresh config.json stays the short file operators know.
"""

from __future__ import annotations

import copy
import difflib
import math
from dataclasses import dataclass, field
from typing import Any, Literal

DEFAULT_CONFIG: dict[str, Any] = {
    "prefix": "!",
    "owner_ids": [],
    "auto_reload": True,
    "status": {"type": "watching", "text": "{guilds} servers"},
    "database": {"path": "./data/bot.db"},
    "logging": {"level": "INFO", "max_bytes": 10485760, "backup_count": 5},
    "extensions": {"auto_load": True, "blacklist": []},
    "cooldowns": {"default_rate": 3, "default_per": 5.0},
    "command_permissions": {},
}

# Keys the model understands beyond the defaults, with the value used when they are absent.
OPTIONAL_KEYS: dict[str, Any] = {
    "discord.api_base": None,
    "discord.gateway_url": None,
    "extensions.directory": "./extensions",
    "extensions.load_timeout": 30.0,
    "logging.directory": "./botlogs",
    "database.backup_keep": 10,
    "storage.cache_ttl": 300.0,
    "replies.delete_after": 10.0,
    "replies.retry_deadline": 60.0,
    "sharding.shard_count": None,
    "cache.members": "minimal",
    "cache.chunk_guilds_at_startup": False,
    "cache.max_messages": 100,
}

STATUS_TYPES = ("playing", "watching", "listening", "competing")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# "minimal": only the bot's own member (and members in voice) stay cached; "all": every member.
MEMBER_CACHE_MODES = ("minimal", "all")


class ConfigValueError(ValueError):
    """A key holds a value of the wrong type or out of range. The message says what to fix."""

    def __init__(self, key: str, value: Any, expected: str) -> None:
        self.key = key
        self.value = value
        self.expected = expected
        super().__init__(f"config key '{key}' has the value {_show(value)}, but it must be {expected}.")


def _show(value: Any) -> str:
    import json

    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


@dataclass(frozen=True)
class StatusConfig:
    """The bot's presence: an activity type and a text with {guilds}, {users}, {commands}."""

    type: str = "watching"
    text: str = "{guilds} servers"


@dataclass(frozen=True)
class DatabaseConfig:
    """Where the SQLite database lives and how many online backups to keep."""

    path: str = "./data/bot.db"
    backup_keep: int = 10


@dataclass(frozen=True)
class LoggingConfig:
    """Log level and rotation of ``permanent.log``."""

    level: str = "INFO"
    max_bytes: int = 10485760
    backup_count: int = 5
    directory: str = "./botlogs"


@dataclass(frozen=True)
class ExtensionsConfig:
    """Which extensions load at start-up, and from where."""

    auto_load: bool = True
    blacklist: tuple[str, ...] = ()
    directory: str = "./extensions"
    # Seconds one load, unload or reload may take before it is cancelled and recorded as failed.
    load_timeout: float = 30.0


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

    delete_after: float = 10.0
    retry_deadline: float = 60.0


@dataclass(frozen=True)
class ShardingConfig:
    """``shard_count``: None for one gateway connection; a number, or "auto" (Discord's recommendation),
    for discord.py's AutoShardedBot."""

    shard_count: int | Literal["auto"] | None = None


@dataclass(frozen=True)
class CacheConfig:
    """What discord.py keeps in memory.

    ``members``: "minimal" keeps only the bot's own member (and members in voice channels): memory stays
    flat however many members the guilds have, and the privileged Server Members intent is not asked for.
    "all" keeps every member and asks for that intent. ``chunk_guilds_at_startup`` (only with "all")
    downloads every guild's member list at start-up. ``max_messages``: how many recent messages are
    cached (for ``on_message_edit``, ``on_message_delete``, ``on_reaction_add``); 0 disables the cache.
    """

    members: Literal["minimal", "all"] = "minimal"
    chunk_guilds_at_startup: bool = False
    max_messages: int = 100

    @property
    def keeps_all_members(self) -> bool:
        """Whether every member is cached (and so the Server Members intent is needed)."""
        return self.members == "all"


@dataclass(frozen=True)
class DiscordEndpoints:
    """Optional REST and gateway endpoints, for proxies and local Discord-compatible servers."""

    api_base: str | None = None
    gateway_url: str | None = None


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
    cache_ttl: float = 300.0
    replies: RepliesConfig = field(default_factory=RepliesConfig)
    sharding: ShardingConfig = field(default_factory=ShardingConfig)
    cache: CacheConfig = field(default_factory=CacheConfig)


def default_config() -> dict[str, Any]:
    """A fresh copy of the defaults, as written to a new config.json."""
    return copy.deepcopy(DEFAULT_CONFIG)


def known_keys() -> set[str]:
    """Every dotted key the model understands (sections and leaves)."""
    keys: set[str] = set(OPTIONAL_KEYS)
    for key, value in DEFAULT_CONFIG.items():
        keys.add(key)
        if isinstance(value, dict) and key != "command_permissions":
            keys.update(f"{key}.{sub}" for sub in value)
    keys.update(k.split(".")[0] for k in OPTIONAL_KEYS)
    return keys


def unknown_keys(raw: dict[str, Any]) -> list[str]:
    """Dotted keys present in ``raw`` that the model does not know, each with a did-you-mean hint."""
    known = known_keys()
    found: list[str] = []
    for key, value in raw.items():
        if key not in known:
            found.append(_with_hint(key, known))
            continue
        if isinstance(value, dict) and key != "command_permissions":
            for sub in value:
                dotted = f"{key}.{sub}"
                if dotted not in known:
                    found.append(_with_hint(dotted, known))
    return found


def _with_hint(key: str, known: set[str]) -> str:
    close = difflib.get_close_matches(key, sorted(known), n=1)
    return f"{key} (did you mean '{close[0]}'?)" if close else key


# ---------------------------------------------------------------------------------------------
# Validation: each reader takes the raw value and the dotted key, and raises ConfigValueError.


def _section(raw: dict[str, Any], key: str) -> dict[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise ConfigValueError(key, value, "an object ({...})")
    return value


def _get(section: dict[str, Any], parent: str, name: str) -> tuple[str, Any]:
    dotted = f"{parent}.{name}" if parent else name
    if name in section:
        return dotted, section[name]
    return dotted, _default_for(dotted)


def _default_for(dotted: str) -> Any:
    if dotted in OPTIONAL_KEYS:
        return OPTIONAL_KEYS[dotted]
    node: Any = DEFAULT_CONFIG
    for part in dotted.split("."):
        node = node[part]
    return copy.deepcopy(node)


def _bool(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigValueError(key, value, "true or false")
    return value


def _int(key: str, value: Any, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigValueError(key, value, f"a whole number of at least {minimum}")
    if value < minimum:
        raise ConfigValueError(key, value, f"a whole number of at least {minimum}")
    return value


def _positive_float(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigValueError(key, value, "a number greater than 0 (seconds)")
    return float(value)


MAX_RETRY_DEADLINE = 900.0  # 15 minutes: as long as an interaction token lives


def _retry_deadline(key: str, value: Any) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not 0 < value <= MAX_RETRY_DEADLINE  # also refuses NaN and Infinity
    ):
        raise ConfigValueError(
            key, value, f"a number of seconds greater than 0 and at most {MAX_RETRY_DEADLINE:g}"
        )
    return float(value)


# An extension's setup that talks to the network finishes in seconds; 30 s leaves room for a slow one
# while a hung one delays the connection at start-up, or a !load reply, by at most that. Beyond 10
# minutes the bound would no longer protect anything.
LOAD_TIMEOUT_MAX = 600.0


def _bounded_seconds(key: str, value: Any, *, maximum: float) -> float:
    # json.loads accepts NaN and Infinity: "finite" is checked, not assumed.
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0 < value <= maximum
    ):
        raise ConfigValueError(key, value, f"a number of seconds greater than 0 and at most {maximum:g}")
    return float(value)


def _non_negative_float(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ConfigValueError(key, value, "a number of seconds, 0 or more (0 = never)")
    return float(value)


def _text(key: str, value: Any, *, allow_empty: bool = False) -> str:
    if not isinstance(value, str) or (not allow_empty and not value.strip()):
        raise ConfigValueError(key, value, "a non-empty text in double quotes")
    return value


def _choice(key: str, value: Any, choices: tuple[str, ...], *, fold_case: bool = False) -> str:
    candidate = value.upper() if fold_case and isinstance(value, str) else value
    if candidate not in choices:
        raise ConfigValueError(key, value, "one of " + ", ".join(f'"{c}"' for c in choices))
    return candidate


def _optional_url(key: str, value: Any, schemes: tuple[str, ...]) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not value.startswith(schemes):
        raise ConfigValueError(key, value, "null or a URL starting with " + " or ".join(schemes))
    return value.rstrip("/")


def validate_prefix(key: str, value: Any) -> str:
    """A command prefix: 1 to 5 characters, no whitespace, no mention syntax."""
    if not isinstance(value, str) or not 1 <= len(value) <= 5 or any(ch.isspace() for ch in value):
        raise ConfigValueError(key, value, '1 to 5 characters without spaces, e.g. "!"')
    if "<@" in value or "@everyone" in value or "@here" in value:
        raise ConfigValueError(key, value, "a prefix that is not a mention")
    return value


def _snowflake(key: str, value: Any) -> int:
    # JSON numbers are exact in Python, but some editors quote long ids: accept digit strings too.
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigValueError(key, value, "a Discord id: a positive whole number such as 123456789012345678")
    return value


def _owner_ids(value: Any) -> tuple[int, ...]:
    if not isinstance(value, list):
        raise ConfigValueError("owner_ids", value, "a list of Discord user ids, e.g. [123456789012345678]")
    return tuple(_snowflake(f"owner_ids[{i}]", item) for i, item in enumerate(value))


def _blacklist(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
        raise ConfigValueError("extensions.blacklist", value, 'a list of extension names, e.g. ["debug_cog"]')
    return tuple(item.strip() for item in value)


def _command_permissions(value: Any) -> dict[str, tuple[str | int, ...]]:
    key = "command_permissions"
    if not isinstance(value, dict):
        raise ConfigValueError(
            key, value, 'an object mapping command names to role lists, e.g. {"ban": ["Moderator"]}'
        )
    rules: dict[str, tuple[str | int, ...]] = {}
    for command, roles in value.items():
        entry = f"{key}.{command}"
        if not isinstance(roles, list) or not roles:
            raise ConfigValueError(
                entry, roles, 'a non-empty list of role names or role ids, e.g. ["Moderator"]'
            )
        parsed: list[str | int] = []
        for index, role in enumerate(roles):
            if isinstance(role, str) and not role.strip().isdigit():
                parsed.append(_text(f"{entry}[{index}]", role))
            else:
                parsed.append(_snowflake(f"{entry}[{index}]", role))
        rules[command.strip().lower()] = tuple(parsed)
    return rules


def _shard_count(key: str, value: Any) -> int | Literal["auto"] | None:
    if value is None or value == "auto":
        return value
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigValueError(
            key, value, 'null (one connection), "auto" or a whole number of shards of at least 1'
        )
    return value


def _cache(section: dict[str, Any]) -> CacheConfig:
    members = _choice(*_get(section, "cache", "members"), MEMBER_CACHE_MODES)
    chunk_key, chunk = _get(section, "cache", "chunk_guilds_at_startup")
    chunk = _bool(chunk_key, chunk)
    if chunk and members != "all":
        # Chunking fills the member cache; with "minimal" discord.py would throw every chunk away.
        raise ConfigValueError(
            chunk_key, chunk, f'false while cache.members is "{members}" (chunking needs cache.members "all")'
        )
    messages_key, messages = _get(section, "cache", "max_messages")
    if messages is None:
        messages = 0  # null disables the message cache, as 0 does
    return CacheConfig(
        members=members,  # type: ignore[arg-type]  # _choice checked it is one of MEMBER_CACHE_MODES
        chunk_guilds_at_startup=chunk,
        max_messages=_int(messages_key, messages, minimum=0),
    )


def parse_config(raw: Any) -> BotConfig:
    """Validate a parsed config.json and build the typed model; raise ConfigValueError on the first fault."""
    if not isinstance(raw, dict):
        raise ConfigValueError("(top level)", raw, "an object ({...}) holding the settings")

    status = _section(raw, "status")
    database = _section(raw, "database")
    logging_ = _section(raw, "logging")
    extensions = _section(raw, "extensions")
    cooldowns = _section(raw, "cooldowns")
    discord_ = _section(raw, "discord")
    storage = _section(raw, "storage")
    replies = _section(raw, "replies")
    sharding = _section(raw, "sharding")
    cache = _section(raw, "cache")

    return BotConfig(
        prefix=validate_prefix(*_get(raw, "", "prefix")),
        owner_ids=_owner_ids(_get(raw, "", "owner_ids")[1]),
        auto_reload=_bool(*_get(raw, "", "auto_reload")),
        status=StatusConfig(
            type=_choice(*_get(status, "status", "type"), STATUS_TYPES),
            text=_text(*_get(status, "status", "text")),
        ),
        database=DatabaseConfig(
            path=_text(*_get(database, "database", "path")),
            backup_keep=_int(*_get(database, "database", "backup_keep"), minimum=1),
        ),
        logging=LoggingConfig(
            level=_choice(*_get(logging_, "logging", "level"), LOG_LEVELS, fold_case=True),
            max_bytes=_int(*_get(logging_, "logging", "max_bytes"), minimum=1024),
            backup_count=_int(*_get(logging_, "logging", "backup_count"), minimum=0),
            directory=_text(*_get(logging_, "logging", "directory")),
        ),
        extensions=ExtensionsConfig(
            auto_load=_bool(*_get(extensions, "extensions", "auto_load")),
            blacklist=_blacklist(_get(extensions, "extensions", "blacklist")[1]),
            directory=_text(*_get(extensions, "extensions", "directory")),
            load_timeout=_bounded_seconds(
                *_get(extensions, "extensions", "load_timeout"), maximum=LOAD_TIMEOUT_MAX
            ),
        ),
        cooldowns=CooldownConfig(
            default_rate=_int(*_get(cooldowns, "cooldowns", "default_rate"), minimum=1),
            default_per=_positive_float(*_get(cooldowns, "cooldowns", "default_per")),
        ),
        command_permissions=_command_permissions(_get(raw, "", "command_permissions")[1]),
        discord=DiscordEndpoints(
            api_base=_optional_url(*_get(discord_, "discord", "api_base"), ("http://", "https://")),
            gateway_url=_optional_url(*_get(discord_, "discord", "gateway_url"), ("ws://", "wss://")),
        ),
        cache_ttl=_positive_float(*_get(storage, "storage", "cache_ttl")),
        replies=RepliesConfig(
            delete_after=_non_negative_float(*_get(replies, "replies", "delete_after")),
            retry_deadline=_retry_deadline(*_get(replies, "replies", "retry_deadline")),
        ),
        sharding=ShardingConfig(shard_count=_shard_count(*_get(sharding, "sharding", "shard_count"))),
        cache=_cache(cache),
    )
