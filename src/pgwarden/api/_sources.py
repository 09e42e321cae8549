"""Named series that other modules add to every live sample (``WS /live``) and the dashboard.

A module (a blueprint, a third-party package) registers a :class:`LiveSource` under the
entry-point group ``pgwarden.live`` (``name = "module:SOURCE"``); every app made by
``create_app`` samples it with its own figures, on the sampler's connection, right after the
sampler's own statement: one read per interval whatever the number of viewers. A source that
answers ``None`` has nothing in this database (its tables are not there) and is left out; one
that fails shows its error in its place and never the others'.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

import psycopg

from pgwarden.errors import ServeError

LIVE_GROUP = "pgwarden.live"

Reader = Callable[[psycopg.AsyncConnection[Any]], Awaitable[Mapping[str, float | None] | None]]


@dataclass(frozen=True)
class LiveSource:
    """Series a module contributes to the live view: ``read(conn)`` returns their current
    values by name (or ``None``: nothing to show in this database)."""

    name: str
    """Its key in the samples (``"trading"``)."""
    title: str
    """Its heading on the dashboard."""
    read: Reader
    counters: frozenset[str] = frozenset()
    """Series that are running totals: sent as per-second rates between two samples."""
    units: Mapping[str, str] = field(default_factory=dict)
    """A unit per series, shown beside its value (``"/s"``, ``"bytes"``)."""


def registered_sources() -> list[LiveSource]:
    """The sources of the ``pgwarden.live`` entry points, by name."""
    found = []
    for point in sorted(entry_points(group=LIVE_GROUP), key=lambda p: p.name):
        source = point.load()
        if not isinstance(source, LiveSource):
            raise ServeError(
                f"entry point {LIVE_GROUP}:{point.name} ({point.value}) is not a LiveSource"
            )
        found.append(source)
    return found


class SourceState:
    """One source's previous totals, to turn its counters into rates."""

    def __init__(self, source: LiveSource):
        self.source = source
        self.previous: tuple[float, Mapping[str, float | None]] | None = None

    def part(self, now: float, values: Mapping[str, float | None]) -> dict[str, Any]:
        """The source's part of a sample: its title and each series' value and unit."""
        series = []
        values = {name: _number(value) for name, value in values.items()}
        for name, value in values.items():
            shown = value
            if name in self.source.counters:
                shown = _rate(self.previous, now, name, value)
            series.append({"name": name, "value": shown, "unit": self.source.units.get(name)})
        self.previous = (now, dict(values))
        return {"name": self.source.name, "title": self.source.title, "series": series}


def _number(value: Any) -> float | None:
    """A JSON number (a ``numeric`` from ``sum()`` arrives as a Decimal)."""
    if value is None:
        return None
    number = float(value)
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


def _rate(
    previous: tuple[float, Mapping[str, float | None]] | None,
    now: float,
    name: str,
    value: float | None,
) -> float | None:
    if previous is None or value is None:
        return None
    then, old = previous
    before = old.get(name)
    if before is None:
        return None
    # A counter that went down was reset (statistics reset, a restart): no rate this once.
    return round(max(value - before, 0) / max(now - then, 1e-3), 1) if value >= before else None
