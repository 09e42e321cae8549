"""The event store is append-only for every role but its owner: an application role's changes
are captured, yet it can neither read, write, nor rewrite the store, nor revert through it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from psycopg import errors, sql

from pgwarden import Warden

from ._support import applied, events

SPEC = '[tables."public.t"]\naudit = true\n'

FORBIDDEN = [
    "insert into warden.audit_events default values",
    "update warden.audit_events set op = 'D'",
    "delete from warden.audit_events",
    "truncate warden.audit_events",
    "select * from warden.audit_events",
    "insert into warden.audit_contexts default values",
    "update warden.audit_contexts set actor = 'someone else'",
    "delete from warden.audit_contexts",
    "truncate warden.audit_contexts",
    "select * from warden.audit_contexts",
    "insert into warden.audit_tables default values",
    "update warden.audit_tables set key_columns = null",
    "delete from warden.audit_tables",
    "truncate warden.audit_tables",
    "select * from warden.audit_tables",
    "select nextval('warden.audit_statement_seq')",
    "select warden.put_row('public.t'::regclass, '[1]', false, null)",
    "select warden.put_row('public.t'::regclass, '[1]', true, '{\"id\": 1, \"v\": \"forged\"}')",
    "select * from warden.revert_transaction('1'::xid8)",
]


def _as(conn: psycopg.Connection[Any], role: str, statement: str) -> None:
    with conn.transaction():
        conn.execute(sql.SQL("set local role {}").format(sql.Identifier(role)))
        conn.execute(statement)  # type: ignore[arg-type]


@pytest.mark.parametrize("schema_usage", [False, True])
def test_application_role_is_captured_but_cannot_touch_the_store(
    conn: psycopg.Connection[Any],
    make_warden: Callable[..., Warden],
    make_role: Callable[[], str],
    schema_usage: bool,
) -> None:
    conn.execute("create table t (id int primary key, v text)")
    applied(make_warden, SPEC)
    role = make_role()
    conn.execute(
        sql.SQL("grant select, insert, update, delete on t to {}").format(sql.Identifier(role))
    )
    if schema_usage:  # even with the schema visible, the objects stay closed
        conn.execute(sql.SQL("grant usage on schema warden to {}").format(sql.Identifier(role)))

    _as(conn, role, "insert into t values (1, 'a'), (2, 'b')")
    _as(conn, role, "update t set v = 'a2' where id = 1")
    _as(conn, role, "delete from t where id = 2")
    captured = events(conn)
    assert [(e["op"], e["row_key"]) for e in captured] == [
        ("I", [1]),
        ("I", [2]),
        ("U", [1]),
        ("D", [2]),
    ]
    assert {e["acting_role"] for e in captured} == {role}

    for statement in FORBIDDEN:
        with pytest.raises(errors.InsufficientPrivilege):
            _as(conn, role, statement)
    assert len(events(conn)) == 4
    assert conn.execute("select v from t").fetchall() == [("a2",)]
    assert conn.execute("select count(*) from warden.audit_tables").fetchone() == (1,)


def test_a_role_cannot_make_its_changes_anonymous(
    conn: psycopg.Connection[Any],
    make_warden: Callable[..., Warden],
    make_role: Callable[[], str],
) -> None:
    conn.execute("create table t (id int primary key, v text)")
    applied(make_warden, SPEC)
    role = make_role()
    conn.execute(sql.SQL("grant insert on t to {}").format(sql.Identifier(role)))
    with conn.transaction():
        conn.execute(sql.SQL("set local role {}").format(sql.Identifier(role)))
        xid = int(conn.execute("select pg_current_xact_id()::text").fetchone()[0])  # type: ignore[index]
        conn.execute(
            "select set_config('pgwarden._context', %s || ':1:' || concat_ws(chr(31), "
            "current_setting('pgwarden.actor', true), current_setting('pgwarden.tenant', true), "
            "current_setting('pgwarden.reason', true), "
            "current_setting('pgwarden.request_id', true)), true)",
            [str(xid)],
        )
        conn.execute("insert into t values (1, 'sneaky')")
    [sneaky] = events(conn)
    assert sneaky["has_context"]
    assert (sneaky["txid"], sneaky["acting_role"]) == (xid, role)


@pytest.mark.parametrize("partitioned", [False, True])
def test_a_role_cannot_file_its_changes_under_another_table(
    conn: psycopg.Connection[Any],
    make_warden: Callable[..., Warden],
    make_role: Callable[[], str],
    partitioned: bool,
) -> None:
    if partitioned:
        conn.execute("create table t (id int, r text, primary key (id, r)) partition by list (r)")
        conn.execute("create table t_a partition of t for values in ('a')")
        fires_on, key = "t_a", (1, "a")
    else:
        conn.execute("create table t (id int, r text, primary key (id))")
        fires_on, key = "t", 1
    warden = applied(make_warden, SPEC)
    role = make_role()
    conn.execute(
        sql.SQL("grant insert on t, {} to {}").format(
            sql.Identifier(fires_on), sql.Identifier(role)
        )
    )
    with conn.transaction():
        conn.execute(sql.SQL("set local role {}").format(sql.Identifier(role)))
        conn.execute(
            "select set_config('pgwarden._tid_' || %s::regclass::oid, '999', true)", [fires_on]
        )
        conn.execute("insert into t values (1, 'a')")
    assert [v.op for v in warden.audit.history("public.t", key)] == ["insert"]
