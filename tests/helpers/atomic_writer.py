"""Subprocess used by tests/test_atomic_files.py: one of several processes writing the same JSON file.

Usage: ``python atomic_writer.py PATH WRITER_ID COUNT``. Prints ``ready``, waits for a line on stdin
(so that all writer processes start together), then writes ``payload(WRITER_ID, seq)`` for each seq
in ``range(COUNT)`` with its own :class:`AtomicFileHandler`. Exits 1 if any write returned False.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any


def payload(writer: int, seq: int) -> dict[str, Any]:
    """The seq-th payload of a writer: distinct, non-ASCII, and of varying size (so a torn mix shows)."""
    return {
        "writer": writer,
        "seq": seq,
        "body": (chr(0x4E00 + writer) + "é") * (100 + (seq * 397 + writer * 101) % 3000),
    }


async def write_all(path: str, writer: int, count: int) -> int:
    from tui_bot.storage.files import AtomicFileHandler

    handler = AtomicFileHandler()
    failures = 0
    for seq in range(count):
        if not await handler.atomic_write_json(path, payload(writer, seq)):
            failures += 1
    return failures


def main() -> int:
    path, writer, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    print("ready", flush=True)
    sys.stdin.readline()
    return 1 if asyncio.run(write_all(path, writer, count)) else 0


if __name__ == "__main__":
    sys.exit(main())
