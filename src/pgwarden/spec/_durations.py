"""Durations as people write them: ``"5s"``, ``"500ms"``, ``"90 days"``, ``"2 years"``."""

from __future__ import annotations

import re
from dataclasses import dataclass

_UNITS = {
    "ms": 0.001, "millisecond": 0.001, "milliseconds": 0.001,
    "s": 1, "sec": 1, "second": 1, "seconds": 1,
    "min": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
    "week": 604800, "weeks": 604800,
    "month": 2629800, "months": 2629800,  # 365.25 / 12 days, as PostgreSQL's interval math
    "y": 31557600, "year": 31557600, "years": 31557600,
}  # fmt: skip
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*$")


@dataclass(frozen=True)
class Duration:
    """A length of time kept in the user's words, for SQL intervals, and in seconds."""

    text: str
    seconds: float

    @classmethod
    def parse(cls, text: str) -> Duration:
        match = _PATTERN.match(text.lower())
        if not match or match.group(2) not in _UNITS:
            raise ValueError(
                f"{text!r} is not a duration: write a number and a unit, "
                "e.g. '500ms', '5s', '10 minutes', '90 days', '2 years'"
            )
        value, unit = float(match.group(1)), match.group(2)
        return cls(text=text.strip(), seconds=value * _UNITS[unit])

    @property
    def interval(self) -> str:
        """The duration as a PostgreSQL interval literal (calendar units kept as such)."""
        match = _PATTERN.match(self.text.lower())
        assert match is not None
        value, unit = match.group(1), match.group(2)
        words = {"ms": "milliseconds", "s": "seconds", "sec": "seconds", "min": "minutes",
                 "h": "hours", "d": "days", "y": "years"}  # fmt: skip
        return f"{value} {words.get(unit, unit)}"

    @property
    def milliseconds(self) -> int:
        return round(self.seconds * 1000)

    def __str__(self) -> str:
        return self.text
