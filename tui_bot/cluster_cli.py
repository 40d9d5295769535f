"""``tui-bot cluster status`` and ``tui-bot cluster run``: the workers of a cluster, from the command line.

``status`` reads the status table every worker writes (see :mod:`tui_bot.cluster.membership`) and prints
it, or ``--json`` for scripts; its exit code says whether every shard is served by a live worker. ``run``
starts N workers on this host with contiguous shard ranges and restarts one that dies.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from tui_bot import exit_codes

DEGRADED = 1  # status: a shard has no live worker, or a worker is stale


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tui-bot cluster",
        description="Cluster mode: several processes, each a range of shards, sharing one PostgreSQL.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="{status,run}")
    status = commands.add_parser("status", help="every worker, its shards and how it is doing")
    status.add_argument("--json", action="store_true", help="print JSON (one object) instead of a table")
    status.add_argument("--all", action="store_true", help="also list workers that stopped cleanly")
    _database_options(status)
    run = commands.add_parser(
        "run",
        help="start N workers on this host, each a contiguous range of shards; restart one that dies",
        description="Start N workers (tui-bot --headless --shard-count S --shard-ids A-B) and restart one "
        "that exits. Options after -- are passed to every worker (e.g. -- --config bot.json).",
    )
    run.add_argument("--workers", type=int, required=True, metavar="N", help="how many processes")
    run.add_argument("--shard-count", type=int, required=True, metavar="S", help="shards across all workers")
    run.add_argument("worker_arguments", nargs=argparse.REMAINDER, help="-- then options for every worker")
    return parser


def _database_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url", metavar="URL", help="PostgreSQL URL (default: DATABASE_URL, then database.url)"
    )
    parser.add_argument("--config", type=Path, default=Path("config.json"), metavar="PATH")
    parser.add_argument("--env-file", type=Path, default=Path(".env"), metavar="PATH")


def _fail(message: str, code: int = exit_codes.CONFIG_ERROR) -> int:
    print(f"tui-bot cluster: {message}", file=sys.stderr)
    return code


def cluster_main(argv: Sequence[str]) -> int:
    args = _parser().parse_args(list(argv))
    if args.command == "run":
        return _run(args.workers, args.shard_count, args.worker_arguments)
    return _status(args)


def _resolve_url(args: argparse.Namespace) -> tuple[str | None, str | None, float]:
    """``(url, problem, stale_after)`` from --url, DATABASE_URL or config.json's database.url."""
    from tui_bot.config import ConfigFileError, ConfigStore, EnvError, read_env
    from tui_bot.config.model import BotConfig

    model = BotConfig()
    if args.config.exists():
        try:
            model = ConfigStore.load(args.config, create=False).model
        except ConfigFileError as error:
            return None, str(error), model.cluster.stale_after
    url = args.url
    if url is None:
        try:
            url = read_env(args.env_file, require_secrets=False).database_url or model.database.url
        except EnvError as error:
            return None, str(error), model.cluster.stale_after
    if url is None:
        return (
            None,
            (
                "no PostgreSQL URL: cluster mode keeps its state in PostgreSQL. Set DATABASE_URL in .env or "
                "database.url in config.json, or pass --url"
            ),
            model.cluster.stale_after,
        )
    return url, None, model.cluster.stale_after


def _status(args: argparse.Namespace) -> int:
    from tui_bot.cluster.status import ClusterStatus, read_cluster_status
    from tui_bot.storage.urls import database_url_problem, redact_url

    url, problem, stale_after = _resolve_url(args)
    if url is None:
        return _fail(problem or "no URL")
    bad = database_url_problem(url)
    if bad is not None:
        return _fail(f"the URL {redact_url(url)} must be {bad}")
    try:
        status: ClusterStatus = asyncio.run(read_cluster_status(url, stale_after=stale_after))
    except Exception as error:  # unreachable, refused, no such database: one line, never the password
        reason = type(error).__name__ + (f": {error}" if str(error) else "")
        return _fail(f"could not read the cluster status from {redact_url(url)} ({redact_url(reason)})", 1)
    if args.json:
        print(json.dumps(status.to_json(include_stopped=args.all), indent=2))
    else:
        print(f"Cluster at {redact_url(url)}")
        for line in status.lines(include_stopped=args.all):
            print(line)
    return exit_codes.OK if status.healthy else DEGRADED


def _run(workers: int, shard_count: int, worker_arguments: Sequence[str]) -> int:
    from tui_bot import loop
    from tui_bot.cluster.supervisor import Supervisor

    extra = list(worker_arguments)
    if extra[:1] == ["--"]:
        extra = extra[1:]
    forbidden = {"--shard-count", "--shard-ids", "--headless", "--sandbox"} & {a.split("=")[0] for a in extra}
    if forbidden:
        return _fail(
            f"{', '.join(sorted(forbidden))} cannot be passed to the workers: the supervisor sets them"
        )
    try:
        supervisor = Supervisor(workers=workers, shard_count=shard_count, bot_arguments=extra)
    except ValueError as error:
        return _fail(str(error))
    return loop.run(supervisor.run())
