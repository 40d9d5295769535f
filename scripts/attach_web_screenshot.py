"""Save the README's screenshot of ``tui-bot attach --web``: the attached console in a browser (PNG).

Run ``python scripts/attach_web_screenshot.py [--out docs]`` (it needs Debian's ``chromium`` package and
the ``test`` extra's Playwright). As an operator would, it makes a bot folder with ``tui-bot init`` in a
temporary folder, starts ``tui-bot --sandbox --headless`` there, serves ``tui-bot attach data/admin.sock
--web PORT`` from it, opens the page in headless Chromium at 1280x800, waits until the Logs pane shows the
bot's start-up lines, and saves ``attach-web.png`` into ``--out``. Everything it started is stopped.

textual-serve draws on a canvas, so the page's text is read from xterm.js's screen buffer, captured as
tests/test_attach_web.py does it (``CAPTURE_TERMINAL`` there, and the reason).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, Route, ViewportSize, sync_playwright

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
VIEWPORT = ViewportSize(width=1280, height=800)
WAIT_SECONDS = 60.0
LOG_LINES = ("Extension example: load ok", "Connected as tui-bot")

# The same capture as tests/test_attach_web.py: textual-serve's `this.terminal = new Terminal(...)` lands
# in this setter, which keeps the Terminal where the script can read its screen buffer.
CAPTURE_TERMINAL = """
window.__terminals = [];
Object.defineProperty(Object.prototype, "terminal", {
  configurable: true,
  set(value) {
    Object.defineProperty(this, "terminal", {value, writable: true, configurable: true, enumerable: true});
    if (value && value.buffer && value.buffer.active) window.__terminals.push(value);
  },
});
"""
READ_SCREEN = """() => {
  const terminal = window.__terminals && window.__terminals[0];
  if (!terminal) return null;
  const buffer = terminal.buffer.active, rows = [];
  for (let row = 0; row < terminal.rows; row++) {
    const line = buffer.getLine(buffer.viewportY + row);
    rows.push(line ? line.translateToString(true) : "");
  }
  return rows.join("\\n");
}"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait(what: str, predicate: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {WAIT_SECONDS:g} s waiting for {what}")
        time.sleep(0.1)


def _started(command: list[str], folder: Path, log: Path, ready: str) -> subprocess.Popen[bytes]:
    """``command`` run in ``folder`` with its output in ``log``, once that output contains ``ready``."""
    # Without what would override the bot folder's .env (a token in the caller's environment).
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "DATABASE_URL", "ADMIN_"))}
    with log.open("wb") as output:
        process = subprocess.Popen(command, cwd=folder, env=env, stdout=output, stderr=subprocess.STDOUT)

    def seen() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"{' '.join(command)} exited with {process.returncode}:\n{log.read_text()}")
        return ready in log.read_text(errors="replace")

    _wait(repr(ready), seen)
    return process


def _stop(process: subprocess.Popen[bytes], signum: int) -> None:
    if process.poll() is None:
        process.send_signal(signum)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _shoot(url: str, out: Path) -> None:
    with sync_playwright() as playwright:
        # --no-sandbox: Chromium's sandbox refuses to run as root.
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page: Page = browser.new_page(viewport=VIEWPORT)

            def loopback_only(route: Route) -> None:  # the page asks Google for a font: no
                if route.request.url.startswith(url):
                    route.continue_()
                else:
                    route.abort()

            page.route("**/*", loopback_only)
            page.add_init_script(CAPTURE_TERMINAL)
            page.goto(url)

            def shows_logs() -> bool:
                screen = page.evaluate(READ_SCREEN)
                return screen is not None and all(line in screen for line in LOG_LINES)

            _wait("the bot's log lines on the page", shows_logs)
            # A terminal with the keyboard focus: the console's footer then shows its keys.
            page.focus(".xterm-helper-textarea")
            _wait("the footer's keys", lambda: "q Quit" in (page.evaluate(READ_SCREEN) or ""))
            page.wait_for_timeout(500)  # the last frame painted
            page.screenshot(path=str(out))
        finally:
            browser.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=REPO / "docs", help="folder to write attach-web.png to")
    args = parser.parse_args()
    if not CHROMIUM.is_file():
        print(f"{CHROMIUM} is missing: apt-get install chromium", file=sys.stderr)
        return 1
    out = args.out.resolve() / "attach-web.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    workspace = Path(tempfile.mkdtemp(prefix="attach-web-shot-"))
    processes: list[tuple[subprocess.Popen[bytes], int]] = []
    try:
        folder = workspace / "mybot"
        subprocess.run(
            [sys.executable, "-m", "tui_bot", "init", str(folder)], check=True, capture_output=True
        )
        (folder / "config.json").write_text(json.dumps({"auto_reload": False}), encoding="utf-8")
        bot = [sys.executable, "-m", "tui_bot", "--sandbox", "--headless"]
        processes.append((_started(bot, folder, workspace / "bot.log", "Connected as"), signal.SIGTERM))
        port = _free_port()
        web = [sys.executable, "-m", "tui_bot", "attach", "data/admin.sock", "--web", str(port)]
        processes.append((_started(web, folder, workspace / "web.log", "Serving the console"), signal.SIGINT))
        _shoot(f"http://127.0.0.1:{port}", out)
    finally:
        for process, signum in reversed(processes):  # the server first, then the bot
            _stop(process, signum)
        shutil.rmtree(workspace, ignore_errors=True)
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
