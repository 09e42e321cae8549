"""The monitor's maintenance jobs (entry point ``pgwarden.jobs``), declared by ``[monitor]``:

- ``monitor-snapshot``: store statistics deltas (query history), every run;
- ``monitor-alerts``: run the checks and deliver alert changes, with ``[monitor.alerts]``;
- ``monitor-vacuum``: ``VACUUM (ANALYZE)`` tables autovacuum left behind (``vacuum = true``);
- ``monitor-reindex``: ``REINDEX INDEX CONCURRENTLY`` bloated indexes (``reindex = true``).

Schedules and time windows come from ``[worker.jobs.<name>]`` like every job's.
"""

from __future__ import annotations

from collections.abc import Callable

from pgwarden.catalog import Catalog
from pgwarden.maintenance import Job, JobContext
from pgwarden.ops.monitor._config import MonitorSection
from pgwarden.ops.monitor._model import Finding
from pgwarden.spec import Spec


def _options(ctx: JobContext) -> MonitorSection:
    return ctx.spec.section("monitor", MonitorSection)


def _snapshot(ctx: JobContext) -> tuple[int, str]:
    from pgwarden.ops.monitor._history import take_snapshot

    if ctx.dry_run:
        return 0, "statistics to snapshot"
    snap = take_snapshot(ctx.conn, _options(ctx), ctx.now)
    return snap.statements + snap.tables + snap.indexes, (
        f"history rows ({snap.statements} statements, {snap.tables} tables, {snap.indexes} indexes)"
    )


def _alerts(ctx: JobContext) -> tuple[int, str]:
    from pgwarden.ops.monitor._alerts import evaluate
    from pgwarden.ops.monitor._engine import run_checks

    opts = _options(ctx)
    report = run_checks(ctx.conn, ctx.spec, opts)
    if ctx.dry_run:
        return len(report.findings), "findings"
    sent = evaluate(ctx.conn, report, opts.alerts, ctx.now)
    return len(sent), "alert changes delivered"


def _fixing(checks: list[str], what: str) -> Callable[[JobContext], tuple[int, str]]:
    """A job applying the fixes of ``checks``' findings, one object at a time."""

    def run(ctx: JobContext) -> tuple[int, str]:
        from pgwarden.ops.monitor._engine import run_checks
        from pgwarden.ops.monitor._fix import apply_fix

        report = run_checks(ctx.conn, ctx.spec, _options(ctx), checks)
        todo: dict[str, Finding] = {}
        for f in report.findings:
            if f.fix is not None and f.object not in todo:
                todo[f.object] = f
        if ctx.dry_run:
            return len(todo), what
        for done, (obj, finding) in enumerate(todo.items(), 1):
            assert finding.fix is not None
            apply_fix(ctx.conn, ctx.spec, finding.fix, f"{finding.check} {obj}")
            ctx.progress(done, len(todo))
        return len(todo), what

    return run


def _job(name: str, description: str, run: Callable[[JobContext], tuple[int, str]]) -> Job:
    return Job(name=name, feature="monitor", table=None, description=description, run=run)


def jobs(spec: Spec, catalog: Catalog) -> list[Job]:
    """The jobs ``[monitor]`` declares (none when the file has no ``[monitor]`` section)."""
    if "monitor" not in spec.sections:
        return []
    opts = spec.section("monitor", MonitorSection)
    # These jobs need no particular place in the run: no after/before.
    found = [_job("monitor-snapshot", "store statistics deltas (query history)", _snapshot)]
    if opts.alerts.webhook is not None:
        found.append(_job("monitor-alerts", "run the checks, deliver alert changes", _alerts))
    if opts.vacuum:
        vacuum = _fixing(["table.vacuum_overdue", "table.dead_tuples"], "tables vacuumed")
        found.append(_job("monitor-vacuum", "VACUUM (ANALYZE) tables left behind", vacuum))
    if opts.reindex:
        reindex = _fixing(["index.bloat"], "indexes rebuilt")
        found.append(_job("monitor-reindex", "REINDEX CONCURRENTLY bloated indexes", reindex))
    return found
