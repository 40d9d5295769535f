"""Imports run one way: cli/console -> runtime -> core -> logs -> config -> storage; the sandbox depends on
nothing of the bot; only the console imports Textual, so the bot, storage, config and sandbox run without
it.

Every import of every module is read with ``ast``: module-level, function-level and ``TYPE_CHECKING``
ones alike (a type-only import still ties one room to another).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import tui_bot

PACKAGE = Path(tui_bot.__file__).parent

# Highest first: a module may import its own layer and the layers after it, never one before it.
LAYERS = ("console", "runtime", "core", "cluster", "logs", "config", "storage")
# The layers that may use the sandbox: the composition root starts it, the console shows its chat.
SANDBOX_USERS = frozenset({"console", "runtime"})
# Leaf modules anyone may import; they import nothing of the bot (only each other).
SHARED = frozenset({"tui_bot", "tui_bot.exit_codes", "tui_bot.loop"})


def layer_of(module: str) -> str:
    """``console``, one of :data:`LAYERS`, ``sandbox`` or ``shared``; a new room must be placed here."""
    if module in SHARED:
        return "shared"
    parts = module.split(".")
    if parts[0] != "tui_bot" or len(parts) < 2:
        raise ValueError(f"not a tui_bot module: {module}")
    room = parts[1]
    # starter: the extensions `init` copies; cluster_cli: `tui-bot cluster status|run`; attach_cli and
    # attach_web: `tui-bot attach [--web]`
    if room in ("cli", "cluster_cli", "attach_cli", "attach_web", "__main__", "tui", "scaffold", "starter"):
        return "console"
    if room in LAYERS or room == "sandbox":
        return room
    raise AssertionError(f"{module} is in no layer: add its room to layer_of() in {__file__}")


@dataclass(frozen=True)
class Import:
    """One import statement's target, as a module name."""

    source: str  # the importing module
    target: str  # the imported module (a submodule when ``from package import submodule``)
    line: int
    top_level: bool  # at module level (not inside a function or an ``if TYPE_CHECKING`` block)

    def __str__(self) -> str:
        return f"{self.source} (line {self.line}) imports {self.target}"


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(name: str, root: Path) -> bool:
    relative = Path(*name.split(".")[1:]) if "." in name else Path()
    folder = root / relative
    return folder.with_suffix(".py").is_file() or (folder / "__init__.py").is_file()


def imports_of(path: Path, root: Path = PACKAGE) -> list[Import]:
    """Every import in ``path``, relative ones resolved; ``from package import submodule`` counts as an
    import of the submodule."""
    source = module_name(path, root)
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top_level = {id(node) for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)}
    found: list[Import] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append(Import(source, alias.name, node.lineno, id(node) in top_level))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = source.split(".")
                drop = node.level - 1 if is_package else node.level
                base = base[: len(base) - drop] if drop else base
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            for alias in node.names:
                submodule = f"{module}.{alias.name}"
                target = (
                    submodule if module.split(".")[0] == root.name and _is_module(submodule, root) else module
                )
                found.append(Import(source, target, node.lineno, id(node) in top_level))
    return found


def all_imports(root: Path = PACKAGE) -> list[Import]:
    return [found for path in sorted(root.rglob("*.py")) for found in imports_of(path, root)]


def wrong_way_imports(root: Path = PACKAGE) -> list[str]:
    """Every import of tui_bot code that breaks the layer order, as ``"source (line n) imports target:
    why"``."""
    problems: list[str] = []
    for found in all_imports(root):
        if found.target.split(".")[0] != root.name:
            continue
        source, target = layer_of(found.source), layer_of(found.target)
        if source == "shared":
            allowed = target == "shared"
            why = "a shared leaf module imports nothing of the bot"
        elif source == "sandbox":
            allowed = target in ("sandbox", "shared")
            why = "the sandbox imports nothing of the bot"
        elif target == "sandbox":
            allowed = source in SANDBOX_USERS
            why = f"only {' and '.join(sorted(SANDBOX_USERS))} may use the sandbox"
        elif target == "shared":
            allowed = True
            why = ""
        else:
            allowed = LAYERS.index(target) >= LAYERS.index(source)
            why = f"{source} may not import {target} (order: {' -> '.join(LAYERS)})"
        if not allowed and f"{found}: {why}" not in problems:  # one line for `from x import a, b`
            problems.append(f"{found}: {why}")
    return problems


def test_every_module_is_in_a_layer() -> None:
    for path in PACKAGE.rglob("*.py"):
        layer_of(module_name(path, PACKAGE))


def test_imports_run_one_way() -> None:
    assert wrong_way_imports() == []


def test_the_layer_check_catches_wrong_way_imports(tmp_path: Path) -> None:
    # A miniature tui_bot with one import of each kind the check must refuse, and some it must allow.
    root = tmp_path / "tui_bot"
    files = {
        "__init__.py": "",
        "exit_codes.py": "",
        "core/__init__.py": "",
        "core/bot.py": "from tui_bot import exit_codes\nfrom tui_bot.storage import files\n",
        "core/late.py": "def f():\n    from tui_bot.runtime import BotRuntime\n",
        "core/typed.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..tui import app\n",
        "runtime/__init__.py": "from tui_bot.sandbox import Sandbox\nfrom . import run\n",
        "runtime/run.py": "from tui_bot.core.bot import create_bot\n",
        "storage/__init__.py": "",
        "storage/files.py": "from .errors import DatabaseError\n",
        "storage/errors.py": "import tui_bot.config.model\n",
        "config/__init__.py": "",
        "config/model.py": "",
        "sandbox/__init__.py": "from .server import Sandbox\n",
        "sandbox/server.py": "from tui_bot.runtime.run import endpoints\nfrom tui_bot import exit_codes\n",
        "tui/__init__.py": "",
        "tui/app.py": "from tui_bot.runtime import BotRuntime\nfrom tui_bot.sandbox import server\n",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    assert wrong_way_imports(root) == [
        "tui_bot.core.late (line 2) imports tui_bot.runtime: core may not import runtime "
        "(order: console -> runtime -> core -> cluster -> logs -> config -> storage)",
        "tui_bot.core.typed (line 3) imports tui_bot.tui.app: core may not import console "
        "(order: console -> runtime -> core -> cluster -> logs -> config -> storage)",
        "tui_bot.sandbox.server (line 1) imports tui_bot.runtime.run: the sandbox imports nothing of the bot",
        "tui_bot.storage.errors (line 1) imports tui_bot.config.model: storage may not import config "
        "(order: console -> runtime -> core -> cluster -> logs -> config -> storage)",
    ]


def imported_roots(path: Path) -> set[str]:
    return {found.target.split(".")[0] for found in imports_of(path)}


def test_only_the_tui_package_imports_textual() -> None:
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if "tui" not in path.relative_to(PACKAGE).parts[:1] and "textual" in imported_roots(path)
    ]
    assert offenders == []
    # And the console really is where Textual lives.
    assert "textual" in imported_roots(PACKAGE / "tui" / "app.py")


def test_the_cli_imports_the_console_only_when_it_opens_it() -> None:
    # So that --headless (and --check-config, and `sandbox serve`) never load Textual.
    console_imports = [
        found
        for found in imports_of(PACKAGE / "cli.py")
        if found.target.startswith("tui_bot.") and layer_of(found.target) == "console"
    ]
    assert console_imports and not [found for found in console_imports if found.top_level]
