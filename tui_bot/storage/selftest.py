"""A self-test of the atomic file handler, run by the owner-only ``atomictest`` command.

It exercises the handler extension authors use (``global_file_handler``) in a scratch folder that is
removed afterwards, and reports each check with its timing so an operator can see at a glance that
writes are atomic, reads are correct, the cache serves repeated reads and concurrent writers to one
file never leave it torn.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tui_bot.storage.files import AtomicFileHandler

CONCURRENT_WRITERS = 50


@dataclass(frozen=True)
class CheckResult:
    """One check: its name, whether it passed, how long it took, and what was seen."""

    name: str
    ok: bool
    seconds: float
    detail: str


async def _timed(name: str, check: Callable[[], Awaitable[tuple[bool, str]]]) -> CheckResult:
    started = time.perf_counter()
    try:
        ok, detail = await check()
    except Exception as error:  # a self-test reports failures, it does not raise them
        ok, detail = False, f"{type(error).__name__}: {error}"
    return CheckResult(name, ok, time.perf_counter() - started, detail)


def _scratch_folder(parent: Path | None) -> str:
    if parent is not None:
        parent.mkdir(parents=True, exist_ok=True)
    return tempfile.mkdtemp(prefix="atomictest-", dir=parent)


def _read_disk(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


async def run_atomic_selftest(handler: AtomicFileHandler, parent: Path | None = None) -> list[CheckResult]:
    """Run every check against ``handler`` in a fresh folder under ``parent`` (the system temp folder
    by default) and return the results in order. The folder is removed afterwards."""
    folder = Path(await asyncio.to_thread(_scratch_folder, parent))
    target = folder / "probe.json"
    payload = {"check": "atomictest", "numbers": list(range(100)), "text": "héllo ✓"}

    async def write() -> tuple[bool, str]:
        if not await handler.atomic_write_json(target, payload):
            return False, "the write returned False (see the log)"
        on_disk = await asyncio.to_thread(_read_disk, target)
        return on_disk == payload, "file on disk matches what was written"

    async def read() -> tuple[bool, str]:
        value = await handler.atomic_read_json(target, use_cache=False)
        return value == payload, "read from disk matches"

    async def cache() -> tuple[bool, str]:
        handler.invalidate_cache(target)
        if handler.cache_ttl <= 0 or handler.max_cache_entries <= 0:
            return True, "cache disabled in config.json (cache_ttl = 0): nothing to check"
        await handler.atomic_read_json(target)  # fills the cache
        hits_before = handler.stats()["hits"]
        value = await handler.atomic_read_json(target)
        hit = handler.stats()["hits"] == hits_before + 1
        return hit and value == payload, "second read served from the cache" if hit else "cache missed"

    async def concurrency() -> tuple[bool, str]:
        # Many writers race on one file: the result must be exactly one writer's complete document.
        shared = folder / "shared.json"
        documents = [{"writer": n, "filler": "x" * 512} for n in range(CONCURRENT_WRITERS)]
        results = await asyncio.gather(*(handler.atomic_write_json(shared, d) for d in documents))
        final = await asyncio.to_thread(_read_disk, shared)
        whole = final in documents
        return all(results) and whole, f"{CONCURRENT_WRITERS} concurrent writes, file intact"

    async def no_leftovers() -> tuple[bool, str]:
        names = sorted(p.name for p in await asyncio.to_thread(lambda: list(folder.iterdir())))
        expected = ["probe.json", "shared.json"]
        return names == expected, "no temporary files left" if names == expected else f"found {names}"

    try:
        return [
            await _timed("write", write),
            await _timed("read", read),
            await _timed("cache", cache),
            await _timed("concurrency", concurrency),
            await _timed("cleanup", no_leftovers),
        ]
    finally:
        handler.invalidate_cache(target)
        handler.invalidate_cache(folder / "shared.json")
        await asyncio.to_thread(shutil.rmtree, folder, True)
