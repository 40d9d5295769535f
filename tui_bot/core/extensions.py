"""Discovering, loading, unloading and reloading the extensions in ``extensions/``.

Extensions are addressed by name only (``example``, or ``extensions.example``): anything that is not
the name of a module or package in the extensions folder (paths, ``..``, dotted names reaching into
other packages) is refused before discord.py ever imports it. One failing extension is recorded with
its traceback and never stops the others or the bot.

Extension code is contained: every load, unload and reload runs in its own task under a time limit
(``extensions.load_timeout``). One that does not finish is cancelled; one that raises ``SystemExit`` or
``KeyboardInterrupt`` (argparse at import does the former) is stopped before it reaches the event loop.
Either way it is recorded as failed, whatever it had registered is removed, as discord.py does after a
setup that raised, and the lock is released (the running itself: :mod:`tui_bot.core.extension_code`).
Code that blocks the loop thread (``time.sleep`` in the module body) cannot be interrupted;
:mod:`tui_bot.core.watchdog` names it in the log.

Over 400 lines on purpose: one class, one lock. Loading, unloading, reloading and the rollback after a
contained failure all change the same registry and states under that lock, and read best together.
"""

from __future__ import annotations

import asyncio
import enum
import importlib
import importlib.util
import logging
import math
import re
import sys
import time
import traceback
import types
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from discord.ext import commands

from tui_bot.config.model import ExtensionsConfig
from tui_bot.core.extension_code import (
    LOAD_TIMEOUT_KEY,
    Attempt,
    ContainedRunner,
    describe_error,
    root_cause,
)
from tui_bot.core.results import ActionResult

if TYPE_CHECKING:
    from collections.abc import Iterable

log = logging.getLogger("tui_bot.extensions")

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

DEFAULT_LOAD_TIMEOUT = ExtensionsConfig.load_timeout  # config.json's extensions.load_timeout when absent
# At shutdown every extension is unloaded within this many seconds in all (see unload_all).
SHUTDOWN_UNLOAD_SECONDS = 3.0
SHUTDOWN_LIMIT = "the time extensions get to unload at shutdown"


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
class ExtensionResult(ActionResult):
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


def _is_submodule(parent: str, child: str) -> bool:
    return parent == child or child.startswith(parent + ".")


