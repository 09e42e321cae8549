"""Declared views against a real server: the SQL pgwarden plans for a view, refreshed while
readers read, rebuilt beside and swapped, refreshes logged, never overlapping."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from pgwarden import FeatureNotApplicable, MaintenanceError, Warden
from pgwarden._names import QualifiedName
from pgwarden.catalog import read_catalog
from pgwarden.engine import ObjectRef, register_kind
from pgwarden.engine._objects import live_fingerprint
from pgwarden.features.materialized_views import ViewSpec, _Probe, jobs, staleness
from pgwarden.features.materialized_views._objects import MATERIALIZED_VIEW, view_object
from pgwarden.features.materialized_views._refresh import REFRESH_LOCK, refresh
from pgwarden.maintenance import run_jobs
from pgwarden.spec import parse_spec

NAME = QualifiedName("public", "totals")
GATE = 4242

_SETUP = f"""
create table sales (id bigint primary key, shop int not null, amount int not null);
insert into sales select g, g % 10, g % 7 from generate_series(1, 1000) g;
-- Holds a refresh inside its query while the test holds advisory lock {GATE}.
create function gate() returns boolean language plpgsql as
  $$ begin perform pg_advisory_xact_lock_shared({GATE}); return true; end $$;
"""
_QUERY = "select shop, sum(amount) as total, count(*) as n from sales where gate() group by shop"


def _view(**kw: Any) -> ViewSpec:
    return ViewSpec(query=_QUERY, refresh="5 min", **kw)  # type: ignore[arg-type]


def _build(conn: psycopg.Connection[Any], view: ViewSpec, query: str = _QUERY) -> None:
    conn.execute(view_object(NAME, query, view).create)


def _waiting_on_gate(conn: psycopg.Connection[Any], thread: threading.Thread) -> None:
    # Until the other session is blocked on the gate (its refresh is under way).
    while (
        thread.is_alive()
        and not conn.execute(
            "select exists (select 1 from pg_locks where locktype = 'advisory'"
            " and objid = %s and not granted)",
            (GATE,),
        ).fetchone()[0]
    ):  # type: ignore[index]
        conn.execute("select pg_sleep(0.02)")
    assert thread.is_alive(), "the refresh ended before reaching the gate"


@pytest.fixture
def gate(db_url: str) -> Iterator[Callable[[], None]]:
    """Closes the gate (refreshes wait inside their query) until the returned call opens it."""
    holder = psycopg.connect(db_url, autocommit=True)
    holder.execute("select pg_advisory_lock(%s)", (GATE,))
    opened = False

    def open_gate() -> None:
        nonlocal opened
        if not opened:
            holder.execute("select pg_advisory_unlock(%s)", (GATE,))
            opened = True

    yield open_gate
    open_gate()
    holder.close()


def _reader(db_url: str) -> psycopg.Connection[Any]:
    reader = psycopg.connect(db_url, autocommit=True)
    reader.execute("set lock_timeout = '200ms'")
    return reader


@pytest.mark.parametrize("concurrent", [True, False])
def test_readers_during_refresh(
    conn: psycopg.Connection[Any], db_url: str, concurrent: bool, gate: Callable[[], None]
) -> None:
    conn.execute(_SETUP)
    gate()  # open while building
    view = _view(unique_key=("shop",)) if concurrent else _view()
    _build(conn, view)
    conn.execute("select pg_advisory_lock(%s)", (GATE,))  # closed again, by this session
    conn.execute("update sales set amount = amount + 1 where shop = 3")
    done: list[Any] = []
    with psycopg.connect(db_url, autocommit=True) as worker:
        thread = threading.Thread(
            target=lambda: done.append(
                refresh(worker, NAME, view, now=dt.datetime.now(dt.UTC), lock_timeout_ms=5000)
            )
        )
        thread.start()
        _waiting_on_gate(conn, thread)
        with _reader(db_url) as reader:
            if concurrent:
                # CONCURRENTLY takes EXCLUSIVE: readers read the old rows meanwhile.
                rows = reader.execute("select count(*) from totals").fetchone()
                assert rows == (10,)
            else:
                with pytest.raises(psycopg.errors.LockNotAvailable):
                    reader.execute("select count(*) from totals")
        conn.execute("select pg_advisory_unlock(%s)", (GATE,))
        thread.join()
    [result] = done
    assert (result.concurrently, result.rows) == (concurrent, 10)
    new = conn.execute("select total from totals where shop = 3").fetchone()
    assert new == conn.execute("select sum(amount) from sales where shop = 3").fetchone()


def test_changed_query_built_beside_and_swapped_with_readers(
    conn: psycopg.Connection[Any], db_url: str, gate: Callable[[], None]
) -> None:
    conn.execute(_SETUP)
    gate()
    view = _view(unique_key=("shop",), indexes=(("total",),))
    _build(conn, view)
    conn.execute("select pg_advisory_lock(%s)", (GATE,))
    changed = _QUERY.replace("sum(amount)", "sum(amount) * 2")
    obj = view_object(NAME, changed, view)
    assert obj.alter is not None
    failures: list[BaseException] = []

    def rebuild() -> None:
        try:
            with psycopg.connect(db_url) as applier, applier.transaction():
                applier.execute("set local lock_timeout = '5s'")
                applier.execute(obj.alter)  # type: ignore[arg-type]
        except BaseException as exc:
            failures.append(exc)

    thread = threading.Thread(target=rebuild)
    thread.start()
    _waiting_on_gate(conn, thread)
    with _reader(db_url) as reader:  # the old view is read while the new one is built
        assert reader.execute("select count(*) from totals").fetchone() == (10,)
    conn.execute("select pg_advisory_unlock(%s)", (GATE,))
    thread.join()
    assert not failures, failures
    doubled = conn.execute("select total from totals where shop = 3").fetchone()
    assert doubled == conn.execute("select sum(amount) * 2 from sales where shop = 3").fetchone()
    # Exactly what a fresh build of the new definition gives: indexes and names included.
    register_kind(MATERIALIZED_VIEW)  # as planning does for the feature
    ref = ObjectRef("materialized_view", "public", "totals")
    swapped = live_fingerprint(conn, ref)
    conn.execute(obj.drop)
    conn.execute(obj.create)
    assert live_fingerprint(conn, ref) == swapped
    leftovers = conn.execute("select relname from pg_class where relname like '%pgwarden_new%'")
    assert leftovers.fetchall() == []


def test_refresh_job_logs_keeps_retention_and_never_overlaps(
    conn: psycopg.Connection[Any], db_url: str
) -> None:
    conn.execute(_SETUP)
    spec = parse_spec(
        f'[materialized_views."public.totals"]\nquery = "{_QUERY}"\nunique_key = ["shop"]\n'
        'refresh = "1h"\nkeep_log = "7 days"\nmax_staleness = "2h"\n'
    )
    view = _view(unique_key=("shop",))
    _build(conn, view)
    [job] = jobs(spec, read_catalog(conn))
    t0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    for hours in (0, 0.5, 1, 24 * 10):
        run_jobs(conn, spec, [job], now=t0 + dt.timedelta(hours=hours))
    log = conn.execute(
        "select started_at, rows, concurrent, ok from warden.view_refreshes order by 1"
    ).fetchall()
    # 0.5h was not due; the runs at 0h and 1h are past keep_log at day 10.
    assert log == [(t0 + dt.timedelta(days=10), 10, True, True)]
    [s] = staleness(conn, spec, now=t0 + dt.timedelta(days=10, hours=3))
    assert (s.stale, s.age_seconds) == (True, 3 * 3600.0)

    # Another refresh of the same view holds its lock: this one is skipped, not queued.
    with psycopg.connect(db_url, autocommit=True) as other:
        other.execute("select pg_advisory_lock(%s, hashtext(%s))", (REFRESH_LOCK, str(NAME)))
        skipped = refresh(conn, NAME, view, now=t0, lock_timeout_ms=100)
        assert skipped.skipped == "another refresh is running"
        # Released now, not at the server's own pace after the disconnect.
        other.execute("select pg_advisory_unlock(%s, hashtext(%s))", (REFRESH_LOCK, str(NAME)))

    # A failing refresh is recorded as failed, and raised.
    conn.execute("drop function gate() cascade")
    with pytest.raises(MaintenanceError, match=r"refresh of public\.totals failed"):
        refresh(conn, NAME, view, now=t0 + dt.timedelta(days=11), lock_timeout_ms=100)
    assert conn.execute(
        "select ok from warden.view_refreshes order by started_at desc limit 1"
    ).fetchone() == (False,)


def test_a_view_of_that_name_made_by_hand_is_refused_by_name(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute(_SETUP)
    _build(conn, _view())  # by hand: not pgwarden's to replace
    warden = make_warden(
        f'[materialized_views."public.totals"]\nquery = "{_QUERY}"\nrefresh = "1h"\n'
    )
    with pytest.raises(FeatureNotApplicable, match=r"^public\.totals: materialized_views cannot"):
        warden.plan()


def test_declared_query_is_one_statement(conn: psycopg.Connection[Any]) -> None:
    conn.execute(_SETUP)
    probe = _Probe(conn)
    assert probe.columns(NAME, _QUERY) == ["shop", "total", "n"]
    with pytest.raises(FeatureNotApplicable, match="query fails"):
        probe.columns(NAME, "select 1; drop table sales")
    assert conn.execute("select to_regclass('sales') is not null").fetchone() == (True,)


def _log(conn: psycopg.Connection[Any]) -> list[dt.datetime]:
    rows = conn.execute("select started_at from warden.view_refreshes order by 1").fetchall()
    return [r[0] for r in rows]


def test_maintain_refreshes_in_the_local_window_across_both_dst_changes(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    """``maintain`` with a controlled clock: a nightly window of 01:00-02:00 Paris time runs
    once a night, at 00:xx UTC in winter and 23:xx UTC in summer, on both sides of the spring
    (2026-03-29) and autumn (2026-10-25) changes."""
    conn.execute(_SETUP)
    warden = make_warden(
        f'[materialized_views."public.totals"]\nquery = "{_QUERY}"\nunique_key = ["shop"]\n'
        'window = "01:00-02:00"\ntimezone = "Europe/Paris"\nkeep_log = "400 days"\n'
    )
    warden.apply()
    ran = []
    for at in (
        "2026-03-28T00:30",  # 01:30 CET: inside, never refreshed
        "2026-03-28T00:45",  # same window: once per window
        "2026-03-28T01:30",  # 02:30 CET: outside
        "2026-03-29T00:10",  # 01:10 CET, 50 minutes before the spring change
        "2026-03-29T23:30",  # 01:30 CEST on the 30th: inside
        "2026-03-30T00:30",  # 02:30 CEST: outside (the UTC hour of the nights before)
        "2026-10-24T23:30",  # 01:30 CEST on the 25th, before the autumn change
        "2026-10-25T23:30",  # 00:30 CET on the 26th: outside (summer's UTC hour)
        "2026-10-26T00:30",  # 01:30 CET: inside
    ):
        now = dt.datetime.fromisoformat(at).replace(tzinfo=dt.UTC)
        [result] = warden.maintain(names=["view-refresh"], now=now)
        ran.append((at, "no view due" not in result.detail))
    assert [at for at, refreshed in ran if refreshed] == [
        "2026-03-28T00:30",
        "2026-03-29T00:10",
        "2026-03-29T23:30",
        "2026-10-24T23:30",
        "2026-10-26T00:30",
    ]
    assert [t.isoformat() for t in _log(conn)] == [
        "2026-03-28T00:30:00+00:00",
        "2026-03-29T00:10:00+00:00",
        "2026-03-29T23:30:00+00:00",
        "2026-10-24T23:30:00+00:00",
        "2026-10-26T00:30:00+00:00",
    ]


def test_a_changed_query_is_a_planned_rebuild_applied_while_readers_read(
    conn: psycopg.Connection[Any],
    db_url: str,
    make_warden: Callable[..., Warden],
    gate: Callable[[], None],
) -> None:
    """The declaration's query changes: the plan has one change for the view (built beside
    and swapped), apply runs it while a reader with a short lock_timeout reads the old rows."""
    conn.execute(_SETUP)
    gate()
    decl = (
        '[materialized_views."public.totals"]\nquery = "{}"\nunique_key = ["shop"]\n'
        'refresh = "1h"\n'
    )
    make_warden(decl.format(_QUERY)).apply()
    changed = make_warden(decl.format(_QUERY.replace("sum(amount)", "sum(amount) * 2")))
    plan = changed.plan()
    [change] = plan.changes
    assert (change.feature, change.action) == ("materialized_views", "replace")
    assert "__pgwarden_new" in change.sql and "RENAME" in change.sql
    conn.execute("select pg_advisory_lock(%s)", (GATE,))  # the new build waits at the gate
    failures: list[BaseException] = []

    def apply() -> None:
        try:
            changed.apply()
        except BaseException as exc:
            failures.append(exc)

    thread = threading.Thread(target=apply)
    thread.start()
    _waiting_on_gate(conn, thread)
    with _reader(db_url) as reader:  # the old view, read while the new one is built
        assert reader.execute("select count(*) from totals").fetchone() == (10,)
        old = reader.execute("select total from totals where shop = 3").fetchone()
    conn.execute("select pg_advisory_unlock(%s)", (GATE,))
    thread.join()
    assert not failures, failures
    new = conn.execute("select total from totals where shop = 3").fetchone()
    assert new is not None and old is not None and new[0] == 2 * old[0]
    assert changed.plan().empty
