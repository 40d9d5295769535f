"""Only the console imports Textual: the bot, storage, config and sandbox must run without it."""

from __future__ import annotations

import ast
from pathlib import Path

import tui_bot

PACKAGE = Path(tui_bot.__file__).parent


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_only_the_tui_package_imports_textual() -> None:
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if "tui" not in path.relative_to(PACKAGE).parts[:1] and "textual" in imported_roots(path)
    ]
    assert offenders == []
    # And the console really is where Textual lives.
    assert "textual" in imported_roots(PACKAGE / "tui" / "app.py")
