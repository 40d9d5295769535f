"""The parity table: which of discord.py's REST routes the sandbox serves, written to docs/sandbox-parity.md.

discord.py's routes are read from its own source, not from a list kept by hand: every
``Route('METHOD', '/path/{x}', ...)`` call in ``discord.http.HTTPClient`` (the bot's REST client) and
``discord.webhook.async_.AsyncWebhookAdapter`` (interaction callbacks, follow-ups and webhooks), found
with ``ast`` over ``inspect.getsource``: deterministic, no network, and it follows discord.py upgrades.
The sandbox's routes come from its aiohttp router (``RestApi.install`` with every ``extra_routes``
installer), built on an application that is never started. Routes match by method and path template,
parameter names aside (``/guilds/{guild_id}`` is ``/guilds/{id}``).

Each route is ``implemented``, ``partial`` (served, with a note of what is missing: :data:`PARTIAL`,
kept by hand in ``parity_notes``) or ``not implemented``. ``python -m tui_bot.sandbox.parity --write``
regenerates the table; ``--check`` exits 1 when the file is stale; ``tests/test_sandbox_parity.py`` fails
when the sandbox and the table disagree.

:func:`describe_unknown` names the discord.py route a request was for, so the sandbox's answer to a
route it does not implement names it and points at the table.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import functools
import inspect
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from .parity_notes import AREA_RULES, PARTIAL

PARITY_DOC = "docs/sandbox-parity.md"
REGENERATE = "python -m tui_bot.sandbox.parity --write"
API_PREFIX = "/api/v10"  # as rest_http.API_PREFIX (not imported: describe_unknown must stay light)
METHOD_ORDER = ("GET", "POST", "PUT", "PATCH", "DELETE")
_PARAM = re.compile(r"\{[^{}]*\}")


class Status(StrEnum):
    IMPLEMENTED = "implemented"
    PARTIAL = "partial"
    MISSING = "not implemented"


def shape(path: str) -> str:
    """A path template with its parameter names dropped: ``/guilds/{guild_id:\\d+}`` -> ``/guilds/{}``."""
    return _PARAM.sub("{}", path)


def area_of(path: str) -> str:
    """The table's grouping for a route (first rule of :data:`AREA_RULES` whose marker is in the path)."""
    return next((area for marker, area in AREA_RULES if marker in path), "Other")


@dataclass(frozen=True)
class LibraryRoute:
    """One route discord.py can call, with the client methods that call it."""

    method: str
    path: str  # as discord.py writes it, e.g. "/guilds/{guild_id}/roles/{role_id}"
    callers: tuple[str, ...]  # e.g. ("HTTPClient.get_role",)

    @property
    def key(self) -> tuple[str, str]:
        return self.method, shape(self.path)

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def area(self) -> str:
        return area_of(self.path)


