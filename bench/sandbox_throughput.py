"""Sandbox throughput: how many member messages per second reach a real discord.py bot's ``on_message``.

Run ``python bench/sandbox_throughput.py [--messages N] [--rounds R] [--profile]``. One process, one
event loop: the sandbox and the unmodified discord.py client share the core, as in the test suite, so
the figure includes discord.py's own parsing. Not collected by pytest (``testpaths`` is ``tests``).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import pstats
import sys
import time

import discord

from tui_bot.sandbox import Sandbox, demo_world


async def _measure(count: int, *, profile: cProfile.Profile | None) -> tuple[float, float]:
    """(messages per second delivered to on_message, seconds to inject them)."""
    intents = discord.Intents.default()
    intents.message_content = True
    client = discord.Client(intents=intents, guild_ready_timeout=0.01)
    received = 0
    all_in = asyncio.Event()

    @client.event
    async def on_message(message: discord.Message) -> None:
        nonlocal received
        received += 1
        if received == count:
            all_in.set()

    async with Sandbox(demo_world()) as sandbox:
        sandbox.point_discord_py_here()
        task = asyncio.create_task(client.start(sandbox.token))
        try:
            await asyncio.wait_for(client.wait_until_ready(), timeout=15)
            gc.collect()
            if profile is not None:
                profile.enable()
            start = time.perf_counter()
            for index in range(count):
                await sandbox.send_message("alice", "general", f"message {index}")
            injected = time.perf_counter() - start
            await asyncio.wait_for(all_in.wait(), timeout=120)
            elapsed = time.perf_counter() - start
            if profile is not None:
                profile.disable()
        finally:
            await client.close()
            await task
    return count / elapsed, injected


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000, help="messages per round (default 20000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds; the best and median are printed")
    parser.add_argument("--profile", action="store_true", help="cProfile one round and print the top 30")
    args = parser.parse_args(argv)

    if args.profile:
        profile = cProfile.Profile()
        rate, _ = asyncio.run(_measure(args.messages, profile=profile))
        print(f"profiled round: {rate:,.0f} msgs/s (profiling slows it down)")
        pstats.Stats(profile, stream=sys.stdout).sort_stats("tottime").print_stats(30)
        return 0

    rates = []
    for round_number in range(1, args.rounds + 1):
        rate, injected = asyncio.run(_measure(args.messages, profile=None))
        rates.append(rate)
        print(
            f"round {round_number}: {args.messages:,} messages, {rate:,.0f} msgs/s delivered to on_message "
            f"(injection {args.messages / injected:,.0f} msgs/s)"
        )
    rates.sort()
    print(f"best {rates[-1]:,.0f} msgs/s, median {rates[len(rates) // 2]:,.0f} msgs/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
