"""Rewrites config.json in a loop through ConfigStore.set until killed (used by the SIGKILL test).

Each version is large (a few hundred KB of role rules) so that a kill lands mid-write often.
Prints the number of each completed save to stdout.
"""

import asyncio
import sys

from tui_bot.config import ConfigStore


async def main(path: str) -> None:
    store = ConfigStore.load(path)
    version = 0
    while True:
        version += 1
        rules = {f"command{i}": [f"Role {version} {i}"] * 20 for i in range(400)}
        await store.set("command_permissions", rules)
        await store.set("status.text", f"version {version}")
        print(version, flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
