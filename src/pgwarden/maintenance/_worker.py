"""``pgwarden worker``: the long-running scheduler of maintenance jobs.

Every ``[worker] tick`` it connects, takes the maintenance advisory lock without waiting
(another worker or a ``pgwarden maintain`` has it: this tick does nothing), and runs the
jobs that are due: not run for ``every`` (per job, or ``[worker] every``) and inside their
time-of-day ``window``. When a job last ran is read from ``warden.maintenance_runs``, so
two workers, or a restarted one, agree. One log line per job run. A stop request (SIGTERM)
lets the running job finish its batch and ends the loop. On a standby it does nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
import socket
import threading
import time
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import psycopg

from pgwarden.catalog import read_catalog
from pgwarden.errors import PgwardenError
from pgwarden.maintenance._jobs import Job, JobResult
from pgwarden.maintenance._runner import MAINTAIN_LOCK, collect_jobs, run_jobs
from pgwarden.spec import Duration, Spec

if TYPE_CHECKING:
    from pgwarden.features import Feature

log = logging.getLogger("pgwarden.worker")


def in_window(window: str | None, local: dt.datetime) -> bool:
    """Whether the local time of day ``local`` is inside ``'HH:MM-HH:MM'`` (which may wrap
    midnight: ``'22:00-04:00'``); no window is always."""
    if window is None:
        return True
    start, end = (dt.time.fromisoformat(part) for part in window.split("-"))
    now = local.time()
    return start <= now < end if start < end else (now >= start or now < end)


@dataclass
class Worker:
    """Runs due jobs on every tick until :attr:`stop` is set."""

    connect: Callable[[], psycopg.Connection[Any]]
    """A new autocommit connection to the database."""
    spec: Spec
    features: Mapping[str, Feature]
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
    stop: threading.Event = field(default_factory=threading.Event)
    _memory: dict[tuple[str, str], dt.datetime] = field(default_factory=dict)
    _busy_logged: bool = False

    def schedule(self, job: str) -> tuple[Duration, str | None]:
        conf = self.spec.worker
        own = conf.jobs.get(job)
        every = own.every if own and own.every else conf.every
        window = own.window if own and own.window else conf.window
        return every, window

    def run(self, *, ticks: int | None = None) -> None:
        """Tick until stopped (or ``ticks`` times)."""
        done = 0
        while not self.stop.is_set():
            try:
                with self.connect() as conn:
                    self.tick(conn)
            except psycopg.OperationalError as exc:
                log.warning("database unavailable: %s", str(exc).strip().splitlines()[0])
            done += 1
            if ticks is not None and done >= ticks:
                return
            self.stop.wait(self.spec.worker.tick.seconds)
        log.info("worker stopped")

    def tick(self, conn: psycopg.Connection[Any]) -> list[JobResult]:
        """One pass: the due jobs, under the maintenance lock."""
        if conn.execute("select pg_is_in_recovery()").fetchone() == (True,):
            return []
        got = conn.execute("select pg_try_advisory_lock(%s)", (MAINTAIN_LOCK,)).fetchone()
        if got != (True,):
            if not self._busy_logged:
                log.info("another runner holds the maintenance lock; waiting for it")
                self._busy_logged = True
            return []
        self._busy_logged = False
        results: list[JobResult] = []
        try:
            jobs = collect_jobs(self.spec, read_catalog(conn), self.features)
            last = self._last_runs(conn)
            for job in jobs:
                if self.stop.is_set():
                    break
                now = self.clock()
                every, window = self.schedule(job.name)
                local = now.astimezone(zoneinfo.ZoneInfo(self.spec.worker.timezone))
                previous = last.get((job.name, str(job.table or "")))
                if previous is not None and (now - previous).total_seconds() < every.seconds:
                    continue
                if not in_window(window, local):
                    continue
                result = self._run(conn, job, now)
                if result is not None:
                    results.append(result)
        finally:
            conn.execute("select pg_advisory_unlock(%s)", (MAINTAIN_LOCK,))
        return results

    def _run(self, conn: psycopg.Connection[Any], job: Job, now: dt.datetime) -> JobResult | None:
        started = time.perf_counter()
        where = f" {job.table}" if job.table else ""
        try:
            # The lock is this session's already; run_jobs takes it again (re-entrant).
            (result,) = run_jobs(conn, self.spec, [job], now=now, features=self.features) or (None,)
        except (PgwardenError, psycopg.Error) as exc:
            message = str(exc).strip().splitlines()[0]
            log.error("job %s%s failed: %s", job.name, where, message)
            self._record(conn, job, now, time.perf_counter() - started, 0, message, ok=False)
            return None
        if result is None:
            return None
        log.info(
            "job %s%s: %d %s (%.2fs)", job.name, where, result.rows, result.detail, result.seconds
        )
        self._record(conn, job, now, result.seconds, result.rows, result.detail, ok=True)
        return result

    def _tracked(self, conn: psycopg.Connection[Any]) -> bool:
        row = conn.execute("select to_regclass('warden.maintenance_runs') is not null").fetchone()
        return bool(row and row[0])

    def _last_runs(self, conn: psycopg.Connection[Any]) -> dict[tuple[str, str], dt.datetime]:
        if not self._tracked(conn):
            return dict(self._memory)
        rows = conn.execute(
            """select job, coalesce(table_name, ''), max(started_at)
               from warden.maintenance_runs group by 1, 2"""
        ).fetchall()
        return {(r[0], r[1]): r[2] for r in rows}

    def _record(
        self,
        conn: psycopg.Connection[Any],
        job: Job,
        started: dt.datetime,
        seconds: float,
        rows: int,
        detail: str,
        *,
        ok: bool,
    ) -> None:
        table = str(job.table) if job.table else None
        self._memory[(job.name, table or "")] = started
        if not self._tracked(conn):
            return
        conn.execute(
            """insert into warden.maintenance_runs (job, table_name, started_at, finished_at,
                   rows, detail, ok, host)
               values (%s, %s, %s, %s::timestamptz + make_interval(secs => %s), %s, %s, %s, %s)""",
            (job.name, table, started, started, seconds, rows, detail, ok, socket.gethostname()),
        )
