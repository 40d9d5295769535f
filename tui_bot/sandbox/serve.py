"""``tui-bot sandbox serve``: the sandbox on its own, for bots and test clients in other processes.

It prints where everything is (REST base, gateway URL, the bot token, the control API) and serves
until SIGINT or SIGTERM, then closes every connection and exits 0. Any discord.py bot can connect by
setting ``discord.http.Route.BASE`` and ``DiscordWebSocket.DEFAULT_GATEWAY`` (a tui-bot reads them from
``DISCORD_API_BASE`` and ``DISCORD_GATEWAY_URL`` in its .env); a test client in any language drives it
through the control API (see ``control.py``).

Several bot processes, each with its own shard ids, may connect to one sandbox: each guild's events go
to the session of shard ``(guild_id >> 22) % shard_count`` and DMs to shard 0. Discord's limits on
starting sessions are on by default here (``--identify-window 5``): an IDENTIFY breaking the
``max_concurrency`` bucket rule is refused with INVALID_SESSION and recorded (``GET /_sandbox/gateway``).

Nothing here imports Textual.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tui_bot import exit_codes

from .identify_limits import DEFAULT_SESSION_RESET_AFTER, DEFAULT_SESSION_START_TOTAL, DISCORD_IDENTIFY_WINDOW

if TYPE_CHECKING:
    from .server import Sandbox
    from .world import World

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    """``tui-bot sandbox ...`` (one subcommand today: ``serve``)."""
    parser = argparse.ArgumentParser(
        prog="tui-bot sandbox", description="The built-in local Discord, without a bot."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser(
        "serve",
        help="run the sandbox alone until Ctrl+C / SIGTERM",
        description="Run the sandbox alone: print its addresses and the bot token, serve until "
        "SIGINT or SIGTERM, exit 0.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    serve.add_argument(
        "--port", type=int, default=8765, help="port to listen on (default: 8765; 0 picks a free one)"
    )
    serve.add_argument(
        "--world",
        type=Path,
        metavar="FILE",
        help="a world file (JSON, like demo_world.json) instead of the demo",
    )
    limits = serve.add_argument_group("gateway limits (what GET gateway/bot reports, and enforced)")
    limits.add_argument(
        "--shards",
        type=int,
        default=1,
        metavar="N",
        help="the shard count GET gateway/bot recommends (default: 1)",
    )
    limits.add_argument(
        "--max-concurrency",
        type=int,
        default=1,
        metavar="N",
        help="IDENTIFYs allowed per window, one per bucket shard_id %% N (default: 1)",
    )
    limits.add_argument(
        "--identify-window",
        type=float,
        default=DISCORD_IDENTIFY_WINDOW,
        metavar="SECONDS",
        help="seconds between two IDENTIFYs of one bucket; sooner is refused with INVALID_SESSION "
        f"(default: {DISCORD_IDENTIFY_WINDOW:g}, as on Discord; 0: not enforced)",
    )
    limits.add_argument(
        "--session-start-limit",
        type=int,
        default=DEFAULT_SESSION_START_TOTAL,
        metavar="N",
        help="IDENTIFYs allowed per reset window; one more is closed with 4004 "
        f"(default: {DEFAULT_SESSION_START_TOTAL})",
    )
    limits.add_argument(
        "--session-reset-after",
        type=float,
        default=DEFAULT_SESSION_RESET_AFTER,
        metavar="SECONDS",
        help="seconds until the session starts are all available again "
        f"(default: {DEFAULT_SESSION_RESET_AFTER:g})",
    )
    serve.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="log level on stderr (default: info)",
    )
    return parser


def sandbox_main(argv: Sequence[str]) -> int:
    """Entry point of ``tui-bot sandbox ...``; returns the exit code."""
    args = build_parser().parse_args(list(argv))
    return serve_main(args)


def _fail(message: str) -> int:
    print(f"tui-bot sandbox: {message}", file=sys.stderr)
    return exit_codes.CONFIG_ERROR


def load_world_file(path: Path) -> World:
    """The world in ``path``; :class:`ValueError` with a message saying what is wrong."""
    from .world import WorldError
    from .world_file import load_world

    try:
        return load_world(path)
    except FileNotFoundError:
        raise ValueError(f"world file {path} not found") from None
    except OSError as exc:
        raise ValueError(f"cannot read world file {path}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"world file {path} is not valid JSON: {exc}") from None
    except WorldError as exc:
        raise ValueError(f"world file {path}: {exc}") from None
    except KeyError as exc:
        raise ValueError(
            f"world file {path} lacks the key {exc}; see demo_world.json in tui_bot/sandbox for the format"
        ) from None
    except (TypeError, ValueError, AttributeError) as exc:
        raise ValueError(
            f"world file {path} is malformed ({exc}); see demo_world.json for the format"
        ) from None


def serve_main(args: argparse.Namespace) -> int:
    """``tui-bot sandbox serve``: 0 after a requested shutdown, 78 for a bad world file, host or port."""
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    if not 0 <= args.port <= 65535:
        return _fail(f"--port must be between 0 and 65535 (got {args.port})")
    problem = _limits_problem(args)
    if problem is not None:
        return _fail(problem)
    try:
        if args.world is None:
            from .world_file import demo_world

            world = demo_world()
        else:
            world = load_world_file(args.world)
    except ValueError as exc:
        return _fail(str(exc))
    from tui_bot import loop as event_loop

    try:
        # uvloop unless TUI_BOT_LOOP=asyncio, as for the bot (see tui_bot.loop).
        return event_loop.run(_serve(world, args))
    except KeyboardInterrupt:  # a second Ctrl+C during shutdown, or no signal handlers (Windows)
        return exit_codes.OK


def _limits_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with the gateway limit options, if anything."""
    if args.shards < 1:
        return f"--shards must be at least 1 (got {args.shards})"
    if args.max_concurrency < 1:
        return f"--max-concurrency must be at least 1 (got {args.max_concurrency})"
    if not args.identify_window >= 0:  # also refuses nan
        return f"--identify-window must be 0 (not enforced) or more seconds (got {args.identify_window})"
    if args.session_start_limit < 0:
        return f"--session-start-limit must be 0 or more (got {args.session_start_limit})"
    if not args.session_reset_after > 0:
        return f"--session-reset-after must be more than 0 seconds (got {args.session_reset_after})"
    return None


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def banner(sandbox: Sandbox) -> str:
    """What ``serve`` prints: one ``name: value`` per line, easy for people and scripts to read."""
    return "\n".join(
        [
            f"tui-bot sandbox listening on {sandbox.host}:{sandbox.port}",
            f"port: {sandbox.port}",
            f"rest api: {sandbox.api_base}",
            f"gateway: {sandbox.gateway_url}",
            f"bot token: {sandbox.token}",
            f"control api: {sandbox.base_url}/_sandbox",
            f"gateway limits: {describe_limits(sandbox)}",
            "",
            "For a tui-bot, put in its .env:",
            f"  DISCORD_API_BASE={sandbox.api_base}",
            f"  DISCORD_GATEWAY_URL={sandbox.gateway_url}",
            f"  DISCORD_TOKEN={sandbox.token}",
            f"  BOT_OWNER_ID={sandbox.world.owner_id}",
            "Press Ctrl+C to stop.",
        ]
    )


