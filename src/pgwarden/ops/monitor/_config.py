"""``[monitor]``: thresholds, silenced findings, history retention, opt-in jobs, alerts."""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from pgwarden.spec._durations import Duration
from pgwarden.spec._model import DurationField

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|tb)?\s*$", re.IGNORECASE)
_FACTOR = {"b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3, "tb": 1024**4}


def _bytes(value: object) -> int:
    """``"10 MB"`` (or a number of bytes) -> bytes."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    match = _SIZE.match(str(value))
    if not match:
        raise ValueError(f"{value!r} is not a size: write e.g. '500 kB', '10 MB', '1 GB'")
    return int(float(match.group(1)) * _FACTOR[(match.group(2) or "b").lower()])


Size = Annotated[int, BeforeValidator(_bytes)]


class Ignore(BaseModel):
    """One silenced finding: ``{ check = "index.unused", object = "public.t_*", reason =
    "...", until = 2027-01-01 }``. ``check`` and ``object`` are shell-style patterns."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    check: str
    object: str = "*"
    reason: str = Field(min_length=1)
    until: dt.date | None = None

    def matches(self, check: str, obj: str, today: dt.date) -> bool:
        if self.until is not None and today >= self.until:
            return False
        return fnmatch.fnmatchcase(check, self.check) and fnmatch.fnmatchcase(obj, self.object)


class AlertsSection(BaseModel):
    """``[monitor.alerts]``: where the worker sends alerts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    webhook: str | None = None
    """``https://...`` or ``env:NAME`` (read from the environment when sending)."""
    severity: str = Field(default="warning", pattern="^(info|warning|critical)$")
    """Lowest severity that becomes an alert."""
    timeout: DurationField = Duration.parse("5s")


class MonitorSection(BaseModel):
    """``[monitor]`` of ``pgwarden.toml``; every key has a default (the seeds' figures)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ignore: tuple[Ignore, ...] = ()
    # -- thresholds ------------------------------------------------------------------------
    slow_query: DurationField = Duration.parse("1s")
    """A statement whose mean time exceeds this is slow."""
    slow_total_pct: float = Field(default=20.0, gt=0, le=100)
    """A statement taking more than this share of all statement time is reported."""
    min_calls: int = Field(default=10, ge=1)
    """Statements with fewer calls are not judged (one-off maintenance)."""
    cache_hit_pct: float = Field(default=90.0, ge=0, le=100)
    min_blocks: int = Field(default=10_000, ge=1)
    """Statements and databases that touched fewer blocks are not judged on cache hits."""
    connections_pct: float = Field(default=80.0, gt=0, le=100)
    idle_in_transaction: DurationField = Duration.parse("1min")
    long_running: DurationField = Duration.parse("5min")
    horizon_xids: int = Field(default=10_000_000, ge=0)
    """A prepared transaction or slot holding the xmin horizon back by more xids is reported."""
    lock_wait: DurationField = Duration.parse("5s")
    """Sessions waiting on a lock longer than this are reported with their blocker."""
    dead_tuples_pct: float = Field(default=20.0, gt=0, le=100)
    min_rows: int = Field(default=1000, ge=0)
    """Tables smaller than this are not judged on dead tuples, bloat or scans."""
    bloat_pct: float = Field(default=40.0, gt=0, le=100)
    min_bloat_size: Size = _bytes("10 MB")
    sequence_pct: float = Field(default=75.0, gt=0, le=100)
    wraparound_pct: float = Field(default=40.0, gt=0, le=100)
    """Share of the 2^31 transaction ids used before a warning (critical at twice that)."""
    replication_lag: Size = _bytes("1 GB")
    slot_retained: Size = _bytes("1 GB")
    temp_spill: Size = _bytes("100 MB")
    audit_store_size: Size = _bytes("1 GB")
    """The audit store (``warden.audit_events`` and its partitions) is reported past this."""
    seq_scan_pct: float = Field(default=50.0, ge=0, le=100)
    regression_pct: float = Field(default=50.0, gt=0)
    """A statement whose mean time grew by more than this against history regressed."""
    unused_index_min_age: DurationField = Duration.parse("7 days")
    """Statistics younger than this make an index's zero scans no evidence yet."""
    # -- history and jobs ------------------------------------------------------------------
    retention: DurationField = Duration.parse("14 days")
    """How long ``monitor-snapshot`` history is kept (whole days, dropped by partition)."""
    vacuum: bool = False
    """Opt-in job: ``VACUUM (ANALYZE)`` tables autovacuum left behind."""
    reindex: bool = False
    """Opt-in job: ``REINDEX INDEX CONCURRENTLY`` bloated indexes."""
    alerts: AlertsSection = AlertsSection()
