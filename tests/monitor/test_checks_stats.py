"""Checks judged from statistics (dead tuples, vacuum and analyze behind, sequential scans,
bloat of tables and indexes, with and without pgstattuple): a planted problem each, and a
look-alike that must not be reported."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from tests.monitor.conftest import found, objects, warden_for

from pgwarden.ops.monitor import Report

TOML = """
[monitor]
min_rows = 100
min_bloat_size = "100 kB"
"""

# Three phases, the statistics flushed between them: a backend's counters reach the shared
# statistics after its later ANALYZE otherwise, and would count as changes since it.
WRITE = """
create table dead (id int primary key, pad text) with (autovacuum_enabled = false);
insert into dead select g, repeat('x', 50) from generate_series(1, 5000) g;
create table few_dead (id int primary key, pad text) with (autovacuum_enabled = false);
insert into few_dead select g, repeat('x', 50) from generate_series(1, 5000) g;
create table raw (id int primary key) with (autovacuum_enabled = false);
insert into raw select generate_series(1, 500);
create table analyzed (id int primary key) with (autovacuum_enabled = false);
insert into analyzed select generate_series(1, 500);
create table churn (id int primary key, v int) with (autovacuum_enabled = false);
insert into churn select g, 0 from generate_series(1, 2000) g;
create table bloated (id int primary key, pad text) with (autovacuum_enabled = false);
insert into bloated select g, repeat('y', 60) from generate_series(1, 20000) g;
delete from bloated where id % 5 <> 0;
create table packed (id int primary key, pad text) with (autovacuum_enabled = false);
insert into packed select g, repeat('y', 60) from generate_series(1, 20000) g;
create table scanned (id int primary key, v int);
insert into scanned select g, g from generate_series(1, 2000) g;
create table keyed (id int primary key, v int);
insert into keyed select g, g from generate_series(1, 2000) g
"""
ANALYZE = """
analyze dead, few_dead, analyzed, churn, scanned, keyed;
vacuum analyze bloated;
vacuum analyze packed
"""
# dead tuples and vacuum overdue: half the rows deleted, autovacuum off for it; look-alike:
# 5 % deleted. Analyze overdue: every row changed since the analyze. never analyzed: raw.
CHANGE = """
delete from dead where id % 2 = 0;
delete from few_dead where id % 20 = 0;
update churn set v = 1
"""


def _run(conn: psycopg.Connection[Any], script: str) -> None:
    for statement in script.split(";\n"):
        conn.execute(statement)
    conn.execute("select pg_stat_force_next_flush()")
    conn.execute("select 1")  # the transaction end that flushes the counters


@pytest.fixture(scope="module")
def report(module_db: str, module_conn: psycopg.Connection[Any]) -> Report:
    _run(module_conn, WRITE)
    _run(module_conn, ANALYZE)
    _run(module_conn, CHANGE)
    # Sequential-scan heavy: 1,000+ rows read whole 20 times; look-alike: read by key.
    for i in range(20):
        module_conn.execute("select count(*) from scanned where v = %s", (i,))
        module_conn.execute("select v from keyed where id = %s", (i,))
    module_conn.execute("select pg_stat_force_next_flush()")
    module_conn.execute("select 1")  # the transaction end that flushes the counters
    with warden_for(module_db, TOML) as warden:
        return warden.monitor.doctor(["table", "index.bloat"])


def test_dead_tuples_and_vacuum_overdue(report: Report) -> None:
    (dead,) = found(report, "table.dead_tuples", "public.dead")
    assert dead.evidence["dead_pct"] == pytest.approx(50, abs=1)
    assert dead.fix is not None and dead.fix.statements == ("VACUUM (ANALYZE) public.dead",)
    assert "public.few_dead" not in objects(report, "table.dead_tuples")
    assert "public.dead" in objects(report, "table.vacuum_overdue")
    assert "public.few_dead" not in objects(report, "table.vacuum_overdue")


def test_analyze(report: Report) -> None:
    never = objects(report, "table.never_analyzed")
    assert "public.raw" in never and "public.analyzed" not in never
    overdue = objects(report, "table.analyze_overdue")
    assert "public.churn" in overdue and "public.analyzed" not in overdue


def test_seq_scan_heavy(report: Report) -> None:
    heavy = objects(report, "table.seq_scan_heavy")
    assert "public.scanned" in heavy and "public.keyed" not in heavy


def test_bloat_estimated_from_statistics(report: Report) -> None:
    (table,) = found(report, "table.bloat", "public.bloated")
    assert 60 <= table.evidence["bloat_pct"] <= 95
    assert table.evidence["confidence"] == 1  # medium: estimated
    assert "public.packed" not in objects(report, "table.bloat")
    index = objects(report, "index.bloat")
    assert "public.bloated_pkey" in index and "public.packed_pkey" not in index


def test_bloat_measured_with_pgstattuple(
    module_db: str, module_conn: psycopg.Connection[Any]
) -> None:
    module_conn.execute("create extension if not exists pgstattuple")
    try:
        with warden_for(module_db, TOML) as warden:
            report = warden.monitor.doctor(["table.bloat", "index.bloat"])
    finally:
        module_conn.execute("drop extension pgstattuple")
    (table,) = found(report, "table.bloat", "public.bloated")
    assert table.evidence["confidence"] == 2  # measured
    assert "public.packed" not in objects(report, "table.bloat")
    index = objects(report, "index.bloat")
    assert "public.bloated_pkey" in index and "public.packed_pkey" not in index


def test_stale_statistics_are_not_read_as_bloat(
    module_db: str, module_conn: psycopg.Connection[Any]
) -> None:
    """The anchor's failure: stale statistics estimated as 80 points of bloat. A table whose
    statistics are stale is not judged (a notice says so) rather than guessed."""
    _run(
        module_conn,
        """
create table stale (id int primary key, pad text) with (autovacuum_enabled = false);
insert into stale select g, repeat('z', 60) from generate_series(1, 500) g""",
    )
    _run(module_conn, "analyze stale")
    _run(
        module_conn,
        "insert into stale select g, repeat('z', 60) from generate_series(501, 20000) g",
    )
    with warden_for(module_db, TOML) as warden:
        report = warden.monitor.doctor(["table.bloat"])
    assert "public.stale" not in objects(report, "table.bloat")
    assert any(n.check == "table.bloat" and "stale" in n.reason for n in report.notices)
