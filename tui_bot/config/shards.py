"""Which shards this process runs: ``sharding.shard_count`` and ``sharding.shard_ids``, and the command
line's ``--shard-count N --shard-ids A-B`` over them.

Discord routes a guild's events to shard ``(guild_id >> 22) % shard_count``. One process may run every
shard (``shard_count`` alone) or some of them (``shard_ids``), another process the rest: discord.py's
``AutoShardedBot(shard_ids=[...], shard_count=N)``. Shard ids are written as a list (``[0, 1]``) or as
text with ranges and single ids (``"0-3"``, ``"0,2,4"``, ``"0-3,8"``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from tui_bot.config.errors import ConfigValueError

# 16,384 shards serve about 40 million guilds: far beyond any bot, low enough that a typo like
# "0-99999999" cannot make a list of a hundred million ids.
SHARD_COUNT_MAX = 16384

SHARD_IDS_EXPECTED = 'a list of shard ids such as [0, 1], or text such as "0-3" or "0,2,4"'


def parse_shard_ids(text: str) -> tuple[int, ...]:
    """``"0-3,5"`` -> ``(0, 1, 2, 3, 5)``: ranges (both ends included) and single ids, comma-separated.

    The ids come back sorted. Raises :class:`ValueError` saying what is wrong: an empty part, something
    that is not a whole number, a range that runs backwards, an id listed twice, an id past the limit.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError('no shard ids: write them like "0-3" or "0,2,4"')
    ids: list[int] = []
    for raw_part in text.split(","):
        part = raw_part.strip()
        if not part:
            raise ValueError(f'an empty part in {text.strip()!r}: write ids like "0-3" or "0,2,4"')
        low_text, dash, high_text = part.partition("-")
        low = _shard_number(low_text, part)
        high = _shard_number(high_text, part) if dash else low
        if high < low:
            raise ValueError(f"the range {part!r} runs backwards: write it {high}-{low}")
        ids.extend(range(low, high + 1))
    return _checked(ids)


def _shard_number(text: str, part: str) -> int:
    text = text.strip()
    if not text.isdigit() or not text.isascii():
        raise ValueError(f"{part!r} is not a shard id or a range of them (like 3 or 0-3)")
    number = int(text)
    if number >= SHARD_COUNT_MAX:
        raise ValueError(f"shard id {number} is past the limit: ids run from 0 to {SHARD_COUNT_MAX - 1:,}")
    return number


def _checked(ids: list[int]) -> tuple[int, ...]:
    seen: set[int] = set()
    for shard_id in ids:
        if shard_id in seen:
            raise ValueError(f"shard {shard_id} is listed twice")
        seen.add(shard_id)
    return tuple(sorted(ids))


def ids_outside(ids: tuple[int, ...], shard_count: int) -> str | None:
    """Which ids are not shards of ``shard_count`` (0 to count - 1), e.g. ``"4 and 5 are not"``; None
    if every one is."""
    outside = [str(shard_id) for shard_id in ids if shard_id >= shard_count]
    if not outside:
        return None
    if len(outside) == 1:
        return f"{outside[0]} is not"
    if len(outside) > 5:
        return f"{', '.join(outside[:5])}... ({len(outside):,} ids) are not"
    return f"{', '.join(outside[:-1])} and {outside[-1]} are not"


