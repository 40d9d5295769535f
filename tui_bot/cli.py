"""The ``tui-bot`` command line.

``tui-bot`` opens the console; ``--headless`` runs without it (and never imports Textual);
``--sandbox`` runs against the built-in local Discord instead of discord.com; ``tui-bot sandbox serve``
runs that local Discord alone (see ``tui_bot.sandbox.serve``); ``tui-bot init [DIR]`` sets up a bot folder and
``tui-bot invite`` prints the link that adds the bot to a server (see ``tui_bot.scaffold``); ``tui-bot db
migrate-to URL`` copies the SQLite database into PostgreSQL (see ``tui_bot.storage.transfer``); ``tui-bot
attach`` opens the console of a running bot (see ``tui_bot.attach_cli``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tui_bot import __version__, exit_codes

if TYPE_CHECKING:
    from tui_bot.config import ConfigStore
    from tui_bot.config.model import BotConfig
    from tui_bot.runtime import BotRuntime


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also used to document the options in the README)."""
    parser = argparse.ArgumentParser(
        prog="tui-bot",
        description="Run a Discord bot with a live terminal console. "
        "Paths are relative to the working directory.",
        epilog="'tui-bot init [DIR]': a new bot folder. 'tui-bot invite': the link that adds the bot to a "
        "server. 'tui-bot sandbox serve --help': the built-in local Discord alone, for other bots. "
        "'tui-bot db migrate-to URL': copy the SQLite database into PostgreSQL. "
        "'tui-bot cluster status|run': the workers of a cluster (PostgreSQL). "
        "'tui-bot attach [SOCKET_OR_URL]': the console of a running bot.",
    )
    parser.add_argument(
        "--sandbox", action="store_true", help="run against the built-in local Discord (no token needed)"
    )
    parser.add_argument(
        "--headless", action="store_true", help="no console: log to stdout (for servers and systemd)"
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=Path("config.json"),
        metavar="PATH",
        help="config file (default: ./config.json, generated on first run)",
    )
    parser.add_argument(
        "--env-file",
        type=Path,
        default=Path(".env"),
        metavar="PATH",
        help="file with DISCORD_TOKEN and BOT_OWNER_ID (default: ./.env)",
    )
    shards = parser.add_argument_group(
        "shards", "run some of the bot's shards in this process (over config.json's sharding section)"
    )
    shards.add_argument(
        "--shard-count",
        type=int,
        metavar="N",
        help="the number of shards across every process (over sharding.shard_count)",
    )
    shards.add_argument(
        "--shard-ids",
        metavar="IDS",
        help="the shards this process runs, e.g. 0-3 or 0,2,4 (over sharding.shard_ids; needs a shard count)",
    )
    shards.add_argument(
        "--force-session-starts",
        action="store_true",
        help="start even if Discord's session_start_limit has fewer starts left than this process needs",
    )
    parser.add_argument(
        "--check-config",
        action="store_true",
        help="validate the config file and .env, print the result, exit 0 (valid) or 78",
    )
    parser.add_argument("--version", action="version", version=f"tui-bot {__version__}")
    return parser


def _fail(message: str) -> int:
    print(f"tui-bot: {message}", file=sys.stderr)
    return exit_codes.CONFIG_ERROR


def check_config(config_path: Path, env_file: Path, *, sandbox: bool) -> int:
    """``--check-config``: validate without starting anything or writing any file.

    Every problem of the config file is listed at once (one per line), and .env is checked too.
    """
    from tui_bot.config import ConfigFileError, ConfigStore, EnvError, read_env
    from tui_bot.config.model import BotConfig

    code = exit_codes.OK
    model: BotConfig | None = BotConfig()
    if config_path.exists():
        try:
            store = ConfigStore.load(config_path, create=False)
        except ConfigFileError as error:
            code = _fail(str(error))
            model = None
        else:
            model = store.model
            for warning in store.warnings:
                print(f"warning: {warning}")
            print(f"{config_path}: valid")
    else:
        print(f"{config_path}: not found; it will be generated with the defaults on the first run")
    try:
        secrets = read_env(env_file, require_secrets=not sandbox)
    except EnvError as error:
        return _fail(str(error))
    token = "set" if secrets.token else "not set (not needed with --sandbox)"
    owners = ", ".join(map(str, secrets.owner_ids)) or "none"
    print(f"{env_file}: valid (DISCORD_TOKEN {token}; BOT_OWNER_ID {owners})")
    if model is not None:
        print(f"database: {_database_in_use(model, secrets.database_url)}")
    return code


