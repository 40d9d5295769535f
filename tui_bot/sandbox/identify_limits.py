"""Discord's limits on starting gateway sessions, as the sandbox enforces them.

Two limits, both per bot (token), both from Discord's gateway documentation:

- **max_concurrency**: shards fall in buckets, ``shard_id % max_concurrency``, and each bucket may
  IDENTIFY once per 5 seconds ("Number of identify requests allowed per 5 seconds"). Discord answers an
  IDENTIFY that breaks this with op 9 INVALID_SESSION (``d`` false); discord.py then closes, waits
  ``before_identify_hook`` (5 s) and IDENTIFYs again. The window is configurable so tests run fast;
  ``None`` turns the rule off (the Python API's default: test bots often skip discord.py's 5 s pause).
- **session_start_limit**: ``total`` IDENTIFYs per ``reset_after`` (1000 a day); ``GET gateway/bot``
  reports what remains. On Discord, exceeding it ends every session and resets the token, so the
  client's next attempt fails authentication; the sandbox refuses the IDENTIFY over the limit with
  close code 4004 (Authentication failed) and leaves the other sessions alone, so a test can watch it.

RESUMEs count against neither. Refusals are kept (:attr:`IdentifyLimits.refusals`) for tests, the
control API and the event log. Pure bookkeeping with an injectable clock: no sockets, no event loop.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from .model import Json

DISCORD_IDENTIFY_WINDOW = 5.0  # seconds: one IDENTIFY per bucket per window, on Discord
DEFAULT_SESSION_START_TOTAL = 1000  # session starts per reset window, for a bot under 150,000 guilds
DEFAULT_SESSION_RESET_AFTER = 86_400.0  # seconds: the session start limit is daily
MAX_REFUSALS_KEPT = 1000  # a client retrying in a loop must not grow the record without end
# Slack on the window: a client that waits exactly one window (discord.py sleeps 5 s between shards)
# can land a few milliseconds short of it by this clock, because a timer may fire early (uvloop computes
# it from the loop's cached time) and this loop may read the first IDENTIFY late. Those are not the
# violations the rule is about; Discord, measuring across a network, cannot tell them apart either.
# At most a tenth of the window, so a short test window stays meaningful.
IDENTIFY_SLACK = 0.05


class RefusalReason(StrEnum):
    """Why an IDENTIFY was refused."""

    MAX_CONCURRENCY = "max_concurrency"  # its bucket already IDENTIFYed within the window: op 9
    SESSION_START_LIMIT = "session_start_limit"  # no session starts remain: close 4004


@dataclass(frozen=True)
class IdentifyRefusal:
    """One refused IDENTIFY: who, which shard and bucket, why, and when it would have been accepted."""

    session_id: str
    user_id: int
    shard: tuple[int, int]
    bucket: int
    reason: RefusalReason
    at: float  # the limiter's clock (time.monotonic by default)
    retry_after: float  # seconds until the same IDENTIFY would have been accepted

    def as_json(self) -> Json:
        """The refusal as the event log and the control API show it."""
        return {
            "session_id": self.session_id,
            "user_id": self.user_id,
            "shard": list(self.shard),
            "bucket": self.bucket,
            "reason": self.reason.value,
            "at": self.at,
            "retry_after": round(self.retry_after, 3),
        }


@dataclass
class _StartWindow:
    used: int = 0
    started_at: float | None = None  # the first counted IDENTIFY of this window


class IdentifyLimits:
    """The IDENTIFY rate limit per ``max_concurrency`` bucket and the session start limit, per bot.

    Settings may change at any time (the control API and ``Sandbox`` properties do): a new
    ``max_concurrency`` starts every bucket afresh; a new ``session_start_total`` or
    ``session_reset_after`` starts a new window with every session start available.
    """

    def __init__(
        self,
        *,
        max_concurrency: int = 1,
        identify_window: float | None = None,
        session_start_total: int = DEFAULT_SESSION_START_TOTAL,
        session_reset_after: float = DEFAULT_SESSION_RESET_AFTER,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self._last_identify: dict[tuple[int, int], float] = {}  # (user id, bucket) -> clock
        self._windows: dict[int, _StartWindow] = {}  # user id -> its session start window
        self.refusals: deque[IdentifyRefusal] = deque(maxlen=MAX_REFUSALS_KEPT)
        self._max_concurrency = 1
        self._identify_window: float | None = None
        self._total = DEFAULT_SESSION_START_TOTAL
        self._reset_after = DEFAULT_SESSION_RESET_AFTER
        self.max_concurrency = max_concurrency
        self.identify_window = identify_window
        self.session_start_total = session_start_total
        self.session_reset_after = session_reset_after

    # -- settings --

    @property
    def max_concurrency(self) -> int:
        """IDENTIFYs allowed per window, one per bucket ``shard_id % max_concurrency`` (at least 1)."""
        return self._max_concurrency

    @max_concurrency.setter
    def max_concurrency(self, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"max_concurrency must be a whole number of at least 1, not {value!r}")
        if value != self._max_concurrency:
            self._last_identify.clear()  # the buckets are new ones
        self._max_concurrency = value

    @property
    def identify_window(self) -> float | None:
        """Seconds between two IDENTIFYs of one bucket (Discord: 5); None or 0: not enforced."""
        return self._identify_window

    @identify_window.setter
    def identify_window(self, value: float | None) -> None:
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or value < 0):
            raise ValueError(f"identify_window must be a number of seconds of at least 0, not {value!r}")
        self._identify_window = float(value) if value else None

    @property
    def session_start_total(self) -> int:
        """Session starts (IDENTIFYs) allowed per :attr:`session_reset_after` seconds."""
        return self._total

    @session_start_total.setter
    def session_start_total(self, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"session_start_limit must be a whole number of at least 0, not {value!r}")
        self._total = value
        self._windows.clear()

    @property
    def session_reset_after(self) -> float:
        """Seconds from a window's first session start until every start is available again."""
        return self._reset_after

    @session_reset_after.setter
    def session_reset_after(self, value: float) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ValueError(f"session_reset_after must be a number of seconds above 0, not {value!r}")
        self._reset_after = float(value)
        self._windows.clear()

    # -- the rules --

    def bucket(self, shard_id: int) -> int:
        """The rate limit key of ``shard_id``: ``shard_id % max_concurrency``, as Discord computes it."""
        return shard_id % self._max_concurrency

    def _window(self, user_id: int) -> _StartWindow:
        window = self._windows.setdefault(user_id, _StartWindow())
        if window.started_at is not None and self._clock() >= window.started_at + self._reset_after:
            window.used, window.started_at = 0, None
        return window

    def remaining(self, user_id: int) -> int:
        """Session starts ``user_id`` has left in the current window."""
        return max(self._total - self._window(user_id).used, 0)

    def session_start_limit(self, user_id: int) -> Json:
        """The ``session_start_limit`` object of ``GET gateway/bot`` for ``user_id``."""
        window = self._window(user_id)
        if window.started_at is None:
            reset_after = self._reset_after
        else:
            reset_after = max(window.started_at + self._reset_after - self._clock(), 0.0)
        return {
            "total": self._total,
            "remaining": self.remaining(user_id),
            "reset_after": round(reset_after * 1000),
            "max_concurrency": self._max_concurrency,
        }

    def admit(self, session_id: str, user_id: int, shard: tuple[int, int]) -> IdentifyRefusal | None:
        """Count an IDENTIFY of ``shard`` by ``user_id``, or refuse it (recorded and returned).

        A refused IDENTIFY uses neither a session start nor its bucket's turn.
        """
        now = self._clock()
        bucket = self.bucket(shard[0])
        window = self._window(user_id)
        refusal: tuple[RefusalReason, float] | None = None
        if window.used >= self._total:
            started = now if window.started_at is None else window.started_at
            refusal = (RefusalReason.SESSION_START_LIMIT, max(started + self._reset_after - now, 0.0))
        elif self._identify_window is not None:
            last = self._last_identify.get((user_id, bucket))
            slack = min(IDENTIFY_SLACK, self._identify_window / 10)
            if last is not None and now - last < self._identify_window - slack:
                refusal = (RefusalReason.MAX_CONCURRENCY, last + self._identify_window - now)
        if refusal is not None:
            refused = IdentifyRefusal(session_id, user_id, shard, bucket, refusal[0], now, refusal[1])
            self.refusals.append(refused)
            return refused
        self._last_identify[(user_id, bucket)] = now
        if window.started_at is None:
            window.started_at = now
        window.used += 1
        return None

    def explain(self, refusal: IdentifyRefusal) -> str:
        """One log line saying why ``refusal`` happened and what the client is told."""
        shard = f"{refusal.shard[0]}/{refusal.shard[1]}"
        if refusal.reason is RefusalReason.MAX_CONCURRENCY:
            return (
                f"IDENTIFY of shard {shard} refused: bucket {refusal.bucket} (shard_id % max_concurrency "
                f"{self._max_concurrency}) already identified within {self._identify_window or 0:g}s; "
                f"accepted again in {refusal.retry_after:.2f}s. Sent INVALID_SESSION, as Discord does"
            )
        return (
            f"IDENTIFY of shard {shard} refused: no session starts remain ({self._total} per "
            f"{self._reset_after:g}s); closing with 4004. On Discord this also ends every session and "
            "resets the token"
        )

    def settings(self) -> Json:
        """The current settings, as the control API shows them."""
        return {
            "max_concurrency": self._max_concurrency,
            "identify_window": self._identify_window,
            "session_start_limit": self._total,
            "session_reset_after": self._reset_after,
        }
