"""Alerts: findings with state (firing / resolved), deduplicated by check and object, with
first and last seen, delivered to a webhook by the worker.

State lives in ``warden.monitor_alerts``. An alert is delivered when its state changes
(it fires, or it resolves) and only then; a delivery that fails is tried again on the next
run (``delivered`` lags ``state`` until the receiver accepts it). Checks that could not run
resolve nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import psycopg
from psycopg.rows import dict_row

from pgwarden.errors import AlertDeliveryError, ConfigError
from pgwarden.ops.monitor._config import AlertsSection
from pgwarden.ops.monitor._model import Finding, Report, Severity

_DDL = """
create schema if not exists warden;
create table if not exists warden.monitor_alerts (
    key text primary key, check_id text not null, object text not null,
    severity text not null, state text not null check (state in ('firing', 'resolved')),
    delivered text, first_seen timestamptz not null, last_seen timestamptz not null,
    resolved_at timestamptz, advice text not null default '', evidence jsonb not null
        default '{}');
"""


@dataclass(frozen=True)
class Alert:
    """One alert's state: ``firing`` since ``first_seen``, or ``resolved`` at
    ``resolved_at``. ``delivered`` is the state the webhook last accepted."""

    key: str
    check: str
    object: str
    severity: str
    state: str
    first_seen: dt.datetime
    last_seen: dt.datetime
    resolved_at: dt.datetime | None = None
    delivered: str | None = None
    advice: str = ""
    evidence: Mapping[str, float] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.state,
            "check": self.check,
            "object": self.object,
            "severity": self.severity,
            "advice": self.advice,
            "evidence": dict(self.evidence or {}),
            "first_seen": self.first_seen.isoformat(),
            "last_seen": self.last_seen.isoformat(),
            "resolved_at": self.resolved_at.isoformat() if self.resolved_at else None,
        }


def transition(
    before: Mapping[str, Alert],
    findings: Iterable[Finding],
    ran: Iterable[str],
    now: dt.datetime,
) -> dict[str, Alert]:
    """The alerts after one evaluation: what is found fires (or keeps firing, last seen
    now), what was firing and its check ran without finding it resolves; the rest stays."""
    after = dict(before)
    seen: set[str] = set()
    for f in findings:
        seen.add(f.key)
        old = before.get(f.key)
        if old is not None and old.state == "firing":
            after[f.key] = replace(old, last_seen=now, severity=f.severity.value,
                                   advice=f.advice, evidence=dict(f.evidence))  # fmt: skip
        else:
            after[f.key] = Alert(f.key, f.check, f.object, f.severity.value, "firing", now, now,
                                 None, old.delivered if old else None, f.advice,
                                 dict(f.evidence))  # fmt: skip
    checked = set(ran)
    for key, old in before.items():
        if old.state == "firing" and key not in seen and old.check in checked:
            after[key] = replace(old, state="resolved", resolved_at=now)
    return after


def due(alerts: Mapping[str, Alert]) -> list[Alert]:
    """Alerts whose state the webhook has not accepted yet (never-delivered resolutions of
    alerts it never heard of are not sent)."""
    return sorted(
        (a for a in alerts.values() if a.state != a.delivered
         and not (a.state == "resolved" and a.delivered is None)),
        key=lambda a: a.key,
    )  # fmt: skip


def _load(conn: psycopg.Connection[Any]) -> dict[str, Alert]:
    conn.execute(_DDL)
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute("select * from warden.monitor_alerts for update").fetchall()
    return {
        r["key"]: Alert(
            r["key"],
            r["check_id"],
            r["object"],
            r["severity"],
            r["state"],
            r["first_seen"],
            r["last_seen"],
            r["resolved_at"],
            r["delivered"],
            r["advice"],
            r["evidence"],
        )
        for r in rows
    }


def _store(conn: psycopg.Connection[Any], alerts: Iterable[Alert]) -> None:
    with conn.cursor() as cur:
        cur.executemany(
            """insert into warden.monitor_alerts as a (key, check_id, object, severity, state,
                   delivered, first_seen, last_seen, resolved_at, advice, evidence)
               values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
               on conflict (key) do update set severity = excluded.severity,
                   state = excluded.state, delivered = excluded.delivered,
                   first_seen = excluded.first_seen, last_seen = excluded.last_seen,
                   resolved_at = excluded.resolved_at, advice = excluded.advice,
                   evidence = excluded.evidence""",
            [(a.key, a.check, a.object, a.severity, a.state, a.delivered, a.first_seen,
              a.last_seen, a.resolved_at, a.advice, json.dumps(dict(a.evidence or {})))
             for a in alerts],
        )  # fmt: skip


def webhook_url(opts: AlertsSection, environ: Mapping[str, str] | None = None) -> str | None:
    """The webhook URL (``env:NAME`` read now; None when not configured)."""
    if opts.webhook is None:
        return None
    if opts.webhook.startswith("env:"):
        name = opts.webhook[4:]
        value = (environ if environ is not None else os.environ).get(name)
        if not value:
            raise ConfigError(f"[monitor.alerts] webhook: environment variable {name} is not set")
        return value
    return opts.webhook


def send(url: str, alerts: list[Alert], timeout: float) -> None:
    """POST ``{"alerts": [...]}`` as JSON; anything but a 2xx is a failure. The URL (often
    holding a token) is never put into the error."""
    body = json.dumps({"alerts": [a.to_json() for a in alerts]}).encode()
    request = urllib.request.Request(
        url, data=body, method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "pgwarden"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            if not 200 <= response.status < 300:
                raise AlertDeliveryError(f"webhook answered {response.status}")
    except urllib.error.HTTPError as exc:
        raise AlertDeliveryError(f"webhook answered {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise AlertDeliveryError(f"webhook not reachable: {type(reason).__name__}") from None


def evaluate(
    conn: psycopg.Connection[Any],
    report: Report,
    opts: AlertsSection,
    now: dt.datetime,
    *,
    environ: Mapping[str, str] | None = None,
) -> list[Alert]:
    """Update alert state from ``report`` and deliver what changed; returns the alerts
    delivered. Findings below ``[monitor.alerts] severity`` are not alerts."""
    floor = Severity(opts.severity).rank
    findings = [f for f in report.findings if f.severity.rank >= floor]
    unavailable = {n.check for n in report.notices}
    ran = [c for c in report.checks if c not in unavailable]
    url = webhook_url(opts, environ)
    failure: AlertDeliveryError | None = None
    with conn.transaction():
        before = _load(conn)
        after = transition(before, findings, ran, now)
        pending = due(after) if url else []
        if pending:
            assert url is not None
            try:
                send(url, pending, opts.timeout.seconds)
            except AlertDeliveryError as exc:
                failure, pending = exc, []  # state is kept; delivery is tried next run
            for a in pending:
                after[a.key] = replace(a, delivered=a.state)
        _store(conn, [a for k, a in after.items() if before.get(k) != a])
        # Alerts resolved (and delivered as such) a week ago are forgotten.
        conn.execute(
            "delete from warden.monitor_alerts where state = 'resolved' and delivered = state "
            "and resolved_at < %s",
            (now - dt.timedelta(days=7),),
        )
    if failure is not None:
        raise failure
    return pending


def current(conn: psycopg.Connection[Any]) -> list[Alert]:
    """Every alert kept (firing, and resolved within the last week)."""
    if conn.execute("select to_regclass('warden.monitor_alerts')").fetchone() == (None,):
        return []
    with conn.transaction():
        return sorted(_load(conn).values(), key=lambda a: a.key)
