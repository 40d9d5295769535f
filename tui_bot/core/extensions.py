"""Discovering, loading, unloading and reloading the extensions in ``extensions/``.

Extensions are addressed by name only (``example``, or ``extensions.example``): anything that is not
the name of a module or package in the extensions folder (paths, ``..``, dotted names reaching into
other packages) is refused before discord.py ever imports it. One failing extension is recorded with
its traceback and never stops the others or the bot.
"""

from __future__ import annotations

import asyncio
import enum
import importlib
import importlib.util
import logging
import re
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from discord.ext import commands

if TYPE_CHECKING:
    from collections.abc import Iterable

log = logging.getLogger("tui_bot.extensions")

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class ExtensionNameError(ValueError):
    """A name that does not denote an extension in the extensions folder."""


class ExtensionStatus(enum.Enum):
    """Where an extension stands."""

    LOADED = "loaded"
    FAILED = "failed"
    BLACKLISTED = "blacklisted"
    UNLOADED = "unloaded"


@dataclass
class ExtensionState:
    """What is known about one extension: the console's Extensions pane shows this."""

    name: str
    status: ExtensionStatus = ExtensionStatus.UNLOADED
    load_seconds: float | None = None
    last_loaded_at: float | None = None  # wall clock
    last_error: str | None = None
    traceback: str | None = None


@dataclass(frozen=True)
class ExtensionResult:
    """The outcome of one load, unload or reload."""

    name: str
    action: str
    ok: bool
    seconds: float
    error: str | None = None
    traceback: str | None = None

    def describe(self) -> str:
        """One line for a notification, a log line or a Discord reply."""
        if self.ok:
            return f"{self.action} {self.name}: ok in {self.seconds * 1000:.0f} ms"
        return f"{self.action} {self.name} failed: {self.error}"


def _root_cause(error: BaseException) -> BaseException:
    # discord.py wraps errors raised while importing or in setup() in ExtensionFailed; the operator
    # wants the original exception and its traceback.
    if isinstance(error, commands.ExtensionFailed):
        return error.original
    return error


