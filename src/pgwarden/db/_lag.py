"""How far behind the primary a standby is: WAL positions, and an upper bound on staleness.

A standby's lag is measured the way a reader cares about it: the newest data it may be
missing is how old? Two upper bounds, the smaller wins:

- **by position**: the poller samples the primary's WAL insert position with the time it read
  it. A standby that has replayed up to a sampled position has everything the primary had
  committed at that time (a commit is in the WAL before it is visible), so it is at most
  ``now - that time`` behind;
- **by the replayed commit**: ``now() - pg_last_xact_replay_timestamp()``, read on the
  standby. Alone it is the well-known trap (an idle primary makes a caught-up standby look
  hours behind), so it only ever lowers the first bound, and a standby that has replayed the
  primary's current position is 0 behind whatever its last commit's age.

A position just past a WAL page's header is the page's start: the insert position skips the
header of the next page, while a standby that replayed the last record stops at the page's
boundary, and without this an idle primary would leave it looking behind forever.
"""

from __future__ import annotations

import bisect
import threading
from collections import deque

_PAGE_HEADER_MAX = 40
"""PostgreSQL's long WAL page header (the first page of a segment), MAXALIGNed; the short
one is 24 bytes."""


def parse_lsn(text: str) -> int:
    """``'16/B374D848'`` as a number of bytes."""
    high, _, low = text.strip().partition("/")
    try:
        return (int(high, 16) << 32) + int(low, 16)
    except ValueError:
        raise ValueError(f"{text!r} is not a WAL position (written like '16/B374D848')") from None


def format_lsn(value: int) -> str:
    return f"{value >> 32:X}/{value & 0xFFFFFFFF:X}"


def settled(position: int, block_size: int) -> int:
    """``position`` with a WAL page header it points just past taken back to the page's start
    (see the module's docstring)."""
    offset = position % block_size
    return position - offset if 0 < offset <= _PAGE_HEADER_MAX else position


class PrimaryHistory:
    """The primary's WAL insert positions as the poller read them, with the monotonic time of
    each read; old samples are dropped (only those within ``keep`` seconds can matter)."""

    def __init__(self, keep: float):
        self.keep = keep
        self._times: deque[float] = deque()
        self._positions: deque[int] = deque()
        self._lock = threading.Lock()

    def add(self, at: float, position: int) -> None:
        with self._lock:
            self._times.append(at)
            self._positions.append(position)
            while self._times and self._times[0] < at - self.keep:
                self._times.popleft()
                self._positions.popleft()

    def latest(self) -> tuple[float, int] | None:
        with self._lock:
            return (self._times[-1], self._positions[-1]) if self._times else None

    def had(self, replayed: int) -> float | None:
        """The time of the newest sample at or below ``replayed`` (positions never decrease
        on one primary): the standby has everything the primary had then. None: no such
        sample is kept."""
        with self._lock:
            found = bisect.bisect_right(self._positions, replayed)
            return self._times[found - 1] if found else None


def staleness(
    *,
    now: float,
    replayed: int,
    primary: tuple[float, int] | None,
    history: PrimaryHistory,
    replay_age: float | None,
) -> float | None:
    """An upper bound, in seconds, on how old the newest data a standby lacks may be, at
    monotonic time ``now``: 0 when it has replayed the primary's last sampled position, else
    the smaller of the two bounds of the module's docstring; None when neither is known."""
    if primary is not None and replayed >= primary[1]:
        return 0.0
    bounds = [] if replay_age is None else [max(replay_age, 0.0)]
    since = history.had(replayed)
    if since is not None:
        bounds.append(max(now - since, 0.0))
    return min(bounds) if bounds else None
