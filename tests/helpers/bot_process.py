"""A bot running in its own process, as an operator runs it: ``tui-bot --sandbox --headless`` in a
folder made by ``tui-bot init``, with everything it printed kept for the test to read.

What the bot did is read from its own output (``wait_for_line``), never from a client of it. Its admin
socket is ``folder/data/admin.sock``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from helpers.waiting import wait_until


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def child_environment(**extra: str) -> dict[str, str]:
    """This environment without what would override the bot folder's .env, plus ``extra``."""
    keep = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DISCORD_", "BOT_OWNER", "DATABASE_URL", "ADMIN_TOKEN"))
    }
    return {**keep, "PYTHONDONTWRITEBYTECODE": "1", **extra}


async def new_bot_folder(prefix: str) -> Path:
    """A folder under /tmp made by ``tui-bot init`` (the caller removes it)."""
    # Not under pytest's tmp folder (mode 0700): a process of another user must be able to reach the
    # socket's folder, so that what refuses it is the socket's own mode (and then the bot).
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    folder.chmod(0o755)
    init = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "tui_bot", "init", str(folder)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert init.returncode == 0, init.stderr
    return folder


@dataclass
class BotProcess:
    """``tui-bot --sandbox --headless`` in ``folder``, and everything it printed."""

    folder: Path
    port: int = 0  # the admin endpoint's TCP port, where config.json sets one
    process: asyncio.subprocess.Process | None = None
    lines: list[str] = field(default_factory=list)
    reader: asyncio.Task[None] | None = None

    @property
    def socket(self) -> Path:
        return self.folder / "data" / "admin.sock"

    @property
    def output(self) -> str:
        return "".join(self.lines)

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tui_bot",
            "--sandbox",
            "--headless",
            cwd=self.folder,
            env=child_environment(),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        self.reader = asyncio.create_task(self._read(self.process))
        await self.wait_for_line("Connected as", seconds=60)

    async def _read(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        async for line in process.stdout:
            self.lines.append(line.decode(errors="replace"))

    async def wait_for_line(self, needle: str, *, seconds: float = 20, after: int = 0) -> None:
        def seen() -> bool:
            if needle in self.output[after:]:
                return True
            if self.reader is not None and self.reader.done():
                raise AssertionError(f"the bot exited before {needle!r}:\n{self.output}")
            return False

        await wait_until(seen, seconds, what=repr(needle))

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def stop(self) -> int:
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            code = await self.process.wait()
            if self.reader is not None:
                await self.reader
        return code
