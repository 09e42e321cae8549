"""Maintenance under traffic: inserts never fail; retention hands partitions to the archive."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from typing import Any

import psycopg

from pgwarden import Warden

UTC = dt.UTC


def test_inserts_never_fail_while_maintenance_runs(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden], db_url: str
) -> None:
    conn.execute(
        "create table events (id bigint generated always as identity, at timestamptz not null,"
        " v int, primary key (id, at)) partition by range (at)"
    )
    warden = make_warden(
        '[tables."public.events"]\npartition = { column = "at", interval = "1 day", premake = 3,'
        ' retention = "3 days", retention_mode = "drop" }\n'
    )
    warden.apply()
    days = [dt.datetime(2026, 7, 1, 12, tzinfo=UTC) + dt.timedelta(days=d) for d in range(12)]
    warden.maintain(now=days[0])
    current = [days[0]]
    stop, errors, written = threading.Event(), [], [0]

    def writer() -> None:
        try:
            with psycopg.connect(db_url, autocommit=True) as own:
                while not stop.is_set():
                    # Rows of "today" by the maintenance clock, and some for a day no
                    # partition holds yet (the default, then rescued).
                    own.execute(
                        "insert into events (at, v) values (%s, 1), (%s, 2)",
                        (current[0], current[0] + dt.timedelta(days=5)),
                    )
                    written[0] += 2
        except BaseException as exc:  # any failure fails the test
            errors.append(exc)

    threads = [threading.Thread(target=writer) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        for day in days[1:]:
            current[0] = day
            warden.maintain(now=day, batch=100)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert errors == []
    warden.maintain(now=days[-1])
    report = warden.partitions.report("public.events")[0]
    assert report.default_rows == 0
    assert report.layout is not None
    lows = sorted(p.low for p in report.layout.ranges)
    # Retention kept three days back; premake three days ahead (plus rescued days).
    assert lows[0] == dt.datetime(2026, 7, 9, tzinfo=UTC)
    assert dt.datetime(2026, 7, 15, tzinfo=UTC) in lows


def test_retention_archive_hands_partitions_to_the_archive(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute(
        "create table entries (id bigint, entry_date date not null, primary key (id, entry_date))"
        " partition by range (entry_date)"
    )
    warden = make_warden(
        '[tables."public.entries"]\n'
        'partition = { column = "entry_date", interval = "1 month", premake = 0,'
        ' retention = "2 months", retention_mode = "archive" }\n'
        'archive = { after = "10 years", column = "entry_date" }\n'
    )
    warden.apply()
    # Every job runs: the archive's own mover makes (empty) archive partitions for the
    # leaves it visits; retention's whole-partition hand-over replaces them.
    for month in (1, 2, 3, 4, 5):
        warden.maintain(now=dt.datetime(2026, month, 2, tzinfo=UTC))
        conn.execute(
            "insert into entries select g, make_date(2026, %s::int, 1 + g %% 20)"
            " from generate_series(%s::int, %s::int) g",
            (month, month * 100, month * 100 + 9),
        )
    warden.maintain(now=dt.datetime(2026, 5, 20, tzinfo=UTC))
    # January and February ended before March 20: both went to the archive, rows and all.
    assert conn.execute("select count(*) from entries").fetchone() == (30,)
    assert conn.execute("select min(entry_date) from entries").fetchone() == (dt.date(2026, 3, 1),)
    assert conn.execute("select count(*) from archive.entries").fetchone() == (20,)
    assert conn.execute(
        "select mode, rows from warden.partition_detached order by partition_name"
    ).fetchall() == [("archive", 10), ("archive", 10)]
    assert warden.plan().empty
