"""Reading a parsed config.json into the typed model (:mod:`tui_bot.config.model`), with every problem.

``parse_config`` reads every key with the readers of :mod:`tui_bot.config.readers` (and the readers of
lists and maps here) and reports every problem at once (one ConfigErrors), not only the first. A key
that is absent takes the model's default.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal, TypeVar

from tui_bot.config.errors import ConfigErrors, ConfigValueError
from tui_bot.config.model import (
    LOG_LEVELS,
    MEMBER_CACHE_MODES,
    STATUS_TYPES,
    AdminConfig,
    BotConfig,
    CacheConfig,
    ClusterConfig,
    CooldownConfig,
    DatabaseConfig,
    DiscordEndpoints,
    ExtensionsConfig,
    LoggingConfig,
    MetricsConfig,
    RepliesConfig,
    ShardingConfig,
    StatusConfig,
    default_value,
)
from tui_bot.config.readers import (
    boolean,
    choice,
    count_at_most,
    extensions_directory,
    looks_like_id,
    nesting_problem,
    optional_url,
    path,
    seconds,
    snowflake,
    status_template,
    text,
    validate_prefix,
    whole_number,
)
from tui_bot.config.shards import SHARD_COUNT_MAX, shard_ids_problem, shard_ids_setting
from tui_bot.storage.urls import database_url_problem, redact_url

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
CLUSTER_SECONDS_MAX = 3600.0  # an hour: longer would leave a dead worker's shards unserved for that long
# An extension's setup that talks to the network finishes in seconds; 30 s leaves room for a slow one
# while a hung one delays the connection at start-up, or a !load reply, by at most that. Beyond 10
# minutes the bound would no longer protect anything.
LOAD_TIMEOUT_MAX = 600.0
# SHARD_COUNT_MAX (16,384 shards, ~40 million guilds) is in tui_bot.config.shards, with the shard ids.
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
            f"{SHARD_COUNT_MAX:,} (across every process)",
        )
    return value


def _database_url(key: str, value: Any) -> str | None:
    """null, "" or a postgresql:// URL. A refused URL is shown without its password."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ConfigValueError(key, value, "null or a PostgreSQL URL (a string)")
    problem = database_url_problem(value)
    if problem is not None:
        raise ConfigValueError(key, redact_url(value), f"null or {problem}")
    return value


def _sharding(problems: _Problems, section: dict[str, Any]) -> ShardingConfig:
    count = problems.read(section, "sharding", "shard_count", _shard_count)
    ids = problems.read(section, "sharding", "shard_ids", shard_ids_setting)
    problem = shard_ids_problem(count, ids)
    if problem is not None and "sharding.shard_count" not in problems.failed_keys:
        problems.add(ConfigValueError("sharding.shard_ids", section.get("shard_ids"), problem))
    return ShardingConfig(shard_count=count, shard_ids=ids)


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
            return reader(key, default_value(key), *args, **options)

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
    return dotted, default_value(dotted)


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


# The admin endpoint's TCP listener answers only on the machine itself: other machines reach it through an
# SSH tunnel (the token crosses the wire in clear text, so it must never leave the host).
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")


def _optional_path(key: str, value: Any) -> str | None:
    return None if value is None else path(key, value)


def _tcp_port(key: str, value: Any) -> int | None:
    if value is None:
        return None
    try:
        return whole_number(key, value, minimum=1, maximum=65535)
    except ConfigValueError:
        raise ConfigValueError(key, value, "null (no TCP) or a port number from 1 to 65535") from None


def _loopback_host(key: str, value: Any) -> str:
    if value not in LOOPBACK_HOSTS:
        raise ConfigValueError(
            key,
            value,
            'a loopback address, "127.0.0.1", "::1" or "localhost" (reach it from elsewhere through an '
            "SSH tunnel: ssh -L PORT:127.0.0.1:PORT host)",
        )
    return str(value)


def _admin(problems: _Problems, admin: dict[str, Any]) -> AdminConfig:
    read = problems.read
    return AdminConfig(
        enabled=read(admin, "admin", "enabled", boolean),
        socket=read(admin, "admin", "socket", _optional_path),
        tcp_port=read(admin, "admin", "tcp_port", _tcp_port),
        tcp_host=read(admin, "admin", "tcp_host", _loopback_host),
    )


HOST_MAX = 253  # the longest DNS name


def _metrics_port(key: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise ConfigValueError(key, value, "null (no metrics) or a port number from 1 to 65535")
    return value


def _host(key: str, value: Any) -> str:
    if (
        not isinstance(value, str)
        or not value.strip()
        or len(value) > HOST_MAX
        or any(ch.isspace() or not ch.isprintable() for ch in value)
    ):
        raise ConfigValueError(
            key,
            value,
            f'a host name or address to listen on, e.g. "127.0.0.1" (at most {HOST_MAX} characters)',
        )
    return value


def _metrics(problems: _Problems, metrics: dict[str, Any]) -> MetricsConfig:
    return MetricsConfig(
        port=problems.read(metrics, "metrics", "port", _metrics_port),
        host=problems.read(metrics, "metrics", "host", _host),
    )


def _cluster(problems: _Problems, cluster: dict[str, Any]) -> ClusterConfig:
    read = problems.read
    config = ClusterConfig(
        heartbeat=read(cluster, "cluster", "heartbeat", seconds, maximum=CLUSTER_SECONDS_MAX),
        stale_after=read(cluster, "cluster", "stale_after", seconds, maximum=CLUSTER_SECONDS_MAX),
        identify_window=read(cluster, "cluster", "identify_window", seconds, maximum=CLUSTER_SECONDS_MAX),
        action_timeout=read(cluster, "cluster", "action_timeout", seconds, maximum=CLUSTER_SECONDS_MAX),
    )
    if config.stale_after <= config.heartbeat:
        problems.add(
            ConfigValueError(
                "cluster.stale_after",
                config.stale_after,
                f"more seconds than cluster.heartbeat ({config.heartbeat:g}): a live worker would look gone",
            )
        )
    return config


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
    cluster = problems.section(raw, "cluster")
    metrics = problems.section(raw, "metrics")
    admin = problems.section(raw, "admin")

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
            url=read(database, "database", "url", _database_url),
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
        sharding=_sharding(problems, sharding),
        cache=_cache(problems, cache),
        cluster=_cluster(problems, cluster),
        metrics=_metrics(problems, metrics),
        admin=_admin(problems, admin),
    )
    problems.raise_if_any()
    return config
