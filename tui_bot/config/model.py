"""The typed model of ``config.json``: its defaults, and validation that names what to fix.

``parse_config`` reads every key with the readers of :mod:`tui_bot.config.readers` and reports every
problem at once (one ConfigErrors), not only the first.

Defaults live here and only here. The generated file holds exactly the keys of ``DEFAULT_CONFIG``;
a few optional keys (``OPTIONAL_KEYS``) are understood when an operator adds them but are not written
by default, so a fresh config.json stays the short file operators know.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from tui_bot.config.readers import (
    ConfigErrors,
    ConfigValueError,
    boolean,
    choice,
    count_at_most,
    extensions_directory,
    looks_like_id,
    nesting_problem,
    optional_url,
    path,
    seconds,
    show_key,
    snowflake,
    status_template,
    text,
    validate_prefix,
    whole_number,
)

# Re-exported: ``from tui_bot.config.model import ConfigValueError, ConfigErrors, validate_prefix`` works.
__all__ = [
    "BotConfig",
    "ConfigErrors",
    "ConfigValueError",
    "default_config",
    "known_keys",
    "parse_config",
    "unknown_keys",
    "validate_prefix",
]

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


# ---------------------------------------------------------------------------------------------
# Upper bounds: each one far above any real use, and low enough that the value cannot hurt the bot.

# Each backup is a full copy of the database: a thousand is already more disk than anyone means.
BACKUP_KEEP_MAX = 1000
# 10 GiB per log file; past that one file is not readable anyway, and the disk fills.
LOG_MAX_BYTES_MAX = 10 * 1024**3
# A rotation renames every old file in a loop: 10**30 of them would spin a core for ever.
LOG_BACKUP_COUNT_MAX = 1000
# Uses per cooldown window: beyond a thousand it is no longer a cooldown.
COOLDOWN_RATE_MAX = 1000
# A week: a longer default cooldown would lock a command out for practical purposes.
COOLDOWN_PER_MAX = 7 * 24 * 3600.0
# A day: the file cache is a speed-up, not a store; a longer one hides edits made outside the bot.
CACHE_TTL_MAX = 24 * 3600.0
# A day: a reply that cleans itself up later than that may as well stay (0 keeps it).
DELETE_AFTER_MAX = 24 * 3600.0
# 15 minutes: as long as an interaction token lives.
MAX_RETRY_DEADLINE = 900.0
# An extension's setup that talks to the network finishes in seconds; 30 s leaves room for a slow one
# while a hung one delays the connection at start-up, or a !load reply, by at most that. Beyond 10
# minutes the bound would no longer protect anything.
LOAD_TIMEOUT_MAX = 600.0
# Every shard runs in this one process; 16,384 shards is ~40 million guilds, beyond any single process.
SHARD_COUNT_MAX = 16384
# About 1.7 KiB per cached message: 100,000 is ~170 MiB, already more than a bot should spend on it.
MAX_MESSAGES_MAX = 100_000
# Lists an operator writes by hand: a thousand entries is far past any real config.
OWNER_IDS_MAX = 1000
BLACKLIST_MAX = 1000
COMMAND_RULES_MAX = 1000
# A guild has at most 250 roles, so a rule never needs more.
ROLES_PER_RULE_MAX = 250
# Discord's limit for role names; command and extension names are far shorter.
NAME_MAX = 100


# ---------------------------------------------------------------------------------------------
# Readers of the lists and maps (scalars are in tui_bot.config.readers). Each one reports every bad
# entry of its value at once.


def _owner_ids(key: str, value: Any) -> tuple[int, ...]:
    if not isinstance(value, list):
        raise ConfigValueError(key, value, "a list of Discord user ids, e.g. [123456789012345678]")
    count_at_most(key, value, OWNER_IDS_MAX, "ids")
    problems = _Problems()
    ids = tuple(problems.check(snowflake, f"{key}[{i}]", item, fallback=1) for i, item in enumerate(value))
    problems.raise_if_any()
    return ids


def _blacklist(key: str, value: Any) -> tuple[str, ...]:
    expected = f'a list of extension names, e.g. ["debug_cog"], each at most {NAME_MAX} characters'
    if not isinstance(value, list):
        raise ConfigValueError(key, value, expected)
    count_at_most(key, value, BLACKLIST_MAX, "names")
    for index, item in enumerate(value):
        if not isinstance(item, str) or not item.strip() or len(item) > NAME_MAX:
            raise ConfigValueError(f"{key}[{index}]", item, expected)
    return tuple(item.strip() for item in value)


def _role(key: str, role: Any) -> str | int:
    if isinstance(role, str) and not looks_like_id(role):
        return text(key, role, maximum=NAME_MAX)
    return snowflake(key, role)


def _command_permissions(key: str, value: Any) -> dict[str, tuple[str | int, ...]]:
    if not isinstance(value, dict):
        raise ConfigValueError(
            key, value, 'an object mapping command names to role lists, e.g. {"ban": ["Moderator"]}'
        )
    count_at_most(key, value, COMMAND_RULES_MAX, "commands")
    problems = _Problems()
    rules: dict[str, tuple[str | int, ...]] = {}
    for command, roles in value.items():
        entry = f"{key}.{command}"
        name = command.strip().lower() if isinstance(command, str) else ""  # set() may pass any key
        if not name or len(name) > NAME_MAX:
            problems.add(
                ConfigValueError(
                    entry, roles, f"listed under a command name of at most {NAME_MAX} characters, not blank"
                )
            )
            continue
        if not isinstance(roles, list) or not roles:
            problems.add(
                ConfigValueError(
                    entry, roles, 'a non-empty list of role names or role ids, e.g. ["Moderator"]'
                )
            )
            continue
        if len(roles) > ROLES_PER_RULE_MAX:
            problems.add(
                ConfigValueError(entry, roles, f"at most {ROLES_PER_RULE_MAX} roles (it has {len(roles):,})")
            )
            continue
        no_role: str | int = ""  # stands in for a bad entry; the parse fails anyway
        rules[name] = tuple(
            problems.check(_role, f"{entry}[{index}]", role, fallback=no_role)
            for index, role in enumerate(roles)
        )
    problems.raise_if_any()
    return rules


def _shard_count(key: str, value: Any) -> int | Literal["auto"] | None:
    if value is None or value == "auto":
        return value
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= SHARD_COUNT_MAX:
        raise ConfigValueError(
            key,
            value,
            'null (one connection), "auto" or a whole number of shards of at least 1 and at most '
            f"{SHARD_COUNT_MAX:,} (every shard runs in this one process)",
        )
    return value


def _max_messages(key: str, value: Any) -> int:
    # null disables the message cache, as 0 does.
    return whole_number(key, 0 if value is None else value, minimum=0, maximum=MAX_MESSAGES_MAX)


# ---------------------------------------------------------------------------------------------
# Reading every key, collecting every problem.

T = TypeVar("T")


class _Problems:
    """Collects the ConfigValueErrors of one parse: a failed read is recorded and the parse goes on with
    a valid stand-in, so one run reports every problem of the file."""

    def __init__(self) -> None:
        self.errors: list[ConfigValueError] = []
        self.failed_keys: set[str] = set()

    def add(self, error: ConfigValueError) -> None:
        """Record a problem found outside a reader (a rule between two keys)."""
        for each in error.errors if isinstance(error, ConfigErrors) else [error]:
            self.errors.append(each)
            self.failed_keys.add(each.key)

    def check(self, reader: Callable[..., T], key: str, value: Any, /, *, fallback: T, **options: Any) -> T:
        """``reader(key, value, **options)``, or ``fallback`` after recording why it failed."""
        try:
            return reader(key, value, **options)
        except ConfigValueError as error:
            self.add(error)
            return fallback

    def read(
        self,
        section: dict[str, Any],
        parent: str,
        name: str,
        reader: Callable[..., T],
        /,
        *args: Any,
        **options: Any,
    ) -> T:
        """Read ``parent.name`` (or its default when absent) with ``reader``; on failure the default
        stands in, which always passes."""
        key, value = _get(section, parent, name)
        try:
            return reader(key, value, *args, **options)
        except ConfigValueError as error:
            self.add(error)
            return reader(key, _default_for(key), *args, **options)

    def section(self, raw: dict[str, Any], key: str) -> dict[str, Any]:
        """The object at ``key`` ({} when absent, or after recording that it is not an object)."""
        value = raw.get(key, {})
        if isinstance(value, dict):
            return value
        self.add(ConfigValueError(key, value, "an object ({...})"))
        return {}

    def raise_if_any(self) -> None:
        """Raise one ConfigErrors holding every problem, if there were any."""
        if self.errors:
            raise ConfigErrors(self.errors)


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


def _cache(problems: _Problems, section: dict[str, Any]) -> CacheConfig:
    members = problems.read(section, "cache", "members", choice, MEMBER_CACHE_MODES)
    chunk = problems.read(section, "cache", "chunk_guilds_at_startup", boolean)
    if chunk and members != "all" and "cache.members" not in problems.failed_keys:
        # Chunking fills the member cache; with "minimal" discord.py would throw every chunk away.
        problems.add(
            ConfigValueError(
                "cache.chunk_guilds_at_startup",
                chunk,
                f'false while cache.members is "{members}" (chunking needs cache.members "all")',
            )
        )
    return CacheConfig(
        members=members,  # type: ignore[arg-type]  # choice() checked it is one of MEMBER_CACHE_MODES
        chunk_guilds_at_startup=chunk,
        max_messages=problems.read(section, "cache", "max_messages", _max_messages),
    )


def parse_config(raw: Any) -> BotConfig:
    """Validate a parsed config.json and build the typed model.

    Raises ConfigErrors (a ConfigValueError) listing every problem found, not only the first.
    """
    if not isinstance(raw, dict):
        raise ConfigErrors([ConfigValueError("(top level)", raw, "an object ({...}) holding the settings")])
    too_deep = nesting_problem(raw, "")
    if too_deep is not None:
        # Checked before anything else reads the value: copying or printing it could recurse too deep.
        raise ConfigErrors([too_deep])

    problems = _Problems()
    read = problems.read
    status = problems.section(raw, "status")
    database = problems.section(raw, "database")
    logging_ = problems.section(raw, "logging")
    extensions = problems.section(raw, "extensions")
    cooldowns = problems.section(raw, "cooldowns")
    discord_ = problems.section(raw, "discord")
    storage = problems.section(raw, "storage")
    replies = problems.section(raw, "replies")
    sharding = problems.section(raw, "sharding")
    cache = problems.section(raw, "cache")

    config = BotConfig(
        prefix=read(raw, "", "prefix", validate_prefix),
        owner_ids=read(raw, "", "owner_ids", _owner_ids),
        auto_reload=read(raw, "", "auto_reload", boolean),
        status=StatusConfig(
            type=read(status, "status", "type", choice, STATUS_TYPES),
            text=read(status, "status", "text", status_template),
        ),
        database=DatabaseConfig(
            path=read(database, "database", "path", path),
            backup_keep=read(
                database, "database", "backup_keep", whole_number, minimum=1, maximum=BACKUP_KEEP_MAX
            ),
        ),
        logging=LoggingConfig(
            level=read(logging_, "logging", "level", choice, LOG_LEVELS, fold_case=True),
            max_bytes=read(
                logging_, "logging", "max_bytes", whole_number, minimum=1024, maximum=LOG_MAX_BYTES_MAX
            ),
            backup_count=read(
                logging_, "logging", "backup_count", whole_number, minimum=0, maximum=LOG_BACKUP_COUNT_MAX
            ),
            directory=read(logging_, "logging", "directory", path),
        ),
        extensions=ExtensionsConfig(
            auto_load=read(extensions, "extensions", "auto_load", boolean),
            blacklist=read(extensions, "extensions", "blacklist", _blacklist),
            directory=read(extensions, "extensions", "directory", extensions_directory),
            load_timeout=read(extensions, "extensions", "load_timeout", seconds, maximum=LOAD_TIMEOUT_MAX),
        ),
        cooldowns=CooldownConfig(
            default_rate=read(
                cooldowns, "cooldowns", "default_rate", whole_number, minimum=1, maximum=COOLDOWN_RATE_MAX
            ),
            default_per=read(cooldowns, "cooldowns", "default_per", seconds, maximum=COOLDOWN_PER_MAX),
        ),
        command_permissions=read(raw, "", "command_permissions", _command_permissions),
        discord=DiscordEndpoints(
            api_base=read(discord_, "discord", "api_base", optional_url, ("http://", "https://")),
            gateway_url=read(discord_, "discord", "gateway_url", optional_url, ("ws://", "wss://")),
        ),
        cache_ttl=read(
            storage, "storage", "cache_ttl", seconds, maximum=CACHE_TTL_MAX, zero_means="no caching"
        ),
        replies=RepliesConfig(
            delete_after=read(
                replies, "replies", "delete_after", seconds, maximum=DELETE_AFTER_MAX, zero_means="never"
            ),
            retry_deadline=read(replies, "replies", "retry_deadline", seconds, maximum=MAX_RETRY_DEADLINE),
        ),
        sharding=ShardingConfig(shard_count=read(sharding, "sharding", "shard_count", _shard_count)),
        cache=_cache(problems, cache),
    )
    problems.raise_if_any()
    return config
