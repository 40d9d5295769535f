"""Application commands checked as Discord checks them: names, descriptions, options, counts, daily creates.

A bulk overwrite (``PUT applications/{id}[/guilds/{id}]/commands``) is refused, and nothing changes:

1. 400/50035 Invalid Form Body for a malformed command, errors nested under the command's index
   (``0.name``, ``3.options.1.description``...), every one at once;
2. 400/30032 "Maximum number of application commands reached (100)" when a scope would hold more
   commands of one type than :class:`~.limits.CommandLimits` allows (100 CHAT_INPUT, 15 USER, 15 MESSAGE);
3. 429/30034 "Max number of daily application command creates has been reached (200)" when the
   commands it would create (those not there yet: Discord counts only new ones in an overwrite) are
   more than the scope has left today. Discord answers this one with status 429 and the code, and
   discord.py raises it at once as ``HTTPException`` ("429 Too Many Requests (error code: 30034)", as
   bots report it from production): the answer carries ``retry_after`` until the day's window resets,
   but not the ``Via`` header of Discord's ordinary rate limits, which is what would make discord.py
   sleep a day and try again.

Names follow "Application Command Naming" (application-commands.mdx): CHAT_INPUT command and option
names match ``^[-_'\\p{L}\\p{N}\\p{sc=Deva}\\p{sc=Thai}]{1,32}$`` and use the lowercase variant of any
letter that has one; USER and MESSAGE command names may be mixed case with spaces, 1-32 characters.
"""

from __future__ import annotations

import json
import math
import unicodedata
from typing import Any

from aiohttp import web

from .limits import CommandLimits, limit
from .rest_http import ApiError
from .validation import FormErrors, Path, bad_length, max_length
from .world import Json

