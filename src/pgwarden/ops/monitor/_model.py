"""The values the monitor returns: findings, reports, query statistics, snapshots."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

Number = int | float


class Severity(StrEnum):
    """How bad a finding is. ``info`` never fails ``pgwarden doctor``; ``warning`` and
    ``critical`` make it exit 2."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}


@dataclass(frozen=True)
class Fix:
    """A change that resolves a finding, as pgwarden would apply it.

    ``statements`` run in order; ``transactional`` says whether they run inside one
    transaction (``CREATE INDEX CONCURRENTLY`` cannot); ``lock`` is the strongest lock they
    take on the object (``SHARE UPDATE EXCLUSIVE`` for concurrent builds).
    """

    statements: tuple[str, ...]
    lock: str
    transactional: bool
    description: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "sql": list(self.statements),
            "lock": self.lock,
            "transactional": self.transactional,
            "description": self.description,
        }


@dataclass(frozen=True)
class Finding:
    """One problem a check found.

    ``check`` is the stable check id (``index.duplicate``), ``object`` what it is about
    (``public.orders_customer_idx``, ``pid 1234``, ``setting track_io_timing``), ``evidence``
    the numbers behind it, ``advice`` one line saying what to do, ``fix`` the change pgwarden
    can apply with ``pgwarden doctor --fix``. ``detail`` carries longer text when there is
    some (a query, a plan).
    """

    check: str
    severity: Severity
    object: str
    evidence: Mapping[str, Number] = field(default_factory=dict, hash=False)
    advice: str = ""
    fix: Fix | None = None
    detail: str = ""

    @property
    def key(self) -> str:
        """What identifies this finding across runs (alerts deduplicate on it)."""
        return f"{self.check}:{self.object}"

    def to_json(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "severity": self.severity.value,
            "object": self.object,
            "evidence": dict(self.evidence),
            "advice": self.advice,
            "fix": self.fix.to_json() if self.fix else None,
            "detail": self.detail or None,
        }


@dataclass(frozen=True)
class Notice:
    """A check that could not run, and why (missing privilege, extension, server version)."""

    check: str
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"check": self.check, "reason": self.reason}


@dataclass(frozen=True)
class CheckInfo:
    """What a check is: id, group, default severity, what it reads, its threshold."""

    id: str
    group: str
    title: str
    reads: str
    threshold: str = ""
    fixable: bool = False


@dataclass(frozen=True)
class Report:
    """The result of :meth:`Monitor.doctor`: findings (worst first), findings silenced by
    ``[monitor] ignore``, and checks that could not run."""

    findings: tuple[Finding, ...]
    notices: tuple[Notice, ...] = ()
    silenced: tuple[Finding, ...] = ()
    checks: tuple[str, ...] = ()
    seconds: float = 0.0

    @property
    def worst(self) -> Severity | None:
        return max((f.severity for f in self.findings), key=lambda s: s.rank, default=None)

    @property
    def ok(self) -> bool:
        """No finding of severity warning or worse."""
        worst = self.worst
        return worst is None or worst is Severity.INFO

    def to_json(self) -> dict[str, Any]:
        return {
            "findings": [f.to_json() for f in self.findings],
            "notices": [n.to_json() for n in self.notices],
            "silenced": [f.to_json() for f in self.silenced],
            "checks": list(self.checks),
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class QueryStat:
    """One statement's activity over a window (from history, or since the last reset)."""

    queryid: int
    query: str | None
    calls: int
    total_ms: float
    mean_ms: float
    rows: int
    cache_hit: float | None
    """Shared-buffer hit ratio 0..1 (None: no block read)."""
    previous_total_ms: float | None = None
    """Total time in the window before, of the same length (None: no history)."""

    @property
    def change(self) -> float | None:
        """Total time relative to the previous window (1.0 = same; None: unknown)."""
        if self.previous_total_ms is None or self.previous_total_ms <= 0:
            return None
        return self.total_ms / self.previous_total_ms

    def to_json(self) -> dict[str, Any]:
        return {
            "queryid": self.queryid,
            "query": self.query,
            "calls": self.calls,
            "total_ms": round(self.total_ms, 3),
            "mean_ms": round(self.mean_ms, 3),
            "rows": self.rows,
            "cache_hit": None if self.cache_hit is None else round(self.cache_hit, 4),
            "previous_total_ms": None
            if self.previous_total_ms is None
            else round(self.previous_total_ms, 3),
            "change": None if self.change is None else round(self.change, 3),
        }


@dataclass(frozen=True)
class QueryReport:
    """Top statements by total time over ``[since, until)``. ``source`` is ``history``
    (snapshots taken by the ``monitor-snapshot`` job) or ``live`` (``pg_stat_statements``
    since its last reset, when there is no history yet)."""

    since: dt.datetime | None
    until: dt.datetime
    source: str
    queries: tuple[QueryStat, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat(),
            "source": self.source,
            "queries": [q.to_json() for q in self.queries],
        }


@dataclass(frozen=True)
class Snapshot:
    """What one ``snapshot()`` stored: rows per kind and how long it took."""

    taken_at: dt.datetime
    statements: int
    tables: int
    indexes: int
    seconds: float
    notices: tuple[Notice, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "taken_at": self.taken_at.isoformat(),
            "statements": self.statements,
            "tables": self.tables,
            "indexes": self.indexes,
            "seconds": round(self.seconds, 4),
            "notices": [n.to_json() for n in self.notices],
        }


@dataclass(frozen=True)
class Activity:
    """One backend as ``pgwarden top`` shows it."""

    pid: int
    user: str | None
    application: str
    client: str | None
    state: str | None
    wait: str | None
    query: str
    seconds: float | None
    """How long its current query (or idle-in-transaction state) has lasted."""
    xact_seconds: float | None
    blocked_by: tuple[int, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "user": self.user,
            "application": self.application,
            "client": self.client,
            "state": self.state,
            "wait": self.wait,
            "query": self.query,
            "seconds": self.seconds,
            "xact_seconds": self.xact_seconds,
            "blocked_by": list(self.blocked_by),
        }
