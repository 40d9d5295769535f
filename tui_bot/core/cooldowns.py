"""Cooldowns in amortised constant time, the config default, and "slow down" said once per window.

discord.py's ``CooldownMapping.get_bucket`` (and ``app_commands.checks.cooldown``) scans *every* bucket of
a command on every call to drop the expired ones: the cost per command grows with the number of users who
used it in the last window (0.33 ms at 5,000 users, more than discord.py's whole per-command cost). The
mappings here keep their buckets in least-recently-used order and drop expired ones from the old end, so
each bucket is inserted and removed once: O(1) amortised per call, whatever the number of users, and the
number of live buckets stays bounded by the users active in the last window.

Behaviour is discord.py's own (the same ``Cooldown`` arithmetic, retry-after values, bucket types and
``reset_cooldown``): only the bookkeeping of the bucket table differs.

Every bucket is a :class:`WindowedCooldown`, which remembers whether the user was already told to slow
down in the current window, so a spammer gets one cooldown reply per window, not one per message.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands
from discord.utils import maybe_coroutine

from tui_bot.config.model import CooldownConfig

APP_CHECKS_MODULE = "discord.app_commands.checks"
APP_COOLDOWN_PREDICATE = "_create_cooldown_decorator.<locals>.predicate"


class WindowedCooldown(app_commands.Cooldown):
    """discord.py's ``Cooldown`` that also remembers the window in which its user was last told to wait."""

    __slots__ = ("notified_window",)

    def __init__(self, rate: float, per: float) -> None:
        super().__init__(rate, per)
        self.notified_window: float | None = None

    def first_refusal_in_window(self) -> bool:
        """True the first time it is asked during the current cooldown window, then False until the next."""
        if self.notified_window == self._window:
            return False
        self.notified_window = self._window
        return True


def _windowed(bucket: app_commands.Cooldown | None) -> WindowedCooldown | None:
    if bucket is None or isinstance(bucket, WindowedCooldown):
        return bucket
    return WindowedCooldown(bucket.rate, bucket.per)


class LruBuckets:
    """A bucket table in least-recently-used order whose expired buckets are dropped from the old end.

    The front bucket is the least recently used, so when it is still live every other one was used after
    it, within the same window: the sweep stops at the first live bucket. Each bucket is swept at most
    once, which makes the sweep O(1) amortised per lookup.
    """

    __slots__ = ("_buckets",)

    def __init__(self) -> None:
        self._buckets: OrderedDict[Hashable, app_commands.Cooldown] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def sweep(self, current: float) -> None:
        buckets = self._buckets
        while buckets:
            oldest = next(iter(buckets.values()))
            if current <= oldest._last + oldest.per:
                return
            buckets.popitem(last=False)

    def get(self, key: Hashable) -> app_commands.Cooldown | None:
        bucket = self._buckets.get(key)
        if bucket is not None:
            self._buckets.move_to_end(key)
        return bucket

    def put(self, key: Hashable, bucket: app_commands.Cooldown) -> None:
        self._buckets[key] = bucket

    def copy(self) -> LruBuckets:
        other = LruBuckets()
        other._buckets = OrderedDict(self._buckets)
        return other


class _LruMappingMixin:
    """``CooldownMapping.get_bucket`` over an :class:`LruBuckets` table instead of a scanned dict."""

    # discord.py declares ``_cache`` a dict; these mappings hold an LruBuckets there instead (Any: the
    # two declarations cannot agree in one class).
    _cache: Any
    _type: Any
    _cooldown: app_commands.Cooldown | None

    def _verify_cache_integrity(self, current: float | None = None) -> None:
        self._cache.sweep(current or time.time())

    def create_bucket(self, message: Any) -> app_commands.Cooldown | None:
        raise NotImplementedError

    def get_bucket(self, message: Any, current: float | None = None) -> app_commands.Cooldown | None:
        if self._type is commands.BucketType.default:
            return self._cooldown
        table: LruBuckets = self._cache
        table.sweep(current or time.time())
        key = self._bucket_key(message)  # type: ignore[attr-defined]  # the CooldownMapping's, mixed in
        bucket = table.get(key)
        if bucket is None:
            bucket = self.create_bucket(message)
            if bucket is not None:
                table.put(key, bucket)
        return bucket


class LruCooldownMapping(_LruMappingMixin, commands.CooldownMapping[Any]):
    """A ``commands.CooldownMapping`` whose lookups cost O(1) however many users hold a bucket."""

    def __init__(self, original: app_commands.Cooldown | None, type: Callable[[Any], Any]) -> None:
        super().__init__(_windowed(original), type)
        self._cache = LruBuckets()

    def copy(self) -> LruCooldownMapping:
        other = LruCooldownMapping(self._cooldown, self._type)
        other._cache = self._cache.copy()
        return other

    def create_bucket(self, message: Any) -> app_commands.Cooldown:
        assert self._cooldown is not None
        return self._cooldown.copy()


class LruDynamicCooldownMapping(_LruMappingMixin, commands.DynamicCooldownMapping[Any]):
    """``commands.dynamic_cooldown``'s mapping with O(1) lookups."""

    def __init__(
        self, factory: Callable[[Any], app_commands.Cooldown | None], type: Callable[[Any], Any]
    ) -> None:
        super().__init__(factory, type)
        self._cache = LruBuckets()

    def copy(self) -> LruDynamicCooldownMapping:
        other = LruDynamicCooldownMapping(self._factory, self._type)
        other._cache = self._cache.copy()
        return other

    # discord.py's own DynamicCooldownMapping widens its base's return type the same way (a factory may
    # return None: no cooldown for this invocation); its stub cannot say so.
    def create_bucket(self, message: Any) -> app_commands.Cooldown | None:  # type: ignore[override]
        return _windowed(self._factory(message))


