"""Grandfather-father-son retention as a pure function of the catalog and the clock.

For each of the ``daily`` most recent days that have a backup, the newest backup of that day
is kept; likewise for ISO weeks and calendar months (UTC). The newest backup and the newest
verified backup are always kept, and so is every backup an incremental one that is kept
builds on. WAL older than the oldest kept backup's start is no longer needed by any of them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field

from pgwarden.ops.backup._config import Keep


@dataclass(frozen=True)
class Item:
    """What retention needs of a backup."""

    id: str
    stopped: dt.datetime
    verified: bool = False
    parent: str | None = None


@dataclass(frozen=True)
class Decision:
    """A backup and whether it stays, with every reason it stays (or why it goes)."""

    id: str
    keep: bool
    reasons: tuple[str, ...] = field(default=())


def _periods() -> dict[str, Callable[[dt.datetime], Hashable]]:
    return {
        "daily": lambda t: t.date(),
        "weekly": lambda t: t.isocalendar()[:2],
        "monthly": lambda t: (t.year, t.month),
    }


def plan_retention(items: Sequence[Item], keep: Keep) -> list[Decision]:
    """Which backups stay and why; ``items`` in any order, decisions oldest first."""
    ordered = sorted(items, key=lambda i: (i.stopped, i.id))
    reasons: dict[str, list[str]] = {i.id: [] for i in ordered}
    for name, period_of in _periods().items():
        limit: int = getattr(keep, name)
        seen: list[Hashable] = []
        for item in reversed(ordered):  # newest first: the first of a period is its newest
            period = period_of(item.stopped.astimezone(dt.UTC))
            if period in seen:
                continue
            if len(seen) >= limit:
                break
            seen.append(period)
            reasons[item.id].append(f"{name} {_label(name, period)}")
    if ordered:
        reasons[ordered[-1].id].append("newest backup")
    verified = [i for i in ordered if i.verified]
    if verified:
        reasons[verified[-1].id].append("newest verified backup")
    by_id = {i.id: i for i in ordered}
    for item in reversed(ordered):  # a kept incremental keeps what it builds on
        parent = item.parent
        while reasons[item.id] and parent is not None and parent in by_id:
            if f"base of {item.id}" not in reasons[parent]:
                reasons[parent].append(f"base of {item.id}")
            parent = by_id[parent].parent
    return [
        Decision(i.id, bool(reasons[i.id]), tuple(reasons[i.id]) or (_why_not(keep),))
        for i in ordered
    ]


def _label(name: str, period: Hashable) -> str:
    if name == "weekly" and isinstance(period, tuple):
        return f"{period[0]}-W{period[1]:02d}"
    if name == "monthly" and isinstance(period, tuple):
        return f"{period[0]}-{period[1]:02d}"
    return str(period)


def _why_not(keep: Keep) -> str:
    return (
        f"not the newest of any of the last {keep.daily} days, {keep.weekly} weeks or "
        f"{keep.monthly} months with backups"
    )
