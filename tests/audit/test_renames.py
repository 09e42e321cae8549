"""Time travel and revert across ``ALTER TABLE ... RENAME COLUMN`` (and DROP COLUMN): images
recorded under a column's old name come back under its current one, by attribute number."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from pgwarden import Warden
from pgwarden.spec import parse_spec

from ._support import applied, events, now, rows

SPEC = '[tables."public.t"]\naudit = true\n'


def _as_of(conn: psycopg.Connection[Any], at: Any) -> list[tuple[Any, ...]]:
    return rows(conn, "select * from warden.as_of(null::t, %s) order by 1", at)


def _row_as_of(conn: psycopg.Connection[Any], key: int, at: Any) -> list[tuple[Any, ...]]:
    return rows(conn, "select * from warden.row_as_of(null::t, %s::jsonb, %s)", f"[{key}]", at)


def test_a_chain_of_renames_and_a_rename_back(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute("create table t (id int primary key, v text, n int)")
    warden = applied(make_warden, SPEC)
    conn.execute("insert into t values (1, 'a', 1), (2, 'z', 0)")
    t1 = now(conn)
    conn.execute("alter table t rename column v to label")
    conn.execute("update t set label = 'b' where id = 1")
    t2 = now(conn)
    conn.execute("alter table t rename column label to title")
    conn.execute("update t set title = 'c', n = 3 where id = 1")
    t3 = now(conn)
    conn.execute("alter table t rename column n to v")  # a name another column once had
    conn.execute("update t set v = 4 where id = 1")
    t4 = now(conn)
    conn.execute("alter table t rename column title to label")  # back to an earlier name
    conn.execute("delete from t where id = 2")

    assert _as_of(conn, t1) == [(1, "a", 1), (2, "z", 0)]
    assert _as_of(conn, t2) == [(1, "b", 1), (2, "z", 0)]
    assert _as_of(conn, t3) == [(1, "c", 3), (2, "z", 0)]
    assert _as_of(conn, t4) == [(1, "c", 4), (2, "z", 0)]
    assert _as_of(conn, "2999-01-01") == [(1, "c", 4)]
    assert _row_as_of(conn, 1, t1) == [(1, "a", 1)]
    assert _row_as_of(conn, 2, t3) == [(2, "z", 0)]
    assert sorted(warden.audit.as_of("public.t", t2), key=lambda r: r["id"]) == [
        {"id": 1, "label": "b", "v": 1},
        {"id": 2, "label": "z", "v": 0},
    ]
    # history keeps each version in the shape it was recorded in
    assert [v.row for v in warden.audit.history("public.t", 1)] == [
        {"id": 1, "v": "a", "n": 1},
        {"id": 1, "label": "b", "n": 1},
        {"id": 1, "title": "c", "n": 3},
        {"id": 1, "title": "c", "v": 4},
    ]
    # ... and a revert to one of them writes it under the current names.
    assert warden.audit.revert("public.t", 1, to=1) == {"id": 1, "label": "a", "v": 1}
    assert rows(conn, "select * from t") == [(1, "a", 1)]
    assert warden.audit.revert("public.t", 2, to=t3) == {"id": 2, "label": "z", "v": 0}
    assert rows(conn, "select * from t order by id") == [(1, "a", 1), (2, "z", 0)]


def test_renames_swapping_names_and_taking_a_dropped_columns_name(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute("create table t (id int primary key, a text, b text, old text)")
    applied(make_warden, SPEC)
    conn.execute("insert into t values (1, 'A', 'B', 'O')")
    t1 = now(conn)
    with conn.transaction():  # a swap, in one transaction
        conn.execute("alter table t rename column a to tmp")
        conn.execute("alter table t rename column b to a")
        conn.execute("alter table t rename column tmp to b")
    conn.execute("update t set a = 'B2'")  # the column that was b
    t2 = now(conn)
    conn.execute("alter table t drop column old")
    conn.execute("alter table t rename column b to old")  # the column that was a
    conn.execute("alter table t add column b text")  # a new column, named like a former one
    conn.execute("update t set b = 'new'")

    # Columns by attribute number: id, old (was a), a (was b), b (new).
    assert rows(conn, "select * from t") == [(1, "A", "B2", "new")]
    assert _as_of(conn, t1) == [(1, "A", "B", None)]
    assert _as_of(conn, t2) == [(1, "A", "B2", None)]


def test_rename_in_the_transaction_that_changes_rows(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute("create table t (id int primary key, v text)")
    applied(make_warden, SPEC)
    conn.execute("insert into t values (1, 'a')")
    t0 = now(conn)
    with conn.transaction():
        conn.execute("update t set v = 'b'")
        conn.execute("alter table t rename column v to label")
        conn.execute("update t set label = 'c'")
    xid = events(conn)[-1]["txid"]
    assert _as_of(conn, t0) == [(1, "a")]
    assert [e["txid"] for e in events(conn)][-2:] == [xid, xid]
    # Undo that transaction: both of its images are written under the current name.
    assert rows(conn, "select * from warden.revert_transaction(%s::text::xid8)", str(xid)) == [
        ("public.t", [1], "updated back"),
        ("public.t", [1], "updated back"),
    ]
    assert rows(conn, "select * from t") == [(1, "a")]


def test_revert_transaction_made_before_a_rename(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute("create table t (id int primary key, v text, n int)")
    warden = applied(make_warden, SPEC)
    conn.execute("insert into t values (1, 'a', 1), (2, 'b', 2)")
    with conn.transaction():
        conn.execute("update t set v = 'a2' where id = 1")
        conn.execute("delete from t where id = 2")
        conn.execute("insert into t values (3, 'c', 3)")
    xid = events(conn)[-1]["txid"]
    conn.execute("alter table t rename column v to label")
    conn.execute("alter table t rename column n to count")
    undone = warden.audit.revert_transaction(xid)
    assert sorted(a for _, _, a in undone) == ["deleted", "restored", "updated back"]
    assert rows(conn, "select * from t order by id") == [(1, "a", 1), (2, "b", 2)]


def test_a_partitioned_tables_renames_are_followed(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute("create table t (id int primary key, v text) partition by range (id)")
    conn.execute("create table t_1 partition of t for values from (0) to (10)")
    conn.execute("create table t_2 partition of t for values from (10) to (20)")
    applied(make_warden, SPEC)
    conn.execute("insert into t values (1, 'a'), (11, 'b')")
    t1 = now(conn)
    conn.execute("alter table t rename column v to label")
    conn.execute("update t set label = label || '2'")
    assert _as_of(conn, t1) == [(1, "a"), (11, "b")]
    assert _row_as_of(conn, 11, t1) == [(11, "b")]


def test_a_failing_record_warns_and_never_fails_the_alter(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute("create table t (id int primary key, v text)")
    applied(make_warden, SPEC)
    conn.execute("alter table warden.audit_columns add constraint broken check (false) not valid")
    notices: list[str] = []
    conn.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
    conn.execute("alter table t rename column v to label")  # succeeds
    assert any("could not record the column names" in n for n in notices)
    assert rows(conn, "select attname from pg_attribute where attrelid = 't'::regclass "
                "and attnum = 2") == [("label",)]  # fmt: skip


def test_the_event_trigger_is_owned_and_goes_with_the_feature(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute("create table t (id int primary key, v text)")
    conn.execute("create table u (id int primary key, v text)")
    spec = SPEC + '[tables."public.u"]\naudit = true\n'
    warden = applied(make_warden, spec)
    triggers = "select evtname, evtenabled from pg_event_trigger order by 1"
    both = [("pgwarden_audit_columns", "O"), ("pgwarden_audit_partitions", "O")]
    assert rows(conn, triggers) == both
    # Disabled by hand: drift, repaired by the next apply.
    conn.execute("alter event trigger pgwarden_audit_columns disable")
    change = [c for c in warden.plan().changes if c.ref and c.ref.kind == "event_trigger"]
    assert [(c.action, c.reason) for c in change] == [("repair", "altered outside pgwarden")]
    warden.apply()
    assert rows(conn, triggers) == both
    # The table they are filed under stops being audited: they stay, for the other one.
    applied(make_warden, '[tables."public.u"]\naudit = true\n')
    assert rows(conn, triggers) == both
    applied(make_warden, "")
    assert rows(conn, triggers) == []


@pytest.fixture
def login_role(conn: psycopg.Connection[Any], db_url: str) -> Iterator[str]:
    """A login role that is not a superuser and may create schemas in the test database;
    yields its connection string."""
    name = f"pgw_owner_{uuid.uuid4().hex[:10]}"
    role, db = sql.Identifier(name), sql.Identifier(conn.info.dbname)
    conn.execute(sql.SQL("create role {} login nosuperuser").format(role))
    conn.execute(sql.SQL("grant create on database {} to {}").format(db, role))
    conn.execute(sql.SQL("grant create on schema public to {}").format(role))
    yield make_conninfo(db_url, user=name)
    conn.execute(sql.SQL("drop owned by {}").format(role))
    conn.execute(sql.SQL("drop role {}").format(role))


def test_without_a_superuser_renames_are_recorded_at_the_next_apply(
    login_role: str, conn: psycopg.Connection[Any]
) -> None:
    with psycopg.connect(login_role, autocommit=True) as own:
        own.execute("create table t (id int primary key, v text)")
        own.execute("insert into t values (1, 'a')")
    with Warden(login_role, spec=parse_spec(SPEC)) as warden:
        plan = warden.plan()
        notes = [c.description for c in plan.changes if c.ref and c.ref.kind == "registration"]
        assert (
            len(notes) == 1
            and "column renames reach time travel only at the next apply" in notes[0]
        )
        assert not [c for c in plan.changes if c.ref and c.ref.kind == "event_trigger"]
        warden.apply()
        assert warden.plan().empty
        with psycopg.connect(login_role, autocommit=True) as own:
            before = now(own)
            own.execute("update t set v = 'b'")
            own.execute("alter table t rename column v to label")  # works, not recorded
            own.execute("update t set label = 'c'")
        assert rows(conn, "select count(*) from pg_event_trigger") == [(0,)]
        assert warden.audit.as_of("public.t", before) == [{"id": 1, "label": None}]
        # The next plan shows the registration altered; applying it records the names.
        assert [(c.action, c.ref.kind) for c in warden.plan().changes if c.ref] == [
            ("repair", "registration")
        ]
        warden.apply()
        assert warden.plan().empty
        assert warden.audit.as_of("public.t", before) == [{"id": 1, "label": "a"}]


def test_the_versions_view_shows_every_version_under_the_current_names(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute("create table t (id int primary key, v text)")
    warden = applied(make_warden, SPEC + "versioning = true\n")
    conn.execute("insert into t values (1, 'a')")
    conn.execute("alter table t rename column v to label")
    conn.execute("update t set label = 'b'")
    warden.apply()  # the view follows the table's new shape
    assert rows(conn, "select version, id, label from t__versions order by version") == [
        (1, 1, "a"),
        (2, 1, "b"),
    ]


def test_converting_to_partitioned_keeps_renames_followed(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute(
        "create table items (id int, at timestamptz not null, old text, v text, "
        "primary key (id, at))"
    )
    conn.execute("alter table items drop column old")  # the new table numbers columns afresh
    applied(make_warden, '[tables."public.items"]\naudit = true\n')
    conn.execute("insert into items values (1, '2026-01-05', 'a')")
    t1 = now(conn)
    warden = make_warden(
        '[tables."public.items"]\naudit = true\n'
        'partition = { column = "at", interval = "1 month", premake = 1 }\n'
    )
    warden.partitions.convert("public.items")
    conn.execute("alter table items rename column v to label")
    conn.execute("update items set label = 'b'")
    assert rows(conn, "select id, label from warden.as_of(null::items, %s)", t1) == [(1, "a")]
