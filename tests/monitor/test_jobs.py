"""The monitor's jobs run by ``maintain`` / the worker: snapshots into daily partitions
dropped past retention, and the opt-in VACUUM and REINDEX jobs."""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg
from tests.monitor.conftest import objects, warden_for


def _partitions(conn: psycopg.Connection[Any]) -> list[str]:
    rows = conn.execute(
        "select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid "
        "where i.inhparent = 'warden.monitor_tables'::regclass order by 1"
    ).fetchall()
    return [r[0] for r in rows]


def test_jobs_are_declared_by_the_section(module_db: str) -> None:
    with warden_for(module_db) as warden:
        assert not [r for r in warden.maintain(dry_run=True) if r.feature == "monitor"]
    with warden_for(module_db, "[monitor]\nvacuum = true\nreindex = true\n") as warden:
        names = {r.job for r in warden.maintain(dry_run=True) if r.feature == "monitor"}
    assert names == {"monitor-snapshot", "monitor-vacuum", "monitor-reindex"}


def test_snapshots_partitioned_by_day_with_retention(
    module_db: str, module_conn: psycopg.Connection[Any]
) -> None:
    module_conn.execute("create table hist (id int primary key)")
    now = dt.datetime.now(dt.UTC)

    def write(value: int) -> None:
        module_conn.execute("insert into hist values (%s)", (value,))
        module_conn.execute("select pg_stat_force_next_flush()")
        module_conn.execute("select 1")

    with warden_for(module_db, '[monitor]\nretention = "3 days"\n') as warden:
        write(1)
        warden.maintain(names=["monitor-snapshot"], now=now - dt.timedelta(days=10))
        old = _partitions(module_conn)
        # Idle since: the next snapshot stores no row for it (history grows with activity).
        warden.maintain(names=["monitor-snapshot"], now=now - dt.timedelta(days=9, hours=23))
        write(2)
        warden.maintain(names=["monitor-snapshot"], now=now)
    parts = _partitions(module_conn)
    assert old and not set(old) & set(parts)  # the day 10 days ago is gone
    assert len(parts) <= 3 + 2  # retention days + today and tomorrow made ahead
    rows = module_conn.execute(
        "select taken_at, inserted from warden.monitor_tables where name = 'public.hist'"
    ).fetchall()
    assert [r[1] for r in rows] == [1]  # the delta of the last one; the old day is dropped


def test_vacuum_and_reindex_jobs(module_db: str, module_conn: psycopg.Connection[Any]) -> None:
    module_conn.execute(
        "create table churned (id int primary key, pad text) with (autovacuum_enabled = false)"
    )
    module_conn.execute(
        "insert into churned select g, repeat('x', 60) from generate_series(1, 20000) g"
    )
    module_conn.execute("analyze churned")
    module_conn.execute("delete from churned where id % 5 <> 0")
    module_conn.execute("select pg_stat_force_next_flush()")
    module_conn.execute("select 1")
    toml = '[monitor]\nvacuum = true\nreindex = true\nmin_bloat_size = "100 kB"\n'
    with warden_for(module_db, toml) as warden:
        before = warden.monitor.doctor(["table.vacuum_overdue"])
        assert "public.churned" in objects(before, "table.vacuum_overdue")
        (vacuumed,) = warden.maintain(names=["monitor-vacuum"])
        assert vacuumed.rows >= 1
        after = warden.monitor.doctor(["table.vacuum_overdue", "table.dead_tuples", "index.bloat"])
        assert "public.churned" not in objects(after, "table.vacuum_overdue")
        assert "public.churned_pkey" in objects(after, "index.bloat")
        (rebuilt,) = warden.maintain(names=["monitor-reindex"])
        assert rebuilt.rows >= 1
        final = warden.monitor.doctor(["index.bloat", "index.invalid"])
    assert "public.churned_pkey" not in objects(final, "index.bloat")
    assert not objects(final, "index.invalid")  # no _ccnew leftover
