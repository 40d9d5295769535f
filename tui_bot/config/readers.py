"""Readers of config.json values: each takes the dotted key and the raw value and returns the typed value,
or raises ConfigValueError naming the key, the value and what is expected.

Nothing that passes here can break the bot later: numbers are finite and bounded (``json.loads`` accepts
``NaN`` and ``Infinity``, and a ``backup_count`` of 10**30 makes the first log rotation loop for ever),
texts are bounded, paths carry no control characters, the status template uses only fields that exist,
and a prefix is made of visible characters. The errors and how they show values are in
:mod:`tui_bot.config.errors`.
"""

from __future__ import annotations

import keyword
import math
import os
import re
import string
import unicodedata
from collections.abc import Iterator
from typing import Any

from tui_bot.config.errors import (
    HIDDEN_CATEGORIES,
    ConfigValueError,
    clip,
    escape_hidden,
)

# config.json needs 3 levels (command_permissions -> a command -> its roles); 20 leaves room for keys
# added later while keeping every recursive step (copy, json.dumps, repr) far from Python's recursion limit.
MAX_NESTING = 20
# PATH_MAX on Linux: the longest path the kernel accepts.
MAX_PATH_LENGTH = 4096
# Discord shows at most 128 characters of an activity's name.
MAX_STATUS_TEXT = 128
STATUS_FIELDS = ("guilds", "users", "commands")
# Discord snowflakes are unsigned 64-bit in the API, but every id so far (and SQLite's INTEGER) is < 2**63.
MAX_SNOWFLAKE = 2**63 - 1
# The longest digit string read as an id: 2**63 - 1 has 19 digits (a few leading zeros are tolerated).
_ID_DIGITS = re.compile(r"[0-9]{1,25}")

_CATEGORY_WORDS = {
    "Cc": "a control character",
    "Cf": "an invisible formatting character",
    "Cs": "a surrogate",
    "Co": "a private-use character",
    "Cn": "an unassigned code point",
    "Zl": "a line separator",
    "Zp": "a paragraph separator",
    "Zs": "a space",
}


def _number(value: float) -> str:
    """A bound as written in a message: 1024, 86400, 16,384, 10,737,418,240."""
    if isinstance(value, float) and not value.is_integer():
        return f"{value:g}"
    return f"{int(value):,}" if value >= 10_000 else str(int(value))


def _describe_character(ch: str) -> str:
    name = unicodedata.name(ch, None)
    return f"U+{ord(ch):04X} " + (name or f"({_CATEGORY_WORDS.get(unicodedata.category(ch), 'invisible')})")


# ---------------------------------------------------------------------------------------------
# Structure: how deep a value goes.


def nesting_problem(value: Any, key: str) -> ConfigValueError | None:
    """The error for a value with lists and objects nested more than MAX_NESTING deep, or None.

    Iterative, so it is safe on any depth that json.loads could produce.
    """
    stack: list[tuple[Any, str, int]] = [(value, key, 0)]
    while stack:
        node, path, depth = stack.pop()
        if not isinstance(node, dict | list):
            continue
        if depth >= MAX_NESTING:
            return ConfigValueError(
                path or "(top level)",
                node,
                f"at most {MAX_NESTING} levels of lists and objects inside each other (a config needs 3)",
            )
        children = node.items() if isinstance(node, dict) else enumerate(node)
        for child_key, child in children:
            if isinstance(child, dict | list):
                stack.append((child, _child_path(path, child_key), depth + 1))
    return None


def _child_path(path: str, child_key: Any) -> str:
    if isinstance(child_key, int):
        return f"{path}[{child_key}]"
    return f"{path}.{child_key}" if path else str(child_key)


def walk(value: Any, key: str = "") -> Iterator[tuple[str, Any]]:
    """Every value inside ``value`` with its dotted key (``owner_ids[0]``, ``status.text``), iteratively."""
    stack: list[tuple[str, Any]] = [(key, value)]
    while stack:
        path, node = stack.pop()
        yield path, node
        if isinstance(node, dict):
            stack.extend((_child_path(path, k), v) for k, v in reversed(node.items()))
        elif isinstance(node, list):
            stack.extend((_child_path(path, i), v) for i, v in reversed(list(enumerate(node))))


# ---------------------------------------------------------------------------------------------
# Scalars.


def boolean(key: str, value: Any) -> bool:
    """``true`` or ``false``."""
    if not isinstance(value, bool):
        raise ConfigValueError(key, value, "true or false")
    return value