def _literal_path(node: ast.expr) -> str | None:
    """A ``Route`` path argument as text: a string, or an f-string of names (``f'/guilds/{guild_id}'``)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        parts: list[str] = []
        for value in node.values:
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                parts.append(value.value)
            elif isinstance(value, ast.FormattedValue) and isinstance(value.value, ast.Name):
                parts.append("{" + value.value.id + "}")
            else:
                return None
        return "".join(parts)
    return None


def routes_in_source(source: str, owner: str) -> list[LibraryRoute]:
    """Every ``Route('METHOD', path, ...)`` call in ``source`` (a class), with the method that makes it.

    A call whose method or path is not a literal raises ``ValueError``: the table must not silently miss
    a route when discord.py changes how it builds one.
    """
    found: list[LibraryRoute] = []
    tree = ast.parse(source)
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(function):
            if not isinstance(node, ast.Call) or getattr(node.func, "id", None) != "Route":
                continue
            method = node.args[0] if node.args else None
            path = _literal_path(node.args[1]) if len(node.args) > 1 else None
            if not (isinstance(method, ast.Constant) and isinstance(method.value, str)) or path is None:
                raise ValueError(f"{owner}.{function.name}: cannot read {ast.unparse(node)}")
            found.append(LibraryRoute(method.value.upper(), path, (f"{owner}.{function.name}",)))
    return found


def _merge(routes: Iterable[LibraryRoute]) -> list[LibraryRoute]:
    """One entry per (method, template), keeping the first spelling and every caller."""
    merged: dict[tuple[str, str], LibraryRoute] = {}
    for route in routes:
        seen = merged.get(route.key)
        if seen is None:
            merged[route.key] = route
        elif route.callers[0] not in seen.callers:
            merged[route.key] = LibraryRoute(seen.method, seen.path, seen.callers + route.callers)
    return sorted(merged.values(), key=_sort_key)


def _sort_key(route: LibraryRoute) -> tuple[int, str, int]:
    areas = [area for _marker, area in AREA_RULES]
    area = areas.index(route.area) if route.area in areas else len(areas)
    method = METHOD_ORDER.index(route.method) if route.method in METHOD_ORDER else len(METHOD_ORDER)
    return area, shape(route.path), method


@functools.cache
def library_routes() -> tuple[LibraryRoute, ...]:
    """The REST routes discord.py (the installed version) can call, sorted by area and path."""
    from discord.http import HTTPClient
    from discord.webhook.async_ import AsyncWebhookAdapter

    found: list[LibraryRoute] = []
    for cls in (HTTPClient, AsyncWebhookAdapter):
        found += routes_in_source(inspect.getsource(cls), cls.__name__)
    return tuple(_merge(found))


def discord_py_version() -> str:
    import discord

    return discord.__version__


def sandbox_routes() -> dict[tuple[str, str], str]:
    """The sandbox's REST routes as ``(method, template shape) -> path as registered`` (no catch-all)."""
    from aiohttp import web

    from .server import Sandbox

    app = web.Application()
    Sandbox().rest.install(app)  # routes only: the application is never started
    routes: dict[tuple[str, str], str] = {}
    for route in app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if route.method in ("HEAD", "*") or not path.startswith(API_PREFIX + "/"):
            continue
        path = path.removeprefix(API_PREFIX)
        routes.setdefault((route.method, shape(path)), path)
    return routes


@dataclass(frozen=True)
class Row:
    route: LibraryRoute
    status: Status
    note: str


@dataclass(frozen=True)
class Parity:
    rows: tuple[Row, ...]
    extra: tuple[tuple[str, str], ...]  # (method, path) the sandbox serves that discord.py never calls
    version: str

    def count(self, status: Status) -> int:
        return sum(row.status is status for row in self.rows)

    def row(self, method: str, path: str) -> Row:
        key = (method, shape(path))
        return next(row for row in self.rows if row.route.key == key)


def compute() -> Parity:
    """Match discord.py's routes against the sandbox's; raise if a note in :data:`PARTIAL` is stale."""
    library = library_routes()
    served = sandbox_routes()
    names = {route.name: route for route in library}
    stale = [name for name in PARTIAL if name not in names or names[name].key not in served]
    if stale:
        raise ValueError(f"parity_notes.PARTIAL names routes not called by discord.py or not served: {stale}")
    rows = []
    for route in library:
        if route.key not in served:
            rows.append(Row(route, Status.MISSING, ""))
        elif route.name in PARTIAL:
            rows.append(Row(route, Status.PARTIAL, PARTIAL[route.name]))
        else:
            rows.append(Row(route, Status.IMPLEMENTED, ""))
    called = {route.key for route in library}
    extra = sorted(
        ((method, path) for (method, key), path in served.items() if (method, key) not in called),
        key=lambda item: (item[1], METHOD_ORDER.index(item[0]) if item[0] in METHOD_ORDER else 9),
    )
    return Parity(tuple(rows), tuple(extra), discord_py_version())


