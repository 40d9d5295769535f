"""The one way a console is built (``make_console``; attached to a bot elsewhere,
``make_attached_console``), shared by the CLI and the tests, and its run.

The app takes its runtime and settings as arguments, so the tests build exactly what ``tui-bot`` runs,
on a sandbox-backed runtime and with frozen readers, and nothing has to be patched (Posting's
``make_posting`` pattern).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar, overload

from tui_bot import exit_codes
from tui_bot import loop as event_loop
from tui_bot.core.bot import TuiBot
from tui_bot.logs.setup import configure_logging, install_redaction_boundary
from tui_bot.runtime import BotRuntime
from tui_bot.runtime.admin import AdminClient
from tui_bot.tui.app import ConsoleApp
from tui_bot.tui.log_buffer import BufferedLogHandler, console_formatter
from tui_bot.tui.reader import BotReader
from tui_bot.tui.remote import RemoteLink

AppT = TypeVar("AppT", bound=ConsoleApp)


@overload
def make_console(
    runtime: BotRuntime,
    *,
    log_handler: BufferedLogHandler | None = None,
    reader_factory: Callable[[TuiBot], BotReader] = BotReader,
) -> ConsoleApp: ...


@overload
def make_console(
    runtime: BotRuntime,
    *,
    log_handler: BufferedLogHandler | None = None,
    reader_factory: Callable[[TuiBot], BotReader] = BotReader,
    app_class: type[AppT],
) -> AppT: ...


def make_console(
    runtime: BotRuntime,
    *,
    log_handler: BufferedLogHandler | None = None,
    reader_factory: Callable[[TuiBot], BotReader] = BotReader,
    app_class: type[ConsoleApp] = ConsoleApp,
) -> ConsoleApp:
    """The console for ``runtime``, not yet running.

    ``log_handler``: the buffer the Logs pane drains (a new one in the console's format by default; the
    caller attaches it to logging). ``reader_factory``: how the panes read the bot (tests freeze the
    volatile values). ``app_class``: :class:`ConsoleApp` or a subclass (tests record notifications).
    """
    if log_handler is None:
        log_handler = BufferedLogHandler()
        log_handler.setFormatter(console_formatter())
    return app_class(runtime, log_handler, reader_factory=reader_factory)


def make_attached_console(
    client: AdminClient,
    *,
    log_handler: BufferedLogHandler | None = None,
    app_class: type[AppT] | type[ConsoleApp] = ConsoleApp,
) -> ConsoleApp:
    """The console of a bot running elsewhere, through ``client`` (connected to its admin endpoint).

    The same app as :func:`make_console`'s, on a :class:`RemoteLink`: the bot's log records fill
    ``log_handler`` (a new one by default), and quitting leaves the bot running.
    """
    if log_handler is None:
        log_handler = BufferedLogHandler()
        log_handler.setFormatter(console_formatter())
    return app_class(RemoteLink(client, log_handler=log_handler), log_handler)


def run_console(app: ConsoleApp) -> int:
    """Run ``app`` until the operator quits, with the run's logging (files, and its Logs pane) and the
    redaction boundary installed; return the exit code."""
    runtime = app.runtime
    if runtime is None:
        raise ValueError("run_console runs an in-process console; an attached one runs in tui_bot.attach_cli")
    store, secrets = runtime.config, runtime.secrets
    handlers: list[logging.Handler] = [app.log_handler]
    session = configure_logging(store.model.logging, secrets=[secrets.token], extra_handlers=handlers)
    install_redaction_boundary(secrets.values_to_redact())  # stdout, stderr, uncaught exceptions
    store.log_load_notes()
    try:
        # What App.run() does (asyncio.run of run_async), on uvloop unless TUI_BOT_LOOP=asyncio.
        code = event_loop.run(app.run_async())
        return exit_codes.OK if code is None else code
    finally:
        session.close()