class ExtensionManager:
    """Loads extensions from one folder into a bot, by name, and remembers each one's state."""

    def __init__(
        self,
        bot: commands.Bot,
        directory: Path | str,
        blacklist: Iterable[str] = (),
        *,
        load_timeout: float = DEFAULT_LOAD_TIMEOUT,
    ) -> None:
        if not math.isfinite(load_timeout) or load_timeout <= 0:
            raise ValueError(f"load_timeout must be a number of seconds greater than 0, not {load_timeout!r}")
        self.bot = bot
        # How long one load, unload or reload may take before it is cancelled (extensions.load_timeout).
        self.load_timeout = load_timeout
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
        self._runner = ContainedRunner()
        # Extension code that ignored its cancellation, still running; kept referenced until it ends.
        self.abandoned = self._runner.abandoned

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
                f"without '.py', e.g. 'example' (or '{self.package}.example'); paths and other dotted names "
                "are not accepted."
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
        """Every extension known: in the folder, or loaded, sorted. A record of one whose file is gone and
        that is not loaded (a failure, an unload) is history, not an extension: it is not listed."""
        prefix = self.package + "."
        loaded = {name[len(prefix) :] for name in self.bot.extensions if name.startswith(prefix)}
        return sorted(set(self.discover()) | loaded)

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

    def _forget(self, key: str) -> None:
        # discord.py pops these in _call_module_finalizers' ``finally``; when that clean-up itself was cut
        # short, do it here. Bot.extensions is a read-only view of discord.py's own registry.
        for module in [m for m in sys.modules if _is_submodule(key, m)]:
            del sys.modules[module]
        registry = getattr(self.bot, "_BotBase__extensions", None)
        if isinstance(registry, dict):
            registry.pop(key, None)

    async def _clean_up(
        self, name: str, action: str, previous: types.ModuleType | None, modules: dict[str, types.ModuleType]
    ) -> tuple[str | None, asyncio.CancelledError | None]:
        """After a timeout, a SystemExit or a cancellation: what discord.py does after a setup that raised
        (it only does so for ``Exception``). The module's cogs, commands, listeners and app commands are
        removed, its ``teardown`` runs, it is forgotten; a reload then puts the previous version back, as
        discord.py's reload does. Returns a note on that rollback, and a cancellation of the caller."""
        key = self.qualified(name)
        registered = self.bot.extensions.get(key)
        partial = registered if registered is not None else sys.modules.get(key)
        cancelled = await self._runner.clean_up_step(self.bot._remove_module_references(key), name)
        if partial is not None and (registered is not None or partial is not previous):
            cancelled = (
                await self._runner.clean_up_step(self.bot._call_module_finalizers(partial, key), name)
                or cancelled
            )
        self._forget(key)
        if action != "reload" or previous is None or cancelled is not None:
            return None, cancelled
        note, again = await self._restore(name, previous, modules)
        return note, cancelled or again

    async def _restore(
        self, name: str, previous: types.ModuleType, modules: dict[str, types.ModuleType]
    ) -> tuple[str, asyncio.CancelledError | None]:
        # discord.py's reload_extension on failure: the old module's setup runs again and the module is
        # registered back under its name, in the registry that Bot.extensions is a view of.
        key = self.qualified(name)
        registry = getattr(self.bot, "_BotBase__extensions", None)
        setup = getattr(previous, "setup", None)
        if not isinstance(registry, dict) or setup is None:
            return "the previous version could not be put back: the extension is unloaded", None
        sys.modules.update(modules)
        attempt = await self._runner.attempt(setup(self.bot), self.load_timeout, name, "restore")
        if attempt.error is None:
            registry[key] = previous
            return "the previous version was put back and keeps running", None
        await self._runner.clean_up_step(self.bot._remove_module_references(key), name)
        self._forget(key)
        why = describe_error(root_cause(attempt.error))
        return f"putting the previous version back failed too ({why}): the extension is unloaded", (
            attempt.caller_cancelled
        )

    async def _run(
        self,
        name: str,
        action: str,
        operation: Callable[[str], Coroutine[Any, Any, None]],
        *,
        limit: float | None = None,
        limit_name: str = LOAD_TIMEOUT_KEY,
    ) -> ExtensionResult:
        state = self.state(name)
        key = self.qualified(name)
        previous = self.bot.extensions.get(key)
        # What discord.py's reload snapshots to roll back with; taken here too, for a rollback of our own.
        modules = {m: mod for m, mod in sys.modules.items() if _is_submodule(key, m)} if previous else {}
        started = time.perf_counter()
        try:
            self._ensure_importable()
        except Exception as error:
            return self._failed(state, action, started, Attempt(error=error))
        attempt = await self._runner.attempt(
            operation(key), self.load_timeout if limit is None else limit, name, action, limit_name
        )
        cancelled = attempt.caller_cancelled
        if cancelled is not None:
            attempt.error = asyncio.CancelledError(f"the {action} was cancelled before it finished")
        note = None
        if attempt.contained:
            note, again = await self._clean_up(name, action, previous, modules)
            cancelled = cancelled or again
        if attempt.error is None:
            result = self._succeeded(state, action, started)
        else:
            result = self._failed(state, action, started, attempt, note)
        if cancelled is not None:
            raise cancelled
        return result

    def _succeeded(self, state: ExtensionState, action: str, started: float) -> ExtensionResult:
        seconds = time.perf_counter() - started
        if action == "unload":
            state.status = ExtensionStatus.UNLOADED
        else:
            state.status = ExtensionStatus.LOADED
            state.load_seconds = seconds
            state.last_loaded_at = time.time()
            state.last_error = state.traceback = None
        log.info("Extension %s: %s ok in %.0f ms", state.name, action, seconds * 1000)
        return ExtensionResult(state.name, action, True, seconds)

    def _failed(
        self, state: ExtensionState, action: str, started: float, attempt: Attempt, note: str | None = None
    ) -> ExtensionResult:
        assert attempt.error is not None
        seconds = time.perf_counter() - started
        cause = root_cause(attempt.error)
        message = describe_error(cause)
        if note:
            message += f"; {note}"
        trace = attempt.stuck_at if attempt.timed_out else "".join(traceback.format_exception(cause))
        state.last_error, state.traceback = message, trace or None
        still_loaded = self.qualified(state.name) in self.bot.extensions
        if not still_loaded and (action != "unload" or attempt.contained):
            state.status = ExtensionStatus.FAILED
        log.error("Extension %s: %s failed: %s\n%s", state.name, action, message, trace.rstrip())
        return ExtensionResult(state.name, action, False, seconds, message, trace or None)

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

    async def unload_all(self, budget: float = SHUTDOWN_UNLOAD_SECONDS) -> list[ExtensionResult]:
        """Unload every loaded extension of the folder within ``budget`` seconds in all.

        The bot's ``close()`` calls this before discord.py's own unloading, which has no time limit: a
        hung ``cog_unload`` or ``teardown`` then costs the shutdown at most ``budget`` seconds.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + budget
        try:
            async with asyncio.timeout(budget):
                await self._lock.acquire()
        except TimeoutError:
            log.warning(
                "Shutdown: an extension action still runs after %g s; not unloading extensions", budget
            )
            return []
        try:
            prefix = self.package + "."
            names = [key[len(prefix) :] for key in self.bot.extensions if key.startswith(prefix)]
            results = []
            for name in reversed(names):  # the last loaded first, as they may build on earlier ones
                remaining = max(deadline - loop.time(), 0.1)
                unload = self.bot.unload_extension
                results.append(
                    await self._run(name, "unload", unload, limit=remaining, limit_name=SHUTDOWN_LIMIT)
                )
            return results
        finally:
            self._lock.release()

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
        running (discord.py rolls back to the previous module; after a timeout, so does the manager)."""
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
