"""Premake and retention on a clock the test controls; the plan never touches children."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import psycopg

from pgwarden import Warden

UTC = dt.UTC
EVENTS = """create table events (id bigint generated always as identity, at timestamptz not null,
    v int, primary key (id, at)) partition by range (at)"""


def _parts(conn: psycopg.Connection[Any], parent: str = "events") -> list[str]:
    rows = conn.execute(
        "select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid "
        "where i.inhparent = %s::regclass order by 1",
        (parent,),
    ).fetchall()
    return [r[0] for r in rows]


def _spec(**options: str) -> str:
    body = ", ".join(f"{k} = {v}" for k, v in options.items())
    return f'[tables."public.events"]\npartition = {{ {body} }}\n'


def test_premake_then_retention_drop(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute(EVENTS)
    warden = make_warden(
        _spec(
            column='"at"',
            interval='"1 month"',
            premake="2",
            retention='"3 months"',
            retention_mode='"drop"',
        )
    )
    warden.apply()
    assert _parts(conn) == ["events__default"]

    results = warden.maintain(now=dt.datetime(2026, 1, 15, tzinfo=UTC))
    assert {(r.job, r.rows) for r in results} >= {("partition-premake", 3)}
    assert _parts(conn) == ["events__default", "events__p202601", "events__p202602",
                            "events__p202603"]  # fmt: skip
    assert warden.plan().empty  # children are maintenance's, not the ledger's

    again = warden.maintain(now=dt.datetime(2026, 1, 20, tzinfo=UTC))
    assert [r.rows for r in again if r.job == "partition-premake"] == [0]

    conn.execute("insert into events (at, v) select '2026-01-01'::timestamptz + g * interval '1 day', g"
                 " from generate_series(0, 80) g")  # fmt: skip
    warden.maintain(now=dt.datetime(2026, 6, 10, tzinfo=UTC))
    # Cut-off 2026-03-10: January and February are whole months older than that. Premake
    # makes June to August; April and May stay a gap (their rows would go to the default).
    assert _parts(conn) == ["events__default", "events__p202603", "events__p202606",
                            "events__p202607", "events__p202608"]  # fmt: skip
    assert conn.execute("select min(at) from events").fetchone() == (
        dt.datetime(2026, 3, 1, tzinfo=UTC),
    )
    assert conn.execute("select count(*) from events__default").fetchone() == (0,)
    assert conn.execute(
        "select mode, done_at is not null from warden.partition_detached order by 1"
    ).fetchall() == [("drop", True), ("drop", True)]


def test_detach_keeps_table_and_integer_ranges(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute("create table nums (n int not null, v text) partition by range (n)")
    warden = make_warden(
        '[tables."public.nums"]\npartition = { column = "n", interval = 100, premake = 1 }\n'
    )
    warden.apply()
    warden.maintain(now=dt.datetime(2026, 1, 1, tzinfo=UTC))
    assert _parts(conn, "nums") == ["nums__default", "nums__p0", "nums__p100"]
    conn.execute("insert into nums select g, 'x' from generate_series(0, 199) g")
    warden.maintain(now=dt.datetime(2026, 1, 1, tzinfo=UTC))
    assert _parts(conn, "nums") == ["nums__default", "nums__p0", "nums__p100", "nums__p200"]


def test_daily_detach_mode(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute(EVENTS)
    warden = make_warden(
        _spec(column='"at"', interval='"1 day"', premake="1", retention='"2 days"')
    )
    warden.apply()
    warden.maintain(now=dt.datetime(2026, 3, 1, 12, tzinfo=UTC))
    warden.maintain(now=dt.datetime(2026, 3, 5, 12, tzinfo=UTC))
    # Detached partitions stay as plain tables.
    assert "events__p20260301" not in _parts(conn)
    kept = conn.execute("select to_regclass('events__p20260301') is not null").fetchone()
    assert kept == (True,)
    assert "events__p20260305" in _parts(conn) and "events__p20260306" in _parts(conn)