def _database_in_use(model: BotConfig, env_url: str | None) -> str:
    """Which database a run would open (DATABASE_URL wins over database.url), its password never shown."""
    from tui_bot.storage.urls import url_without_password as shown

    if env_url:
        return f"PostgreSQL at {shown(env_url)} (DATABASE_URL, which wins over config.json's database.url)"
    if model.database.url:
        return f"PostgreSQL at {shown(model.database.url)} (config.json's database.url)"
    return f"SQLite at {model.database.path} (set DATABASE_URL or database.url for PostgreSQL)"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``tui-bot`` and ``python -m tui_bot``; returns the exit code."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["sandbox"]:
        # "tui-bot sandbox serve ...": its own parser, so the bot's flags above stay as they are.
        from tui_bot.sandbox.serve import sandbox_main

        return sandbox_main(arguments[1:])
    if arguments[:1] == ["init"]:
        return init_main(arguments[1:])
    if arguments[:1] == ["invite"]:
        return invite_main(arguments[1:])
    if arguments[:1] == ["db"]:
        return db_main(arguments[1:])
    if arguments[:1] == ["cluster"]:
        from tui_bot.cluster_cli import cluster_main

        return cluster_main(arguments[1:])
    if arguments[:1] == ["attach"]:
        from tui_bot.attach_cli import attach_main

        return attach_main(arguments[1:])
    args = build_parser().parse_args(arguments)
    if args.check_config:
        return check_config(args.config, args.env_file, sandbox=args.sandbox)

    from tui_bot.config import ConfigFileError, ConfigStore, EnvError, read_env

    try:
        store = ConfigStore.load(args.config)
        secrets = read_env(args.env_file, require_secrets=not args.sandbox)
    except (ConfigFileError, EnvError) as error:
        return _fail(str(error))

    if args.sandbox:
        code = _starter_extensions_if_missing(store)
        if code != exit_codes.OK:
            return code
    bot_options: dict[str, object] = {}
    if args.shard_count is not None or args.shard_ids is not None:
        from tui_bot.config.shards import plan_shards

        try:
            plan = plan_shards(
                store.model.sharding.shard_count,
                store.model.sharding.shard_ids,
                shard_count=args.shard_count,
                shard_ids=args.shard_ids,
            )
        except ValueError as error:
            return _fail(str(error))
        bot_options = plan.bot_options()  # passed to the bot, so config.json is left as it is
        store.notes.append(f"Running {plan.describe()} (from the command line)")
    if args.force_session_starts:
        bot_options["force_session_starts"] = True

    from tui_bot.runtime import BotRuntime, shutdown

    # From the first shutdown request on, the process ends within a bound whatever extensions do.
    shutdown.install_process_deadline()
    runtime = BotRuntime(store, secrets, sandbox=args.sandbox, bot_options=bot_options)
    if args.headless:
        return _run_headless(runtime)
    from tui_bot.tui import make_console, run_console

    code = run_console(make_console(runtime))
    if shutdown.report_leftover_threads():  # logging is closed by now: this goes to stderr
        shutdown.hard_exit(code)
    return code


def _starter_extensions_if_missing(store: ConfigStore) -> int:
    """``--sandbox`` in a folder without an extensions folder: create it with the starter extensions, so
    there is something to try; said in the log once logging is set up."""
    from tui_bot.scaffold import ScaffoldError, install_starter_extensions

    directory = Path(store.model.extensions.directory)
    if directory.exists():
        return exit_codes.OK
    try:
        names = install_starter_extensions(directory)
    except (ScaffoldError, OSError) as error:
        return _fail(f"could not create {directory} with the starter extensions: {error}")
    store.notes.append(f"No {directory} folder: created it with the starter extensions ({', '.join(names)})")
    return exit_codes.OK


