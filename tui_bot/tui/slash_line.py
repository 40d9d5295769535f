"""The Chat pane's message line: reading ``/name [sub] option:value ...`` as a slash command call,
and typed ``@name`` mentions as the ``<@id>`` Discord sends.

Pure (no Textual, no sandbox calls): the command schemas come from the sandbox's synced commands,
the names from its guild, and the result is what the pane asks the sandbox to send or invoke.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from tui_bot.sandbox.world import Json

SUBCOMMAND_TYPES = (1, 2)  # application command option types for subcommands and groups
SLASH_HELP = (
    "Enter sends the message as the chosen member.\n"
    '/name runs a slash command: options as option:value (quotes group words: reason:"too loud"),\n'
    "or as plain words filling the options in order (/help ban). //text sends text starting with /.\n"
    "@name mentions a member or the bot (@tui-bot help: the bot's mention works as a prefix)."
)


@dataclass(frozen=True)
class SlashCall:
    """A typed slash command: its path (``"config set"``) and options by name, as typed."""

    command: str
    options: dict[str, str] = field(default_factory=dict)


def parse_slash(line: str, commands: Sequence[Json]) -> SlashCall:
    """Read ``/name [sub] option:value ...`` against the synced command schemas ``commands``.

    ``name:value`` sets an option by name; other words fill the options still unset in the
    command's order, the last of them taking the remaining words (``/8ball will it rain``).
    Quotes group words (``reason:"too loud"``). An unknown command keeps only its name, so that the
    sandbox explains what is synced. Raises ValueError for what cannot be sent.
    """
    try:
        words = shlex.split(line.removeprefix("/"))
    except ValueError:  # an apostrophe in free text ("isn't") is not a quoting mistake
        words = line.removeprefix("/").split()
    if not words:
        raise ValueError("type a command name after /, e.g. /help")
    path, rest = [words[0]], words[1:]
    spec = next((c for c in commands if c["name"] == words[0] and c.get("type", 1) == 1), None)
    if spec is None:
        return SlashCall(words[0])
    schema: list[Json] = spec.get("options") or []
    while rest and (sub := _subcommand(schema, rest[0])) is not None:
        path.append(rest.pop(0))
        schema = sub.get("options") or []
    names = [o["name"] for o in schema if o.get("type") not in SUBCOMMAND_TYPES]
    options: dict[str, str] = {}
    loose: list[str] = []
    for word in rest:
        key, colon, value = word.partition(":")
        if colon and key in names:
            options[key] = value
        else:
            loose.append(word)
    _fill_positional(options, [n for n in names if n not in options], loose, " ".join(path))
    return SlashCall(" ".join(path), options)


def _subcommand(schema: list[Json], word: str) -> Json | None:
    return next((o for o in schema if o.get("type") in SUBCOMMAND_TYPES and o["name"] == word), None)


def _fill_positional(options: dict[str, str], free: list[str], loose: list[str], command: str) -> None:
    if not loose:
        return
    if not free:
        raise ValueError(f"/{command} has no option left for {' '.join(loose)!r}")
    if len(loose) > len(free):
        loose = [*loose[: len(free) - 1], " ".join(loose[len(free) - 1 :])]
    options.update(zip(free, loose, strict=False))


def mention_names(text: str, names: Mapping[str, int]) -> str:
    """``text`` with each ``@name`` of ``names`` (name -> user id) replaced by ``<@id>``.

    Discord's client does this when a member picks a name after typing ``@``: what is sent is the
    mention, and bots see ``<@id>`` (so ``@tui-bot help`` reaches a bot that takes its mention as a
    prefix). Names match case-insensitively, the longest first (``@tui-bot`` before a ``@tui``), and
    only as a whole name: ``@bobby`` is not ``@bob``. An ``@`` inside a word (``a@b.c``) is left alone.
    """
    if not names or "@" not in text:
        return text
    ids = {name.casefold(): user_id for name, user_id in names.items() if name}
    if not ids:
        return text
    choices = "|".join(re.escape(name) for name in sorted(ids, key=len, reverse=True))
    pattern = re.compile(rf"(?<![\w@<])@({choices})(?![\w-])", re.IGNORECASE)

    def mention(match: re.Match[str]) -> str:
        user_id = ids.get(match.group(1).casefold())
        return match.group(0) if user_id is None else f"<@{user_id}>"

    return pattern.sub(mention, text)
