"""Durable, atomic replacement of a file's contents (blocking; call it from a thread).

The sequence is the one that survives a crash or a SIGKILL at any instant: write a temporary file in
the same folder, flush and fsync it, ``os.replace`` it over the target, then fsync the folder so the
rename itself is on disk. A reader therefore sees either the old bytes or the new bytes, never a mix.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path


def fsync_directory(directory: Path) -> None:
    """Make a rename or a new entry in ``directory`` durable (a no-op where folders can't be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # Windows cannot open a directory; its rename is durable enough there.
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def durable_write_bytes(path: Path | str, data: bytes, *, keep_backup: Path | str | None = None) -> None:
    """Atomically replace ``path`` with ``data``.

    ``keep_backup``: where to keep the previous version (as a durable copy) before the replacement,
    e.g. ``config.json.bak``. A missing previous version is not an error.
    """
    target = Path(path)
    directory = target.parent
    directory.mkdir(parents=True, exist_ok=True)

    if keep_backup is not None and target.exists():
        backup = Path(keep_backup)
        # Copy, not rename: the target must exist at every instant for concurrent readers.
        durable_write_bytes(backup, target.read_bytes())
        with contextlib.suppress(OSError):
            shutil.copymode(target, backup)

    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if target.exists():
            with contextlib.suppress(OSError):
                shutil.copymode(target, tmp)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_directory(directory)
