"""Names the code that blocks the event loop: ``time.sleep`` in a command, a blocking import, a busy loop.

The loop runs a heartbeat callback every :data:`HEARTBEAT_SECONDS`; a daemon thread checks that it
keeps running. When the loop has been silent for more than the threshold, the thread samples the loop
thread's stack (``sys._current_frames()``) and remembers the innermost frame in a file of the extensions
folder. Once the loop runs again, the heartbeat has measured how late it was, and the thread logs one
WARNING: ``Extension 'slow' blocked the event loop for 2.3 s (in slow.py:12 handler)``.

The cost is one timer callback per heartbeat on the loop and one thread waking as often; nothing per
message or per command. Blocking code cannot be interrupted from another thread: this only names it.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import sys
import threading
import time
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("tui_bot.watchdog")

HEARTBEAT_SECONDS = 0.1
BLOCK_THRESHOLD_SECONDS = 0.5  # a loop late by more than this is reported


@dataclass(frozen=True)
class BlockSite:
    """Where the loop thread was while it blocked: an extension's frame if one was on the stack."""

    extension: str | None
    location: str  # "slow.py:12 handler" (relative to the extensions folder) or "file.py:3 function"

    def describe(self) -> str:
        """``extension 'slow' at slow.py:12 handler`` or ``file.py:3 function``."""
        if self.extension is None:
            return self.location
        return f"extension '{self.extension}' at {self.location}"


def _frames_innermost_first(frame: types.FrameType | None) -> list[types.FrameType]:
    frames = []
    while frame is not None:
        frames.append(frame)
        frame = frame.f_back
    return frames


def suspended_frames(task: asyncio.Task[Any]) -> list[types.FrameType]:
    """Where a suspended task waits, outermost first, following its awaits down to the innermost
    coroutine (``Task.get_stack()`` stops at the outermost one)."""
    frames = []
    awaited: Any = task.get_coro()
    while awaited is not None:
        frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "gi_frame", None)
        if frame is None:
            break
        frames.append(frame)
        awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "gi_yieldfrom", None)
    return frames


def find_block_site(
    frame: types.FrameType | None, directory: Path, name_for_path: Callable[[Path], str | None]
) -> BlockSite | None:
    """For a thread's current frame: see :func:`site_in_frames`."""
    return site_in_frames(_frames_innermost_first(frame), directory, name_for_path)


def site_in_frames(
    frames: list[types.FrameType], directory: Path, name_for_path: Callable[[Path], str | None]
) -> BlockSite | None:
    """The innermost of ``frames`` (innermost first) in a file under ``directory``, with the extension
    ``name_for_path`` names for it; else the innermost frame."""
    if not frames:
        return None
    prefix = str(directory) + os.sep
    for candidate in frames:
        filename = candidate.f_code.co_filename
        if filename.startswith(prefix):
            relative = filename[len(prefix) :]
            location = f"{relative}:{candidate.f_lineno} {candidate.f_code.co_name}"
            return BlockSite(name_for_path(Path(filename)), location)
    innermost = frames[0]
    location = f"{Path(innermost.f_code.co_filename).name}:{innermost.f_lineno} {innermost.f_code.co_name}"
    return BlockSite(None, location)


class LoopWatchdog:
    """Reports, once the loop runs again, every time it was blocked for more than ``threshold`` seconds.

    Start it on the loop (``start()`` from a coroutine) and stop it before the loop closes.
    """

    def __init__(
        self,
        directory: Path,
        name_for_path: Callable[[Path], str | None],
        *,
        threshold: float = BLOCK_THRESHOLD_SECONDS,
        heartbeat: float = HEARTBEAT_SECONDS,
    ) -> None:
        self.directory = Path(directory).resolve()
        self.name_for_path = name_for_path
        self.threshold = threshold
        self.heartbeat = heartbeat
        self.reported = 0  # how many blocks were logged (for tests and the curious)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread_id: int | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._last_beat = time.monotonic()
        # Written by the loop (a block's measured length), read by the thread: deque ops are atomic.
        self._blocks: collections.deque[float] = collections.deque(maxlen=100)

    @property
    def running(self) -> bool:
        """Whether the watchdog thread is watching."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start beating on the running loop and watching from a daemon thread."""
        if self.running:
            return
        self._loop = asyncio.get_running_loop()
        self._loop_thread_id = threading.get_ident()
        self._stopping.clear()
        self._last_beat = time.monotonic()
        self._handle = self._loop.call_later(self.heartbeat, self._beat)
        self._thread = threading.Thread(target=self._watch, name="tui-bot:loop-watchdog", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop beating and watching (from the loop thread)."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=1)
            self._thread = None

    def _beat(self) -> None:
        now = time.monotonic()
        late = now - self._last_beat - self.heartbeat
        self._last_beat = now
        if late > self.threshold:
            self._blocks.append(late)
        if self._loop is not None and not self._stopping.is_set():
            self._handle = self._loop.call_later(self.heartbeat, self._beat)

    def site_now(self) -> BlockSite | None:
        """Where the loop thread is at this moment (from any thread)."""
        if self._loop_thread_id is None:
            return None
        frame = sys._current_frames().get(self._loop_thread_id)
        return find_block_site(frame, self.directory, self.name_for_path)

    def _watch(self) -> None:
        site: BlockSite | None = None
        while not self._stopping.wait(self.heartbeat):
            if time.monotonic() - self._last_beat > self.threshold:
                # Blocked now: keep the first sample that shows an extension (the culprit), else the last.
                if site is None or site.extension is None:
                    site = self.site_now() or site
                continue
            while self._blocks:
                self._report(self._blocks.popleft(), site)
            site = None

    def _report(self, seconds: float, site: BlockSite | None) -> None:
        self.reported += 1
        # A WARNING when an extension is to blame (its author can fix it); otherwise the stack showed no
        # extension (the framework, a library, the machine itself was busy): worth a line, not an alarm.
        if site is None:
            log.info("The event loop was blocked for %.1f s", seconds)
        elif site.extension is not None:
            log.warning(
                "Extension '%s' blocked the event loop for %.1f s (in %s)",
                site.extension,
                seconds,
                site.location,
            )
        else:
            log.info("The event loop was blocked for %.1f s (in %s)", seconds, site.location)
