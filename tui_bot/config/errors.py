"""The errors of a config.json that cannot be used, and how a value is shown in them.

A message names the key, shows the value and says what is expected. Values are clipped and have their
invisible characters escaped, so a message can neither flood the terminal nor reorder it with bidi
controls.
"""

from __future__ import annotations

import json
import math
import unicodedata
from typing import Any

# A shown value is clipped to about this many characters: the message names it, it need not reprint it.
SHOWN_VALUE_LIMIT = 80
# Characters escaped when shown, and that a prefix may not contain: controls (Cc), invisible formatting
# such as zero-width joiners and bidi overrides (Cf), surrogates (Cs), private use (Co), unassigned code
# points (Cn), separators (Z*).
HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs"})


class ConfigValueError(ValueError):
    """A key holds a value of the wrong type or out of range. The message says what to fix."""

    def __init__(self, key: str, value: Any, expected: str) -> None:
        self.key = key
        self.value = value
        self.expected = expected
        super().__init__(
            f"config key '{show_key(key)}' has the value {show_value(value)}, but it must be {expected}."
        )


class ConfigErrors(ConfigValueError):
    """Every problem found in one config; ``str()`` lists them one per line.

    Its ``key``, ``value`` and ``expected`` are the first problem's, so code that handles a single
    ConfigValueError keeps working.
    """

    errors: list[ConfigValueError]

    def __init__(self, errors: list[ConfigValueError]) -> None:
        flat = [
            each
            for error in errors
            for each in (error.errors if isinstance(error, ConfigErrors) else [error])
        ]
        if not flat:
            raise ValueError("ConfigErrors needs at least one error")
        self.errors = flat
        self.key, self.value, self.expected = flat[0].key, flat[0].value, flat[0].expected
        ValueError.__init__(self, "\n".join(str(error) for error in flat))


# ---------------------------------------------------------------------------------------------
# Showing values safely in messages.


def escape_hidden(text: str) -> str:
    """``text`` with every control, invisible, bidi or separator character (but the plain space) written
    as ``\\uXXXX``, so printing it cannot hide or reorder anything."""
    return "".join(
        _escaped(ch) if ch != " " and unicodedata.category(ch) in HIDDEN_CATEGORIES else ch for ch in text
    )


def _escaped(ch: str) -> str:
    return f"\\u{ord(ch):04x}" if ord(ch) <= 0xFFFF else f"\\U{ord(ch):08x}"


def clip(text: str) -> str:
    """``text`` cut to about SHOWN_VALUE_LIMIT characters: a message names a value, not reprints it."""
    return text if len(text) <= SHOWN_VALUE_LIMIT else text[: SHOWN_VALUE_LIMIT - 3] + "..."


def show_key(key: str) -> str:
    """A dotted key as shown in a message (clipped, invisible characters escaped)."""
    return escape_hidden(clip(key))


def show_value(value: Any) -> str:
    """A value as JSON in a message: clipped to about 80 characters, invisible characters escaped.

    Never raises: a number too long to convert to text, or a value nested too deeply, gets a description.
    """
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        if isinstance(value, int):  # beyond sys.get_int_max_str_digits(): Python will not write it out
            return f"(a whole number of about {int(value.bit_length() * math.log10(2)):,} digits)"
        try:
            text = repr(value)
        except (ValueError, RecursionError):
            return f"(a {type(value).__name__} too large or too deeply nested to show)"
    return escape_hidden(clip(text))
