"""``Monitor``: the monitoring API a :class:`~pgwarden.Warden` exposes as ``warden.monitor``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import TYPE_CHECKING

from pgwarden.ops.monitor._config import MonitorSection
from pgwarden.ops.monitor._model import Activity, CheckInfo, Finding, QueryReport, Report, Snapshot

if TYPE_CHECKING:
    from pgwarden.ops.monitor._alerts import Alert
    from pgwarden.warden import Warden


class Monitor:
    """Health checks, query history and live activity of the warden's database.

    ::

        report = warden.monitor.doctor()            # every check
        for finding in report.findings:
            print(finding.severity, finding.check, finding.object, finding.advice)
        warden.monitor.snapshot()                   # store statistics deltas (the job does it)
        warden.monitor.queries(since="1h", top=10)  # top statements over the last hour

    Every read works as a member of ``pg_monitor``; what a check cannot see is reported as a
    :class:`Notice` rather than guessed.
    """

    def __init__(self, warden: Warden):
        self.warden = warden

    @property
    def options(self) -> MonitorSection:
        """The ``[monitor]`` section of the declaration (defaults when absent)."""
        return self.warden.spec.section("monitor", MonitorSection)

    def checks(self) -> list[CheckInfo]:
        """Every check there is, in report order."""
        from pgwarden.ops.monitor._engine import select

        return [c.info for c in select(None)]

    def doctor(self, checks: Collection[str] | None = None) -> Report:
        """Run the checks (all, or those ids / group names in ``checks``) and return the
        findings, worst first, with silenced findings and checks that could not run apart."""
        from pgwarden.ops.monitor._engine import run_checks

        with self.warden.connect(autocommit=True) as conn:
            return run_checks(conn, self.warden.spec, self.options, checks)

    def fix(self, check: str, obj: str | None = None) -> list[Finding]:
        """Apply the fixes of ``check``'s findings (only ``obj``'s, when given), with the
        declared ``lock_timeout`` and retries; returns the findings fixed."""
        from pgwarden.ops.monitor._fix import apply_fixes

        report = self.doctor([check])
        chosen = [
            f
            for f in report.findings
            if f.check == check and f.fix is not None and (obj is None or f.object == obj)
        ]
        if obj is not None and not chosen:
            from pgwarden.errors import PgwardenError

            raise PgwardenError(
                f"{check} has no finding with a fix on {obj!r}",
                hint=f"pgwarden doctor --check {check} lists its findings",
            )
        with self.warden.connect(autocommit=True) as conn:
            apply_fixes(conn, self.warden.spec, chosen)
        return chosen

    def queries(self, since: str | dt.timedelta = "1h", top: int = 10) -> QueryReport:
        """Top ``top`` statements by total time over the last ``since`` (``"1h"``, a
        timedelta), from the snapshots history, with the change against the window before;
        without history, ``pg_stat_statements`` since its last reset."""
        from pgwarden.ops.monitor._history import top_queries

        window = since if isinstance(since, dt.timedelta) else _duration(since)
        with self.warden.connect(autocommit=True) as conn:
            return top_queries(conn, window, top)

    def query_text(self, queryid: int) -> str | None:
        """The text of one statement (read only when it is shown)."""
        from pgwarden.ops.monitor._history import query_text

        with self.warden.connect(autocommit=True) as conn:
            return query_text(conn, queryid)

    def snapshot(self) -> Snapshot:
        """Store the statistics accumulated since the previous snapshot (statements, tables,
        indexes, database) in the ``warden`` schema. Never resets ``pg_stat_statements``."""
        from pgwarden.ops.monitor._history import take_snapshot

        with self.warden.connect(autocommit=True) as conn:
            return take_snapshot(conn, self.options)

    def alerts(self) -> list[Alert]:
        """Alerts kept by the ``monitor-alerts`` job: firing ones, and those resolved
        within the last week, with first and last seen."""
        from pgwarden.ops.monitor._alerts import current

        with self.warden.connect(autocommit=True) as conn:
            return current(conn)

    def activity(self) -> list[Activity]:
        """Backends of this server other than this one, longest-running first, with the pids
        blocking each."""
        from pgwarden.ops.monitor._activity import read_activity

        # The pool's connection: a live view refreshing every second opens none per refresh.
        with self.warden.pool.connection() as conn:
            return read_activity(conn)

    def cancel(self, pid: int) -> bool:
        """Cancel backend ``pid``'s current query (``pg_cancel_backend``)."""
        from pgwarden.ops.monitor._activity import signal_backend

        with self.warden.pool.connection() as conn:
            return signal_backend(conn, pid, terminate=False)

    def terminate(self, pid: int) -> bool:
        """End backend ``pid``'s session (``pg_terminate_backend``)."""
        from pgwarden.ops.monitor._activity import signal_backend

        with self.warden.pool.connection() as conn:
            return signal_backend(conn, pid, terminate=True)


def _duration(text: str) -> dt.timedelta:
    from pgwarden.errors import ConfigError
    from pgwarden.spec._durations import Duration

    try:
        return dt.timedelta(seconds=Duration.parse(text).seconds)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
