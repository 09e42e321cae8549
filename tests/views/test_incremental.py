"""Incremental views: kept from audit's change feed, always equal to a full recomputation.

The property test runs random DML (inserts, updates that move rows between groups, NULL
group keys, deletes of a group's extreme, TRUNCATE) with transactions held open across
refreshes, for trigger capture (both servers) and WAL capture; the fault test kills a pass
midway; the plan says of each view whether it qualifies, and why not.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.audit._support import needs_logical_wal

from pgwarden import FeatureNotApplicable, Warden
from pgwarden.features.materialized_views import _deltas
from pgwarden.spec import parse_spec

QUERY = (
    "select s.shop, s.day, count(*) as n, count(s.price) as priced, sum(s.amount) as total, "
    "min(s.amount) as lo, max(s.price) as hi from sales s where s.amount <> 13 "
    "group by s.shop, s.day"
)


def _spec(capture: str = "trigger", query: str = QUERY, incremental: bool = True) -> str:
    # A long lock_timeout: the fault test holds a pass on a row lock until it kills it.
    return f"""
[database]
lock_timeout = "120s"

[tables."public.sales"]
audit = {{ capture = "{capture}" }}

[materialized_views."public.by_shop"]
query = "{query}"
refresh = "1 min"
incremental = {str(incremental).lower()}
"""


def _table(conn: psycopg.Connection[Any]) -> None:
    conn.execute(
        "create table sales (id int primary key, shop int, day date, amount int not null,"
        " price numeric)"
    )
    conn.execute("create index on sales (shop, day)")
    conn.execute(
        "insert into sales select g, g % 4, date '2026-03-01' + g % 2, g % 17, g * 1.25"
        " from generate_series(1, 40) g"
    )


def _same(conn: psycopg.Connection[Any]) -> None:
    got = conn.execute("select * from by_shop order by 1, 2").fetchall()
    want = conn.execute(f"select * from ({QUERY}) q order by 1, 2").fetchall()
    assert got == want


@pytest.fixture
def built(db_url: str) -> Iterator[tuple[Warden, psycopg.Connection[Any]]]:
    with psycopg.connect(db_url, autocommit=True) as conn:
        _table(conn)
        warden = Warden(db_url, spec=parse_spec(_spec(), file="pgwarden.toml"))
        warden.apply()
        yield warden, conn
        warden.close()


_FRESH = itertools.count(100_000)
# One step of the workload: (kind, row id, shop, day offset, amount, price).
_SHOPS = st.one_of(st.none(), st.integers(0, 4))
_STEP = st.tuples(
    st.sampled_from(["insert", "move", "amount", "price", "delete", "open", "close", "refresh"]),
    st.integers(1, 60),
    _SHOPS,
    st.integers(0, 2),
    st.integers(0, 20),
    st.one_of(st.none(), st.decimals(0, 100, places=2)),
)


def _run(warden: Warden, url: str, steps: list[tuple[Any, ...]], *, truncate: bool) -> None:
    """Apply ``steps``; ``open`` starts a transaction that writes and stays open (holding
    the feed back) until ``close`` or the end; ``refresh`` refreshes in the middle."""
    held: list[psycopg.Connection[Any]] = []
    with psycopg.connect(url, autocommit=True) as conn:
        for kind, row, shop, day, amount, price in steps:
            if kind == "refresh":
                warden.materialized_views.refresh("public.by_shop")
                continue
            if kind == "close":
                if held:
                    side = held.pop(0)
                    side.commit()
                    side.close()
                continue
            target = conn
            if kind == "open":
                # A transaction that writes a row nobody else touches (no lock to wait for)
                # and stays open: the feed stops below it; later ones commit past it.
                side = psycopg.connect(url)
                held.append(side)
                target, kind = side, "insert"
                row = next(_FRESH)
            day_value = f"2026-03-0{day + 1}"
            if kind == "insert":
                target.execute(
                    "insert into sales values (%s, %s, %s, %s, %s) on conflict (id) do update"
                    " set shop = excluded.shop, amount = excluded.amount",
                    (row, shop, day_value, amount, price),
                )
            elif kind == "move":
                target.execute(
                    "update sales set shop = %s, day = %s where id = %s", (shop, day_value, row)
                )
            elif kind == "amount":
                # The group's extreme goes up or down; sometimes out of the WHERE (13).
                target.execute("update sales set amount = %s where id = %s", (amount, row))
            elif kind == "price":
                target.execute("update sales set price = %s where id = %s", (price, row))
            else:
                # Deletes the row, or the current minimum of its group (a removed extreme).
                target.execute(
                    "delete from sales where id = (select id from sales where shop"
                    " is not distinct from %s order by amount, id limit 1)"
                    if row % 2
                    else "delete from sales where id = %s",
                    (shop,) if row % 2 else (row,),
                )
        for side in held:
            side.commit()
            side.close()
        if truncate:
            conn.execute("truncate sales")
            conn.execute("insert into sales values (1, 1, '2026-03-01', 5, 1.5)")
        _caught_up(warden, conn)
        _same(conn)


def _caught_up(
    warden: Warden,
    conn: psycopg.Connection[Any],
    view: str = "public.by_shop",
    table: str = "public.sales",
) -> int:
    """Refresh until the view's position is past every event of the table. On a shared
    server a pass may stop short: the feed's horizon stays below a transaction of another
    database that committed while it was being computed (it is never passed too early).
    Returns the events applied."""
    deadline = time.monotonic() + 60
    applied = 0
    while True:
        applied += warden.materialized_views.refresh(view).events or 0
        behind = conn.execute(
            "select count(*) from warden.audit_events_all e, warden.view_feeds f"
            " where f.view_name = %s and e.table_id = warden.audit_table_id(%s) and"
            " (e.txid > f.after_txid or (e.txid = f.after_txid and e.event_id > f.after_event))",
            (view, table),
        ).fetchone()
        if behind == (0,):
            return applied
        assert time.monotonic() < deadline, f"{behind} events never applied"
        time.sleep(0.1)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(_STEP, max_size=25), truncate=st.booleans())
def test_incremental_equals_full_refresh_after_random_dml(
    built: tuple[Warden, psycopg.Connection[Any]], steps: list[tuple[Any, ...]], truncate: bool
) -> None:
    warden, conn = built
    _run(warden, conn.info.dsn, steps, truncate=truncate)


def test_wal_capture_feeds_the_view(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        needs_logical_wal(conn)
        _table(conn)
        with Warden(db_url, spec=parse_spec(_spec("wal"), file="pgwarden.toml")) as warden:
            warden.apply()
            _same(conn)
            steps = [
                ("move", 3, None, 1, 0, None),
                ("open", 5, 2, 0, 9, None),
                ("delete", 7, 3, 0, 0, None),
                ("refresh", 0, None, 0, 0, None),
                ("amount", 8, 1, 0, 13, None),
                ("price", 9, 1, 0, 0, 7),
                ("insert", 50, None, 2, 1, None),
                ("delete", 12, None, 0, 0, None),
            ]
            _run(warden, db_url, steps, truncate=False)
            done = warden.materialized_views.refresh("public.by_shop")
            assert done.incremental and done.events == 0  # caught up: nothing left


def test_a_pass_killed_midway_applies_nothing(
    built: tuple[Warden, psycopg.Connection[Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two transactions, two batches: the pass applies the first, waits on a row of the
    second's group, and its backend is killed: nothing of it stays, the position is where it
    was, and the next pass applies both exactly once."""
    warden, conn = built
    monkeypatch.setattr(_deltas, "BATCH", 1)
    backing = "warden.public_by_shop__ivm"
    conn.execute("update sales set amount = amount + 1 where id = 4")  # shop 0
    conn.execute("update sales set amount = amount + 1 where id = 1")  # shop 1
    before = conn.execute(f"select * from {backing} order by __key").fetchall()
    position = conn.execute("select after_txid, after_event from warden.view_feeds").fetchone()
    blocker = psycopg.connect(conn.info.dsn)
    blocker.execute(f"select 1 from {backing} where shop = 1 and day = '2026-03-02' for update")
    failed: list[BaseException] = []

    def refresh() -> None:
        try:
            warden.materialized_views.refresh("public.by_shop")
        except BaseException as exc:
            failed.append(exc)

    thread = threading.Thread(target=refresh)
    thread.start()
    pid = None
    while pid is None and thread.is_alive():
        row = conn.execute(
            "select pid from pg_stat_activity where datname = current_database()"
            " and wait_event_type = 'Lock'"
            " and query like 'WITH ev AS%%'"
        ).fetchone()
        pid = row[0] if row else None
    assert pid is not None, "the pass never waited on the second group"
    # The second refresh of the same view is skipped, not queued behind the first.
    assert warden.materialized_views.refresh("public.by_shop").skipped
    conn.execute("select pg_terminate_backend(%s)", (pid,))
    thread.join()
    blocker.close()
    assert failed, "the killed pass should fail"
    assert conn.execute(f"select * from {backing} order by __key").fetchall() == before
    assert (
        conn.execute("select after_txid, after_event from warden.view_feeds").fetchone() == position
    )
    assert _caught_up(warden, conn) == 2  # both, once
    _same(conn)


