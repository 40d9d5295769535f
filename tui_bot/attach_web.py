"""``tui-bot attach --web PORT``: the attached console in a browser, served by textual-serve.

textual-serve starts one process per browser tab. That process is ``tui-bot attach TARGET``, a client of
the running bot's admin endpoint, so each tab is one more attached console and never one more bot.

textual-serve has no authentication: whoever reaches the port drives the console. So the server listens
on 127.0.0.1 only (there is deliberately no option to listen elsewhere; reach it through an SSH tunnel),
and refuses requests whose ``Host`` or ``Origin`` is not this loopback address: a web page open in the
operator's browser could otherwise open a WebSocket to it (WebSockets are not bound by the same-origin
policy) or reach it through DNS rebinding.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import shlex
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web
from textual_serve.server import Server
from yarl import URL

from tui_bot import exit_codes

HOST = "127.0.0.1"
# The names a browser on this machine (or at the near end of an SSH tunnel) uses for the server.
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})
# On Ctrl+C each browser session's attach process is asked to quit; one that hangs does not hold the
# server past this.
SESSION_CLOSE_SECONDS = 5.0

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def attach_command(target: str, arguments: Sequence[str] = ()) -> str:
    """The shell command textual-serve runs for each browser tab: this Python's ``tui-bot attach``."""
    return shlex.join([sys.executable, "-m", "tui_bot", "attach", target, *arguments])


def tunnel_hint(port: int) -> str:
    """How to reach the server from another machine (the same port on both ends: the page's addresses
    name it)."""
    return f"ssh -L {port}:{HOST}:{port} USER@HOST"


class LoopbackServer(Server):
    """textual-serve's server on 127.0.0.1 only, refusing other hosts and origins, stopping cleanly."""

    def __init__(self, command: str, port: int, *, title: str) -> None:
        super().__init__(command, host=HOST, port=port, title=title, public_url=f"http://{HOST}:{port}")
        self._sessions: set[asyncio.Task[object]] = set()

    async def on_startup(self, app: web.Application) -> None:
        """textual-serve prints its banner here, before the port is bound; :meth:`run` says it after."""

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        app.middlewares.append(self._loopback_only)
        return app

    def _is_loopback(self, url: URL, *, port_must_match: bool) -> bool:
        if url.host not in LOOPBACK_NAMES:
            return False
        return not port_must_match or url.port == self.port

    @web.middleware
    async def _loopback_only(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            host_ok = self._is_loopback(URL(f"http://{request.host}"), port_must_match=False)
            origin = request.headers.get("Origin")
            origin_ok = origin is None or self._is_loopback(URL(origin), port_must_match=True)
        except ValueError:
            host_ok = origin_ok = False
        if not (host_ok and origin_ok):
            raise web.HTTPForbidden(text=f"tui-bot attach --web answers only http://{HOST}:{self.port}\n")
        return await handler(request)

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        """One browser tab: one ``tui-bot attach`` process, tracked so a shutdown can end it."""
        task = asyncio.current_task()
        assert task is not None
        self._sessions.add(task)
        try:
            return await super().handle_websocket(request)
        finally:
            self._sessions.discard(task)

    async def on_shutdown(self, app: web.Application) -> None:
        """Cancel each session: textual-serve then closes its WebSocket and sends its attach process
        ``quit``, which leaves the bot running."""
        sessions = list(self._sessions)
        for task in sessions:
            task.cancel()
        if sessions:
            await asyncio.wait(sessions, timeout=SESSION_CLOSE_SECONDS)

    async def run(self, target: str) -> int:
        """Serve until SIGINT or SIGTERM; the exit code."""
        runner = web.AppRunner(
            await self._make_app(), access_log=None, shutdown_timeout=SESSION_CLOSE_SECONDS
        )
        await runner.setup()
        try:
            await web.TCPSite(runner, HOST, self.port).start()
        except OSError as error:
            await runner.cleanup()
            print(f"tui-bot attach: {_bind_problem(error, self.port)}", file=sys.stderr)
            return exit_codes.CRITICAL
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            # Windows has no signal handlers in asyncio: Ctrl+C raises KeyboardInterrupt there instead.
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, stop.set)
        print(
            f"Serving the console attached to {target} at {self.public_url} (this machine only; from "
            f"another one: {tunnel_hint(self.port)}, then open {self.public_url}). Each browser tab is "
            "one more attached console. Ctrl+C stops serving; the bot keeps running.",
            flush=True,
        )
        try:
            await stop.wait()
        finally:
            await runner.cleanup()
        return exit_codes.OK


def _bind_problem(error: OSError, port: int) -> str:
    if error.errno == errno.EADDRINUSE:
        return f"port {port} on {HOST} is already in use: choose another one with --web PORT"
    if error.errno == errno.EACCES:
        return f"not allowed to listen on port {port} (ports below 1024 need root): choose one from 1024 up"
    return f"cannot listen on {HOST}:{port}: {error.strerror or error}"


def _log_serving_problems() -> None:
    """textual-serve reports a session that failed to start on its logger: one plain line on stderr."""
    logger = logging.getLogger("textual-serve")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("tui-bot attach --web: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.WARNING)
        logger.propagate = False


def serve_web(target: str, port: int, *, arguments: Sequence[str] = ()) -> int:
    """Serve ``tui-bot attach TARGET`` (with ``arguments`` after it) in the browser at
    http://127.0.0.1:PORT until Ctrl+C; the exit code."""
    if not 1 <= port <= 65535:
        problem = f"--web {port} is not a port: give a number from 1024 to 65535"
        print(f"tui-bot attach: {problem}", file=sys.stderr)
        return exit_codes.CONFIG_ERROR
    _log_serving_problems()
    server = LoopbackServer(attach_command(target, arguments), port, title=f"tui-bot attach {target}")
    try:
        return asyncio.run(server.run(target))
    except KeyboardInterrupt:  # only where signal handlers are unavailable (Windows)
        return exit_codes.OK
