"""A dropped audited table keeps its history; the next plan cleans up what it left behind."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from pgwarden import Warden

from ._support import applied, now, rows

BOTH = '[tables."public.t"]\naudit = true\n[tables."public.keep"]\naudit = true\n'
KEEP = '[tables."public.keep"]\naudit = true\n'


def test_history_log_and_as_of_survive_drop_table(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute("create table t (id int primary key, v text)")
    conn.execute("create table keep (id int primary key)")
    warden = applied(make_warden, BOTH)
    with warden.session(actor="alice") as db:
        db.execute("insert into t values (1, 'a'), (2, 'b')")
    middle = now(conn)
    conn.execute("update t set v = 'a2' where id = 1")
    conn.execute("drop table t")

    history = warden.audit.history("public.t", 1)
    assert [(v.op, v.row, v.actor) for v in history] == [
        ("insert", {"id": 1, "v": "a"}, "alice"),
        ("update", {"id": 1, "v": "a2"}, None),
    ]
    assert [(e.op, e.key) for e in warden.audit.log(table="public.t")] == [
        ("U", [1]),
        ("I", [2]),
        ("I", [1]),
    ]
    assert [(e.table, e.actor) for e in warden.audit.log(actor="alice")] == [
        ("public.t", "alice")
    ] * 2
    by_id = lambda r: r["id"]  # noqa: E731
    assert sorted(warden.audit.as_of("public.t", middle), key=by_id) == [
        {"id": 1, "v": "a"},
        {"id": 2, "v": "b"},
    ]
    assert sorted(warden.audit.as_of("public.t", "2999-01-01"), key=by_id) == [
        {"id": 1, "v": "a2"},
        {"id": 2, "v": "b"},
    ]
    assert rows(
        conn, "select row_data from warden.history('public.t', '[2]') order by version"
    ) == [({"id": 2, "v": "b"},)]

    # The declaration still names the table: the plan says it is missing.
    with pytest.raises(Exception, match="no such table"):
        warden.plan()
    # Without it, the plan forgets what went with the table and removes what is left.
    warden = make_warden(KEEP)
    plan = warden.plan()
    got = sorted((c.action, c.ref.kind, c.ref.name) for c in plan.changes if c.ref)
    assert got == [
        ("drop", "function", "public_t__audit"),
        ("drop", "registration", "audit_tables"),  # marks it dropped; its events stay
        ("forget", "trigger", "pgwarden_audit_d"),
        ("forget", "trigger", "pgwarden_audit_i"),
        ("forget", "trigger", "pgwarden_audit_t"),
        ("forget", "trigger", "pgwarden_audit_u"),
    ]
    warden.apply()
    assert warden.plan().empty
    assert rows(conn, "select to_regprocedure('warden.public_t__audit()') is null") == [(True,)]
    # ... and the history is still there, after the cleanup too.
    assert [v.row for v in warden.audit.history("public.t", 1)] == [
        {"id": 1, "v": "a"},
        {"id": 1, "v": "a2"},
    ]
    assert len(warden.audit.log(table="public.t")) == 3
    with pytest.raises(Exception, match="cannot revert"):
        warden.audit.revert("public.t", 1, to=1)


def test_a_dropped_table_is_marked_dropped_in_the_store(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute("create table t (id int primary key, v text)")
    conn.execute("create table keep (id int primary key)")
    warden = applied(make_warden, BOTH)
    with conn.transaction():
        conn.execute("insert into t values (1, 'a')")
        txid = int(conn.execute("select pg_current_xact_id()::text").fetchone()[0])  # type: ignore[index]
    conn.execute("drop table t")
    applied(make_warden, KEEP)
    with pytest.raises(Exception, match=r"table public\.t no longer exists"):
        warden.audit.revert_transaction(txid)
    marked = (
        "select relid is null, dropped_at is not null from warden.audit_tables "
        "where table_name = 't'"
    )
    assert rows(conn, marked) == [(True, True)]
