"""The event loop tui-bot runs on: uvloop where it is installed, asyncio's default loop otherwise.

uvloop is a dependency on every platform but Windows. The process environment variable
``TUI_BOT_LOOP`` picks the loop: ``auto`` (the default: uvloop if it imports and starts, else asyncio),
``uvloop`` (the same, with a warning when it is missing) or ``asyncio`` (always asyncio's default loop).

The loop is handed to :class:`asyncio.Runner` as a ``loop_factory`` rather than installed as an event
loop policy: policies are deprecated from Python 3.14, and a factory leaves the rest of the process
(and the test suite) on asyncio's defaults. :func:`run` logs, once, which loop runs.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

log = logging.getLogger(__name__)

LOOP_ENV_VAR = "TUI_BOT_LOOP"
LOOP_CHOICES = ("auto", "uvloop", "asyncio")

T = TypeVar("T")
LoopFactory = Callable[[], asyncio.AbstractEventLoop]


@dataclass(frozen=True)
class LoopChoice:
    """Which loop to start: ``factory`` None means asyncio's default; ``note`` says why, if not uvloop."""

    factory: LoopFactory | None
    note: str | None = None


def _uvloop_factory() -> LoopFactory | None:
    if sys.platform == "win32":  # uvloop does not support Windows (and is not installed there)
        return None
    try:
        import uvloop
    except ImportError:
        return None

    def new_uvloop() -> asyncio.AbstractEventLoop:
        try:
            return uvloop.new_event_loop()
        except Exception as exc:  # a broken build must not stop the bot: asyncio's loop works everywhere
            log.warning("uvloop could not create a loop (%s); using asyncio's default loop", exc)
            return asyncio.new_event_loop()

    return new_uvloop


def choose_loop(environ: Mapping[str, str] | None = None) -> LoopChoice:
    """The loop that ``TUI_BOT_LOOP`` (in ``environ``, default ``os.environ``) and the installed packages
    ask for."""
    source = os.environ if environ is None else environ
    wanted = source.get(LOOP_ENV_VAR, "").strip().lower() or "auto"
    if wanted == "asyncio":
        return LoopChoice(None, f"{LOOP_ENV_VAR}=asyncio")
    note = None
    if wanted not in LOOP_CHOICES:
        note = f"{LOOP_ENV_VAR}={wanted!r} is not one of {', '.join(LOOP_CHOICES)}; using auto"
    factory = _uvloop_factory()
    if factory is None:
        missing = "uvloop does not run on Windows" if sys.platform == "win32" else "uvloop is not installed"
        if wanted == "uvloop":
            log.warning("%s=uvloop, but %s", LOOP_ENV_VAR, missing)
        return LoopChoice(None, "; ".join(filter(None, [note, missing])))
    return LoopChoice(factory, note)


def describe_loop(loop: asyncio.AbstractEventLoop) -> str:
    """A loop's kind as the start-up log names it: ``uvloop 0.21.0``, ``asyncio (_UnixSelectorEventLoop)``."""
    module = type(loop).__module__.split(".")[0]
    if module == "uvloop":
        version = getattr(sys.modules.get("uvloop"), "__version__", "")
        return f"uvloop {version}".strip()
    return f"asyncio ({type(loop).__name__})"


def run(main: Coroutine[Any, Any, T], *, environ: Mapping[str, str] | None = None) -> T:
    """Run ``main`` to completion on the chosen loop, as :func:`asyncio.run` does (same clean-up)."""
    choice = choose_loop(environ)
    with asyncio.Runner(loop_factory=choice.factory) as runner:
        loop = runner.get_loop()
        if choice.note:
            log.info("Event loop: %s (%s)", describe_loop(loop), choice.note)
        else:
            log.info("Event loop: %s", describe_loop(loop))
        return runner.run(main)