def init_main(argv: Sequence[str]) -> int:
    """``tui-bot init [DIR]``: a ready bot folder (extensions/ and a commented .env), then the next steps."""
    from tui_bot.scaffold import ScaffoldError, init_bot_folder

    parser = argparse.ArgumentParser(
        prog="tui-bot init",
        description="Create a bot folder: extensions/ with the starter extensions (example, fun, moderation) "
        "and a commented .env. Never overwrites a file.",
    )
    parser.add_argument("folder", nargs="?", type=Path, default=Path("."), help="default: the current folder")
    folder: Path = parser.parse_args(argv).folder
    try:
        created = init_bot_folder(folder)
    except (ScaffoldError, OSError) as error:
        print(f"tui-bot init: {error}", file=sys.stderr)
        return exit_codes.CRITICAL
    shown = "." if folder == Path(".") else str(folder)
    print(f"Created in {shown}:")
    print(f"  extensions/    the starter extensions: {', '.join(created.extensions)} (edit or delete them)")
    print("  .env           DISCORD_TOKEN and BOT_OWNER_ID, empty, with where to get them")
    print()
    print("Next:")
    if shown != ".":
        print(f"  cd {shown}")
    print("  tui-bot --sandbox    try the bot now against the built-in local Discord (no token needed)")
    print(
        "  then: create the bot in https://discord.com/developers/applications, put its token and your user"
    )
    print(
        "  id in .env, run 'tui-bot invite' and open the link to add the bot to your server, then 'tui-bot'"
    )
    return exit_codes.OK


def invite_main(argv: Sequence[str]) -> int:
    """``tui-bot invite [--client-id ID]``: the OAuth2 link that adds this bot to a server."""
    from tui_bot.scaffold import client_id_from_token, invite_permissions, invite_url, permission_labels

    parser = argparse.ArgumentParser(
        prog="tui-bot invite",
        description="Print the link that adds the bot to a server, with the slash-command scope and the "
        "permissions its enabled features need.",
    )
    parser.add_argument(
        "--client-id",
        type=int,
        metavar="ID",
        help="the application id (default: read from DISCORD_TOKEN in .env)",
    )
    parser.add_argument("--config", type=Path, default=Path("config.json"), metavar="PATH")
    parser.add_argument("--env-file", type=Path, default=Path(".env"), metavar="PATH")
    args = parser.parse_args(argv)
    client_id: int | None = args.client_id
    if client_id is None:
        from tui_bot.config import EnvError, read_env

        try:
            token = read_env(args.env_file, require_secrets=False).token
        except EnvError as error:
            return _fail(str(error))
        client_id = client_id_from_token(token) if token else None
        if client_id is None:
            where = "is not set" if not token else "does not look like a bot token"
            return _fail(
                f"DISCORD_TOKEN in {args.env_file} {where}: pass --client-id ID (Developer Portal -> your "
                "application -> General Information -> Application ID)"
            )
    moderation = _moderation_enabled(args.config)
    if moderation is None:
        return exit_codes.CONFIG_ERROR
    permissions = invite_permissions(moderation=moderation)
    print(f"Open this link to add the bot (application {client_id}) to a server you manage:")
    print(f"  {invite_url(client_id, permissions)}")
    print("Scopes: bot, applications.commands (slash commands)")
    print(f"Permissions ({permissions.value}): {', '.join(permission_labels(permissions))}")
    if not moderation:
        print(
            "(Kick Members, Ban Members and Manage Messages are left out: the moderation extension is off.)"
        )
    return exit_codes.OK


def db_main(argv: Sequence[str]) -> int:
    """``tui-bot db migrate-to [URL]``: copy the SQLite database into PostgreSQL, with a table of counts."""
    parser = argparse.ArgumentParser(prog="tui-bot db", description="Database tools.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    migrate = commands.add_parser(
        "migrate-to",
        help="copy the SQLite database into PostgreSQL",
        description="Copy every table of the SQLite database (guild settings, role rules, usage counts, "
        "user data and extensions' own tables) into a PostgreSQL database, then count the rows of each "
        "table on both sides. All or nothing: on any problem nothing is kept in PostgreSQL. Refuses a "
        "target that already holds rows, unless --force.",
    )
    migrate.add_argument(
        "url",
        nargs="?",
        metavar="URL",
        help="postgresql://user:password@host:5432/database (default: DATABASE_URL from .env or the "
        "environment, then database.url of config.json; both keep the password out of the shell history)",
    )
    migrate.add_argument(
        "--from",
        dest="source",
        type=Path,
        metavar="PATH",
        help="the SQLite file (default: database.path of config.json)",
    )
    migrate.add_argument(
        "--force",
        action="store_true",
        help="merge into a target that already holds rows (rows whose key is already there are kept)",
    )
    migrate.add_argument("--config", type=Path, default=Path("config.json"), metavar="PATH")
    migrate.add_argument("--env-file", type=Path, default=Path(".env"), metavar="PATH")
    args = parser.parse_args(argv)
    return _migrate_to(
        args.url, args.source, force=args.force, config_path=args.config, env_file=args.env_file
    )


