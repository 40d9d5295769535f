"""``tui-bot attach --web PORT``: the attached console in a real browser, as an operator opens it.

The bot is ``python -m tui_bot --sandbox --headless`` in a folder made by ``tui-bot init``; the server is
``python -m tui_bot attach data/admin.sock --web PORT``; the browser is Debian's headless Chromium
(``/usr/bin/chromium``, which ``.ci/run`` installs) driven by Playwright. A missing Chromium FAILS these
tests: they are never skipped.

textual-serve draws the console with xterm.js on a canvas, so the page has no text to read in its DOM.
The test reads xterm.js's own screen buffer instead: textual-serve keeps its ``Terminal`` in a private
object's ``terminal`` property, and a script run before the page's own (:data:`CAPTURE_TERMINAL`) hands
each one it assigns to ``window.__terminals`` as well.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from helpers.bot_process import BotProcess, child_environment, free_port, new_bot_folder
from helpers.waiting import wait_until
from playwright.async_api import Browser, Page, Route, ViewportSize, async_playwright

from tui_bot.runtime.admin import AdminClient, Target

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Unix sockets, Chromium path")
module_loop = pytest.mark.asyncio(loop_scope="module")

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package: Playwright's own browser download is never used
VIEWPORT = ViewportSize(width=1280, height=800)

# Runs before textual-serve's script: the first assignment of ``obj.terminal`` (textual-serve's
# ``this.terminal = new Terminal(...)``) lands in this setter, which makes it an ordinary property of
# that object again and remembers the value if it is an xterm.js Terminal (it has a ``buffer``).
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
# The rows on screen of the page's terminal, as text (null before textual-serve made it).
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
ATTACHED = re.compile(r"Admin endpoint: console attached \(a console on the socket, pid (\d+)\)")


@dataclass
class WebServer:
    """``tui-bot attach SOCKET --web PORT`` run from the bot's folder, and everything it printed."""

    bot: BotProcess
    port: int = field(default_factory=free_port)
    process: asyncio.subprocess.Process | None = None
    lines: list[str] = field(default_factory=list)
    reader: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def output(self) -> str:
        return "".join(self.lines)

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tui_bot",
            "attach",
            str(self.bot.socket),
            "--web",
            str(self.port),
            cwd=self.bot.folder,
            env=child_environment(),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        self.reader = asyncio.create_task(self._read(self.process))

        def serving() -> bool:
            if self.reader is not None and self.reader.done():
                raise AssertionError(f"attach --web exited before serving:\n{self.output}")
            return f"Serving the console attached to {self.bot.socket} at {self.url}" in self.output

        await wait_until(serving, 20, what="attach --web to serve")

    async def _read(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        async for line in process.stdout:
            self.lines.append(line.decode(errors="replace"))

    async def interrupt(self) -> int:
        """Ctrl+C, as an operator stops it; the exit code."""
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGINT)
        async with asyncio.timeout(15):
            code = await self.process.wait()
            if self.reader is not None:
                await self.reader
        return code


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def bot() -> AsyncIterator[BotProcess]:
    folder = await new_bot_folder("attach-web-")
    (folder / "config.json").write_text(json.dumps({"auto_reload": False}), encoding="utf-8")
    running = BotProcess(folder)
    try:
        await running.start()
        yield running
    finally:
        if running.running:
            await running.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest_asyncio.fixture(loop_scope="module")
async def web(bot: BotProcess) -> AsyncIterator[WebServer]:
    server = WebServer(bot)
    try:
        await server.start()
        yield server
    finally:
        if server.process is not None and server.process.returncode is None:
            try:
                await server.interrupt()  # lets it end its tabs' attach processes
            except TimeoutError:
                server.process.kill()
                await server.process.wait()


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def browser() -> AsyncIterator[Browser]:
    assert CHROMIUM.is_file(), (
        f"{CHROMIUM} is missing: these tests need Debian's chromium package (apt-get install chromium; "
        ".ci/run installs it)"
    )
    async with async_playwright() as playwright:
        # --no-sandbox: Chromium's sandbox refuses to run as root, which CI is.
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield launched
        finally:
            await launched.close()


async def open_console(browser: Browser, url: str) -> Page:
    """A new tab on ``url``, reaching nothing but the server (the page asks Google for a font)."""
    page = await browser.new_page(viewport=VIEWPORT)

    async def loopback_only(route: Route) -> None:
        if route.request.url.startswith(url):
            await route.continue_()
        else:
            await route.abort()

    await page.route("**/*", loopback_only)
    await page.add_init_script(CAPTURE_TERMINAL)
    await page.goto(url)
    return page


