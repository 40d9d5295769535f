"""The README's shell walkthroughs run as written, in fresh temporary folders, with the installed
``tui-bot`` (issue 12): ``sandbox serve`` with a bot made by ``tui-bot init`` and curl as the user, and
``tui-bot --sandbox`` in an empty folder."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
BIN = Path(sys.executable).parent  # where pip put the tui-bot script, next to this interpreter

pytestmark = [
    pytest.mark.skipif(sys.platform == "win32", reason="bash, curl and process groups"),
    pytest.mark.skipif(not (BIN / "tui-bot").exists(), reason="tui-bot is not installed (pip install -e .)"),
    pytest.mark.skipif(shutil.which("curl") is None, reason="the walkthrough uses curl"),
]


def serve_walkthrough() -> dict[str, str]:
    """The worked example of ``tui-bot sandbox serve``, by terminal ("1", "2", "3")."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("### `tui-bot sandbox serve`") :]
    found = re.search(r"A worked example.*?```bash\n(.*?)```", section, flags=re.DOTALL)
    assert found is not None
    parts = re.split(r"^# terminal (\d):.*\n", found.group(1), flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _shell_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "BOT_OWNER"))}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


class Terminal:
    """One shell running a part of the walkthrough, in its own process group (ended as a whole)."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.output: list[str] = []

    @classmethod
    async def open(cls, script: str, cwd: Path) -> Terminal:
        process = await asyncio.create_subprocess_exec(
            "bash",
            "-c",
            script,
            cwd=cwd,
            env=_shell_env(),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        return cls(process)

    async def wait_for(self, text: str) -> None:
        assert self.process.stdout is not None
        async with asyncio.timeout(60):
            while not any(text in line for line in self.output):
                line = await self.process.stdout.readline()
                assert line, f"exited before printing {text!r}:\n{''.join(self.output)}"
                self.output.append(line.decode())

    async def close(self) -> None:
        if self.process.returncode is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), timeout=20)
            except TimeoutError:
                os.killpg(self.process.pid, signal.SIGKILL)
                await self.process.wait()


@pytest.fixture
async def terminals() -> AsyncIterator[list[Terminal]]:
    opened: list[Terminal] = []
    try:
        yield opened
    finally:
        for terminal in reversed(opened):
            await terminal.close()


async def test_the_sandbox_serve_walkthrough_runs_as_written(
    tmp_path: Path, terminals: list[Terminal]
) -> None:
    steps = serve_walkthrough()
    assert set(steps) == {"1", "2", "3"}
    assert "tui-bot init" in steps["2"]  # the bot folder, with the example extension, comes from init
    port = str(_free_port())
    for number in steps:  # a free port instead of 8765, which another program may hold
        steps[number] = steps[number].replace("8765", port)
    folders = {number: tmp_path / f"terminal{number}" for number in steps}
    for folder in folders.values():
        folder.mkdir()

    simulator = await Terminal.open(steps["1"], folders["1"])
    terminals.append(simulator)
    await simulator.wait_for("control api")
    bot = await Terminal.open(steps["2"], folders["2"])
    terminals.append(bot)
    await bot.wait_for("Connected as")
    assert (folders["2"] / "mybot" / "extensions" / "example.py").is_file()

    user = await Terminal.open(steps["3"], folders["3"])
    terminals.append(user)
    assert await asyncio.wait_for(user.process.wait(), timeout=30) == 0
    assert user.process.stdout is not None
    answer = (await user.process.stdout.read()).decode()
    assert '"content": "Hello, Alice!"' in answer or '"content":"Hello, Alice!"' in answer, answer


async def test_sandbox_in_an_empty_folder_creates_the_starter_extensions(
    tmp_path: Path, terminals: list[Terminal]
) -> None:
    bot = await Terminal.open("tui-bot --headless --sandbox", tmp_path)
    terminals.append(bot)
    await bot.wait_for("Connected as")
    log = "".join(bot.output)
    assert "No extensions folder: created it with the starter extensions (example, fun, moderation)" in log
    assert re.search(r"Extension example: load ok", log), log
    assert {path.stem for path in (tmp_path / "extensions").glob("*.py")} == {"example", "fun", "moderation"}
