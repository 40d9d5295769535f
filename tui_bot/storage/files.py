"""Atomic, durable, cached text and JSON files for extension authors.

Use the shared :data:`global_file_handler` (its ``cache_ttl`` follows the bot's config) or build an
:class:`AtomicFileHandler` of your own::

    from tui_bot.storage.files import global_file_handler as files

    await files.atomic_write_json("data/my_ext/state.json", {"count": 1})
    state = await files.atomic_read_json("data/my_ext/state.json") or {}

Guarantees:

* **Atomic and durable writes.** Every write goes through
  :func:`tui_bot.storage.durable.durable_write_bytes` (temporary file in the same folder, fsync,
  ``os.replace``, fsync of the folder). Any reader - this process, another process, or a plain
  ``open()`` - sees either the complete old contents or the complete new contents, never a torn or
  interleaved mix, even with many writers in many processes.
* **Ordered writes.** Writes to one path through one handler (in one event loop) are serialised by a
  per-path :class:`asyncio.Lock`; different paths proceed in parallel.
* **The event loop never blocks on the disk.** All file I/O runs in worker threads
  (:func:`asyncio.to_thread`).
* **Never raises on I/O problems.** A failed write returns ``False``, a failed read returns ``None``;
  the reason is logged on the ``tui_bot.storage.files`` logger. A failed write leaves the existing
  file untouched and no temporary file behind. Reading a corrupt JSON file never modifies it.
* **Read cache.** Reads are cached for ``cache_ttl`` seconds (monotonic clock). Writes through the
  handler update the cache, so a read after a write always returns what was written. Changes made by
  *other* programs (or other handlers) become visible when the entry expires, after
  :meth:`AtomicFileHandler.invalidate_cache`, or with ``use_cache=False``.

Text is always UTF-8; JSON is written with ``ensure_ascii=False`` and a trailing newline.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from tui_bot.storage.durable import durable_write_bytes

__all__ = ["AtomicFileHandler", "StrPath", "global_file_handler"]

logger = logging.getLogger("tui_bot.storage.files")

StrPath = str | os.PathLike[str]
"""A path accepted by the handler: a ``str`` or a :class:`pathlib.Path` (any ``os.PathLike[str]``)."""

_T = TypeVar("_T")


@dataclass(slots=True)
class _CacheEntry:
    text: str
    stored_at: float


def _write_blocking(path: str, payload: str | bytes) -> str | None:
    """Durably replace ``path`` with ``payload`` (worker thread). Returns the text to cache, if any."""
    if isinstance(payload, str):
        durable_write_bytes(path, payload.encode("utf-8"))
        return payload
    durable_write_bytes(path, payload)
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:  # Binary data: written fine, but there's no text to cache.
        return None


def _read_blocking(path: str) -> str:
    """Read ``path`` as UTF-8 text (worker thread). Raises ``OSError`` or ``UnicodeDecodeError``."""
    with open(path, "rb") as handle:
        data = handle.read()
    # Decode the bytes ourselves rather than open(..., "r"): no newline translation, so the text
    # returned is exactly what is on disk.
    return data.decode("utf-8")


async def _to_thread_uninterrupted(func: Callable[..., _T], *args: Any) -> _T:
    """Run ``func(*args)`` in a worker thread and return its result.

    A thread can't be interrupted, so if the awaiting task is cancelled we keep waiting for the thread
    to finish before propagating the cancellation. The caller therefore keeps holding its per-path
    lock until the disk operation is really over, and a later write can never be overtaken by an
    earlier, "cancelled" one that was still running in the background.
    """
    task = asyncio.ensure_future(asyncio.to_thread(func, *args))
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        while not task.done():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait({task})
        if not task.cancelled():
            task.exception()  # Mark any error as retrieved; the cancellation is what we report.
        raise


class AtomicFileHandler:
    """Atomic, durable reads and writes of text/JSON files, with per-path locks and a TTL read cache.

    All methods are coroutines except :meth:`invalidate_cache` and :meth:`stats`. They never raise
    for I/O or data problems: writes return ``False`` and reads return ``None``, logging why.

    Args:
        cache_ttl: How long (seconds) a read result stays cached. ``0`` disables the cache. Can be
            changed at any time through the :attr:`cache_ttl` attribute; the new value applies to
            existing entries too.
        max_cache_entries: How many paths the cache holds at most; the least recently used entry is
            evicted first. ``0`` disables the cache.
        clock: A monotonic clock returning seconds (tests inject a fake one).
    """

    def __init__(
        self,
        cache_ttl: float = 300.0,
        max_cache_entries: int = 1000,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_cache_entries < 0:
            raise ValueError(f"max_cache_entries must be >= 0, not {max_cache_entries!r}")
        self.cache_ttl = cache_ttl
        self.max_cache_entries = max_cache_entries
        self._clock = clock
        # Resolved absolute path -> cached text, least recently used first.
        self._cache: OrderedDict[str, _CacheEntry] = OrderedDict()
        # Event loop -> (resolved path -> lock). asyncio locks belong to one loop, hence one table per
        # loop (tests and the sandbox run several loops in one process). Both levels are weak: a lock
        # exists only while some coroutine holds or waits on it, and a closed loop's table goes with
        # the loop, so nothing grows with the number of distinct paths ever touched.
        self._locks: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, weakref.WeakValueDictionary[str, asyncio.Lock]
        ] = weakref.WeakKeyDictionary()
        self._hits = 0
        self._misses = 0
        self._writes = 0
        self._write_failures = 0
        self._read_errors = 0

    # -- configuration ---------------------------------------------------------------------------

    @property
    def cache_ttl(self) -> float:
        """Seconds a read result stays cached (``0`` = no caching). Settable at runtime."""
        return self._cache_ttl

    @cache_ttl.setter
    def cache_ttl(self, value: float) -> None:
        ttl = float(value)
        if math.isnan(ttl) or ttl < 0:
            raise ValueError(f"cache_ttl must be a number >= 0, not {value!r}")
        self._cache_ttl = ttl

    # -- writing ---------------------------------------------------------------------------------

    async def atomic_write(self, path: StrPath, data: str | bytes) -> bool:
        """Atomically and durably replace the file at ``path`` with ``data``.

        ``str`` is encoded as UTF-8; ``bytes`` are written as they are. Missing parent folders are
        created. If ``path`` is a symlink, the file it points to is replaced (the link is kept).

        Returns ``True`` on success. On failure (permission denied, a parent that is a regular file,
        disk full, ...) returns ``False`` and logs the reason; the existing file is left unchanged and
        no temporary file is left behind. Never raises (except :class:`asyncio.CancelledError`; a
        write cancelled once it has started still completes before the cancellation propagates).
        """
        try:
            key = self._resolve(path)
            if isinstance(data, bytearray | memoryview):
                data = bytes(data)  # Snapshot mutable buffers now, not later in the thread.
            if not isinstance(data, str | bytes):
                raise TypeError(f"data must be str or bytes, not {type(data).__name__}")
        except (TypeError, ValueError, OSError) as exc:
            self._write_failures += 1
            logger.error("Atomic write to %s failed: %s", path, exc)
            return False
        return await self._write(key, data, path)

    async def atomic_write_json(self, path: StrPath, data: Any, *, indent: int | None = 2) -> bool:
        """Serialise ``data`` as JSON (UTF-8, ``ensure_ascii=False``) and write it atomically.

        ``data`` is serialised immediately, on the calling task, so later changes to the object don't
        affect what is written. Returns ``False`` (and logs why) if ``data`` can't be serialised
        (e.g. a ``set`` or a circular reference) or the write fails; the file is then unchanged.
        """
        try:
            key = self._resolve(path)
            text = json.dumps(data, indent=indent, ensure_ascii=False) + "\n"
        except (TypeError, ValueError, RecursionError, OSError) as exc:
            self._write_failures += 1
            logger.error("Atomic JSON write to %s failed: cannot serialise the data: %s", path, exc)
            return False
        return await self._write(key, text, path)

    async def _write(self, key: str, payload: str | bytes, shown: StrPath) -> bool:
        async with self._lock_for(key):
            try:
                text = await _to_thread_uninterrupted(_write_blocking, key, payload)
            except asyncio.CancelledError:
                # The write still happened (see _to_thread_uninterrupted); don't guess, re-read later.
                self._cache.pop(key, None)
                raise
            except (OSError, ValueError) as exc:  # ValueError: a str with lone surrogates.
                self._cache.pop(key, None)
                self._write_failures += 1
                logger.error("Atomic write to %s failed: %s", shown, exc)
                return False
            except Exception:
                self._cache.pop(key, None)
                self._write_failures += 1
                logger.exception("Atomic write to %s failed unexpectedly", shown)
                return False
            self._writes += 1
            if text is None:
                self._cache.pop(key, None)
            else:
                self._cache_put(key, text)
            return True

    # -- reading ---------------------------------------------------------------------------------

    async def atomic_read(self, path: StrPath, use_cache: bool = True) -> str | None:
        """Return the UTF-8 text of the file at ``path``.

        Returns ``None`` if the file doesn't exist (logged at debug level) or can't be read or decoded
        (logged as an error). With ``use_cache=False`` the disk is always read; the fresh result then
        replaces the cached one.
        """
        try:
            key = self._resolve(path)
        except (TypeError, ValueError, OSError) as exc:
            self._read_errors += 1
            logger.error("Cannot read %s: %s", path, exc)
            return None
        if use_cache and (text := self._cache_get(key)) is not None:
            self._hits += 1
            return text
        # Read under the path's lock: otherwise a read that started before a write could finish
        # after it and put the old contents back into the cache.
        async with self._lock_for(key):
            if use_cache:
                if (text := self._cache_get(key)) is not None:  # Filled while we waited for the lock.
                    self._hits += 1
                    return text
                self._misses += 1
            try:
                text = await _to_thread_uninterrupted(_read_blocking, key)
            except FileNotFoundError:
                logger.debug("%s does not exist", path)
                self._cache.pop(key, None)
                return None
            except (OSError, UnicodeDecodeError) as exc:
                self._read_errors += 1
                self._cache.pop(key, None)
                logger.error("Cannot read %s: %s", path, exc)
                return None
            self._cache_put(key, text)
            return text

    async def atomic_read_json(self, path: StrPath, use_cache: bool = True) -> Any | None:
        """Return the parsed JSON content of the file at ``path``.

        Returns ``None`` if the file is missing, unreadable or not valid JSON (a file containing
        ``null`` also gives ``None``). Invalid JSON is logged with the path, line and column, and the
        file is never modified, moved or replaced. A leading UTF-8 byte-order mark is ignored.

        Every call returns a fresh object: mutating it doesn't affect the cache or later reads.
        """
        text = await self.atomic_read(path, use_cache=use_cache)
        if text is None:
            return None
        # The cache holds the *text* and every call parses it again, rather than caching the parsed
        # object and returning copy.deepcopy() of it: json.loads (C) is faster than deepcopy (mostly
        # Python) on JSON-shaped data, it can't share any object with the cache, and text and JSON
        # reads then share a single cache entry that a write keeps exact.
        try:
            return json.loads(text.removeprefix("\ufeff"))
        except json.JSONDecodeError as exc:
            self._read_errors += 1
            logger.error(
                "Invalid JSON in %s at line %d, column %d: %s (the file was left unchanged)",
                path,
                exc.lineno,
                exc.colno,
                exc.msg,
            )
        except RecursionError:
            self._read_errors += 1
            logger.error("JSON in %s is nested too deeply to parse (the file was left unchanged)", path)
        return None

    # -- cache -----------------------------------------------------------------------------------

    def invalidate_cache(self, path: StrPath | None = None) -> None:
        """Forget the cached contents of ``path``, or of every path if ``path`` is ``None``."""
        if path is None:
            self._cache.clear()
            return
        try:
            key = self._resolve(path)
        except (TypeError, ValueError, OSError):
            return  # An unusable path can't be in the cache.
        self._cache.pop(key, None)

    def stats(self) -> dict[str, Any]:
        """Counters since the handler was created, plus the current cache state.

        Keys: ``hits`` / ``misses`` (cached reads served from memory / from disk), ``writes``
        (successful writes), ``write_failures``, ``read_errors`` (unreadable files or invalid JSON;
        missing files don't count), ``failures`` (the two together), ``entries`` (live cache
        entries), ``max_cache_entries``, ``cache_ttl`` and ``locks`` (per-path locks currently held or
        awaited).
        """
        self._purge_expired()
        return {
            "hits": self._hits,
            "misses": self._misses,
            "writes": self._writes,
            "write_failures": self._write_failures,
            "read_errors": self._read_errors,
            "failures": self._write_failures + self._read_errors,
            "entries": len(self._cache),
            "max_cache_entries": self.max_cache_entries,
            "cache_ttl": self.cache_ttl,
            "locks": sum(len(table) for table in list(self._locks.values())),
        }

    def _cache_get(self, key: str) -> str | None:
        entry = self._cache.get(key)
        if entry is None:
            return None
        if self._clock() - entry.stored_at >= self.cache_ttl:
            del self._cache[key]
            return None
        self._cache.move_to_end(key)
        return entry.text

    def _cache_put(self, key: str, text: str) -> None:
        if self.cache_ttl <= 0 or self.max_cache_entries <= 0:
            self._cache.pop(key, None)
            return
        self._cache[key] = _CacheEntry(text, self._clock())
        self._cache.move_to_end(key)
        while len(self._cache) > self.max_cache_entries:
            self._cache.popitem(last=False)

    def _purge_expired(self) -> None:
        now = self._clock()
        for key in [k for k, entry in self._cache.items() if now - entry.stored_at >= self.cache_ttl]:
            del self._cache[key]

    # -- helpers ---------------------------------------------------------------------------------

    @staticmethod
    def _resolve(path: StrPath) -> str:
        # realpath only lstat()s the path's components (no file data is read), so it's cheap enough to
        # run on the loop; it makes "data/x.json", "./data/x.json" and a symlink share one lock and one
        # cache entry.
        return os.path.realpath(os.fsdecode(path))

    def _lock_for(self, key: str) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        table = self._locks.get(loop)
        if table is None:
            table = self._locks[loop] = weakref.WeakValueDictionary()
        lock = table.get(key)
        if lock is None:
            lock = table[key] = asyncio.Lock()
        return lock


global_file_handler = AtomicFileHandler()
"""The handler shared by the bot and its extensions; the bot sets its ``cache_ttl`` from config."""