class ExtensionManager:
    """Loads extensions from one folder into a bot, by name, and remembers each one's state."""

    def __init__(self, bot: commands.Bot, directory: Path | str, blacklist: Iterable[str] = ()) -> None:
        self.bot = bot
        self.directory = Path(directory).resolve()
        self.package = self.directory.name
        if not _NAME.match(self.package):
            raise ExtensionNameError(
                f"the extensions folder {self.directory} must have a name usable as a Python package "
                "(letters, digits and underscores), e.g. 'extensions'."
            )
        self.blacklist = {self._strip_package(name) for name in blacklist}
        self.states: dict[str, ExtensionState] = {}
        self._lock = asyncio.Lock()

    # -- names ------------------------------------------------------------------------------

    def _strip_package(self, name: str) -> str:
        name = name.strip()
        prefix = self.package + "."
        return name[len(prefix) :] if name.startswith(prefix) else name

    def qualified(self, name: str) -> str:
        """``example`` -> ``extensions.example`` (the module name discord.py loads)."""
        return f"{self.package}.{name}"

    def discover(self) -> list[str]:
        """Names of the modules (``name.py``) and packages (``name/__init__.py``) in the folder, sorted."""
        if not self.directory.is_dir():
            return []
        names = set()
        for entry in self.directory.iterdir():
            if entry.name.startswith(("_", ".")):
                continue
            if entry.is_file() and entry.suffix == ".py" and _NAME.match(entry.stem):
                names.add(entry.stem)
            elif entry.is_dir() and (entry / "__init__.py").is_file() and _NAME.match(entry.name):
                names.add(entry.name)
        return sorted(names)

    def resolve(self, name: str) -> str:
        """Validate a user-given name and return the bare extension name, or raise ExtensionNameError."""
        bare = self._strip_package(name)
        if not _NAME.match(bare):
            raise ExtensionNameError(
                f"'{name}' is not an extension name. Give the name of a file in {self.package}/ "
                f"without '.py', e.g. 'example'; paths and dotted names are not accepted."
            )
        if bare not in self.discover() and self.qualified(bare) not in self.bot.extensions:
            available = ", ".join(self.discover()) or "none"
            raise ExtensionNameError(
                f"there is no extension '{bare}' in {self.package}/ (available: {available})."
            )
        return bare

    def is_blacklisted(self, name: str) -> bool:
        """Whether config.json's ``extensions.blacklist`` names this extension."""
        return self._strip_package(name) in self.blacklist

    def _ensure_importable(self) -> None:
        # Appended, not prepended: a file in the working directory must not shadow the stdlib.
        parent = str(self.directory.parent)
        if parent not in sys.path:
            sys.path.append(parent)
            importlib.invalidate_caches()
        spec = importlib.util.find_spec(self.package)
        locations = [Path(p).resolve() for p in (spec.submodule_search_locations or [])] if spec else []
        if self.directory not in locations:
            found = spec.origin if spec else "nowhere"
            raise ExtensionNameError(
                f"the package name '{self.package}' resolves to {found}, not to {self.directory}: another "
                "installed package has that name. Rename the extensions folder and set extensions.directory."
            )

    def known_names(self) -> list[str]:
        """Every extension known: in the folder, recorded by the manager, or loaded, sorted."""
        prefix = self.package + "."
        loaded = {name[len(prefix) :] for name in self.bot.extensions if name.startswith(prefix)}
        return sorted(set(self.discover()) | set(self.states) | loaded)

    def status_of(self, name: str) -> ExtensionStatus:
        """Where an extension stands now: loaded (whoever loaded it), failed, blacklisted or unloaded."""
        if self.qualified(name) in self.bot.extensions:
            return ExtensionStatus.LOADED
        state = self.states.get(name)
        if state is not None and state.status is ExtensionStatus.FAILED:
            return ExtensionStatus.FAILED
        if self.is_blacklisted(name):
            return ExtensionStatus.BLACKLISTED
        return ExtensionStatus.UNLOADED

    # -- actions ----------------------------------------------------------------------------

    def state(self, name: str) -> ExtensionState:
        """The recorded state of ``name`` (created on first use)."""
        return self.states.setdefault(name, ExtensionState(name))

    async def _run(self, name: str, action: str, operation: Callable[[str], object]) -> ExtensionResult:
        state = self.state(name)
        started = time.perf_counter()
        try:
            self._ensure_importable()
            await operation(self.qualified(name))  # type: ignore[misc]
        except Exception as error:
            cause = _root_cause(error)
            seconds = time.perf_counter() - started
            trace = "".join(traceback.format_exception(cause))
            message = f"{type(cause).__name__}: {cause}"
            state.last_error, state.traceback = message, trace
            if action != "unload" and self.qualified(name) not in self.bot.extensions:
                state.status = ExtensionStatus.FAILED
            log.error("Extension %s: %s failed: %s\n%s", name, action, message, trace.rstrip())
            return ExtensionResult(name, action, False, seconds, message, trace)
        seconds = time.perf_counter() - started
        if action == "unload":
            state.status = ExtensionStatus.UNLOADED
        else:
            state.status = ExtensionStatus.LOADED
            state.load_seconds = seconds
            state.last_loaded_at = time.time()
            state.last_error = state.traceback = None
        log.info("Extension %s: %s ok in %.0f ms", name, action, seconds * 1000)
        return ExtensionResult(name, action, True, seconds)

    async def load(self, name: str) -> ExtensionResult:
        """Load one extension by name. Raises ExtensionNameError for names outside the folder."""
        bare = self.resolve(name)
        async with self._lock:
            if self.qualified(bare) in self.bot.extensions:
                return ExtensionResult(bare, "load", False, 0.0, f"{bare} is already loaded; use reload")
            return await self._run(bare, "load", self.bot.load_extension)

    async def unload(self, name: str) -> ExtensionResult:
        """Unload one loaded extension."""
        bare = self.resolve(name)
        async with self._lock:
            if self.qualified(bare) not in self.bot.extensions:
                return ExtensionResult(bare, "unload", False, 0.0, f"{bare} is not loaded")
            return await self._run(bare, "unload", self.bot.unload_extension)

    def _drop_bytecode(self, name: str) -> None:
        # CPython validates a .pyc by the source's mtime (whole seconds) and size: an edit within the
        # same second that keeps the size would reload the stale code. Recompiling is cheap.
        caches = [self.directory / "__pycache__"]
        package = self.directory / name
        if package.is_dir():
            caches.extend(package.rglob("__pycache__"))
        for cache in caches:
            pattern = f"{name}.*.pyc" if cache == self.directory / "__pycache__" else "*.pyc"
            for pyc in cache.glob(pattern):
                pyc.unlink(missing_ok=True)

    async def reload(self, name: str) -> ExtensionResult:
        """Reload one extension; if it is not loaded, load it. A failed reload keeps the old version
        running (discord.py rolls back to the previous module)."""
        bare = self.resolve(name)
        await asyncio.to_thread(self._drop_bytecode, bare)
        async with self._lock:
            if self.qualified(bare) not in self.bot.extensions:
                return await self._run(bare, "load", self.bot.load_extension)
            return await self._run(bare, "reload", self.bot.reload_extension)

    async def reload_all(self) -> list[ExtensionResult]:
        """Reload every loaded extension."""
        loaded = sorted(
            ext[len(self.package) + 1 :] for ext in self.bot.extensions if ext.startswith(self.package + ".")
        )
        return [await self.reload(name) for name in loaded]

    async def load_all(self) -> list[ExtensionResult]:
        """Load every extension in the folder that is not blacklisted (the start-up auto-load)."""
        results = []
        for name in self.discover():
            if self.is_blacklisted(name):
                self.state(name).status = ExtensionStatus.BLACKLISTED
                log.info("Extension %s is blacklisted in config.json; not loaded", name)
                continue
            results.append(await self.load(name))
        loaded = sum(r.ok for r in results)
        log.info(
            "Extensions: %d loaded, %d failed, %d blacklisted",
            loaded,
            len(results) - loaded,
            len(self.discover()) - len(results),
        )
        return results

    def name_for_path(self, path: Path) -> str | None:
        """The extension a changed file belongs to, or None when it is not inside one."""
        try:
            relative = Path(path).resolve().relative_to(self.directory)
        except ValueError:
            return None
        head = relative.parts[0]
        name = head[:-3] if len(relative.parts) == 1 and head.endswith(".py") else head
        if len(relative.parts) == 1 and not head.endswith(".py"):
            return None
        return name if _NAME.match(name) and not name.startswith("_") else None
