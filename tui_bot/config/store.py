"""Reading, generating and saving ``config.json``.

The file is the operator's: a config that cannot be read or validated is reported and left exactly as
it is (never "repaired" with defaults). Saves are atomic and durable and keep the previous version as
``config.json.bak``. Loading for a run removes the temporary files of saves that a crash interrupted
(``.config.json.<8 random characters>.tmp``, not modified for an hour; see ``tui_bot.storage.tempfiles``).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import logging
from pathlib import Path
from typing import Any

from tui_bot.config.model import BotConfig, ConfigValueError, default_config, parse_config, unknown_keys
from tui_bot.storage.durable import durable_write_bytes, temp_name_pattern
from tui_bot.storage.tempfiles import find_stale_temp_files, remove_files

log = logging.getLogger("tui_bot.config")


class ConfigFileError(Exception):
    """config.json cannot be used as it is. ``str(error)`` tells the operator what to fix."""


def render_config(raw: dict[str, Any]) -> bytes:
    """The bytes written for a config: 4-space indented JSON, UTF-8, a trailing newline."""
    return (json.dumps(raw, indent=4, ensure_ascii=False) + "\n").encode("utf-8")


def _parse_json(path: Path, data: bytes) -> Any:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ConfigFileError(
            f"{path} is not UTF-8 text (byte {error.start} cannot be decoded). "
            "Save it as UTF-8; the file was left unchanged."
        ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigFileError(
            f"{path} is not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}. "
            "Fix that spot (a missing comma or quote, or a trailing comma, is the usual cause); "
            "the file was left unchanged."
        ) from None


def remove_stale_config_temp_files(path: Path) -> list[Path]:
    """Remove the leftovers of interrupted saves of ``path`` and of its ``.bak``; returns them. Blocking.

    Only this file's own temporary names, in its folder, not modified for an hour.
    """
    names = (path.name, path.name + ".bak")
    return remove_files(find_stale_temp_files(path.parent, [temp_name_pattern(name) for name in names]))


class ConfigStore:
    """config.json on disk and its validated model. Get and set settings by dotted key."""

    def __init__(
        self,
        path: Path,
        raw: dict[str, Any],
        model: BotConfig,
        warnings: list[str],
        *,
        created: bool = False,
        removed_temp_files: list[Path] | None = None,
    ) -> None:
        self.path = path
        self._raw = raw
        self.model = model
        self.warnings = warnings
        self.created = created
        #: Leftovers of interrupted saves removed by :meth:`load` (logged by :meth:`log_load_notes`).
        self.removed_temp_files = removed_temp_files or []
        self._save_lock = asyncio.Lock()

    @property
    def backup_path(self) -> Path:
        """Where the previous version is kept on every save."""
        return self.path.with_name(self.path.name + ".bak")

    @classmethod
    def load(cls, path: Path | str, *, create: bool = True) -> ConfigStore:
        """Read and validate ``path``; generate it with the defaults when it does not exist.

        Blocking (small file, read once at start-up before the event loop is busy).
        Raises ConfigFileError with an operator-facing message; never writes to an existing file.
        With ``create=False`` (a check only) nothing on disk is touched; otherwise stale temporary files
        of interrupted saves are removed too.
        """
        path = Path(path)
        created = False
        removed: list[Path] = []
        if create:
            # Tidying is best effort: reading the config reports a real problem with the folder.
            with contextlib.suppress(OSError):
                removed = remove_stale_config_temp_files(path)
        if not path.exists():
            if not create:
                raise ConfigFileError(
                    f"{path} does not exist. Run tui-bot once to generate it with the defaults."
                )
            raw = default_config()
            try:
                durable_write_bytes(path, render_config(raw))
            except OSError as error:
                raise ConfigFileError(f"cannot create {path}: {error.strerror}.") from None
            created = True
        else:
            try:
                data = path.read_bytes()
            except OSError as error:
                raise ConfigFileError(f"cannot read {path}: {error.strerror}.") from None
            raw = _parse_json(path, data)

        try:
            model = parse_config(raw)
        except ConfigValueError as error:
            raise ConfigFileError(f"{path}: {error} The file was left unchanged.") from None

        warnings = [f"unknown key in {path}: {key}; it is ignored" for key in unknown_keys(raw)]
        return cls(path, raw, model, warnings, created=created, removed_temp_files=removed)

    def log_load_notes(self) -> None:
        """Log what loading found (called once logging is configured)."""
        if self.created:
            log.info("Generated %s with the default settings", self.path)
        for leftover in self.removed_temp_files:
            log.info("Removed a temporary file left by an interrupted save: %s", leftover)
        for warning in self.warnings:
            log.warning(warning)

    def as_dict(self) -> dict[str, Any]:
        """A copy of the settings as they are in the file."""
        return copy.deepcopy(self._raw)

    def get(self, dotted_key: str, default: Any = None) -> Any:
        """The value at ``status.type``-style keys, as written in the file (or ``default``)."""
        node: Any = self._raw
        for part in dotted_key.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return copy.deepcopy(node)

    async def set(self, dotted_key: str, value: Any) -> BotConfig:
        """Validate the change, save it atomically and durably, and return the new model.

        Raises ConfigValueError (and changes nothing) when the value is not acceptable.
        """
        async with self._save_lock:
            raw = copy.deepcopy(self._raw)
            parts = dotted_key.split(".")
            node = raw
            for part in parts[:-1]:
                child = node.setdefault(part, {})
                if not isinstance(child, dict):
                    raise ConfigValueError(part, child, "an object ({...}) to hold " + dotted_key)
                node = child
            node[parts[-1]] = copy.deepcopy(value)
            model = parse_config(raw)
            await asyncio.to_thread(
                durable_write_bytes, self.path, render_config(raw), keep_backup=self.backup_path
            )
            self._raw, self.model = raw, model
            log.info("Config %s set to %s", dotted_key, json.dumps(value, ensure_ascii=False))
            return model
