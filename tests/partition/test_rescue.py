"""Default-partition rescue: rows move out while other sessions keep inserting."""

from __future__ import annotations

import contextlib
import datetime as dt
import random
import threading
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import sql

from pgwarden import Warden

UTC = dt.UTC
SPEC = (
    '[tables."public.events"]\npartition = { column = "at", interval = "1 month", premake = 0 }\n'
)


def _setup(conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]) -> Warden:
    conn.execute(
        "create table events (id bigint generated always as identity, at timestamptz not null,"
        " v int, primary key (id, at)) partition by range (at)"
    )
    warden = make_warden(SPEC)
    warden.apply()
    return warden


def test_rescue_with_concurrent_inserts(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden], db_url: str
) -> None:
    warden = _setup(conn, make_warden)
    # Three months of rows no partition accepts yet: all in the default partition.
    conn.execute(
        "insert into events (at, v) select '2026-03-01'::timestamptz + (g % 90) * interval '1 day',"
        " g from generate_series(1, 3000) g"
    )
    assert warden.partitions.report("public.events")[0].default_rows == 3000
    stop = threading.Event()
    inserted: list[int] = []
    errors: list[BaseException] = []

    def writer(seed: int) -> None:
        rnd = random.Random(seed)
        try:
            with psycopg.connect(db_url, autocommit=True) as own:
                while not stop.is_set():
                    day = rnd.randrange(0, 120)
                    own.execute(
                        "insert into events (at, v) values "
                        "('2026-03-01'::timestamptz + %s * interval '1 day', -1)",
                        (day,),
                    )
                    inserted.append(1)
        except BaseException as exc:  # any failure fails the test
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    try:
        results = warden.maintain(now=dt.datetime(2026, 3, 15, tzinfo=UTC), batch=200)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert errors == []
    # premake takes March (its rows move in with it), rescue April and May.
    rescue = next(r for r in results if r.job == "partition-rescue")
    assert rescue.rows > 0
    # A second pass takes what landed in the default meanwhile.
    warden.maintain(now=dt.datetime(2026, 3, 15, tzinfo=UTC), batch=200)
    total = conn.execute("select count(*) from events").fetchone()
    assert total == (3000 + len(inserted),)
    assert conn.execute("select count(*) from events__default").fetchone() == (0,)
    assert conn.execute("select count(distinct id) from events").fetchone() == total
    names = {r.name.name for r in warden.partitions.report("public.events")[0].layout.parts}
    assert {"events__p202603", "events__p202604", "events__p202605", "events__p202606"} <= names