def describe_limits(sandbox: Sandbox) -> str:
    """The gateway settings in one line, e.g. ``shards 1, max_concurrency 1, ...``."""
    limits = sandbox.identify_limits
    window = limits.identify_window
    spacing = f"one IDENTIFY per bucket per {window:g}s" if window else "IDENTIFY spacing not enforced"
    return (
        f"shards {sandbox.recommended_shards}, max_concurrency {limits.max_concurrency} ({spacing}), "
        f"{limits.session_start_total} session starts per {limits.session_reset_after:g}s"
    )


async def _serve(world: World, args: argparse.Namespace) -> int:
    from .server import Sandbox

    host, port = args.host, args.port
    sandbox = Sandbox(
        world,
        host=host,
        port=port,
        max_concurrency=args.max_concurrency,
        identify_window=args.identify_window,
        session_start_limit=args.session_start_limit,
        session_reset_after=args.session_reset_after,
        recommended_shards=args.shards,
    )
    try:
        await sandbox.start()
    except OSError as exc:
        return _fail(
            f"cannot listen on {host}:{port}: {exc.strerror or exc} "
            "(pick another --port, or --port 0 for any free one)"
        )
    if not _is_loopback(host):
        log.warning("listening on %s, not loopback: the control API (/_sandbox/) has no authentication", host)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, stop.set)
            installed.append(signum)
        except (NotImplementedError, RuntimeError):  # Windows: Ctrl+C arrives as KeyboardInterrupt
            pass
    try:
        print(banner(sandbox), flush=True)
        await stop.wait()
        log.info("shutting down")
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)
        await sandbox.stop()
    return exit_codes.OK
