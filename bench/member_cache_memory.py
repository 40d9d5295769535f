"""Member cache memory: what discord.py holds for a guild of N members, per ``cache.members`` setting.

Run ``python bench/member_cache_memory.py [--members N]``. A TuiBot (config.json with the given ``cache``
section) connects to the sandbox, whose one guild has N members; once it is ready, the memory still held
by objects allocated in discord.py's own modules is measured with tracemalloc (the sandbox's world lives
in the same process but is not counted). Not collected by pytest (``testpaths`` is ``tests``).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import tempfile
import tracemalloc
from pathlib import Path
from typing import Any

from tui_bot.config import ConfigStore
from tui_bot.core.bot import create_bot
from tui_bot.sandbox import Sandbox, demo_world
from tui_bot.sandbox.world import Member, User

SETTINGS: dict[str, dict[str, Any]] = {
    "minimal (default)": {},
    "all, not chunked": {"members": "all"},
    "all, chunked": {"members": "all", "chunk_guilds_at_startup": True},
}


def _world(members: int) -> Any:
    world = demo_world()
    guild = next(iter(world.guilds.values()))
    for index in range(members):
        user = User(world.snowflakes(), f"member{index:06d}")
        world.users[user.id] = user
        guild.members[user.id] = Member(user)
    return world


async def _measure(members: int, cache: dict[str, Any], root: Path) -> tuple[int, int, float]:
    """(members cached, Discord's member count, MiB held by discord.py) once the bot is ready."""
    config = root / "config.json"
    config.write_text(
        json.dumps(
            {
                "auto_reload": False,
                "database": {"path": str(root / "bot.db")},
                "logging": {"directory": str(root / "logs")},
                "extensions": {"directory": str(root / "extensions"), "auto_load": False},
                "cache": cache,
            }
        ),
        encoding="utf-8",
    )
    async with Sandbox(_world(members)) as sandbox:
        sandbox.point_discord_py_here()
        gc.collect()
        tracemalloc.start()
        bot = create_bot(ConfigStore.load(config), guild_ready_timeout=0.05)
        task = asyncio.create_task(bot.start(sandbox.token))
        try:
            await asyncio.wait_for(bot.wait_until_ready(), timeout=300)
            gc.collect()
            snapshot = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(True, "*/discord/*")])
            held = sum(stat.size for stat in snapshot.statistics("filename")) / 2**20
            guild = bot.guilds[0]
            return len(guild.members), guild.member_count or 0, held
        finally:
            tracemalloc.stop()
            await bot.close()
            await task


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, default=20_000, help="members of the guild (default 20000)")
    args = parser.parse_args(argv)
    for label, cache in SETTINGS.items():
        with tempfile.TemporaryDirectory() as folder:
            cached, count, held = asyncio.run(_measure(args.members, cache, Path(folder)))
        print(f"{label:<18} {cached:>7,} of {count:,} members cached, discord.py holds {held:7.1f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
