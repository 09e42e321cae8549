"""When a declared view is due: every ``refresh``, inside its ``window``, in local time.

pg_cron evaluates schedules in GMT whatever ``cron.timezone`` says (citusdata/pg_cron#29,
#238); here the window is the view's own time zone's wall clock, DST included, and the clock
is the maintenance clock (tests pass their own).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from pgwarden.features.materialized_views._options import ViewSpec


def _times(window: str) -> tuple[dt.time, dt.time]:
    start, end = (dt.time.fromisoformat(p) for p in window.split("-"))
    return start, end


def window_start(view: ViewSpec, now: dt.datetime) -> dt.datetime | None:
    """The start (UTC) of the window ``now`` is in, or None when outside it (or no window)."""
    if view.window is None:
        return None
    zone = zoneinfo.ZoneInfo(view.timezone)
    local = now.astimezone(zone)
    start, end = _times(view.window)
    t = local.time().replace(tzinfo=None)
    if start < end:
        inside, day = start <= t < end, local.date()
    else:  # wraps midnight: after the start today, or before the end (started yesterday)
        inside = t >= start or t < end
        day = local.date() if t >= start else local.date() - dt.timedelta(days=1)
    if not inside:
        return None
    # A start the wall clock skips that day (spring forward) or shows twice (autumn): the
    # earlier of its two readings. Mapped forward instead, a skipped start would fall after
    # the runs inside the window, and each of them would look like the window's first.
    return min(
        dt.datetime.combine(day, start, tzinfo=zone).replace(fold=fold).astimezone(dt.UTC)
        for fold in (0, 1)
    )


def is_due(view: ViewSpec, now: dt.datetime, last: dt.datetime | None) -> bool:
    """Whether ``view`` is due at ``now`` given its last refresh's start ``last``."""
    if view.window is not None:
        began = window_start(view, now)
        if began is None:
            return False
        if view.refresh is None:  # once per window
            return last is None or last < began
    if last is None:
        return True
    assert view.refresh is not None
    return (now - last).total_seconds() >= view.refresh.seconds