async def wait_for_screen(page: Page, *needles: str, seconds: float = 20) -> str:
    """The page's terminal text once it shows every one of ``needles``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    screen: str | None = None
    while loop.time() < deadline:
        screen = await page.evaluate(READ_SCREEN)
        if screen is not None and all(needle in screen for needle in needles):
            return screen
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out after {seconds:g} s waiting for {needles}; the page shows:\n{screen}")


async def attached_pid(bot: BotProcess, after: int) -> int:
    """The pid of the console that attached to the bot after its output's offset ``after``."""
    await bot.wait_for_line("Admin endpoint: console attached", after=after)
    found = ATTACHED.search(bot.output[after:])
    assert found is not None, bot.output[after:]
    return int(found.group(1))


async def bot_status(bot: BotProcess) -> str:
    """The bot's gateway connection, as its admin socket answers ``status``."""
    client = AdminClient(Target(path=bot.socket))
    await client.connect()
    try:
        return str((await client.request("status"))["connection"])
    finally:
        await client.close()


@module_loop
async def test_a_browser_tab_shows_the_console_with_the_bots_log_lines_in_the_logs_pane(
    bot: BotProcess, web: WebServer, browser: Browser
) -> None:
    mark = len(bot.output)
    page = await open_console(browser, web.url)
    try:
        screen = await wait_for_screen(
            page,
            "Extension example: load ok",
            "tui_bot.bot: Connected as tui-bot",
            "sandbox, attached",
        )
        lines = screen.splitlines()
        assert f"tui-bot — attached to {bot.socket}" in lines[0]  # the console's title
        assert lines[1].split() == ["Logs", "Metrics", "Guilds", "Extensions"]  # the Logs pane is shown
        # The bot's own log lines, from before this tab attached, as the Logs pane shows a record.
        record = r"^\d\d:\d\d:\d\d INFO +"  # time, level, then logger: message
        assert re.search(record + r"tui_bot.extensions: Extension example: load ok in \d+ ms", screen, re.M)
        assert re.search(record + r"tui_bot.bot: Connected as tui-bot \(id \d+\) to 1 guild", screen, re.M)
        # The intro dialog is gone and the terminal shown: textual-serve had the console's first bytes.
        assert "-first-byte" in await page.evaluate("document.body.className")
        pid = await attached_pid(bot, mark)
    finally:
        await page.close()
    # Closing the tab ends its attach process; the bot runs on.
    await bot.wait_for_line(f"Admin endpoint: console detached (a console on the socket, pid {pid})")
    assert bot.running and await bot_status(bot) == "ready"


@module_loop
async def test_stopping_the_server_with_a_tab_open_ends_the_session_and_leaves_the_bot_running(
    bot: BotProcess, web: WebServer, browser: Browser
) -> None:
    mark = len(bot.output)
    page = await open_console(browser, web.url)
    try:
        await wait_for_screen(page, "Connected as tui-bot")
        pid = await attached_pid(bot, mark)
        assert await web.interrupt() == 0
        assert "Traceback" not in web.output, web.output
        await bot.wait_for_line(f"Admin endpoint: console detached (a console on the socket, pid {pid})")
        # The page says so: textual-serve's "Session ended." dialog.
        await page.wait_for_selector("body.-closed", timeout=10_000)
    finally:
        await page.close()
    assert bot.running and await bot_status(bot) == "ready"


@module_loop
async def test_a_foreign_host_or_origin_is_refused_with_403(web: WebServer) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(web.url) as page:
            assert page.status == 200 and "data-session-websocket-url" in await page.text()
        # DNS rebinding: a name that resolves to 127.0.0.1 but is not this machine's own.
        for host in ("rebind.example", f"rebind.example:{web.port}"):
            async with session.get(web.url, headers={"Host": host}) as refused:
                assert refused.status == 403, host
                assert await refused.text() == f"tui-bot attach --web answers only {web.url}\n"
        # A web page of another origin opening the console's WebSocket; or a page on another local port.
        for origin in ("http://evil.example", f"http://127.0.0.1:{free_port()}"):
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused_ws:
                async with session.ws_connect(f"{web.url}/ws", origin=origin):
                    pass
            assert refused_ws.value.status == 403, origin
        async with session.get(web.url, headers={"Origin": web.url}) as own:
            assert own.status == 200
    assert "Traceback" not in web.output, web.output
