"""The bot side of ``bench/dispatch.py``: each bot it measures runs as its own process from here.

``python bench/_bot_process.py bare --api-base URL --gateway-url URL --intents N [--extensions DIR]``
runs a bare discord.py ``commands.Bot`` with discord.py's defaults (asyncio's own event loop): one
``ping`` command (``await ctx.send("pong")``) or, with ``--extensions``, every module of the folder
``DIR`` loaded as an extension (``DIR``'s name is the package name). It is pointed at the
sandbox exactly as ``Sandbox.point_discord_py_here()`` does it (``Route.BASE`` and
``DiscordWebSocket.DEFAULT_GATEWAY``), and imports nothing of tui-bot, so its RSS and CPU are discord.py's.

``python bench/_bot_process.py tui`` runs ``tui-bot --headless`` in the working directory (the harness
runs ``python -m tui_bot --headless`` itself unless it profiles). ``--profile-out FILE`` before the mode
runs either bot under cProfile, enabled by SIGUSR1 and disabled and saved to FILE by SIGUSR2, so only
the window the harness measures is profiled.

The token comes from ``DISCORD_TOKEN`` in the environment (never from the command line). SIGTERM closes
the bot cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path


def run_bare(api_base: str, gateway_url: str, intents_value: int, extensions: Path | None) -> int:
    """Run the bare discord.py bot until SIGTERM; returns the exit code."""
    import discord
    import discord.gateway
    import discord.http
    import yarl
    from discord.ext import commands

    # What Sandbox.point_discord_py_here() does (tui_bot.runtime.endpoints.apply_endpoints).
    discord.http.Route.BASE = api_base.rstrip("/")
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)

    intents = discord.Intents.none()
    intents.value = intents_value

    names: list[str] = []
    if extensions is not None:
        sys.path.insert(0, str(extensions.parent))
        names = [
            f"{extensions.name}.{path.stem}"
            for path in sorted(extensions.glob("*.py"))
            if not path.name.startswith("_")
        ]

    class BareBot(commands.Bot):
        async def setup_hook(self) -> None:
            for name in names:
                await self.load_extension(name)

    bot = BareBot(command_prefix="!", intents=intents)
    if extensions is None:

        @bot.command()
        async def ping(ctx: commands.Context) -> None:
            await ctx.send("pong")

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        async with bot:
            runner = asyncio.create_task(bot.start(os.environ["DISCORD_TOKEN"]))
            stopper = asyncio.create_task(stop.wait())
            await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
            await bot.close()
            stopper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner  # re-raises a login or connection failure

    asyncio.run(main())
    return 0


def run_tui() -> int:
    """``tui-bot --headless`` in the working directory."""
    from tui_bot.cli import main

    return main(["--headless"])


def install_profiler(out: Path) -> None:
    """cProfile switched on by SIGUSR1 and off (and saved to ``out``) by SIGUSR2."""
    import cProfile

    profiler = cProfile.Profile()

    def start(_signum: int, _frame: object) -> None:
        profiler.enable()

    def stop(_signum: int, _frame: object) -> None:
        profiler.disable()
        profiler.dump_stats(out)

    # Python runs these handlers on the main thread, the one running the event loop: the one profiled.
    signal.signal(signal.SIGUSR1, start)
    signal.signal(signal.SIGUSR2, stop)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile-out", type=Path, help="cProfile between SIGUSR1 and SIGUSR2, saved here")
    modes = parser.add_subparsers(dest="mode", required=True)
    bare = modes.add_parser("bare", help="a bare discord.py commands.Bot")
    bare.add_argument("--api-base", required=True)
    bare.add_argument("--gateway-url", required=True)
    bare.add_argument("--intents", type=int, required=True, help="the intents value tui-bot identified with")
    bare.add_argument("--extensions", type=Path, help="load every module in this folder instead of ping")
    modes.add_parser("tui", help="tui-bot --headless in the working directory")
    args = parser.parse_args(argv)
    if args.profile_out is not None:
        install_profiler(args.profile_out)
    if args.mode == "bare":
        return run_bare(args.api_base, args.gateway_url, args.intents, args.extensions)
    return run_tui()


if __name__ == "__main__":
    sys.exit(main())
