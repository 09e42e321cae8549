"""pgwarden's own event store is partitioned by month: made ahead, rescued, and kept to
retention by dropping whole months (the partition feature's jobs on the store)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import psycopg

from pgwarden import Warden

UTC = dt.UTC


def _parts(conn: psycopg.Connection[Any]) -> list[str]:
    return [
        r[0]
        for r in conn.execute(
            "select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid "
            "where i.inhparent = 'warden.audit_events'::regclass order by 1"
        )
    ]


def test_store_partitions_made_ahead_and_dropped_whole(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute("create table t (id int primary key, v int)")
    conn.execute("create table kept (id int primary key)")
    warden = make_warden(
        '[tables."public.t"]\naudit = { retention = "30 days" }\n'
        '[tables."public.kept"]\naudit = true\n'
    )
    warden.apply()
    assert conn.execute(
        "select relkind from pg_class where oid = 'warden.audit_events'::regclass"
    ).fetchone() == ("p",)
    assert {"audit_events__default", "audit_events__history"} <= set(_parts(conn))

    now = dt.datetime.now(UTC)
    warden.maintain(now=now)
    months = [p for p in _parts(conn) if p.startswith("audit_events__p")]
    assert len(months) >= 3  # current-or-next plus premade months
    assert warden.maintain(now=now, names=["audit-store-premake"])[0].rows == 0  # idempotent

    conn.execute("insert into t select g, 0 from generate_series(1, 20) g")
    conn.execute("update t set v = 1 where id <= 5")
    # Events land in their month; history and the feed read across partitions.
    assert [v.op for v in warden.audit.history("public.t", 3)] == ["insert", "update"]
    assert len(warden.audit.changes()) == 25

    # Four months on, every event of the history partition is past its 30 days: the whole
    # partition goes (no row-by-row delete) -- unless a table without retention has events
    # there, which keeps it.
    later = now + dt.timedelta(days=120)
    conn.execute("insert into kept values (1)")
    warden.maintain(now=later)
    assert "audit_events__history" in _parts(conn)  # 'kept' has no retention: it stays
    assert conn.execute("select count(*) from warden.audit_events").fetchone() == (1,)
    conn.execute("delete from warden.audit_events e using warden.audit_tables a "
                 "where a.table_id = e.table_id and a.table_name = 'kept'")  # fmt: skip
    result = warden.maintain(now=later, names=["audit-retention"])
    assert "whole months dropped" in result[0].detail
    assert "audit_events__history" not in _parts(conn)
    assert warden.plan().empty


def test_events_in_the_default_partition_are_rescued(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute("create table t (id int primary key)")
    warden = make_warden('[tables."public.t"]\naudit = true\n')
    warden.apply()
    conn.execute("insert into t values (1)")
    # An event far in the future (a clock gone wrong) lands in the default partition.
    conn.execute("update warden.audit_events set at = '2031-05-05'")
    assert conn.execute("select count(*) from warden.audit_events__default").fetchone() == (1,)
    moved = warden.maintain(names=["audit-store-rescue"])
    assert moved[0].rows == 1
    assert conn.execute("select count(*) from warden.audit_events__default").fetchone() == (0,)
    assert "audit_events__p203105" in _parts(conn)
    assert [v.op for v in warden.audit.history("public.t", 1)] == ["insert"]
