"""``tui-bot attach [SOCKET_OR_URL]``: the console of a bot that is already running, as a client.

The bot (``tui-bot --headless`` under systemd, a cluster worker, another console) serves an admin
endpoint (:mod:`tui_bot.runtime.admin`); this opens the same console on it: Logs, Metrics, Guilds,
Extensions and, for a cluster worker, Cluster. Every action is performed by that bot. Quitting leaves it
running. A connection that cannot be made (no socket, no permission, a wrong token) is one line on
stderr and exit code 1, before any screen; ``--web PORT`` serves the same console in a browser
(:mod:`tui_bot.attach_web`).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tui_bot import exit_codes

if TYPE_CHECKING:
    from tui_bot.runtime.admin import Target

DEFAULT_CONFIG = Path("config.json")
DEFAULT_ENV_FILE = Path(".env")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tui-bot attach",
        description="Open the console of a running bot through its admin endpoint; quitting leaves the bot "
        "running.",
    )
    parser.add_argument(
        "target",
        nargs="?",
        metavar="SOCKET_OR_URL",
        help="the bot's admin socket (default: admin.sock in the folder of config.json's database.path, "
        "e.g. data/admin.sock), or tcp://127.0.0.1:PORT (admin.tcp_port; needs ADMIN_TOKEN from .env or "
        "the environment)",
    )
    parser.add_argument(
        "--web", type=int, metavar="PORT", help="serve the console in a browser on 127.0.0.1:PORT"
    )
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, metavar="PATH")
    parser.add_argument("--env-file", type=Path, default=DEFAULT_ENV_FILE, metavar="PATH")
    return parser


def _fail(message: str, code: int = exit_codes.CRITICAL) -> int:
    print(f"tui-bot attach: {message}", file=sys.stderr)
    return code


def default_socket(config_path: Path) -> Path:
    """Where the bot of this folder listens: from config.json (its defaults when there is none)."""
    from tui_bot.config import ConfigStore
    from tui_bot.config.model import BotConfig
    from tui_bot.runtime.admin import socket_path

    config = ConfigStore.load(config_path, create=False).model if config_path.exists() else BotConfig()
    return socket_path(config)


def worker_sockets(folder: Path) -> list[Path]:
    """The sockets of the cluster workers running in this folder (``admin-shards-0-3.sock``)."""
    try:
        return sorted(folder.glob("admin-shards-*.sock"))
    except OSError:
        return []


def attach_main(argv: Sequence[str]) -> int:
    """Entry point of ``tui-bot attach``; the exit code."""
    from tui_bot.config import ConfigFileError, EnvError, read_env
    from tui_bot.runtime.admin import parse_target

    args = _parser().parse_args(list(argv))
    text: str | None = args.target
    if text is None:
        try:
            path = default_socket(args.config)
        except ConfigFileError as error:
            return _fail(str(error), exit_codes.CONFIG_ERROR)
        workers = worker_sockets(path.parent)
        if not path.exists() and workers:
            names = ", ".join(str(worker) for worker in workers)
            return _fail(f"{path} does not exist; the cluster workers here listen on {names}: attach to one")
        text = str(path)
    if args.web is not None:
        from tui_bot.attach_web import serve_web

        options: list[str] = []
        if args.config != DEFAULT_CONFIG:
            options += ["--config", str(args.config)]
        if args.env_file != DEFAULT_ENV_FILE:
            options += ["--env-file", str(args.env_file)]
        return serve_web(text, args.web, arguments=options)
    try:
        target = parse_target(text)
    except ValueError as error:
        return _fail(str(error), exit_codes.CONFIG_ERROR)
    token = None
    if target.over_tcp:
        try:
            token = read_env(args.env_file, require_secrets=False).admin_token
        except EnvError as error:
            return _fail(str(error), exit_codes.CONFIG_ERROR)
        if token is None:
            return _fail(
                f"ADMIN_TOKEN is not set (in {args.env_file} or the environment): {target} needs the bot's "
                "admin token",
                exit_codes.CONFIG_ERROR,
            )
    from tui_bot import loop as event_loop
    from tui_bot.logs.redaction import PROCESS_REDACTOR
    from tui_bot.logs.streams import install_redacting_streams

    PROCESS_REDACTOR.add_secrets([token])
    install_redacting_streams(PROCESS_REDACTOR)  # the token never reaches the terminal
    return event_loop.run(_attach(target, token))


async def _attach(target: Target, token: str | None) -> int:
    from tui_bot.runtime.admin import AdminClient, AdminRefused

    client = AdminClient(target, token=token)
    try:
        await client.connect()
    except AdminRefused as refusal:
        return _fail(str(refusal))
    from tui_bot.tui import make_attached_console  # Textual, once there is a console to show

    app = make_attached_console(client)
    # This console's own warnings (a failed refresh, a broken answer) show in its Logs pane among the
    # bot's lines; it writes no log file of its own (the bot's folder is the bot's).
    root = logging.getLogger()
    root.addHandler(app.log_handler)
    app.log_handler.setLevel(logging.WARNING)
    try:
        code = await app.run_async()
    finally:
        root.removeHandler(app.log_handler)
        await client.close()
    return exit_codes.OK if code is None else code
