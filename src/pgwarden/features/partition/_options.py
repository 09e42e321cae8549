"""``partition = { ... }`` options, and the calendar/integer arithmetic of range buckets."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Literal

from pydantic import Field, model_validator

from pgwarden.spec import FeatureOptions

ListValue = str | int
_UNITS = {
    "hour": "hour", "hours": "hour", "h": "hour",
    "day": "day", "days": "day", "d": "day",
    "week": "week", "weeks": "week",
    "month": "month", "months": "month",
    "quarter": "quarter", "quarters": "quarter",
    "year": "year", "years": "year", "y": "year",
}  # fmt: skip
_STEP = re.compile(r"^\s*(\d+)\s*([a-z]+)\s*$")
# Buckets are aligned on these origins (UTC): weeks start on Monday.
_EPOCH = dt.datetime(1970, 1, 1)
_MONDAY = dt.datetime(1970, 1, 5)
# How many digits of the lower bound name a partition, by unit.
_NAME_FORMAT = {"hour": "%Y%m%d%H", "day": "%Y%m%d", "week": "%Y%m%d", "month": "%Y%m",
                "quarter": "%Y%m", "year": "%Y"}  # fmt: skip


@dataclass(frozen=True)
class Step:
    """A calendar step (``3 months``) or an integer width (``100000``)."""

    count: int
    unit: str
    """``hour``, ``day``, ``week``, ``month``, ``quarter``, ``year``, or ``int``."""

    @classmethod
    def parse(cls, value: str | int) -> Step:
        if isinstance(value, int) and not isinstance(value, bool):
            if value < 1:
                raise ValueError("an integer interval must be at least 1")
            return cls(value, "int")
        if isinstance(value, str):
            match = _STEP.match(value.lower())
            if match and match.group(2) in _UNITS and int(match.group(1)) >= 1:
                unit = _UNITS[match.group(2)]
                count = int(match.group(1))
                if unit == "quarter":
                    return cls(count * 3, "month")
                return cls(count, unit)
        raise ValueError(
            f"{value!r} is not a partition interval: write '1 day', '1 week', '1 month', "
            "'3 months', '1 year' (or an integer width for an integer column)"
        )

    @property
    def is_time(self) -> bool:
        return self.unit != "int"

    def floor(self, value: dt.datetime | int) -> dt.datetime | int:
        """The lower bound of the bucket holding ``value``."""
        if isinstance(value, int):
            return value - value % self.count
        if value.tzinfo is not None:  # buckets are UTC, whatever the session's time zone
            value = value.astimezone(dt.UTC)
        naive = value.replace(tzinfo=None)
        if self.unit in ("month", "year"):
            months = self.count * (12 if self.unit == "year" else 1)
            index = (naive.year - 1970) * 12 + naive.month - 1
            index -= index % months
            low = dt.datetime(1970 + index // 12, index % 12 + 1, 1)
        else:
            size = {"hour": 3600, "day": 86400, "week": 604800}[self.unit] * self.count
            origin = _MONDAY if self.unit == "week" else _EPOCH
            seconds = int((naive - origin).total_seconds())
            low = origin + dt.timedelta(seconds=seconds - seconds % size)
        return low.replace(tzinfo=value.tzinfo)

    def shift(self, value: dt.datetime | int, times: int = 1) -> dt.datetime | int:
        """``value`` moved by ``times`` steps (calendar months stay on day 1)."""
        if isinstance(value, int):
            return value + self.count * times
        if self.unit in ("month", "year"):
            months = self.count * times * (12 if self.unit == "year" else 1)
            index = value.year * 12 + value.month - 1 + months
            return value.replace(year=index // 12, month=index % 12 + 1)
        size = {"hour": 3600, "day": 86400, "week": 604800}[self.unit] * self.count
        return value + dt.timedelta(seconds=size * times)

    def suffix(self, low: dt.datetime | int) -> str:
        """The part of a partition's name that says which bucket it holds."""
        if isinstance(low, int):
            return f"p{low}" if low >= 0 else f"pm{-low}"
        if self.floor(low) != low:  # trimmed around a partition someone else made
            return "p" + low.strftime("%Y%m%d%H%M%S")
        return "p" + low.strftime(_NAME_FORMAT[self.unit])


class PartitionOptions(FeatureOptions):
    """Declared as ``partition = { column = "at", interval = "1 month", premake = 4 }``
    (range) or ``partition = { column = "region", values = ["eu", ["us", "ca"]] }`` (list)."""

    column: str
    """The partition key column (a time or integer column for ranges)."""
    interval: str | int | None = None
    """Range width: ``'1 day'``, ``'1 month'``, ``'3 months'``, ``'1 year'``, or an integer."""
    values: list[ListValue | list[ListValue]] | None = None
    """List partitioning: one partition per item (an item may be a list of values)."""
    premake: int = Field(default=4, ge=0, le=1000)
    """Future range partitions kept ready ahead of the current one."""
    default: bool = True
    """A default partition catches rows no partition accepts (rescued by ``maintain``)."""
    retention: str | None = None
    """Range partitions wholly older than this (``'12 months'``) leave the table."""
    retention_mode: Literal["detach", "drop", "archive"] = "detach"
    """What leaving means: detach (kept as a plain table), drop, or archive (hand the rows
    to the archive feature, then drop)."""

    @model_validator(mode="after")
    def _shape(self) -> PartitionOptions:
        if (self.interval is None) == (self.values is None):
            raise ValueError("give either interval (range partitions) or values (list)")
        if self.interval is not None:
            Step.parse(self.interval)
        if self.values is not None:
            if not self.values:
                raise ValueError("values must list at least one partition")
            flat = [v for item in self.values for v in (item if isinstance(item, list) else [item])]
            if len(set(map(str, flat))) != len(flat):
                raise ValueError("values: a value appears in two partitions")
            if self.retention is not None:
                raise ValueError("retention applies to range partitions (interval) only")
        if self.retention is not None:
            if not self.step.is_time:
                raise ValueError("retention applies to time ranges only")
            Step.parse(self.retention)
        return self

    @property
    def step(self) -> Step:
        assert self.interval is not None
        return Step.parse(self.interval)

    @property
    def retention_step(self) -> Step | None:
        return Step.parse(self.retention) if self.retention is not None else None

    @property
    def strategy(self) -> str:
        return "range" if self.interval is not None else "list"

    @property
    def groups(self) -> list[list[ListValue]]:
        """List partitions: the values of each, in declared order."""
        assert self.values is not None
        return [item if isinstance(item, list) else [item] for item in self.values]