def test_rescued_rows_keep_audit_quiet_and_features_follow(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute(
        "create table events (id bigint, at timestamptz not null, v int, primary key (id, at))"
        " partition by range (at)"
    )
    # Roles are cluster-wide: one per test database.
    reader = "pgw_reader_" + conn.info.dbname[-12:]
    conn.execute(sql.SQL("create role {}").format(sql.Identifier(reader)))
    conn.execute(sql.SQL("grant select on events to {}").format(sql.Identifier(reader)))
    conn.execute("alter table events enable row level security")
    conn.execute("comment on table events is 'the events'")
    spec = SPEC.replace("premake = 0 }", "premake = 1 }") + "audit = true\n"
    warden = make_warden(spec)
    warden.apply()
    conn.execute("insert into events values (1, '2026-03-02', 1), (2, '2026-04-02', 2)")
    before = conn.execute("select count(*) from warden.audit_events").fetchone()
    warden.maintain(now=dt.datetime(2026, 3, 10, tzinfo=UTC))
    # Moving rows out of the default is not a change of the rows: audit records nothing.
    assert conn.execute("select count(*) from warden.audit_events").fetchone() == before
    part = "events__p202603"
    assert conn.execute(
        "select relrowsecurity, obj_description(oid, 'pg_class'),"
        " has_table_privilege(%s, oid, 'SELECT') from pg_class where relname = %s",
        (reader, part),
    ).fetchone() == (True, "the events", True)
    # audit's TRUNCATE trigger is on the new partitions, recorded in the ledger: nothing to plan.
    assert conn.execute(
        "select count(*) from pg_trigger where tgname = 'pgwarden_audit_t'"
        " and tgrelid = %s::regclass",
        (part,),
    ).fetchone() == (1,)
    assert warden.plan().empty
    conn.execute("update events set v = 5 where id = 1")
    assert conn.execute("select count(*) from warden.audit_events").fetchone() == (before[0] + 1,)


def test_list_partitions(conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]) -> None:
    conn.execute("create table orders (id int, region text not null) partition by list (region)")
    warden = make_warden(
        '[tables."public.orders"]\n'
        'partition = { column = "region", values = ["eu", ["us", "ca"], "ap-south"] }\n'
    )
    warden.apply()
    conn.execute("insert into orders values (1, 'eu'), (2, 'ca'), (3, 'mars')")
    warden.maintain()
    report = warden.partitions.report("orders")[0]
    by_name = {p.name.name: p for p in report.layout.parts}
    assert set(by_name) == {"orders__eu", "orders__us", "orders__v2", "orders__default"}
    assert set(by_name["orders__us"].values) == {"us", "ca"}
    assert report.default_rows == 1  # 'mars' is declared nowhere: it stays, and is reported
    assert conn.execute("select count(*) from orders__eu").fetchone() == (1,)
    assert conn.execute("select count(*) from orders__us").fetchone() == (1,)
    assert warden.plan().empty


def test_rescue_of_a_referenced_table_moves_in_one_transaction(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    # A foreign key points at the table: PostgreSQL checks referencing rows when a partition
    # is detached, so the default is not split by copy; its rows move in one transaction,
    # without firing the ON DELETE CASCADE of the DELETE half.
    warden = _setup(conn, make_warden)
    conn.execute(
        "insert into events (at, v) select '2026-05-01'::timestamptz + g * interval '1 hour', g"
        " from generate_series(1, 500) g"
    )
    conn.execute(
        "create table marks (event_id bigint, event_at timestamptz,"
        " foreign key (event_id, event_at) references events on delete cascade)"
    )
    conn.execute("insert into marks select id, at from events")
    warden.maintain(now=dt.datetime(2026, 3, 15, tzinfo=UTC))
    assert conn.execute("select count(*) from events__default").fetchone() == (0,)
    assert conn.execute("select count(*) from events__p202605").fetchone() == (500,)
    assert conn.execute("select count(*) from marks").fetchone() == (500,)


def test_a_split_interrupted_midway_is_started_again(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden], monkeypatch: Any
) -> None:
    from pgwarden.features.partition import _split

    warden = _setup(conn, make_warden)
    conn.execute(
        "insert into events (at, v) select '2026-05-01'::timestamptz + g * interval '1 hour', g"
        " from generate_series(1, 900) g"
    )
    real_copy = _split._Split.copy

    def crash(self: Any, pieces: Any, progress: Any) -> int:
        def dies(done: int) -> None:
            raise KeyboardInterrupt  # the process dies after its first batch

        return real_copy(self, pieces, dies)

    monkeypatch.setattr(_split._Split, "copy", crash)
    with contextlib.suppress(KeyboardInterrupt):
        warden.maintain(now=dt.datetime(2026, 3, 15, tzinfo=UTC), batch=100)
    assert conn.execute("select to_regclass('warden.public_events__split')").fetchone() != (None,)
    monkeypatch.setattr(_split._Split, "copy", real_copy)
    warden.maintain(now=dt.datetime(2026, 3, 15, tzinfo=UTC))
    assert conn.execute("select count(*), count(distinct id) from events").fetchone() == (900, 900)
    assert conn.execute("select count(*) from events__default").fetchone() == (0,)
    assert conn.execute("select to_regclass('warden.public_events__split')").fetchone() == (None,)
    assert conn.execute("select to_regclass('events__pgw_default')").fetchone() == (None,)
