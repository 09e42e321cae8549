"""Schema changes on an audited table: DML never fails because of audit, capture follows the
new shape, history across the change stays readable, and ``plan`` says what to regenerate."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from pgwarden import Warden

from ._support import applied, events, now, rows, statements_in_c

SPEC = '[tables."public.t"]\naudit = true\n'


def test_columns_added_dropped_and_renamed_mid_sequence(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute("create table t (id int primary key, v text, old text)")
    warden = applied(make_warden, SPEC)
    conn.execute("insert into t values (1, 'a', 'o')")

    conn.execute("alter table t add column extra int default 7")
    conn.execute("update t set v = 'b'")
    conn.execute("insert into t values (2, 'x', null, 8)")
    assert warden.plan().empty  # capture takes whole rows: nothing to regenerate

    conn.execute("alter table t drop column old")
    conn.execute("update t set extra = 70 where id = 1")
    assert warden.plan().empty

    conn.execute("alter table t rename column v to label")
    conn.execute("update t set label = 'c' where id = 1")
    conn.execute("delete from t where id = 2")
    assert warden.plan().empty

    got = [(e["op"], e["row_key"], e["old_values"], e["new_row"]) for e in events(conn)]
    assert got == [
        ("I", [1], None, {"id": 1, "v": "a", "old": "o"}),
        ("U", [1], {"v": "a"}, {"id": 1, "v": "b", "old": "o", "extra": 7}),
        ("I", [2], None, {"id": 2, "v": "x", "old": None, "extra": 8}),
        ("U", [1], {"extra": 7}, {"id": 1, "v": "b", "extra": 70}),
        ("U", [1], {"label": "b"}, {"id": 1, "label": "c", "extra": 70}),
        ("D", [2], {"id": 2, "label": "x", "extra": 8}, None),
    ]
    history = warden.audit.history("public.t", 1)
    assert [(v.version, v.changed) for v in history] == [
        (1, None),
        (2, ["v"]),  # extra was added with its default before: unchanged by this update
        (3, ["extra"]),  # old was dropped before the update: not a change of it
        (4, ["label"]),  # as the table is now: the renamed column changed
    ]
    assert history[0].row == {"id": 1, "v": "a", "old": "o"}  # each version in its own shape
    assert history[-1].row == {"id": 1, "label": "c", "extra": 70}
    assert warden.audit.as_of("public.t", "2999-01-01") == [{"id": 1, "label": "c", "extra": 70}]


def test_time_travel_across_a_column_rename_keeps_the_values(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute("create table t (id int primary key, v text)")
    warden = applied(make_warden, SPEC)
    conn.execute("insert into t values (1, 'a')")
    conn.execute("update t set v = 'b'")
    before = now(conn)
    conn.execute("alter table t rename column v to label")
    conn.execute("update t set label = 'c'")
    assert warden.audit.as_of("public.t", before) == [{"id": 1, "label": "b"}]
    warden.audit.revert("public.t", 1, to=before)
    assert rows(conn, "select label from t") == [("b",)]


def test_a_primary_key_moved_to_other_columns_keeps_each_row_one_history(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute("create table t (id int primary key, code text not null, v text)")
    warden = applied(make_warden, SPEC)
    conn.execute("insert into t values (1, 'a', 'x'), (2, 'b', 'y')")

    conn.execute("alter table t drop constraint t_pkey")
    conn.execute("update t set v = 'x2' where id = 1")  # never fails because of audit
    assert warden.plan().empty  # rows stay identified by the key audit started with
    conn.execute("alter table t add primary key (code)")
    conn.execute("update t set v = 'x3' where code = 'a'")
    conn.execute("insert into t values (3, 'c', 'z')")
    assert warden.plan().empty

    got = [(e["op"], e["row_key"], e["new_row"]["v"]) for e in events(conn)]
    assert got == [
        ("I", [1], "x"),
        ("I", [2], "y"),
        ("U", [1], "x2"),
        ("U", [1], "x3"),
        ("I", [3], "z"),
    ]
    assert [v.row["v"] for v in warden.audit.history("public.t", 1) if v.row] == ["x", "x2", "x3"]
    live = sorted(rows(conn, "select id, code, v from t"))
    assert sorted(tuple(r.values()) for r in warden.audit.as_of("public.t", "2999-01-01")) == live

    # Dropping the old key column: the plan switches to the primary key, and says so.
    conn.execute("alter table t drop column id")
    conn.execute("update t set v = 'x4' where code = 'a'")  # still works before apply
    changes = warden.plan().changes
    # In C, the statement triggers name the key columns too.
    triggers = [("replace", "trigger")] * 3 if statements_in_c(conn, "t") else []
    assert sorted((c.action, c.ref.kind) for c in changes if c.ref) == [
        ("replace", "function"),
        ("replace", "registration"),
        *triggers,
    ]
    assert any("primary key (code)" in c.description for c in changes)
    warden.apply()
    assert warden.plan().empty
    conn.execute("update t set v = 'x5' where code = 'a'")
    assert [e["row_key"] for e in events(conn)][-2:] == [["a"], ["a"]]


def test_time_travel_after_switching_the_key_matches_the_table(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute("create table t (id int primary key, code text not null, v text)")
    applied(make_warden, SPEC)
    conn.execute("insert into t values (1, 'a', 'x'), (2, 'b', 'y')")
    warden = applied(make_warden, '[tables."public.t"]\naudit = { key = ["code"] }\n')
    conn.execute("update t set v = 'x2' where code = 'a'")
    live = sorted(rows(conn, "select id, code, v from t"))
    assert sorted(tuple(r.values()) for r in warden.audit.as_of("public.t", "2999-01-01")) == live
    assert [v.row["v"] for v in warden.audit.history("public.t", "a") if v.row] == ["x", "x2"]


@pytest.mark.parametrize(
    ("create", "options"),
    [
        pytest.param("create table t (id int primary key, v text)", "true", id="primary-key"),
        pytest.param(
            "create table t (id int not null, v text)", '{ key = ["id"] }', id="declared-key"
        ),
    ],
)
def test_renaming_a_key_column_keeps_rows_identified(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden], create: str, options: str
) -> None:
    conn.execute(create)
    warden = applied(make_warden, f'[tables."public.t"]\naudit = {options}\n')
    conn.execute("insert into t values (1, 'a')")
    conn.execute("alter table t rename column id to ident")
    conn.execute("update t set v = 'b' where ident = 1")  # DML keeps working
    conn.execute("insert into t values (2, 'c')")
    conn.execute("delete from t where ident = 2")
    assert rows(conn, "select * from t") == [(1, "b")]
    assert [e["row_key"] for e in events(conn)] == [[1], [1], [2], [2]]
    assert [v.row for v in warden.audit.history("public.t", 1)] == [
        {"id": 1, "v": "a"},
        {"ident": 1, "v": "b"},
    ]


def test_renaming_a_redacted_column_never_stores_its_values(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute("create table t (id int primary key, secret text)")
    applied(make_warden, '[tables."public.t"]\naudit = { redact = ["secret"] }\n')
    conn.execute("insert into t values (1, 'hunter2')")
    conn.execute("alter table t rename column secret to password")
    conn.execute("insert into t values (2, 'letmein')")
    conn.execute("update t set password = 'changed' where id = 1")
    store = rows(
        conn,
        "select coalesce(old_row::text, '') || coalesce(new_row::text, '') from warden.audit_events",
    )
    text = " ".join(r[0] for r in store)
    for plain in ("hunter2", "letmein", "changed"):
        assert plain not in text


def test_after_renaming_a_key_column_plan_regenerates_capture(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute("create table t (id int primary key, v text)")
    warden = applied(make_warden, SPEC)
    conn.execute("insert into t values (1, 'a')")
    conn.execute("alter table t rename column id to ident")
    changes = warden.plan().changes
    # In C, the statement triggers name the key columns too.
    triggers = [("replace", "trigger")] * 3 if statements_in_c(conn, "t") else []
    assert sorted((c.action, c.ref.kind) for c in changes if c.ref) == [
        ("replace", "function"),
        ("replace", "registration"),
        *triggers,
    ]
    assert any("primary key (ident)" in c.description for c in changes)
    warden.apply()
    assert warden.plan().empty
    conn.execute("update t set v = 'b' where ident = 1")
    assert [e["row_key"] for e in events(conn)] == [[1], [1]]
    assert [v.row for v in warden.audit.history("public.t", 1)] == [
        {"id": 1, "v": "a"},
        {"ident": 1, "v": "b"},
    ]
