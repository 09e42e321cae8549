"""``maintain``: jobs from the declaration, one runner at a time, dry runs change nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from pgwarden import MaintenanceBusy, Warden
from pgwarden.cli import app
from pgwarden.maintenance import MAINTAIN_LOCK


def _aged_audit(conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]) -> Warden:
    conn.execute("create table t (id int primary key, v int)")
    warden = make_warden('[tables."public.t"]\naudit = { retention = "30 days" }\n')
    warden.apply()
    conn.execute("insert into t select g, 0 from generate_series(1, 12) g")
    conn.execute("update warden.audit_events set at = at - interval '40 days'")
    return warden


def test_maintain_runs_due_jobs_and_dry_run_changes_nothing(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden], project: Path
) -> None:
    warden = _aged_audit(conn, make_warden)
    (project / "pgwarden.toml").write_text(
        '[tables."public.t"]\naudit = { retention = "30 days" }\n'
    )
    assert [j.name for j in warden.jobs()] == [
        "audit-store-premake",
        "audit-store-rescue",
        "audit-retention",
    ]

    dry = warden.maintain(dry_run=True, names=["audit-retention"])
    assert [(r.job, r.rows, r.dry_run) for r in dry] == [("audit-retention", 12, True)]
    assert conn.execute("select count(*) from warden.audit_events").fetchone() == (12,)

    result = CliRunner().invoke(app, ["maintain", "--json"])
    assert result.exit_code == 0, result.output
    done = {r["job"]: r["rows"] for r in json.loads(result.stdout)}
    assert done["audit-retention"] == 12
    assert conn.execute("select count(*) from warden.audit_events").fetchone() == (0,)


def test_one_runner_at_a_time(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden], db_url: str
) -> None:
    warden = _aged_audit(conn, make_warden)
    with psycopg.connect(db_url, autocommit=True) as other:
        other.execute("select pg_advisory_lock(%s)", (MAINTAIN_LOCK,))
        with pytest.raises(MaintenanceBusy):
            warden.maintain()
        result = CliRunner().invoke(app, ["--database-url", db_url, "maintain"])
        assert result.exit_code == 1
        assert "already running" in result.output
    assert conn.execute("select count(*) from warden.audit_events").fetchone() == (12,)
    assert [r.rows for r in warden.maintain(names=["audit-retention"])] == [12]


def test_only_limits_to_tables(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    from pgwarden._names import QualifiedName

    warden = _aged_audit(conn, make_warden)
    # Audit retention is store-wide: a run limited to tables does not touch it.
    assert warden.maintain(only=[QualifiedName("public", "t")]) == []
