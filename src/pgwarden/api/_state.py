"""What is slow to learn and changes slowly: ``doctor``'s findings and pgwarden's feature state.

Computed in a worker thread every ``[serve] checks_every`` (60 s by default) and served from
memory by ``/api/health``, ``/metrics`` and the dashboard, so that no page view or scrape runs a
full check pass (PgHero's "queries the database on every view"). Its age is published.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import psycopg

from pgwarden.errors import PgwardenError
from pgwarden.warden import Warden

log = logging.getLogger("pgwarden.serve")
SEVERITIES = ("critical", "warning", "info")


@dataclass(frozen=True)
class Snapshot:
    """One pass: findings (as JSON objects), feature state, and what failed."""

    taken_at: float
    findings: list[dict[str, Any]] | None
    """``None`` when the checks could not run (see ``errors``)."""
    features: dict[str, Any]
    errors: dict[str, str] = field(default_factory=dict)
    notices: list[dict[str, str]] = field(default_factory=list)
    """Checks that could not run, and why (a privilege, an extension)."""
    checks_seconds: float = 0.0
    database_sizes: dict[str, int] = field(default_factory=dict)
    """``pg_database_size`` of the served database and up to 9 others."""
    alerts: list[dict[str, Any]] | None = None
    """Alerts kept by the ``monitor-alerts`` job (firing, and recently resolved)."""

    def counts(self) -> dict[str, int]:
        found = dict.fromkeys(SEVERITIES, 0)
        for finding in self.findings or []:
            found[finding["severity"]] = found.get(finding["severity"], 0) + 1
        return found


class HealthState:
    """The cached :class:`Snapshot`, refreshed in the background while the app serves."""

    def __init__(self, warden: Warden, every: float):
        self.warden = warden
        self.every = every
        self.snapshot: Snapshot | None = None
        self.runs = 0
        self.failures = 0
        self._task: asyncio.Task[None] | None = None
        self._fresh: asyncio.Event | None = None

    def start(self) -> None:
        """Start refreshing (idempotent; called on the first request when the app is mounted
        in another app, whose lifespan does not run the mounted app's)."""
        if self._task is None or self._task.done():
            self._fresh = asyncio.Event()
            self._task = asyncio.create_task(self._loop(), name="pgwarden-health-state")

    async def current(self, wait: float = 0.0) -> Snapshot | None:
        """The latest snapshot; with ``wait``, wait up to that long for the first one."""
        self.start()
        if self.snapshot is None and wait > 0 and self._fresh is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._fresh.wait(), wait)
        return self.snapshot

    async def refresh(self) -> Snapshot:
        """Take a snapshot now (also what the background loop does)."""
        snapshot = await asyncio.to_thread(take_snapshot, self.warden)
        self.runs += 1
        self.failures += bool(snapshot.errors)
        self.snapshot = snapshot
        if self._fresh is not None:
            self._fresh.set()
        return snapshot

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception:  # the loop must outlive one bad pass; the error is logged
                log.exception("health state refresh failed")
            await asyncio.sleep(self.every)


def take_snapshot(warden: Warden) -> Snapshot:
    """Run the checks and read the feature state (blocking; in a worker thread)."""
    errors: dict[str, str] = {}
    findings: list[dict[str, Any]] | None = None
    notices: list[dict[str, str]] = []
    seconds = 0.0
    try:
        report = warden.monitor.doctor()
        findings = [f.to_json() for f in report.findings]
        notices = [n.to_json() for n in report.notices]
        seconds = report.seconds
    except PgwardenError as exc:
        errors["checks"] = exc.message
    except Exception as exc:  # unreachable server, permission: reported, not raised
        errors["checks"] = _first_line(exc)
    alerts: list[dict[str, Any]] | None = None
    try:
        alerts = [a.to_json() for a in warden.monitor.alerts()]
    except Exception as exc:
        errors["alerts"] = _first_line(exc)
    features: dict[str, Any] = {}
    sizes: dict[str, int] = {}
    try:
        features = feature_state(warden, errors)
    except Exception as exc:
        errors["features"] = _first_line(exc)
    try:
        sizes = database_sizes(warden)
    except Exception as exc:
        errors["sizes"] = _first_line(exc)
    return Snapshot(time.time(), findings, features, errors, notices, seconds, sizes, alerts)


def database_sizes(warden: Warden) -> dict[str, int]:
    sizes: dict[str, int] = {}
    with warden.connect(autocommit=True) as conn:
        listed = conn.execute(
            "select datname, oid from pg_database "
            "where datallowconn and has_database_privilege(oid, 'CONNECT') "
            "order by datname = current_database() desc, datname limit 10"
        ).fetchall()
        for name, oid in listed:
            # One statement each: a database dropped meanwhile fails its own size only.
            try:
                row = conn.execute("select pg_database_size(%s::oid)", (oid,)).fetchone()
            except psycopg.Error:
                continue
            if row and row[0] is not None:
                sizes[str(name)] = int(row[0])
    return sizes


def feature_state(warden: Warden, errors: dict[str, str]) -> dict[str, Any]:
    """Audit ingest lag (WAL capture), archive backlog, partitions made ahead and rows in
    default partitions, for what pgwarden.toml declares (and partitioned tables it finds),
    the staleness of declared materialized views, and backup health when it declares
    ``[backup]``."""
    from pgwarden.features.audit import _wal
    from pgwarden.features.partition._report import report

    state: dict[str, Any] = {"audit": None, "archive": None, "partitions": []}
    with warden.connect(autocommit=True) as conn:
        wal = _wal.status(conn)
        if wal is not None:
            state["audit"] = {
                "capture": "wal",
                "ingest_lag_bytes": wal["lag_bytes"],
                "slot_active": wal["active"],
                "ingested_at": wal["ingested_at"],
            }
        today = dt.datetime.now(dt.UTC)
        for table in report(conn, warden.spec):
            layout = table.layout
            if layout is None:
                continue
            ahead = sum(1 for p in layout.ranges if _after(p.low, today))
            state["partitions"].append(
                {
                    "table": str(table.table),
                    "declared": table.declared,
                    "partitions": len(layout.parts),
                    "ahead": ahead if _by_time(layout.column_type) else None,
                    "default_rows": table.default_rows,
                }
            )
        if "materialized_views" in warden.spec.sections:
            from pgwarden.features.materialized_views import staleness

            state["views"] = [
                {
                    **s.to_json(),
                    # Unix time, so /metrics can give the age at scrape time, not at this pass.
                    "last_refresh_unix": s.last_refresh.timestamp() if s.last_refresh else None,
                }
                for s in staleness(conn, warden.spec)
            ]
    if any("archive" in t.features for t in warden.spec.tables.values()):
        try:
            due = warden.maintain(dry_run=True, names=["archive"])
            state["archive"] = [
                {"table": str(r.table), "backlog_rows": r.rows} for r in due if r.table
            ]
        except PgwardenError as exc:  # the worker holds the maintenance lock: say so
            errors["archive"] = exc.message
    if "backup" in warden.spec.sections:
        from pgwarden.ops.backup import health

        state["backups"] = health(warden).to_json()
    return state


def _by_time(column_type: str | None) -> bool:
    """Partitions by a date or timestamp column: "ahead" of now means something."""
    return column_type is not None and ("date" in column_type or "timestamp" in column_type)


def _after(low: Any, now: dt.datetime) -> bool:
    if isinstance(low, dt.datetime):
        return (low if low.tzinfo else low.replace(tzinfo=dt.UTC)) > now
    if isinstance(low, dt.date):
        return low > now.date()
    return False


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
