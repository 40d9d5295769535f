"""Log handlers: ``permanent.log`` (rotating), ``current_run.log`` (this run) and, headless, stdout.

Records go through a ``QueueHandler`` and are written by a ``QueueListener`` thread, so neither the
event loop nor discord.py's heartbeat thread ever waits on disk. Every handler carries the process's
secret redactor, so the token cannot reach a file, the terminal or the console; warnings are logged
(``py.warnings``) and so redacted too. :func:`install_redaction_boundary` then closes the other ways
out of the process: stdout, stderr and uncaught exceptions.
"""

from __future__ import annotations

import logging
import logging.handlers
import queue
import sys
import threading
import time
import types
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from tui_bot.config.model import LoggingConfig
from tui_bot.logs.redaction import PROCESS_REDACTOR, SecretRedactor
from tui_bot.logs.streams import install_redacting_streams

LOG_FORMAT = "%(asctime)s %(levelname)-8s %(name)s: %(message)s"
PERMANENT_LOG = "permanent.log"
CURRENT_RUN_LOG = "current_run.log"
MAX_LOG_AGE_DAYS = 30


@dataclass
class LoggingSession:
    """The handlers installed for one run; ``close()`` flushes and removes them."""

    directory: Path
    redactor: SecretRedactor
    queue_handler: logging.handlers.QueueHandler
    listener: logging.handlers.QueueListener
    handlers: list[logging.Handler] = field(default_factory=list)

    @property
    def permanent_log(self) -> Path:
        return self.directory / PERMANENT_LOG

    @property
    def current_run_log(self) -> Path:
        return self.directory / CURRENT_RUN_LOG

    def close(self) -> None:
        """Write out what is queued and detach the handlers (idempotent)."""
        root = logging.getLogger()
        if self.queue_handler in root.handlers:
            root.removeHandler(self.queue_handler)
            self.listener.stop()
            for handler in self.handlers:
                handler.close()
            logging.captureWarnings(False)


def configure_logging(
    config: LoggingConfig,
    *,
    secrets: list[str | None] | None = None,
    stream: TextIO | None = None,
    extra_handlers: list[logging.Handler] | None = None,
) -> LoggingSession:
    """Install the run's handlers on the root logger.

    ``stream``: also log there (headless mode passes stdout). ``extra_handlers``: e.g. the console's
    log pane. ``secrets`` are added to :data:`PROCESS_REDACTOR`, which filters every handler.
    Creates the log folder. Level and rotation come from ``config``.
    """
    directory = Path(config.directory)
    directory.mkdir(parents=True, exist_ok=True)
    redactor = PROCESS_REDACTOR
    redactor.add_secrets(secrets or [])
    formatter = logging.Formatter(LOG_FORMAT)

    permanent = logging.handlers.RotatingFileHandler(
        directory / PERMANENT_LOG,
        maxBytes=config.max_bytes,
        backupCount=config.backup_count,
        encoding="utf-8",
    )
    current_run = logging.FileHandler(directory / CURRENT_RUN_LOG, mode="w", encoding="utf-8")
    handlers: list[logging.Handler] = [permanent, current_run]
    if stream is not None:
        handlers.append(logging.StreamHandler(stream))
    handlers.extend(extra_handlers or [])
    for handler in handlers:
        handler.addFilter(redactor)
        if handler.formatter is None:
            handler.setFormatter(formatter)

    log_queue: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    queue_handler = logging.handlers.QueueHandler(log_queue)
    queue_handler.addFilter(redactor)
    listener = logging.handlers.QueueListener(log_queue, *handlers, respect_handler_level=True)

    root = logging.getLogger()
    root.setLevel(config.level)
    root.addHandler(queue_handler)
    listener.start()
    # warnings.warn() from an extension becomes a WARNING record: redacted, and in the files and the pane.
    logging.captureWarnings(True)
    # discord.py's HTTP logger prints every request at DEBUG; keep it at INFO unless asked for.
    if config.level != "DEBUG":
        logging.getLogger("discord.http").setLevel(logging.INFO)
    return LoggingSession(directory, redactor, queue_handler, listener, handlers)


def install_redaction_boundary(
    secrets: Iterable[str | None] = (), redactor: SecretRedactor = PROCESS_REDACTOR
) -> None:
    """At start-up (headless and console): everything else that leaves the process is redacted too.

    ``secrets`` (the token, .env secrets) join the redactor; ``sys.stdout``/``sys.stderr`` are wrapped
    with a redacting stream (``print()`` from an extension); uncaught exceptions of the main thread and
    of other threads are logged, so they reach the files and the terminal redacted. asyncio's default
    exception handler logs to ``asyncio`` and needs nothing more.
    """
    redactor.add_secrets(secrets)
    install_redacting_streams(redactor)
    log = logging.getLogger("tui_bot")

    def _hook(exc_type: type[BaseException], exc: BaseException, tb: types.TracebackType | None) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)  # writes to sys.stderr: the redacting stream
            return
        log.critical("Uncaught exception", exc_info=(exc_type, exc, tb))

    def _thread_hook(args: threading.ExceptHookArgs) -> None:
        error = args.exc_value  # None only in theory: threading passes the exception it caught
        log.critical(
            "Uncaught exception in thread %s",
            args.thread,
            exc_info=(args.exc_type, error, args.exc_traceback) if error is not None else None,
        )

    sys.excepthook = _hook
    threading.excepthook = _thread_hook


def remove_old_logs(
    directory: Path, *, max_age_days: int = MAX_LOG_AGE_DAYS, now: float | None = None
) -> list[Path]:
    """Delete log files in ``directory`` not modified for ``max_age_days`` (blocking; run in a thread).

    The two live files are never removed: they are being written to.
    """
    cutoff = (time.time() if now is None else now) - max_age_days * 86400
    removed: list[Path] = []
    for path in directory.glob("*.log*"):
        if path.name in (PERMANENT_LOG, CURRENT_RUN_LOG) or not path.is_file():
            continue
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed.append(path)
        except FileNotFoundError:
            continue
    return removed
