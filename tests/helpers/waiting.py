"""Waiting for something a test cannot be told about: one helper for the whole suite.

Use it only where there is no event to await (the console has none for "this text appeared", a counter
has none for "it reached 2"); an awaitable (``wait_for``, an ``asyncio.Event``) is always better.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from textual.pilot import Pilot

DEFAULT_SECONDS = 20.0  # generous: only a failing test waits this long
POLL_SECONDS = 0.02


async def wait_until(
    predicate: Callable[[], object],
    seconds: float = DEFAULT_SECONDS,
    *,
    what: str = "the condition",
    pilot: Pilot[Any] | None = None,
) -> None:
    """Let the event loop run until ``predicate()`` is true; fail with AssertionError naming ``what``
    after ``seconds``.

    With ``pilot`` (a Textual app under test) each wait is ``pilot.pause``, which also lets the screen
    process its pending messages; otherwise a plain ``asyncio.sleep``.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {seconds:g} s waiting for {what}")
        if pilot is None:
            await asyncio.sleep(POLL_SECONDS)
        else:
            await pilot.pause(POLL_SECONDS)