def _fresh_mapping(mapping: commands.CooldownMapping[Any]) -> commands.CooldownMapping[Any] | None:
    """An empty O(1) equivalent of ``mapping``, or None when it is a custom class left as it is."""
    if type(mapping) in (commands.CooldownMapping, LruCooldownMapping):
        return LruCooldownMapping(mapping._cooldown, mapping.type)
    # Exact types: a subclass of discord.py's may look up buckets its own way. (isinstance: for mypy.)
    dynamic = (commands.DynamicCooldownMapping, LruDynamicCooldownMapping)
    if type(mapping) in dynamic and isinstance(mapping, commands.DynamicCooldownMapping):
        return LruDynamicCooldownMapping(mapping._factory, mapping.type)
    return None


def install_cooldowns(command: commands.Command[Any, ..., Any], config: CooldownConfig) -> None:
    """Give ``command`` and its subcommands their cooldowns as O(1) mappings with empty bucket tables.

    A command without a cooldown gets config.json's default (per user). A decorator's cooldown
    (``@commands.cooldown``/``dynamic_cooldown``) keeps its rate, period and bucket type. The table is new
    because a decorator's mapping is stored on the function and shared by every copy of the command: a bot
    restarted in the same process (the console, the tests) must not inherit the previous bot's cooldowns.

    Why the private ``Command._buckets`` (checked against discord.py 2.7): a built command has no public
    setter for its cooldown. ``commands.cooldown(...)`` applied to a built command sets ``_buckets`` itself,
    with a plain (scanning) ``CooldownMapping``. ``Command.update(cooldown=...)`` re-runs ``__init__``: it
    empties a group's subcommands, builds a hybrid command a new ``app_command`` (the one in the tree goes
    stale), re-reverses the decorator checks and resets the invoke hooks; and a decorator's cooldown on the
    callback takes precedence over the ``cooldown=`` keyword, so those commands could not get a fresh table.
    """
    targets = [command]
    if isinstance(command, commands.Group):
        targets.extend(command.walk_commands())
    for target in targets:
        if not target._buckets.valid:
            target._buckets = LruCooldownMapping(
                commands.Cooldown(config.default_rate, config.default_per), commands.BucketType.user
            )
            continue
        fresh = _fresh_mapping(target._buckets)
        if fresh is not None:
            target._buckets = fresh


# -- app_commands.checks.cooldown / dynamic_cooldown -------------------------------------------------


def _is_app_cooldown(predicate: Any) -> bool:
    return (
        getattr(predicate, "__module__", None) == APP_CHECKS_MODULE
        and getattr(predicate, "__qualname__", None) == APP_COOLDOWN_PREDICATE
    )


def _app_cooldown_parts(predicate: Any) -> tuple[Any, Any] | None:
    """(key, factory) of an ``app_commands.checks.cooldown`` predicate, read from its closure."""
    code = predicate.__code__
    cells = dict(zip(code.co_freevars, predicate.__closure__ or (), strict=False))
    cell = cells.get("get_bucket")
    if cell is None:
        return None
    defaults = getattr(cell.cell_contents, "__kwdefaults__", None) or {}
    if "key" not in defaults or "factory" not in defaults:
        return None
    return defaults["key"], defaults["factory"]


def lru_app_cooldown(key: Any, factory: Any) -> Callable[[discord.Interaction], Any]:
    """The predicate of ``app_commands.checks.cooldown`` with an O(1) bucket table."""
    table = LruBuckets()

    async def predicate(interaction: discord.Interaction) -> bool:
        current = interaction.created_at.timestamp()
        table.sweep(current)
        bucket_key = await maybe_coroutine(key, interaction)
        bucket = table.get(bucket_key)
        if bucket is None:
            bucket = _windowed(await maybe_coroutine(factory, interaction))
            if bucket is None:
                return True
            table.put(bucket_key, bucket)
        retry_after = bucket.update_rate_limit(current)
        if retry_after is None:
            return True
        raise app_commands.CommandOnCooldown(bucket, retry_after)

    predicate.__qualname__ = "lru_app_cooldown.<locals>.predicate"
    return predicate


def install_app_cooldowns(command: Any) -> int:
    """Replace the ``app_commands.checks.cooldown`` checks of ``command`` (and its subcommands) with O(1)
    ones, each with its own empty table. Returns how many were replaced."""
    replaced = 0
    targets = [command]
    walk = getattr(command, "walk_commands", None)
    if walk is not None:
        targets.extend(walk())
    for target in targets:
        checks = getattr(target, "checks", None)
        if not checks:
            continue
        for index, predicate in enumerate(checks):
            if not _is_app_cooldown(predicate):
                continue
            parts = _app_cooldown_parts(predicate)
            if parts is not None:
                checks[index] = lru_app_cooldown(*parts)
                replaced += 1
    return replaced


def bucket_count(command: commands.Command[Any, ..., Any]) -> int:
    """How many users (or guilds, channels...) hold a live or not-yet-swept bucket of ``command``."""
    return len(command._buckets._cache)


def first_refusal_in_window(error: commands.CommandOnCooldown | app_commands.CommandOnCooldown) -> bool:
    """Whether this cooldown refusal is the first of its window (so it deserves a reply)."""
    bucket = error.cooldown
    if isinstance(bucket, WindowedCooldown):
        return bucket.first_refusal_in_window()
    return True
