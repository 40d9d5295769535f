"""Removing the temporary files that a crash mid-write left behind (blocking; call from a thread).

Durable writes (:mod:`tui_bot.storage.durable`: the atomic file handler, config.json) and database
backups (:mod:`tui_bot.storage.backups`) write a hidden temporary file and then rename it into place. A
crash or a SIGKILL between the two leaves that file behind. At the next start they are removed, with
three safeguards so that nothing else ever is:

* only names the framework itself makes: ``.<file name>.<8 random characters>.tmp`` and
  ``.<database name>.backup-<8 random characters>.tmp``;
* only regular files (never a folder or a symlink) not modified for :data:`STALE_AFTER_SECONDS`, so a
  write still in progress in another process is left alone;
* only in the folders the framework writes to: the database's folder and its subfolders (not hidden
  ones, at most :data:`MAX_DEPTH` levels down), and config.json's folder for config.json's own files.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Iterable
from pathlib import Path

from tui_bot.storage.backups import backup_temp_pattern
from tui_bot.storage.durable import temp_name_pattern

__all__ = [
    "MAX_DEPTH",
    "STALE_AFTER_SECONDS",
    "find_stale_temp_files",
    "remove_files",
    "remove_stale_storage_temp_files",
]

log = logging.getLogger("tui_bot.storage.tempfiles")

#: A temporary file untouched for this long is a leftover: a live write renames it within seconds.
STALE_AFTER_SECONDS = 3600.0
#: How many levels of subfolders below the database's folder are searched (data/<extension>/...).
MAX_DEPTH = 3


def find_stale_temp_files(
    folder: Path,
    patterns: Iterable[re.Pattern[str]],
    *,
    max_depth: int = 0,
    older_than: float = STALE_AFTER_SECONDS,
    now: float | None = None,
) -> list[Path]:
    """Regular files under ``folder`` whose name fully matches one of ``patterns`` and whose last
    change is at least ``older_than`` seconds old. ``max_depth=0``: ``folder`` itself only.

    Symlinks and hidden subfolders are never followed. A missing folder gives ``[]``.
    """
    patterns = tuple(patterns)
    cutoff = (time.time() if now is None else now) - older_than
    found: list[Path] = []
    pending = [(folder, 0)]
    while pending:
        current, depth = pending.pop()
        try:
            entries = list(os.scandir(current))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    if depth < max_depth and not entry.name.startswith("."):
                        pending.append((Path(entry.path), depth + 1))
                    continue
                if not any(p.fullmatch(entry.name) for p in patterns):
                    continue
                if not entry.is_file(follow_symlinks=False):
                    continue
                if entry.stat(follow_symlinks=False).st_mtime <= cutoff:
                    found.append(Path(entry.path))
            except FileNotFoundError:  # removed while we looked: nothing to do
                continue
    return sorted(found)


def remove_files(paths: Iterable[Path]) -> list[Path]:
    """Delete ``paths``; returns those deleted. A failure is logged as a warning and skipped."""
    removed: list[Path] = []
    for path in paths:
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            log.warning("Could not remove the stale temporary file %s: %s", path, exc)
            continue
        removed.append(path)
    return removed


def remove_stale_storage_temp_files(db_path: Path | str, *, now: float | None = None) -> list[Path]:
    """Remove the stale temporary files of backups and durable writes in the database's folder tree.

    Returns the removed paths. Blocking: run it with ``asyncio.to_thread``.
    """
    db_path = Path(db_path)
    stale = find_stale_temp_files(
        db_path.parent, (backup_temp_pattern(db_path), temp_name_pattern()), max_depth=MAX_DEPTH, now=now
    )
    return remove_files(stale)