def whole_number(key: str, value: Any, *, minimum: int, maximum: int) -> int:
    """A whole number from ``minimum`` to ``maximum`` (JSON ``5.0`` and ``true`` are refused)."""
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise ConfigValueError(
            key, value, f"a whole number of at least {_number(minimum)} and at most {_number(maximum)}"
        )
    return value


def seconds(
    key: str, value: Any, *, maximum: float, minimum: float = 0.0, zero_means: str | None = None
) -> float:
    """A finite number of seconds greater than 0 (and at least ``minimum``) and at most ``maximum``.

    ``zero_means`` (e.g. "never") also allows 0 and says what it does.
    """
    # math.isfinite would raise OverflowError on an int too large for a float: ints are finite anyway.
    finite = not isinstance(value, bool) and (
        isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))
    )
    if finite and ((value == 0 and zero_means is not None) or (value > 0 and minimum <= value <= maximum)):
        return float(value)
    if zero_means is None:
        lower = f"of at least {_number(minimum)}" if minimum > 0 else "greater than 0"
        expected = f"a number of seconds {lower} and at most {_number(maximum)}"
    elif minimum > 0:
        expected = (
            f"a number of seconds, 0 (0 = {zero_means}) or from {_number(minimum)} to {_number(maximum)}"
        )
    else:
        expected = f"a number of seconds, 0 or more (0 = {zero_means}) and at most {_number(maximum)}"
    raise ConfigValueError(key, value, expected)


def text(key: str, value: Any, *, maximum: int) -> str:
    """A non-blank text of at most ``maximum`` characters."""
    if not isinstance(value, str) or not value.strip() or len(value) > maximum:
        raise ConfigValueError(
            key, value, f"a non-empty text in double quotes, at most {_number(maximum)} characters"
        )
    return value


def choice(key: str, value: Any, choices: tuple[str, ...], *, fold_case: bool = False) -> str:
    """One of ``choices`` (compared in upper case with ``fold_case``)."""
    candidate = value.upper() if fold_case and isinstance(value, str) else value
    if not isinstance(candidate, str) or candidate not in choices:
        raise ConfigValueError(key, value, "one of " + ", ".join(f'"{c}"' for c in choices))
    return candidate


def optional_url(key: str, value: Any, schemes: tuple[str, ...]) -> str | None:
    """null, "" or a URL with one of ``schemes``; returned without a trailing slash."""
    if value is None or value == "":
        return None
    if (
        not isinstance(value, str)
        or not value.startswith(schemes)
        or len(value) > MAX_PATH_LENGTH
        or _first_control(value) is not None
    ):
        raise ConfigValueError(key, value, "null or a URL starting with " + " or ".join(schemes))
    return value.rstrip("/")


def snowflake(key: str, value: Any) -> int:
    """A Discord id: a whole number from 1 to 2**63 - 1, or the same digits in quotes."""
    # JSON numbers are exact in Python, but some editors quote long ids: accept digit strings too.
    if isinstance(value, str) and _ID_DIGITS.fullmatch(value.strip()):
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_SNOWFLAKE:
        raise ConfigValueError(
            key,
            value,
            "a Discord id: a whole number of at least 1 and at most 2**63 - 1, such as 123456789012345678",
        )
    return value


def looks_like_id(value: str) -> bool:
    """Whether a text is an id in quotes (ASCII digits only: ``"²"`` is a digit to str.isdigit)."""
    return _ID_DIGITS.fullmatch(value.strip()) is not None


# ---------------------------------------------------------------------------------------------
# Paths.


def _first_control(value: str) -> str | None:
    return next((ch for ch in value if unicodedata.category(ch) == "Cc"), None)


def path(key: str, value: Any) -> str:
    """A file or folder path: non-empty text, no NUL byte or other control character, at most 4096
    characters (the operating system refuses the rest, later and with a traceback)."""
    expected = (
        f"a path: non-empty text without control characters, at most {_number(MAX_PATH_LENGTH)} characters"
    )
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_PATH_LENGTH:
        raise ConfigValueError(key, value, expected)
    control = _first_control(value)
    if control is not None:
        raise ConfigValueError(key, value, f"{expected} (it contains {_describe_character(control)})")
    return value


def package_name_of(directory: str) -> str:
    """The package name extensions are imported under: the folder's last component, as the extension
    manager derives it (``./my_extensions/`` -> ``my_extensions``; ``.`` -> the working folder's name)."""
    return os.path.basename(os.path.normpath(os.path.abspath(directory)))


