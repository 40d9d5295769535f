"""Durable, atomic replacement of a file's contents (blocking; call it from a thread).

The sequence is the one that survives a crash or a SIGKILL at any instant: write a temporary file in
the same folder, flush and fsync it, ``os.replace`` it over the target, then fsync the folder so the
rename itself is on disk. A reader therefore sees either the old bytes or the new bytes, never a mix.

The temporary file is named ``.<target name>.<8 random characters>.tmp`` (:func:`temp_name_pattern`
matches exactly these names), so that the leftovers of a crash mid-write can be recognised and removed
at the next start (see :mod:`tui_bot.storage.tempfiles`).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from pathlib import Path

TEMP_SUFFIX = ".tmp"
# tempfile.mkstemp puts 8 characters from this alphabet between the prefix and the suffix.
MKSTEMP_RANDOM = r"[a-z0-9_]{8}"


def temp_prefix(target_name: str) -> str:
    """The prefix of the temporary files written while replacing a file named ``target_name``."""
    return f".{target_name}."


def temp_name_pattern(target_name: str | None = None) -> re.Pattern[str]:
    """Matches (with ``fullmatch``) the temporary names :func:`durable_write_bytes` uses.

    With ``target_name``: only those written for that file; without: those written for any file.
    """
    target = ".+" if target_name is None else re.escape(target_name)
    return re.compile(r"\." + target + r"\." + MKSTEMP_RANDOM + re.escape(TEMP_SUFFIX))


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

    fd, tmp_name = tempfile.mkstemp(prefix=temp_prefix(target.name), suffix=TEMP_SUFFIX, dir=directory)
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
