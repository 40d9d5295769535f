"""Save the README's console screenshots (SVG, written by Textual's ``App.save_screenshot``).

Run ``python scripts/console_screenshot.py [--out docs]``. It starts the console headless at 120x36 in a
temporary folder, against the sandbox, with the extensions that ship in ``extensions/``; a member runs a
few commands so the panes have something to show; then it saves ``console.svg`` (the Logs pane, the
main screen) and ``console-metrics.svg``, ``console-extensions.svg`` into ``--out``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import tempfile
from pathlib import Path

from tui_bot.config import ConfigStore, Secrets
from tui_bot.logs.setup import configure_logging
from tui_bot.runtime import BotRuntime
from tui_bot.tui import ConsoleApp, make_console
from tui_bot.tui.connection import ConnectionState
from tui_bot.tui.log_buffer import BufferedLogHandler, console_formatter

REPO = Path(__file__).resolve().parent.parent
SIZE = (120, 36)


async def _poll(predicate, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]  # noqa: ASYNC109
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise TimeoutError("the console did not get there in time")
        await asyncio.sleep(0.05)


async def _shoot(app: ConsoleApp, out: Path) -> list[Path]:
    saved = []
    async with app.run_test(size=SIZE) as pilot:
        await _poll(lambda: app.connection is ConnectionState.READY)
        sandbox = app.runtime.sandbox
        assert sandbox is not None
        for author, content in (("alice", "!hello"), ("bob", "!stats"), ("alice", "!coinflip")):
            await sandbox.send_message(author, "general", content)
            await sandbox.wait_for_bot_message(timeout=10)
        await pilot.pause(1.5)  # two refresh ticks: every number is on screen
        for key, name in (
            ("1", "console.svg"),
            ("2", "console-metrics.svg"),
            ("4", "console-extensions.svg"),
        ):
            await pilot.press(key)
            await pilot.pause(0.3)
            saved.append(Path(app.save_screenshot(filename=name, path=str(out))))
        await app.runtime.stop()
    return saved


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs", help="folder for the SVG files")
    args = parser.parse_args()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)
        shutil.copytree(REPO / "tui_bot" / "starter" / "extensions", Path(folder) / "extensions")
        store = ConfigStore.load(Path(folder) / "config.json")
        handler = BufferedLogHandler()
        handler.setFormatter(console_formatter())
        session = configure_logging(store.model.logging, extra_handlers=[handler])
        try:
            app = make_console(BotRuntime(store, Secrets(), sandbox=True), log_handler=handler)
            for path in asyncio.run(_shoot(app, out)):
                print(f"saved {path}")
        finally:
            session.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