def extensions_directory(key: str, value: Any) -> str:
    """A path whose last component is a Python package name: extensions are imported as
    ``<folder>.<name>``."""
    value = path(key, value)
    package = package_name_of(value)
    if not (package.isascii() and package.isidentifier()) or keyword.iskeyword(package):
        raise ConfigValueError(
            key,
            value,
            'a folder whose name is a Python identifier, e.g. "extensions" or "my_extensions" '
            f'(it is imported as a package; "{escape_hidden(clip(package))}" is not one: '
            "letters, digits and underscores only, not starting with a digit, not a Python keyword)",
        )
    return value


# ---------------------------------------------------------------------------------------------
# The prefix and the status template.


def _first_hidden(value: str) -> str | None:
    return next((ch for ch in value if unicodedata.category(ch) in HIDDEN_CATEGORIES), None)


def hidden_character(value: str) -> str | None:
    """The first character of ``value`` that cannot be seen or typed reliably, described as
    ``U+202E RIGHT-TO-LEFT OVERRIDE``; or a leading combining mark; or None when every one is visible."""
    hidden = _first_hidden(value)
    if hidden is not None:
        return _describe_character(hidden)
    if value and unicodedata.category(value[0]) in ("Mn", "Me"):
        return f"{_describe_character(value[0])} at the start (a combining mark has nothing to attach to)"
    return None


def validate_prefix(key: str, value: Any) -> str:
    """A command prefix: 1 to 5 visible characters, no whitespace, no mention syntax."""
    without_spaces = '1 to 5 characters without spaces, e.g. "!"'
    if not isinstance(value, str) or not 1 <= len(value) <= 5:
        raise ConfigValueError(key, value, without_spaces)
    hidden = _first_hidden(value)
    if hidden is not None and hidden.isspace():  # every whitespace character is in HIDDEN_CATEGORIES
        raise ConfigValueError(key, value, f"{without_spaces} (found {_describe_character(hidden)})")
    found = hidden_character(value)
    if found is not None:
        raise ConfigValueError(key, value, f'visible characters only, e.g. "!" (found {found})')
    if "<@" in value or "@everyone" in value or "@here" in value:
        raise ConfigValueError(key, value, "a prefix that is not a mention")
    return value


# Sample counts a template is formatted with: a format spec that cannot format a count fails here.
_SAMPLE_COUNTS = {"guilds": 1234, "users": 567890, "commands": 42}
_ALLOWED_FIELDS = ", ".join("{" + name + "}" for name in STATUS_FIELDS)


def status_template(key: str, value: Any) -> str:
    """``status.text``: at most 128 characters using only ``{guilds}``, ``{users}`` and ``{commands}``
    (with an optional number format such as ``{guilds:,}``); ``{{`` and ``}}`` are literal braces."""
    value = text(key, value, maximum=MAX_STATUS_TEXT)
    allowed = f"only {_ALLOWED_FIELDS}"

    def refuse(problem: str) -> ConfigValueError:
        return ConfigValueError(
            key, value, f"a text using {allowed} ({problem}; write {{{{ or }}}} for a brace)"
        )

    try:
        parts = list(string.Formatter().parse(value))
    except ValueError as error:
        raise refuse(f"the braces do not match: {error}") from None
    for _literal, name, given_spec, conversion in parts:
        if name is None:
            continue
        spec = given_spec or ""
        shown = escape_hidden(clip(name))
        if name == "" or name.isdigit():
            raise refuse("a field needs a name: {} and {0} are positional")
        if "." in name or "[" in name:
            raise refuse(f"{{{shown}}} reaches into a field; use the bare name")
        if name not in STATUS_FIELDS:
            raise refuse(f"{{{shown}}} is not a field")
        if conversion is not None:
            raise refuse(f"{{{shown}!{conversion}}} has a conversion; remove !{conversion}")
        if "{" in spec:
            raise refuse(f"{{{shown}:...}} has a field inside its format")
        # Widths and precisions beyond the text's own limit only allocate (":>1000000000" is 1 GB).
        if any(int(digits) > MAX_STATUS_TEXT for digits in re.findall(r"[0-9]+", spec)):
            raise refuse(f"{{{shown}:{escape_hidden(clip(spec))}}} asks for a width above {MAX_STATUS_TEXT}")
    try:
        value.format(**_SAMPLE_COUNTS)
    except (ValueError, TypeError, KeyError, IndexError) as error:
        raise refuse(f"it does not format a count: {error}") from None
    return value


# ---------------------------------------------------------------------------------------------
# Lists and maps.


def count_at_most(key: str, items: list[Any] | dict[str, Any], maximum: int, what: str) -> None:
    """Refuse a list or object with more than ``maximum`` entries before looking at any of them."""
    if len(items) > maximum:
        raise ConfigValueError(key, items, f"at most {_number(maximum)} {what} (it has {len(items):,})")