def test_full_refresh_and_log(built: tuple[Warden, psycopg.Connection[Any]]) -> None:
    warden, conn = built
    conn.execute("delete from sales where shop = 2")
    done = warden.materialized_views.refresh("public.by_shop", full=True)
    assert done.incremental and done.events is None
    _same(conn)
    assert warden.materialized_views.refresh("public.by_shop").events == 0
    logged = conn.execute(
        "select incremental, events from warden.view_refreshes order by refresh_id"
    ).fetchall()
    assert logged == [(True, None), (True, 0)]


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("select shop, avg(amount) as a from sales group by shop", "expression over aggregates"),
        (
            "select s.shop, count(*) as n from sales s join sales t using (id) group by s.shop",
            "more than one table",
        ),
        ("select shop, count(*) as n from sales where day > now() group by shop", "clock"),
        ("select shop, count(*) as n from sales where random() < 1 group by shop", "volatile"),
        ("select shop, count(distinct day) as n from sales group by shop", "DISTINCT"),
        ("select shop, count(*) as n from sales group by shop having count(*) > 1", "HAVING"),
        ("select count(*) as n from sales", "no GROUP BY"),
        ("select shop, sum(amount::float8) as f from sales group by shop", "floating-point"),
        ("select shop, count(*) as n from (select * from sales) q group by shop", "subquery"),
    ],
)
def test_the_plan_says_why_a_view_is_not_incremental(db_url: str, query: str, reason: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        _table(conn)
    text = _spec(query=query, incremental=False)
    with Warden(db_url, spec=parse_spec(text, file="pgwarden.toml")) as warden:
        line = next(c.description for c in warden.plan().changes if "by_shop" in c.description)
        assert "not incremental" in line and reason in line, line
    strict = _spec(query=query, incremental=True)
    with (
        Warden(db_url, spec=parse_spec(strict, file="pgwarden.toml")) as warden,
        pytest.raises(FeatureNotApplicable, match=reason),
    ):
        warden.plan()


def test_a_view_over_a_table_without_audit_is_not_incremental(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        _table(conn)
    text = _spec().split("[materialized_views", 1)[1]
    with (
        Warden(db_url, spec=parse_spec("[materialized_views" + text, file="t.toml")) as w,
        pytest.raises(FeatureNotApplicable, match="not audited"),
    ):
        w.plan()
    plain = _spec(incremental=False)
    with Warden(db_url, spec=parse_spec(plain, file="pgwarden.toml")) as warden:
        line = next(c.description for c in warden.plan().changes if "by_shop" in c.description)
        assert "could be incremental = true" in line


def test_switching_to_incremental_and_back(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        _table(conn)
        triggers = set()
        for incremental in (False, True, False):
            text = _spec(incremental=incremental)
            with Warden(db_url, spec=parse_spec(text, file="pgwarden.toml")) as warden:
                warden.apply()
                assert warden.plan().changes == ()
            _same(conn)
            names = conn.execute(
                "select string_agg(tgname, ',' order by tgname) from pg_trigger"
                " where tgrelid = 'sales'::regclass"
            ).fetchone()
            triggers.add(names)
        assert len(triggers) == 1  # writers run audit's triggers, and nothing for the view
        assert conn.execute("select to_regclass('warden.public_by_shop__ivm')").fetchone() == (
            None,
        )
        assert conn.execute("select count(*) from warden.view_feeds").fetchone() == (0,)


def test_the_documented_daily_task_summary_is_incremental(db_url: str) -> None:
    """docs/materialized-views.md's example, as written there, in a zone with DST."""
    query = (
        "select t.user_id, date_trunc('day', t.completed_at)::date as day, count(*) as completed,"
        " sum(t.estimated_minutes) as minutes from tasks t where t.completed_at is not null"
        " group by 1, 2"
    )
    text = f"""
[tables."public.tasks"]
audit = true

[materialized_views."public.daily_task_summary"]
query = "{query}"
incremental = true
refresh = "1 min"
timezone = "Europe/Paris"
"""
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "create table tasks (id int primary key, user_id int, completed_at timestamptz,"
            " estimated_minutes int)"
        )
        conn.execute(
            "insert into tasks select g, g % 3, timestamptz '2026-03-28 20:00Z' + g * interval"
            " '1 hour', g % 50 from generate_series(1, 60) g"
        )
        with Warden(db_url, spec=parse_spec(text, file="pgwarden.toml")) as warden:
            warden.apply()
            conn.execute("update tasks set completed_at = null where id % 7 = 0")
            conn.execute("update tasks set user_id = 9, completed_at = completed_at + interval"
                         " '1 day' where id % 5 = 0")  # fmt: skip
            conn.execute("delete from tasks where id % 11 = 0")
            assert _caught_up(warden, conn, "public.daily_task_summary", "public.tasks") > 0
        conn.execute("set timezone = 'Europe/Paris'")
        got = conn.execute("select * from daily_task_summary order by 1, 2").fetchall()
        assert got == conn.execute(f"select * from ({query}) q order by 1, 2").fetchall()
        conn.execute("set timezone = 'UTC'")  # another session's zone changes nothing stored
        assert conn.execute("select * from daily_task_summary order by 1, 2").fetchall() == got


def test_drift_is_repaired(built: tuple[Warden, psycopg.Connection[Any]]) -> None:
    warden, conn = built
    conn.execute("update sales set amount = 0 where id = 3")
    conn.execute("drop index warden.public_by_shop__ivm_todo")  # an index of the table
    conn.execute("drop view by_shop")  # and the view itself
    plan = warden.plan()
    assert [c.action for c in plan.changes] == ["repair"], plan.changes
    warden.apply()
    assert warden.plan().changes == ()
    _same(conn)
    conn.execute("drop index warden.public_by_shop__ivm_todo")
    assert [c.action for c in warden.plan().changes] == ["repair"]
    warden.apply()  # built beside and swapped, with the view read meanwhile
    assert warden.plan().changes == ()
    conn.execute("update sales set shop = 3 where id = 5")
    _caught_up(warden, conn)
    _same(conn)


def test_a_large_backlog_is_computed_whole(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        _table(conn)
        conn.execute(
            "insert into sales select g, g % 40, date '2026-03-01' + g % 3, g % 17, null"
            " from generate_series(100, 60099) g"
        )
        conn.execute("analyze sales")
        with Warden(db_url, spec=parse_spec(_spec(), file="pgwarden.toml")) as warden:
            warden.apply()
            conn.execute("update sales set amount = amount + 1 where id % 20 = 0")  # 5 %
            whole = warden.materialized_views.refresh("public.by_shop")
            assert whole.incremental and whole.events is None  # > 2 % of the rows: whole
            _same(conn)
            conn.execute("update sales set shop = 1 where id % 1000 = 0")  # 0.1 %
            assert _caught_up(warden, conn) == 60
            _same(conn)
