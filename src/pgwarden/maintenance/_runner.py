"""``maintain``: collect the jobs features declare and run them, one runner at a time."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Collection, Mapping
from functools import cache
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

import psycopg

from pgwarden._names import QualifiedName
from pgwarden.catalog import Catalog, read_catalog
from pgwarden.errors import MaintenanceBusy, MaintenanceError
from pgwarden.maintenance._jobs import Job, JobContext, JobResult, Progress
from pgwarden.spec import Spec

if TYPE_CHECKING:
    from pgwarden.features import Feature

# One maintenance runner per database, whichever process (CLI, worker, test) it is.
# Distinct from the apply lock, so a long archive run never blocks an apply.
MAINTAIN_LOCK = 0x7067_776D_6169_6E74


JOB_GROUP = "pgwarden.jobs"
"""Entry-point group of database-wide job providers (monitoring snapshots, backups...):
``name = "module:function"``, ``function(spec, catalog) -> list[Job]``, returning the jobs its
top-level section declares (none when the section is absent)."""

JobProvider = Callable[[Spec, Catalog], list[Job]]


@cache
def job_providers() -> tuple[JobProvider, ...]:
    """Every installed provider of database-wide jobs, in name order."""
    points = sorted(entry_points(group=JOB_GROUP), key=lambda p: p.name)
    return tuple(point.load() for point in points)


def collect_jobs(
    spec: Spec,
    catalog: Catalog,
    features: Mapping[str, Feature],
    *,
    only: Collection[QualifiedName] | None = None,
    names: Collection[str] | None = None,
) -> list[Job]:
    """Every job the declared features and the job providers (``pgwarden.jobs``)
    contribute, in run order.

    ``only`` keeps the jobs of those tables (and drops global ones); ``names`` keeps jobs
    of those names (``purge``, ``archive``...).
    """
    by_feature: dict[str, list[tuple[Any, Any]]] = {}
    for table_spec in spec.tables.values():
        if only is not None and table_spec.name not in only:
            continue
        table = catalog.get(table_spec.name)
        if table is None:
            continue  # planning reports unknown tables; maintenance works on what exists
        for name, opts in table_spec.features.items():
            by_feature.setdefault(name, []).append((table, opts))
    found: list[Job] = []
    for name in sorted(by_feature):
        found.extend(features[name].jobs(by_feature[name], catalog))
    for provider in job_providers():
        found.extend(provider(spec, catalog))
    jobs: list[Job] = []
    for job in found:
        if only is not None and job.table is None:
            continue
        if names is not None and job.name not in names:
            continue
        jobs.append(job)
    return order_jobs(jobs)


def order_jobs(jobs: Collection[Job]) -> list[Job]:
    """``jobs`` in an order that honours every job's ``after`` / ``before`` names (jobs of
    other names that are not due are ignored); among jobs free to run, database-wide ones
    first, then by table and name, so the order is the same on every run."""
    by_name: dict[str, list[Job]] = {}
    for job in jobs:
        by_name.setdefault(job.name, []).append(job)
    waits: dict[Job, set[Job]] = {job: set() for job in jobs}
    for job in jobs:
        for name in job.after:
            waits[job].update(j for j in by_name.get(name, ()) if j != job)
        for name in job.before:
            for later in by_name.get(name, ()):
                if later != job:
                    waits[later].add(job)
    ordered: list[Job] = []
    ready = sorted((j for j, w in waits.items() if not w), key=_tie)
    while ready:
        job = ready.pop(0)
        ordered.append(job)
        freed = []
        for other, waiting in waits.items():
            if job in waiting:
                waiting.discard(job)
                if not waiting:
                    freed.append(other)
        ready = sorted(ready + freed, key=_tie)
    if len(ordered) < len(waits):
        stuck = sorted({j.name for j, w in waits.items() if w})
        raise MaintenanceError(
            f"maintenance jobs wait for each other in a cycle: {', '.join(stuck)}",
            hint="a feature's job declares after/before names that contradict another's",
        )
    return ordered


def _tie(job: Job) -> tuple[str, str]:
    return (str(job.table or ""), job.name)


def run_jobs(
    conn: psycopg.Connection[Any],
    spec: Spec,
    jobs: list[Job],
    *,
    now: dt.datetime | None = None,
    dry_run: bool = False,
    batch: int = 10_000,
    progress: Callable[[Job], Progress] | None = None,
    on_result: Callable[[JobResult], None] | None = None,
    connect: Callable[[], psycopg.Connection[Any]] | None = None,
    wait: bool = False,
    features: Mapping[str, Feature] | None = None,
) -> list[JobResult]:
    """Run ``jobs`` in order under the maintenance lock (``conn`` in autocommit).
    ``features``: the features in use, handed to each job (see ``JobContext.features``).

    On a standby nothing runs (an empty list). When another process holds the lock:
    :class:`MaintenanceBusy`, or wait for it with ``wait``.
    """
    if conn.execute("select pg_is_in_recovery()").fetchone() == (True,):
        return []
    if wait:
        conn.execute("select pg_advisory_lock(%s)", (MAINTAIN_LOCK,))
    else:
        got = conn.execute("select pg_try_advisory_lock(%s)", (MAINTAIN_LOCK,)).fetchone()
        if got != (True,):
            raise MaintenanceBusy(
                "maintenance is already running on this database (another pgwarden maintain "
                "or worker holds its lock)",
                hint="wait for it to finish, or pass --wait",
            )
    results: list[JobResult] = []
    try:
        clock = now or dt.datetime.now(dt.UTC)
        for job in jobs:
            ctx = JobContext(
                conn=conn,
                spec=spec,
                now=clock,
                dry_run=dry_run,
                batch=batch,
                connect=connect,
                features=features or {},
            )
            if progress is not None:
                ctx.progress = progress(job)
            started = time.perf_counter()
            rows, detail = job.run(ctx)
            result = JobResult(
                job=job.name,
                feature=job.feature,
                table=job.table,
                rows=rows,
                seconds=time.perf_counter() - started,
                detail=detail,
                dry_run=dry_run,
            )
            results.append(result)
            if on_result is not None:
                on_result(result)
    finally:
        conn.execute("select pg_advisory_unlock(%s)", (MAINTAIN_LOCK,))
    return results


def maintain(
    conn: psycopg.Connection[Any],
    spec: Spec,
    features: Mapping[str, Feature],
    **kwargs: Any,
) -> list[JobResult]:
    """Collect and run every due job (see :func:`collect_jobs` and :func:`run_jobs`)."""
    only = kwargs.pop("only", None)
    names = kwargs.pop("names", None)
    jobs = collect_jobs(spec, read_catalog(conn), features, only=only, names=names)
    return run_jobs(conn, spec, jobs, features=features, **kwargs)
