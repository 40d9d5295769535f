"""Tests for tui_bot.storage.files: atomic, durable, cached text/JSON files for extension authors."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

import tui_bot.storage.files as files_module
from tui_bot.storage.files import AtomicFileHandler, global_file_handler

LOGGER = "tui_bot.storage.files"
HELPERS = Path(__file__).parent / "helpers"


def _load_writer_helper() -> Any:
    spec = importlib.util.spec_from_file_location("atomic_writer_helper", HELPERS / "atomic_writer.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def as_json_file(data: Any) -> str:
    """What atomic_write_json puts on disk for ``data`` (default indent)."""
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def leftovers(folder: Path, *expected: str) -> list[str]:
    """Names in ``folder`` other than ``expected`` (temporary files, mostly)."""
    return sorted(p.name for p in folder.iterdir() if p.name not in expected)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class GatedWrites:
    """Stands in for durable_write_bytes: records calls and can hold chosen writes until released."""

    def __init__(self) -> None:
        self._real = files_module.durable_write_bytes
        self._lock = threading.Lock()
        self._arrived: dict[bytes, threading.Event] = {}
        self._gates: dict[bytes, threading.Event] = {}
        self.finished: list[bytes] = []

    def _event(self, table: dict[bytes, threading.Event], data: bytes) -> threading.Event:
        with self._lock:
            return table.setdefault(data, threading.Event())

    def hold(self, data: bytes) -> threading.Event:
        """Make the write of ``data`` wait until the returned event is set."""
        return self._event(self._gates, data)

    async def arrived(self, data: bytes, within: float) -> bool:
        """Whether the write of ``data`` reaches the disk layer within ``within`` seconds."""
        return await asyncio.to_thread(self._event(self._arrived, data).wait, within)

    def __call__(self, path: Any, data: bytes, **kwargs: Any) -> None:
        self._event(self._arrived, data).set()
        with self._lock:
            gate = self._gates.get(data)
        if gate is not None:
            assert gate.wait(10), "test never released the gate"
        self._real(path, data, **kwargs)
        with self._lock:
            self.finished.append(data)


@pytest.fixture
def gated(monkeypatch: pytest.MonkeyPatch) -> GatedWrites:
    gate = GatedWrites()
    monkeypatch.setattr(files_module, "durable_write_bytes", gate)
    return gate


# -- roundtrips ---------------------------------------------------------------------------------


async def test_text_roundtrip_is_utf8_on_disk(tmp_path: Path) -> None:
    handler = AtomicFileHandler()
    path = tmp_path / "note.txt"
    text = "héllo wörld ✓\r\nsecond line\n"

    assert await handler.atomic_write(path, text) is True

    assert path.read_bytes() == text.encode("utf-8")
    assert await handler.atomic_read(path) == text
    assert await handler.atomic_read(path, use_cache=False) == text


async def test_bytes_roundtrip(tmp_path: Path) -> None:
    handler = AtomicFileHandler()
    path = tmp_path / "blob.bin"

    assert await handler.atomic_write(str(path), "día".encode()) is True
    assert path.read_bytes() == "día".encode()
    assert await handler.atomic_read(str(path), use_cache=False) == "día"

    # Bytes that aren't UTF-8 are written as they are, but can't be read back as text.
    assert await handler.atomic_write(path, b"\xff\x00\xfe") is True
    assert path.read_bytes() == b"\xff\x00\xfe"
    assert await handler.atomic_read(path) is None


async def test_json_roundtrip_writes_readable_unicode(tmp_path: Path) -> None:
    handler = AtomicFileHandler()
    path = tmp_path / "nested" / "folder" / "state.json"  # Missing folders are created.
    data = {"name": "Zoë", "emoji": "🎉", "counts": [1, 2.5, None, True], "nested": {"k": "v"}}

    assert await handler.atomic_write_json(path, data) is True

    assert path.read_text(encoding="utf-8") == as_json_file(data)  # ensure_ascii=False, indent=2
    assert "Zoë" in path.read_text(encoding="utf-8")
    assert await handler.atomic_read_json(path) == data
    assert await handler.atomic_read_json(path, use_cache=False) == data

    assert await handler.atomic_write_json(path, [1, 2], indent=None) is True
    assert path.read_text(encoding="utf-8") == "[1, 2]\n"


async def test_missing_file_reads_as_none_without_error_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    handler = AtomicFileHandler()
    caplog.set_level(logging.DEBUG, logger=LOGGER)

    assert await handler.atomic_read(tmp_path / "nope.txt") is None
    assert await handler.atomic_read_json(tmp_path / "nope.json") is None
    assert await handler.atomic_read_json(tmp_path / "no" / "folder.json", use_cache=False) is None

    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert any("nope.txt" in r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG)
    assert not (tmp_path / "nope.txt").exists()
    assert handler.stats()["failures"] == 0


async def test_read_of_undecodable_file_returns_none_and_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    handler = AtomicFileHandler()
    path = tmp_path / "latin1.txt"
    path.write_bytes(b"caf\xe9")

    with caplog.at_level(logging.ERROR, logger=LOGGER):
        assert await handler.atomic_read(path) is None

    assert "latin1.txt" in caplog.text
    assert path.read_bytes() == b"caf\xe9"
    assert handler.stats()["read_errors"] == 1


# -- cache --------------------------------------------------------------------------------------


async def test_reads_are_cached_until_bypassed_or_invalidated(tmp_path: Path) -> None:
    handler = AtomicFileHandler()
    path = tmp_path / "cfg.json"
    other = tmp_path / "other.json"
    assert await handler.atomic_write_json(path, {"v": 1}) is True
    assert await handler.atomic_write_json(other, {"o": 1}) is True

    def change_behind_the_handlers_back(target: Path, value: Any) -> None:
        with open(target, "w", encoding="utf-8") as handle:
            json.dump(value, handle)

    change_behind_the_handlers_back(path, {"v": 2})
    assert await handler.atomic_read_json(path) == {"v": 1}  # Served from the cache.
    assert await handler.atomic_read_json(tmp_path / "." / "cfg.json") == {"v": 1}  # Same resolved path.
    assert await handler.atomic_read_json(path, use_cache=False) == {"v": 2}
    assert await handler.atomic_read_json(path) == {"v": 2}  # The bypassing read refreshed the cache.

    change_behind_the_handlers_back(path, {"v": 3})
    assert await handler.atomic_read_json(path) == {"v": 2}
    handler.invalidate_cache(str(path))
    assert await handler.atomic_read_json(path) == {"v": 3}

    change_behind_the_handlers_back(path, {"v": 4})
    change_behind_the_handlers_back(other, {"o": 2})
    assert await handler.atomic_read_json(other) == {"o": 1}
    handler.invalidate_cache()
    assert await handler.atomic_read_json(path) == {"v": 4}
    assert await handler.atomic_read_json(other) == {"o": 2}

    stats = handler.stats()
    assert stats["hits"] == 5
    assert stats["misses"] == 3  # After invalidate_cache(path), then twice after invalidate_cache().
    assert stats["writes"] == 2
    assert stats["entries"] == 2


async def test_write_updates_the_cache(tmp_path: Path) -> None:
    handler = AtomicFileHandler()
    path = tmp_path / "x.txt"
    path.write_text("old", encoding="utf-8")
    assert await handler.atomic_read(path) == "old"

    assert await handler.atomic_write(path, "new") is True
    path.write_text("changed elsewhere", encoding="utf-8")

    assert await handler.atomic_read(path) == "new"  # What this handler wrote, from the cache.
    assert handler.stats()["hits"] == 1


async def test_cache_entries_expire_after_ttl(tmp_path: Path) -> None:
    clock = FakeClock()
    handler = AtomicFileHandler(cache_ttl=10.0, clock=clock)
    path = tmp_path / "ttl.txt"
    path.write_text("a", encoding="utf-8")

    assert await handler.atomic_read(path) == "a"
    path.write_text("b", encoding="utf-8")
    clock.now += 9.9
    assert await handler.atomic_read(path) == "a"
    clock.now += 0.1
    assert await handler.atomic_read(path) == "b"
    assert handler.stats()["entries"] == 1

    # cache_ttl is settable at runtime and applies to existing entries.
    path.write_text("c", encoding="utf-8")
    clock.now += 5.0
    assert await handler.atomic_read(path) == "b"
    handler.cache_ttl = 2.0
    assert handler.stats()["entries"] == 0
    assert await handler.atomic_read(path) == "c"

    handler.cache_ttl = 0  # No caching at all.
    path.write_text("d", encoding="utf-8")
    assert await handler.atomic_read(path) == "d"
    with pytest.raises(ValueError):
        handler.cache_ttl = -1


async def test_cache_holds_at_most_max_entries(tmp_path: Path) -> None:
    handler = AtomicFileHandler(max_cache_entries=2)
    paths = [tmp_path / f"{i}.txt" for i in range(3)]
    for i, path in enumerate(paths):
        assert await handler.atomic_write(path, f"v{i}") is True
        path.write_text(f"changed{i}", encoding="utf-8")

    assert handler.stats()["entries"] == 2
    assert await handler.atomic_read(paths[2]) == "v2"
    assert await handler.atomic_read(paths[1]) == "v1"
    assert await handler.atomic_read(paths[0]) == "changed0"  # Least recently used: evicted.


async def test_mutating_returned_json_does_not_corrupt_the_cache(tmp_path: Path) -> None:
    handler = AtomicFileHandler()
    path = tmp_path / "state.json"
    original = {"items": [1, 2], "meta": {"owner": "me"}}
    assert await handler.atomic_write_json(path, original) is True
    original["items"].append("mutated after the write")

    first = await handler.atomic_read_json(path)
    first["items"].append(3)
    first["meta"]["owner"] = "someone else"
    first["new"] = True

    assert await handler.atomic_read_json(path) == {"items": [1, 2], "meta": {"owner": "me"}}
    assert handler.stats()["hits"] == 2  # Both reads came from the cache the write filled.


# -- concurrency --------------------------------------------------------------------------------


async def test_200_concurrent_writers_in_one_loop_leave_one_whole_payload(tmp_path: Path) -> None:
    handler = AtomicFileHandler()
    path = tmp_path / "shared.json"
    payloads = [{"writer": i, "body": "ü" * (i * 131 % 4000)} for i in range(200)]

    results = await asyncio.gather(*(handler.atomic_write_json(path, p) for p in payloads))

    assert results == [True] * 200
    on_disk = path.read_text(encoding="utf-8")
    assert on_disk in {as_json_file(p) for p in payloads}
    assert json.loads(on_disk) in payloads
    assert await handler.atomic_read(path) == on_disk  # The cache followed the same order as the disk.
    assert leftovers(tmp_path, "shared.json") == []
    assert handler.stats()["writes"] == 200
    assert handler.stats()["locks"] == 0  # Per-path locks don't outlive their use.


def test_writers_in_several_processes_never_tear_the_file(tmp_path: Path) -> None:
    helper = _load_writer_helper()
    path = tmp_path / "shared.json"
    writers, per_writer = 4, 100
    expected = {as_json_file(helper.payload(w, s)): (w, s) for w in range(writers) for s in range(per_writer)}
    path.write_text(as_json_file({"initial": True}), encoding="utf-8")
    expected[path.read_text(encoding="utf-8")] = ("initial", 0)

    procs = [
        subprocess.Popen(
            [sys.executable, str(HELPERS / "atomic_writer.py"), str(path), str(w), str(per_writer)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for w in range(writers)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.close()

        reads, seen = 0, set()
        while any(proc.poll() is None for proc in procs):
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
            json.loads(text)  # Always parses...
            assert text in expected  # ...as exactly one of the payloads, byte for byte.
            reads += 1
            seen.add(expected[text])
        codes = [proc.wait(timeout=30) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            for pipe in (proc.stdin, proc.stdout):
                if pipe is not None:
                    pipe.close()

    assert codes == [0] * writers
    assert reads > 0 and len(seen) >= 2, f"reads didn't overlap the writes ({reads} reads, seen {seen})"
    final = path.read_text(encoding="utf-8")
    assert expected[final][1] == per_writer - 1  # The last replace is some writer's last payload.
    assert leftovers(tmp_path, "shared.json") == []


async def test_writes_are_serialised_per_path_and_parallel_across_paths(
    tmp_path: Path, gated: GatedWrites
) -> None:
    handler = AtomicFileHandler()
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    release_a1 = gated.hold(b"a1")

    first = asyncio.create_task(handler.atomic_write(a, "a1"))
    assert await gated.arrived(b"a1", within=5)

    # Another path isn't held up by the write in progress on a.txt...
    assert await asyncio.wait_for(handler.atomic_write(b, "b1"), timeout=5) is True
    assert b.read_text(encoding="utf-8") == "b1"

    # ...but a second write to a.txt (spelt differently) waits for the first one.
    second = asyncio.create_task(handler.atomic_write(tmp_path / "." / "a.txt", "a2"))
    assert not await gated.arrived(b"a2", within=0.2)
    assert not a.exists()

    release_a1.set()
    assert await first is True
    assert await second is True
    assert gated.finished == [b"b1", b"a1", b"a2"]
    assert a.read_text(encoding="utf-8") == "a2"
    assert await handler.atomic_read(a) == "a2"


async def test_cancelled_write_finishes_before_the_next_write_to_the_path(
    tmp_path: Path, gated: GatedWrites
) -> None:
    handler = AtomicFileHandler()
    path = tmp_path / "c.txt"
    release_first = gated.hold(b"first")

    first = asyncio.create_task(handler.atomic_write(path, "first"))
    assert await gated.arrived(b"first", within=5)
    first.cancel()
    second = asyncio.create_task(handler.atomic_write(path, "second"))

    # The thread can't be stopped, so the cancelled write keeps the path's lock until it is done.
    assert not await gated.arrived(b"second", within=0.2)
    assert not first.done()

    release_first.set()
    with pytest.raises(asyncio.CancelledError):
        await first
    assert await second is True
    assert gated.finished == [b"first", b"second"]
    assert path.read_text(encoding="utf-8") == "second"
    assert await handler.atomic_read(path) == "second"


async def test_large_write_does_not_block_the_event_loop(tmp_path: Path) -> None:
    handler = AtomicFileHandler()
    path = tmp_path / "big.bin"
    data = b"\xff" * (20 * 1024 * 1024)  # Not UTF-8, so not cached: only the write itself is measured.

    write = asyncio.create_task(handler.atomic_write(path, data))
    ticks = 0
    while not write.done():
        ticks += 1
        await asyncio.sleep(0)

    assert await write is True
    assert path.stat().st_size == len(data)
    # Had the write run on the loop, the ticker could only have run before and after it (<= 2 ticks).
    assert ticks >= 10, f"the event loop only ticked {ticks} times during a 20 MB write"


# -- failures -----------------------------------------------------------------------------------


async def test_invalid_json_returns_none_logs_position_and_leaves_file_alone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    handler = AtomicFileHandler()
    path = tmp_path / "broken.json"
    raw = b'{"a": 1,,}'
    path.write_bytes(raw)

    with caplog.at_level(logging.ERROR, logger=LOGGER):
        assert await handler.atomic_read_json(path) is None
        assert await handler.atomic_read_json(path, use_cache=False) is None

    record = caplog.records[0]
    assert record.name == LOGGER
    assert "broken.json" in record.getMessage()
    assert "line 1, column 9" in record.getMessage()
    assert path.read_bytes() == raw
    assert leftovers(tmp_path, "broken.json") == []
    assert handler.stats()["read_errors"] == 2


async def test_invalid_json_position_on_a_later_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    handler = AtomicFileHandler()
    path = tmp_path / "multi.json"
    path.write_text('{\n  "a": 1,\n  "b": [1 2]\n}\n', encoding="utf-8")

    with caplog.at_level(logging.ERROR, logger=LOGGER):
        assert await handler.atomic_read_json(path) is None

    assert "line 3, column 11" in caplog.text


async def test_unserialisable_json_fails_and_keeps_existing_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    handler = AtomicFileHandler()
    path = tmp_path / "keep.json"
    assert await handler.atomic_write_json(path, {"ok": True}) is True
    before = path.read_bytes()
    circular: list[Any] = []
    circular.append(circular)

    with caplog.at_level(logging.ERROR, logger=LOGGER):
        assert await handler.atomic_write_json(path, {"tags": {"a", "b"}}) is False
        assert await handler.atomic_write_json(path, circular) is False

    assert "keep.json" in caplog.text and "set" in caplog.text
    assert path.read_bytes() == before
    assert await handler.atomic_read_json(path) == {"ok": True}
    assert leftovers(tmp_path, "keep.json") == []
    assert handler.stats()["write_failures"] == 2


async def test_write_under_a_regular_file_fails(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    handler = AtomicFileHandler()
    not_a_folder = tmp_path / "plain.txt"
    not_a_folder.write_text("I am a file", encoding="utf-8")

    with caplog.at_level(logging.ERROR, logger=LOGGER):
        assert await handler.atomic_write(not_a_folder / "x.txt", "data") is False
        assert await handler.atomic_write_json(not_a_folder / "x.json", {"a": 1}) is False

    assert "plain.txt" in caplog.text
    assert not_a_folder.read_text(encoding="utf-8") == "I am a file"
    assert leftovers(tmp_path, "plain.txt") == []


async def test_write_over_a_folder_fails_without_leaving_temp_files(tmp_path: Path) -> None:
    handler = AtomicFileHandler()
    folder = tmp_path / "taken"
    folder.mkdir()
    (folder / "inside.txt").write_text("keep", encoding="utf-8")

    # The temporary file is created next to the target, then the rename over a folder fails.
    assert await handler.atomic_write(folder, "data") is False

    assert folder.is_dir()
    assert (folder / "inside.txt").read_text(encoding="utf-8") == "keep"
    assert leftovers(tmp_path, "taken") == []
    assert await handler.atomic_read(folder) is None
    assert handler.stats()["failures"] == 2  # The failed write and the unreadable folder.


async def test_write_of_wrong_data_type_fails_without_raising(tmp_path: Path) -> None:
    handler = AtomicFileHandler()
    path = tmp_path / "t.txt"

    assert await handler.atomic_write(path, 123) is False  # type: ignore[arg-type]
    assert await handler.atomic_write(path, "lone surrogate \udc80") is False

    assert not path.exists()
    assert leftovers(tmp_path) == []


def test_global_handler_and_defaults() -> None:
    assert isinstance(global_file_handler, AtomicFileHandler)
    handler = AtomicFileHandler()
    assert handler.cache_ttl == 300.0
    assert handler.max_cache_entries == 1000
    assert set(handler.stats()) >= {"hits", "misses", "writes", "failures", "entries"}