CHAT_INPUT = 1
SUB_COMMAND, SUB_COMMAND_GROUP = 1, 2
CHOICE_TYPES = (3, 4, 10)  # STRING, INTEGER, NUMBER
INVALID_NAME = ("APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
MIXED_OPTIONS = (
    "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
    "Sub-command and sub-command group option types are mutually exclusive to all other types",
)
REQUIRED_FIRST = (
    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
    "Required options must be placed before non-required options",
)
DUPLICATE_NAME = ("APPLICATION_COMMANDS_DUPLICATE_NAME", "Application command names must be unique")


def _name_char_ok(char: str) -> bool:
    if char in "-_'":
        return True
    if 0x0900 <= ord(char) <= 0x097F or 0x0E00 <= ord(char) <= 0x0E7F:  # Devanagari, Thai scripts
        return True
    return unicodedata.category(char)[0] in "LN" and char.lower() == char


def chat_input_name_ok(name: str) -> bool:
    """Whether ``name`` is a valid CHAT_INPUT command or option name (see module docstring)."""
    return 1 <= len(name) <= limit("command.name") and all(_name_char_ok(c) for c in name)


def _name_errors(errors: FormErrors, path: Path, name: Any, *, chat_input: bool) -> None:
    if not isinstance(name, str) or not name:
        errors.add(path, ("BASE_TYPE_REQUIRED", "This field is required"))
    elif len(name) > limit("command.name"):
        errors.add(path, bad_length(1, limit("command.name")))
    elif chat_input and not chat_input_name_ok(name):
        errors.add(path, INVALID_NAME)


def _description_errors(errors: FormErrors, path: Path, description: Any, name: str) -> None:
    text = description if isinstance(description, str) else ""
    if not 1 <= len(text) <= limit(name):
        errors.add(path, bad_length(1, limit(name)))


def _options_errors(errors: FormErrors, options: Any, path: Path, *, depth: int) -> None:
    """``depth`` 0: a command's options; 1: a subcommand group's; 2: a subcommand's. Subcommands and
    groups may not mix with other options, groups hold only subcommands (so a group in a group is
    refused), and subcommands hold no subcommands."""
    if not isinstance(options, list) or not options:
        return
    if len(options) > limit("command.options"):
        errors.add(path, max_length(limit("command.options")))
    kinds = [o.get("type") if isinstance(o, dict) else None for o in options]
    subs = [k in (SUB_COMMAND, SUB_COMMAND_GROUP) for k in kinds]
    if (depth == 1 and not all(k == SUB_COMMAND for k in kinds)) or (
        any(subs) and (not all(subs) or depth == 2)
    ):
        errors.add(path, MIXED_OPTIONS)
    seen_optional = False
    for index, raw in enumerate(options):
        option = raw if isinstance(raw, dict) else {}
        at = (*path, index)
        _name_errors(errors, (*at, "name"), option.get("name"), chat_input=True)
        _description_errors(errors, (*at, "description"), option.get("description"), "option.description")
        kind = option.get("type")
        if kind in (SUB_COMMAND, SUB_COMMAND_GROUP):
            # A group holds subcommands only (depth 1); a subcommand holds plain options only (depth 2).
            inner_depth = 1 if kind == SUB_COMMAND_GROUP else 2
            _options_errors(errors, option.get("options"), (*at, "options"), depth=inner_depth)
            continue
        if option.get("required"):
            if seen_optional:
                errors.add(at, REQUIRED_FIRST)
        else:
            seen_optional = True
        _choice_errors(errors, option.get("choices"), (*at, "choices"))


def _choice_errors(errors: FormErrors, choices: Any, path: Path) -> None:
    if not isinstance(choices, list):
        return
    if len(choices) > limit("option.choices"):
        errors.add(path, max_length(limit("option.choices")))
    for index, raw in enumerate(choices):
        choice = raw if isinstance(raw, dict) else {}
        name = choice.get("name")
        if not isinstance(name, str) or not 1 <= len(name) <= limit("choice.name"):
            errors.add((*path, index, "name"), bad_length(1, limit("choice.name")))
        value = choice.get("value")
        if isinstance(value, str) and len(value) > limit("choice.name"):
            errors.add((*path, index, "value"), max_length(limit("choice.name")))


def command_errors(errors: FormErrors, command: Json, path: Path) -> None:
    """Add the errors of one command body at ``path`` (its index in a bulk overwrite)."""
    kind = command.get("type", CHAT_INPUT)
    chat_input = kind == CHAT_INPUT
    _name_errors(errors, (*path, "name"), command.get("name"), chat_input=chat_input)
    if chat_input:
        _description_errors(errors, (*path, "description"), command.get("description"), "command.description")
        _options_errors(errors, command.get("options"), (*path, "options"), depth=0)


def check_commands(commands: list[Json], limits: CommandLimits) -> None:
    """Refuse a bulk overwrite's malformed commands (50035) or one over the counts per type (30032)."""
    errors = FormErrors()
    seen: set[tuple[Any, Any]] = set()
    for index, command in enumerate(commands):
        command_errors(errors, command, (index,))
        key = (command.get("name"), command.get("type", CHAT_INPUT))
        if key in seen:
            errors.add((index,), DUPLICATE_NAME)
        seen.add(key)
    errors.raise_if_any()
    for kind, most in limits.per_type().items():
        if sum(1 for c in commands if c.get("type", CHAT_INPUT) == kind) > most:
            raise ApiError(400, 30032, f"Maximum number of application commands reached ({most})")


def new_commands(commands: list[Json], existing: list[Json]) -> int:
    """How many of ``commands`` a bulk overwrite would create: those whose (name, type) is not there yet."""
    there = {(c.get("name"), c.get("type", CHAT_INPUT)) for c in existing}
    return sum(1 for c in commands if (c.get("name"), c.get("type", CHAT_INPUT)) not in there)


def daily_creates_refusal(limits: CommandLimits, retry_after: float) -> web.Response:
    """Discord's 429/30034: the day's command creates are used up (``retry_after``: until the window
    resets). No ``Via`` header: discord.py raises it as an ``HTTPException`` instead of sleeping."""
    most = limits.daily_creates
    body = {
        "message": f"Max number of daily application command creates has been reached ({most})",
        "code": 30034,
        "retry_after": round(retry_after, 3),
        "global": False,
    }
    headers = {
        "Content-Type": "application/json",
        "Retry-After": str(max(1, math.ceil(retry_after))),
        "X-RateLimit-Scope": "shared",
    }
    return web.Response(body=json.dumps(body, separators=(",", ":")).encode(), status=429, headers=headers)