def shard_ids_setting(key: str, value: Any) -> tuple[int, ...] | None:
    """Read ``sharding.shard_ids``: null (every shard), a list of ids or text with ranges."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return parse_shard_ids(value)
        except ValueError as error:
            raise ConfigValueError(key, value, f"{SHARD_IDS_EXPECTED} ({error})") from None
    if not isinstance(value, list) or not value or len(value) > SHARD_COUNT_MAX:
        raise ConfigValueError(key, value, SHARD_IDS_EXPECTED)
    for index, item in enumerate(value):
        if isinstance(item, bool) or not isinstance(item, int) or not 0 <= item < SHARD_COUNT_MAX:
            raise ConfigValueError(
                f"{key}[{index}]", item, f"a shard id: a whole number from 0 to {SHARD_COUNT_MAX - 1:,}"
            )
    try:
        return _checked(list(value))
    except ValueError as error:
        raise ConfigValueError(key, value, f"{SHARD_IDS_EXPECTED}, each once ({error})") from None


def shard_ids_problem(shard_count: int | Literal["auto"] | None, ids: tuple[int, ...] | None) -> str | None:
    """What is wrong with running shards ``ids`` of ``shard_count`` together, if anything."""
    if ids is None:
        return None
    if not isinstance(shard_count, int):
        shown = "null" if shard_count is None else repr(shard_count)
        return (
            "null unless sharding.shard_count is a number: a process running some of the shards must know "
            f"how many there are in all (sharding.shard_count is {shown})"
        )
    outside = ids_outside(ids, shard_count)
    if outside is not None:
        last = shard_count - 1
        return f"shards of sharding.shard_count {shard_count}: ids from 0 to {last} ({outside})"
    return None


@dataclass(frozen=True)
class ShardPlan:
    """The shards this process runs: ``count`` in all (None: one connection; "auto": Discord's
    recommendation) and ``ids`` of them (None: every one)."""

    count: int | Literal["auto"] | None
    ids: tuple[int, ...] | None

    def bot_options(self) -> dict[str, Any]:
        """discord.py's ``shard_count`` and ``shard_ids`` options for this plan (empty: not sharded or
        "auto", left to config.json's model)."""
        options: dict[str, Any] = {}
        if isinstance(self.count, int):
            options["shard_count"] = self.count
        if self.ids is not None:
            options["shard_ids"] = list(self.ids)
        return options

    def describe(self) -> str:
        """E.g. ``shards 0-1 of 4``, ``4 shards``, ``one connection``."""
        if self.count is None:
            return "one connection (no sharding)"
        if self.ids is None:
            return (
                "every shard (the count Discord recommends)"
                if self.count == "auto"
                else f"{self.count} shards"
            )
        return f"shards {format_shard_ids(self.ids)} of {self.count}"


def format_shard_ids(ids: tuple[int, ...]) -> str:
    """``(0, 1, 2, 5)`` -> ``"0-2,5"``: the short form :func:`parse_shard_ids` reads back."""
    parts: list[str] = []
    start = previous = None
    for shard_id in sorted(ids):
        if previous is not None and shard_id == previous + 1:
            previous = shard_id
            continue
        if start is not None:
            parts.append(str(start) if start == previous else f"{start}-{previous}")
        start = previous = shard_id
    if start is not None:
        parts.append(str(start) if start == previous else f"{start}-{previous}")
    return ",".join(parts)


def plan_shards(
    configured_count: int | Literal["auto"] | None,
    configured_ids: tuple[int, ...] | None,
    *,
    shard_count: int | None = None,
    shard_ids: str | None = None,
) -> ShardPlan:
    """The shards to run: the command line's ``--shard-count``/``--shard-ids`` over config.json's.

    ``--shard-count`` alone keeps config.json's ids if they fit the new count; ``--shard-ids`` alone
    needs a numeric shard count (from either). Raises :class:`ValueError` with an operator-facing message.
    """
    if shard_count is not None and not 1 <= shard_count <= SHARD_COUNT_MAX:
        raise ValueError(f"--shard-count must be from 1 to {SHARD_COUNT_MAX:,} (got {shard_count})")
    count = configured_count if shard_count is None else shard_count
    if shard_ids is None:
        ids, source = configured_ids, "sharding.shard_ids in config.json"
    else:
        try:
            ids = parse_shard_ids(shard_ids)
        except ValueError as error:
            raise ValueError(f"--shard-ids {shard_ids}: {error}") from None
        source = f"--shard-ids {shard_ids}"
    if ids is not None:
        if not isinstance(count, int):
            raise ValueError(
                f"{source} needs a shard count: pass --shard-count N (or set sharding.shard_count in "
                "config.json to a number), the number of shards across every process"
            )
        outside = ids_outside(ids, count)
        if outside is not None:
            counted = f"--shard-count {count}" if shard_count is not None else f"sharding.shard_count {count}"
            raise ValueError(
                f"{source} does not fit {counted}: shard ids run from 0 to {count - 1} ({outside})"
            )
    return ShardPlan(count, ids)