def render(parity: Parity) -> str:
    """The Markdown of docs/sandbox-parity.md."""
    total = len(parity.rows)
    implemented, partial = parity.count(Status.IMPLEMENTED), parity.count(Status.PARTIAL)
    missing = parity.count(Status.MISSING)
    lines = [
        f"# Sandbox parity with discord.py {parity.version}",
        "",
        "Which of the REST routes (Discord API v10) that discord.py can call the sandbox serves. The routes",
        "are read from discord.py's own source (every `Route(...)` call in `HTTPClient` and",
        "`AsyncWebhookAdapter`), the sandbox's side from its router; `tests/test_sandbox_parity.py` fails",
        f"when this file and the sandbox disagree. Generated: do not edit by hand, run `{REGENERATE}`.",
        "",
        "- **implemented**: served with Discord's shapes, checks and errors for what the sandbox models.",
        "- **partial**: served, but part of Discord's behaviour is missing (the last column says what).",
        "- **not implemented**: answers `404` with Discord's body (`code` 0), its `message` naming the route",
        "  and this file, and is recorded as an `unknown_route` event.",
        "",
        f"**{total} routes: {implemented} implemented, {partial} partial, {missing} not implemented.**",
        "",
        "| Area | Method | Route | discord.py | Sandbox | Missing |",
        "|---|---|---|---|---|---|",
    ]
    for row in parity.rows:
        callers = ", ".join(f"`{c.split('.', 1)[1]}`" for c in row.route.callers)
        path = f"`{row.route.path}`"
        lines.append(
            f"| {row.route.area} | {row.route.method} | {path} | {callers} | {row.status} | {row.note} |"
        )
    if parity.extra:
        lines += [
            "",
            "## Served by the sandbox, not called by discord.py",
            "",
            "For other libraries and older discord.py versions.",
            "",
            "| Method | Route |",
            "|---|---|",
        ]
        lines += [f"| {method} | `{path}` |" for method, path in parity.extra]
    return "\n".join(lines) + "\n"


def describe_unknown(method: str, path: str) -> str:
    """``METHOD /template`` of the discord.py route ``path`` (under ``/api/v10``) is for, else the path
    with its numbers replaced by ``{id}``."""
    path = path.removeprefix(API_PREFIX)
    segments = path.strip("/").split("/")
    best: tuple[int, str] | None = None
    try:
        candidates: tuple[LibraryRoute, ...] = library_routes()
    except Exception:  # discord.py missing or unreadable: name the path alone
        candidates = ()
    for route in candidates:
        template = route.path.strip("/").split("/")
        if route.method != method or len(template) != len(segments):
            continue
        if all(t.startswith("{") or t == s for t, s in zip(template, segments, strict=True)):
            literal = sum(not t.startswith("{") for t in template)  # /users/@me beats /users/{user_id}
            if best is None or literal > best[0]:
                best = (literal, route.path)
    if best is not None:
        return f"{method} {best[1]}"
    return f"{method} /" + "/".join("{id}" if s.isdigit() else s for s in segments)


def check(root: Path) -> str | None:
    """None when ``root``/docs/sandbox-parity.md is current, else a unified diff to it."""
    target = root / PARITY_DOC
    expected = render(compute())
    actual = target.read_text(encoding="utf-8") if target.exists() else ""
    if actual == expected:
        return None
    diff = difflib.unified_diff(
        actual.splitlines(keepends=True), expected.splitlines(keepends=True), PARITY_DOC, "regenerated"
    )
    return "".join(diff)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tui_bot.sandbox.parity", description="The parity table.")
    parser.add_argument("--write", action="store_true", help=f"write {PARITY_DOC}")
    parser.add_argument("--check", action="store_true", help=f"exit 1 if {PARITY_DOC} is stale")
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="the checkout (default: here)")
    args = parser.parse_args(argv)
    if args.write:
        target = args.root / PARITY_DOC
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(render(compute()), encoding="utf-8")
        print(f"wrote {target}")
        return 0
    if args.check:
        diff = check(args.root)
        if diff:
            print(f"{PARITY_DOC} is stale; run `{REGENERATE}`\n{diff}", file=sys.stderr)
            return 1
        print(f"{PARITY_DOC} is current")
        return 0
    sys.stdout.write(render(compute()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
