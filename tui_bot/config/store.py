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
import sys
from pathlib import Path
from typing import Any

from tui_bot.config.errors import ConfigErrors, ConfigValueError, show_key, show_value
from tui_bot.config.model import BotConfig, default_config, unknown_keys
from tui_bot.config.readers import nesting_problem, walk
from tui_bot.config.validation import parse_config
from tui_bot.storage.durable import durable_write_bytes, temp_name_pattern
from tui_bot.storage.tempfiles import find_stale_temp_files, remove_files

log = logging.getLogger("tui_bot.config")


class ConfigFileError(Exception):
    """config.json cannot be used as it is. ``str(error)`` tells the operator what to fix."""


def render_config(raw: dict[str, Any]) -> bytes:
    """The bytes written for a config: 4-space indented JSON, UTF-8, a trailing newline."""
    return (json.dumps(raw, indent=4, ensure_ascii=False) + "\n").encode("utf-8")


class _OversizedNumber:
    """Stands in for a JSON integer longer than Python converts (sys.get_int_max_str_digits()), so the
    error can name its key instead of json.loads failing with no position."""

    def __init__(self, digits: int) -> None:
        self.digits = digits


def _read_int(literal: str) -> int | _OversizedNumber:
    limit = sys.get_int_max_str_digits()
    digits = len(literal.lstrip("-"))
    if limit and digits > limit:
        return _OversizedNumber(digits)
    return int(literal)


def _parse_json(path: Path, data: bytes) -> Any:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ConfigFileError(
            f"{path} is not UTF-8 text (byte {error.start} cannot be decoded). "
            "Save it as UTF-8; the file was left unchanged."
        ) from None
    try:
        raw = json.loads(text, parse_int=_read_int)
    except json.JSONDecodeError as error:
        raise ConfigFileError(
            f"{path} is not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}. "
            "Fix that spot (a missing comma or quote, or a trailing comma, is the usual cause); "
            "the file was left unchanged."
        ) from None
    except RecursionError:
        raise ConfigFileError(_too_deep(path)) from None
    except ValueError as error:
        # _read_int keeps long integers out of int(); this is for whatever else Python refuses to read.
        raise ConfigFileError(
            f"{path} cannot be read: {error}. Fix that value; the file was left unchanged."
        ) from None
    except Exception as error:  # any other parse failure is still the file's problem, reported as such
        raise ConfigFileError(
            f"{path} cannot be read as JSON ({type(error).__name__}). The file was left unchanged."
        ) from None
    for key, value in walk(raw):
        if isinstance(value, _OversizedNumber):
            limit = sys.get_int_max_str_digits()
            raise ConfigFileError(
                f"{path}: config key '{show_key(key or '(top level)')}' holds a number with more than "
                f"{limit:,} digits ({value.digits:,}), which Python refuses to read and no setting needs. "
                "Fix that value; the file was left unchanged."
            )
    return raw


def _too_deep(path: Path) -> str:
    return (
        f"{path} is nested too deeply to read: lists or objects inside each other hundreds of levels deep "
        "(a config needs 3). Fix the file; it was left unchanged."
    )


def describe_problems(path: Path, error: ConfigValueError) -> str:
    """The operator-facing report of every problem in ``path``: one line, or one line per problem."""
    errors = error.errors if isinstance(error, ConfigErrors) else [error]
    if len(errors) == 1:
        return f"{path}: {errors[0]} The file was left unchanged."
    lines = "\n".join(f"  - {each}" for each in errors)
    return f"{path} has {len(errors)} problems; the file was left unchanged:\n{lines}"


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
        #: What the command line did before logging was configured (logged at INFO by :meth:`log_load_notes`).
        self.notes: list[str] = []
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
            warnings = [f"unknown key in {path}: {key}; it is ignored" for key in unknown_keys(raw)]
        except ConfigValueError as error:
            raise ConfigFileError(describe_problems(path, error)) from None
        except RecursionError:
            # parse_config refuses deep nesting before reading anything; this is the safety net.
            raise ConfigFileError(_too_deep(path)) from None
        return cls(path, raw, model, warnings, created=created, removed_temp_files=removed)

    def log_load_notes(self) -> None:
        """Log what loading found (called once logging is configured)."""
        if self.created:
            log.info("Generated %s with the default settings", self.path)
        for leftover in self.removed_temp_files:
            log.info("Removed a temporary file left by an interrupted save: %s", leftover)
        for note in self.notes:
            log.info(note)
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

        Raises ConfigValueError (a ConfigErrors listing every problem; nothing is changed) when the value
        is not acceptable: the same checks, and messages, as loading the file.
        """
        async with self._save_lock:
            try:
                raw, model, rendered = self._changed(dotted_key, value)
            except RecursionError:
                raise ConfigErrors(
                    [
                        ConfigValueError(
                            dotted_key, value, "a value nested less deeply (a config needs 3 levels)"
                        )
                    ]
                ) from None
            await asyncio.to_thread(durable_write_bytes, self.path, rendered, keep_backup=self.backup_path)
            self._raw, self.model = raw, model
            log.info("Config %s set to %s", dotted_key, show_value(value))
            return model

    def _changed(self, dotted_key: str, value: Any) -> tuple[dict[str, Any], BotConfig, bytes]:
        """The settings with ``dotted_key`` set, their model and their bytes; raises ConfigValueError."""
        too_deep = nesting_problem(value, dotted_key)
        if too_deep is not None:  # before copying it: copy.deepcopy recurses
            raise ConfigErrors([too_deep])
        raw = copy.deepcopy(self._raw)
        parts = dotted_key.split(".")
        node = raw
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigErrors([ConfigValueError(part, child, "an object ({...}) to hold " + dotted_key)])
            node = child
        node[parts[-1]] = copy.deepcopy(value)
        model = parse_config(raw)
        try:
            rendered = render_config(raw)
        except (TypeError, ValueError):  # a value of an unknown key that JSON cannot hold (a set, 10**5000)
            raise ConfigErrors(
                [
                    ConfigValueError(
                        dotted_key,
                        value,
                        "a JSON value: text, a number, true, false, null, a list or an object",
                    )
                ]
            ) from None
        return raw, model, rendered
