"""``archive_after``: old events move from the hot store to warden.audit_events_archive in
the ``audit-archive`` job, exactly once each, and every read sees them where they were."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from pgwarden import Warden
from pgwarden.errors import MaintenanceError, SpecError

from ._support import applied, rows

UTC = dt.UTC
ARCHIVE_ONLY = ["audit-archive"]


def _ids(conn: psycopg.Connection[Any], store: str) -> list[int]:
    return [r[0] for r in rows(conn, f"select event_id from warden.{store} order by 1")]


def _stores(conn: psycopg.Connection[Any]) -> tuple[list[int], list[int]]:
    return _ids(conn, "audit_events"), _ids(conn, "audit_events_archive")


def _backdate(conn: psycopg.Connection[Any], table: str, at: str, where: str = "true") -> None:
    """Make some events of ``table`` look as if captured at ``at`` (only the store's owner
    may; nobody else can)."""
    conn.execute(
        "update warden.audit_events e set at = %s::timestamptz from warden.audit_tables t "
        f"where t.table_id = e.table_id and t.table_name = %s and ({where})",
        (at, table),
    )


BAD_OPTIONS = [
    ('{ archive_after = "5 yearz" }', ["public.t", "audit.archive_after", "not a duration"]),
    ('{ archive_after = "0 days" }', ["public.t", "audit.archive_after", "positive"]),
    (
        '{ archive_after = "5 years", retention = "3 years" }',
        ["public.t", "audit.retention", "longer than archive_after (5 years)"],
    ),
    (
        '{ archive_after = "5 years", retention = "5 years" }',
        ["public.t", "audit.retention", "longer than archive_after"],
    ),
]


@pytest.mark.parametrize(("options", "words"), BAD_OPTIONS)
def test_bad_archive_options_name_the_table_and_key_and_change_nothing(
    conn: psycopg.Connection[Any],
    make_warden: Callable[..., Warden],
    options: str,
    words: list[str],
) -> None:
    conn.execute("create table t (id int primary key)")
    with pytest.raises(SpecError) as caught:
        make_warden(f'[tables."public.t"]\naudit = {options}\n').apply()
    for word in words:
        assert word in str(caught.value), (options, str(caught.value))
    assert rows(conn, "select to_regnamespace('warden') is null") == [(True,)]


def test_the_plan_and_status_show_the_ages(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute("create table t (id int primary key)")
    spec = '[tables."public.t"]\naudit = { archive_after = "5 years", retention = "7 years" }\n'
    warden = make_warden(spec)
    shown = [c.description for c in warden.plan().changes if "registration" in c.description]
    assert shown == [
        "audit registration of public.t (rows identified by the primary key (id); "
        "archived after 5 years; deleted after 7 years)"
    ]
    warden.apply()
    assert rows(conn, "select archive_after::text, retention::text from warden.audit_tables") == [
        ("5 years", "7 years")
    ]
    described = [o.owned.description for o in warden.status().objects]
    assert any("archived after 5 years" in d for d in described)
    # Changing the age is a replace of the registration, nothing else.
    changed = make_warden(spec.replace("5 years", "4 years")).plan().changes
    assert [(c.action, c.description) for c in changed] == [
        (
            "replace",
            "audit registration of public.t (rows identified by the primary key (id); "
            "archived after 4 years; deleted after 7 years)",
        )
    ]


def test_the_job_moves_exactly_the_due_events_once(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    for name in ("a", "b", "c"):
        conn.execute(f"create table {name} (id int primary key, v int)")
    warden = applied(
        make_warden,
        '[tables."public.a"]\naudit = { archive_after = "30 days" }\n'
        '[tables."public.b"]\naudit = { archive_after = "1 year" }\n'
        '[tables."public.c"]\naudit = true\n',
    )
    for name in ("a", "b", "c"):
        with warden.session(actor=f"actor-{name}") as db:
            db.execute(f"insert into {name} select g, 0 from generate_series(1, 30) g")
        conn.execute(f"update {name} set v = 1 where id <= 10")
        _backdate(conn, name, "2020-03-01", "e.op = 'I'")  # 90 events, 30 of each table
    _backdate(conn, "b", "2019-12-30", "e.op = 'U'")
    clock = dt.datetime(2020, 6, 1, tzinfo=UTC)  # a: 30 days past; b: nothing a year old
    hot_before, _ = _stores(conn)
    due = [
        r[0]
        for r in rows(
            conn,
            "select e.event_id from warden.audit_events e join warden.audit_tables t "
            "using (table_id) where t.table_name = 'a' and e.op = 'I' order by 1",
        )
    ]
    assert len(due) == 30
    contexts = rows(conn, "select * from warden.audit_contexts order by txid, context_seq")

    dry = warden.maintain(now=clock, names=ARCHIVE_ONLY, dry_run=True)
    assert [(r.job, r.rows, r.dry_run) for r in dry] == [("audit-archive", 30, True)]
    assert _stores(conn) == (hot_before, [])

    result = warden.maintain(now=clock, names=ARCHIVE_ONLY, batch=7)
    assert [(r.job, r.rows) for r in result] == [("audit-archive", 30)]
    hot, archived = _stores(conn)
    assert archived == due
    assert sorted(hot + archived) == hot_before  # nothing lost, nothing twice
    assert rows(conn, "select * from warden.audit_contexts order by txid, context_seq") == contexts
    parts = rows(
        conn,
        "select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid "
        "where i.inhparent = 'warden.audit_events_archive'::regclass",
    )
    assert parts == [("audit_events_archive__y2020",)]
    assert warden.maintain(now=clock, names=ARCHIVE_ONLY)[0].rows == 0

    # A year later b's updates are due too (its inserts of 2020-03-01 are not yet).
    later = dt.datetime(2021, 1, 15, tzinfo=UTC)
    assert warden.maintain(now=later, names=ARCHIVE_ONLY)[0].rows == 10
    hot, archived = _stores(conn)
    assert sorted(hot + archived) == hot_before
    years = (
        "select relname from pg_class where relname ~ '^audit_events_archive__y' and relkind = 'r'"
    )
    assert {r[0] for r in rows(conn, years)} == {
        "audit_events_archive__y2019",
        "audit_events_archive__y2020",
    }
    # The actor of an archived event is still there (context rows never move).
    assert [v.actor for v in warden.audit.history("public.a", 5)] == ["actor-a", None]
    assert warden.plan().empty


def test_a_failed_batch_loses_and_duplicates_nothing(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute("create table t (id int primary key, v int)")
    warden = applied(make_warden, '[tables."public.t"]\naudit = { archive_after = "1 day" }\n')
    conn.execute("insert into t select g, 0 from generate_series(1, 100) g")
    conn.execute("update t set v = 1")
    everything = _ids(conn, "audit_events")
    poison = everything[137]
    # One event the archive refuses: its batch fails whole, earlier batches stay moved.
    conn.execute(
        "create function public.refuse() returns trigger language plpgsql as $$ begin "
        f"if new.event_id = {poison} then raise exception 'refused'; end if; return new; end $$"
    )
    conn.execute(
        "create trigger refuse before insert on warden.audit_events_archive "
        "for each row execute function public.refuse()"
    )
    clock = dt.datetime.now(UTC) + dt.timedelta(days=2)
    with pytest.raises((MaintenanceError, psycopg.Error)):
        warden.maintain(now=clock, names=ARCHIVE_ONLY, batch=20)
    hot, archived = _stores(conn)
    assert archived and poison in hot and poison not in archived
    assert sorted(hot + archived) == everything
    conn.execute("drop trigger refuse on warden.audit_events_archive")
    warden.maintain(now=clock, names=ARCHIVE_ONLY, batch=20)
    assert _stores(conn) == ([], everything)


def test_retention_deletes_from_the_archive_whole_years_and_rows(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute("create table t (id int primary key, v int)")
    warden = applied(
        make_warden,
        '[tables."public.t"]\naudit = { archive_after = "30 days", retention = "3 years" }\n',
    )
    with warden.session(actor="alice") as db:
        db.execute("insert into t select g, 0 from generate_series(1, 40) g")
    _backdate(conn, "t", "2018-05-01", "(e.row_key ->> 0)::int <= 10")
    _backdate(conn, "t", "2019-03-01", "(e.row_key ->> 0)::int between 11 and 20")
    _backdate(conn, "t", "2019-09-01", "(e.row_key ->> 0)::int between 21 and 30")
    _backdate(conn, "t", "2021-06-01", "(e.row_key ->> 0)::int > 30")
    # Old contexts: retention deletes a context only when no store has an event of it.
    conn.execute("update warden.audit_contexts set tx_started_at = '2018-01-01'")
    clock = dt.datetime(2022, 7, 1, tzinfo=UTC)  # retention cutoff 2019-07-01
    assert warden.maintain(now=clock, names=ARCHIVE_ONLY)[0].rows == 40
    assert rows(conn, "select count(*) from warden.audit_events_archive") == [(40,)]

    assert warden.maintain(now=clock, names=["audit-retention"], dry_run=True)[0].rows == 20
    assert rows(conn, "select count(*) from warden.audit_events_archive") == [(40,)]
    result = warden.maintain(now=clock, names=["audit-retention"])
    assert result[0].rows == 20
    # 2018 wholly past retention, 2020 empty: dropped; 2019 is half kept, rows deleted.
    assert "2 whole archive years dropped" in result[0].detail
    left = rows(
        conn,
        "select (row_key ->> 0)::int from warden.audit_events_archive order by 1",
    )
    assert [r[0] for r in left] == list(range(21, 41))
    assert rows(
        conn,
        "select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid "
        "where i.inhparent = 'warden.audit_events_archive'::regclass order by 1",
    ) == [("audit_events_archive__y2019",), ("audit_events_archive__y2021",)]
    assert [(v.op, v.actor) for v in warden.audit.history("public.t", 25)] == [("insert", "alice")]
    assert warden.audit.history("public.t", 5) == []


def test_reads_use_both_stores_indexes_for_one_row(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute("create table t (id int primary key, v int)")
    warden = applied(make_warden, '[tables."public.t"]\naudit = { archive_after = "1 day" }\n')
    conn.execute("insert into t select g, 0 from generate_series(1, 50) g")
    warden.maintain(now=dt.datetime.now(UTC) + dt.timedelta(days=2), names=ARCHIVE_ONLY)
    conn.execute("update t set v = 1")
    conn.execute("analyze warden.audit_events, warden.audit_events_archive")
    # Seq scans off: whether the planner *can* reach each store's row index through the
    # inlined functions and the union, whatever the sizes of these small test tables. The
    # history runs its query as a prepared (generic) plan inside PL/pgSQL: auto_explain
    # shows that plan.
    notices: list[str] = []
    conn.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
    with conn.transaction():
        for setting in (
            "load 'auto_explain'",
            "set local auto_explain.log_min_duration = 0",
            "set local auto_explain.log_nested_statements = on",
            "set local auto_explain.log_level = notice",
            "set local client_min_messages = notice",
            "set local enable_seqscan = off",
        ):
            conn.execute(setting)
        conn.execute("select * from warden.history('public.t', '[7]')").fetchall()
    plan = "\n".join(n for n in notices if "audit_events" in n)
    assert "audit_events_archive__y" in plan
    used = [line for line in plan.splitlines() if "Index Cond" in line]
    assert sum("row_key = $" in line for line in used) >= 2, plan