def _migrate_to(
    url: str | None, source: Path | None, *, force: bool, config_path: Path, env_file: Path
) -> int:
    import asyncio

    from tui_bot.config import ConfigFileError, ConfigStore, EnvError, read_env
    from tui_bot.config.model import DatabaseConfig
    from tui_bot.storage import DatabaseError
    from tui_bot.storage.transfer import copy_sqlite_to_postgres
    from tui_bot.storage.urls import database_url_problem, redact_url

    def fail(message: str, code: int = exit_codes.CONFIG_ERROR) -> int:
        print(f"tui-bot db migrate-to: {message}", file=sys.stderr)
        return code

    settings = DatabaseConfig()
    if config_path.exists():
        try:
            settings = ConfigStore.load(config_path, create=False).model.database
        except ConfigFileError as error:
            return fail(str(error))
    if url is None:
        try:
            url = read_env(env_file, require_secrets=False).database_url or settings.url
        except EnvError as error:
            return fail(str(error))
        if url is None:
            return fail(
                "no PostgreSQL URL: give one (tui-bot db migrate-to postgresql://user:password@host/db), "
                "or set DATABASE_URL in .env"
            )
    problem = database_url_problem(url)
    if problem is not None:
        return fail(f"the URL {redact_url(url)} must be {problem}")
    path = source if source is not None else Path(settings.path)
    try:
        report = asyncio.run(copy_sqlite_to_postgres(path, url, force=force))
    except DatabaseError as error:
        return fail(str(error), exit_codes.CRITICAL)
    except KeyboardInterrupt:  # the transaction ends with the connection: nothing is kept
        return fail("interrupted: nothing was copied", exit_codes.CRITICAL)
    print(f"Copied {report.source} to {report.target}:")
    for line in report.lines():
        print(f"  {line}")
    tables = len(report.tables)
    print(
        f"Every row is accounted for: {report.total_source} rows in {tables} "
        f"{'table' if tables == 1 else 'tables'}. To use PostgreSQL, set database.url in config.json or "
        "DATABASE_URL in .env."
    )
    return exit_codes.OK


def _moderation_enabled(config_path: Path) -> bool | None:
    """Whether the moderation extension is in the extensions folder and not blacklisted (None: bad config,
    said on stderr)."""
    from tui_bot.config import ConfigFileError, ConfigStore
    from tui_bot.config.model import ExtensionsConfig

    extensions = ExtensionsConfig()
    if config_path.exists():
        try:
            extensions = ConfigStore.load(config_path, create=False).model.extensions
        except ConfigFileError as error:
            _fail(str(error))
            return None
    directory = Path(extensions.directory)
    present = (directory / "moderation.py").is_file() or (directory / "moderation" / "__init__.py").is_file()
    return present and "moderation" not in extensions.blacklist


def _run_headless(runtime: BotRuntime) -> int:
    from tui_bot import loop as event_loop
    from tui_bot.logs.setup import configure_logging, install_redaction_boundary
    from tui_bot.runtime import run_headless, shutdown

    store, secrets = runtime.config, runtime.secrets
    session = configure_logging(store.model.logging, secrets=[secrets.token], stream=sys.stdout)
    install_redaction_boundary(secrets.values_to_redact())  # stdout, stderr, uncaught exceptions
    try:
        store.log_load_notes()
        # uvloop unless TUI_BOT_LOOP=asyncio (see tui_bot.loop); logged once, so it is in the run's log.
        code = event_loop.run(run_headless(runtime))
        # Non-daemon threads an extension left running would keep the interpreter alive for ever.
        leftover = shutdown.report_leftover_threads()
    finally:
        session.close()
    if leftover:
        shutdown.hard_exit(code)
    return code
