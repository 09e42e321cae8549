"""Monitoring and advice: health checks with fixes, query history, live activity, alerts.

Reached as ``warden.monitor`` (a :class:`Monitor`)::

    report = warden.monitor.doctor()
    report.findings        # tuple[Finding, ...], worst first
    warden.monitor.queries(since="1h", top=10)
    warden.monitor.snapshot()

and from the command line as ``pgwarden doctor``, ``pgwarden queries`` and ``pgwarden top``.
The ``[monitor]`` section of ``pgwarden.toml`` sets thresholds, silences findings, and turns
on the opt-in VACUUM / REINDEX jobs and alerts. See docs/monitoring.md.
"""

from pgwarden.ops.monitor._alerts import Alert
from pgwarden.ops.monitor._config import AlertsSection, Ignore, MonitorSection
from pgwarden.ops.monitor._model import (
    Activity,
    CheckInfo,
    Finding,
    Fix,
    Notice,
    QueryReport,
    QueryStat,
    Report,
    Severity,
    Snapshot,
)
from pgwarden.ops.monitor._monitor import Monitor

__all__ = [
    "Activity",
    "Alert",
    "AlertsSection",
    "CheckInfo",
    "Finding",
    "Fix",
    "Ignore",
    "Monitor",
    "MonitorSection",
    "Notice",
    "QueryReport",
    "QueryStat",
    "Report",
    "Severity",
    "Snapshot",
]
