"""Trigger capture's context: numbered and recorded in C (extension pgwarden_wal 1.1) where
the server has it, in PL/pgSQL otherwise; the same rows either way, and in one transaction
writing tables of both. The C functions insert a context once and remember it in the
backend; what a rolled-back subtransaction took with it is recorded again."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from pgwarden import Warden

from ._support import applied, events

SPEC = '[tables."public.{}"]\naudit = {{ capture = "trigger" }}\n'
PARTITIONED = (
    "create table {} (id int primary key, v text) partition by range (id); "
    "create table {}_1 partition of {} for values from (0) to (1000)"
)


def _in_c(conn: psycopg.Connection[Any], table: str) -> bool:
    row = conn.execute(
        "select p.prosrc like '%%warden_wal.audit_seq()%%' from pg_proc p "
        "where p.oid = %s::regproc",
        (f"warden.public_{table}__audit",),
    ).fetchone()
    return bool(row and row[0])


def _contexts(conn: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
    return conn.execute(
        "select txid::text::bigint, context_seq, actor, reason from warden.audit_contexts "
        "order by txid, context_seq"
    ).fetchall()


@pytest.fixture
def plpgsql_context() -> Iterator[Callable[[bool], None]]:
    """Plans made while on capture in PL/pgSQL only (the context, and the statements), as on
    a server without the extension."""
    import pgwarden.features.audit as audit

    chosen = audit.context_in_c, audit.capture_in_c

    def use(on: bool) -> None:
        if on:
            audit.context_in_c = lambda ctx: (False, False, "plpgsql")  # type: ignore[assignment]
            audit.capture_in_c = lambda ctx: (False, False, "plpgsql")  # type: ignore[assignment]
        else:
            audit.context_in_c, audit.capture_in_c = chosen

    yield use
    audit.context_in_c, audit.capture_in_c = chosen


@pytest.mark.parametrize("partitioned", [False, True])
def test_a_context_rolled_back_with_its_savepoint_is_recorded_again(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden], partitioned: bool
) -> None:
    conn.execute(
        PARTITIONED.format("t", "t", "t")
        if partitioned
        else "create table t (id int primary key, v text)"
    )
    applied(make_warden, SPEC.format("t"))
    with conn.transaction():
        conn.execute("set local pgwarden.actor = 'ann'")
        with pytest.raises(psycopg.errors.UniqueViolation), conn.transaction():
            conn.execute("insert into t values (1, 'a')")  # records the context...
            conn.execute("insert into t values (1, 'again')")  # ...rolled back with this
        conn.execute("insert into t values (2, 'b')")
        with conn.transaction():  # a savepoint released: its context stays
            conn.execute("insert into t values (3, 'c')")
        conn.execute("update t set v = 'bb' where id = 2")
    found = events(conn)
    assert [(e["op"], e["row_key"], e["has_context"], e["actor"]) for e in found] == [
        ("I", [2], True, "ann"),
        ("I", [3], True, "ann"),
        ("U", [2], True, "ann"),
    ]
    assert [c[1:] for c in _contexts(conn)] == [(1, "ann", None)]


def test_one_context_row_per_context_and_a_new_one_when_it_changes(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute("create table t (id int primary key, v text)")
    applied(make_warden, SPEC.format("t"))
    with conn.transaction():
        conn.execute("set local pgwarden.actor = 'ann'")
        for i in range(3):
            conn.execute("insert into t values (%s, 'x')", (i,))
        conn.execute("set local pgwarden.reason = 'fix'")
        conn.execute("update t set v = 'y' where id = 0")
        conn.execute("update t set v = 'z' where id = 1")
    with conn.transaction():
        conn.execute("delete from t where id = 2")
    assert [(e["op"], e["context_seq"], e["actor"], e["reason"]) for e in events(conn)] == [
        ("I", 1, "ann", None),
        ("I", 1, "ann", None),
        ("I", 1, "ann", None),
        ("U", 2, "ann", "fix"),
        ("U", 2, "ann", "fix"),
        ("D", 1, None, None),
    ]
    assert [c[1:] for c in _contexts(conn)] == [
        (1, "ann", None),
        (2, "ann", "fix"),
        (1, None, None),
    ]


def test_tables_with_the_context_in_c_and_in_plpgsql_share_it(
    conn: psycopg.Connection[Any],
    make_warden: Callable[..., Warden],
    plpgsql_context: Callable[[bool], None],
) -> None:
    """A transaction writing a table whose function numbers the context in C and one whose
    function does it in PL/pgSQL: one context row per context, the same numbers in both."""
    conn.execute("create table by_c (id int primary key, v text)")
    conn.execute("create table by_plpgsql (id int primary key, v text)")
    applied(make_warden, SPEC.format("by_c") + SPEC.format("by_plpgsql"))
    if not _in_c(conn, "by_c"):
        pytest.skip("extension pgwarden_wal 1.1 is not available on this server")
    # The function of by_plpgsql only, as a plan without the C functions would make it.
    plpgsql_context(True)
    plan = make_warden(SPEC.format("by_c") + SPEC.format("by_plpgsql")).plan()
    [change] = [c for c in plan.changes if c.ref and c.ref.name == "public_by_plpgsql__audit"]
    for statement in change.statements:
        conn.execute(statement.as_string(None))
    assert _in_c(conn, "by_c") and not _in_c(conn, "by_plpgsql")
    with conn.transaction():
        conn.execute("set local pgwarden.actor = 'ann'")
        conn.execute("insert into by_c values (1, 'a')")
        conn.execute("insert into by_plpgsql values (1, 'a')")
        conn.execute("insert into by_c values (2, 'a')")
        conn.execute("set local pgwarden.actor = 'bob'")
        conn.execute("insert into by_plpgsql values (2, 'a')")
        conn.execute("insert into by_c values (3, 'a')")
    found = events(conn)
    assert [(e["table_name"], e["context_seq"], e["actor"]) for e in found] == [
        ("public.by_c", 1, "ann"),
        ("public.by_plpgsql", 1, "ann"),
        ("public.by_c", 1, "ann"),
        ("public.by_plpgsql", 2, "bob"),
        ("public.by_c", 2, "bob"),
    ]
    assert [c[1:3] for c in _contexts(conn)] == [(1, "ann"), (2, "bob")]


def _woken(listener: psycopg.Connection[Any], writer: psycopg.Connection[Any]) -> list[str]:
    """The notifications ``listener`` got before a marker ``writer`` sends after its writes
    (notifications arrive in commit order: no waiting for one that may never come)."""
    writer.execute("notify pgwarden_changes, 'marker'")
    payloads = []
    for note in listener.notifies(timeout=30):
        if note.payload == "marker":
            return payloads
        payloads.append(note.payload)
    raise AssertionError("the marker never arrived")


def test_capture_notifies_while_a_reader_follows_the_feed(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden], db_url: str
) -> None:
    """NOTIFY pgwarden_changes at the commit of each transaction that wrote events, while a
    reader holds the followers' lock (as `pgwarden changes --follow` does); none otherwise:
    every notifying commit waits for the one before it to be flushed."""
    from pgwarden.features.audit._runtime import FOLLOWERS_LOCK

    conn.execute("create table t (id int primary key, v text)")
    applied(make_warden, SPEC.format("t"))
    with psycopg.connect(db_url, autocommit=True) as listener:
        listener.execute("listen pgwarden_changes")
        conn.execute("insert into t values (1, 'a')")
        assert _woken(listener, conn) == []
        listener.execute("select pg_advisory_lock_shared(%s)", (FOLLOWERS_LOCK,))
        conn.execute("insert into t values (2, 'b')")
        with conn.transaction():
            conn.execute("update t set v = 'c'")
            conn.execute("delete from t where id = 1")
        assert _woken(listener, conn) == ["", ""]  # once per transaction
        listener.execute("select pg_advisory_unlock_shared(%s)", (FOLLOWERS_LOCK,))
        conn.execute("insert into t values (3, 'd')")
        assert _woken(listener, conn) == []


def test_an_extension_at_1_0_keeps_the_context_in_plpgsql_until_updated(
    conn: psycopg.Connection[Any],
    make_warden: Callable[..., Warden],
    plpgsql_context: Callable[[bool], None],
) -> None:
    """The database owner's pgwarden_wal 1.0 (WAL capture's trigger only) is used as it is:
    the plan says what would move the context to C, and does once it is updated."""
    row = conn.execute(
        "select 1 from pg_available_extension_versions "
        "where name = 'pgwarden_wal' and version = '1.1'"
    ).fetchone()
    if row is None:
        pytest.skip("extension pgwarden_wal 1.1 is not available on this server")
    conn.execute("create table t (id int primary key, v text)")
    plpgsql_context(True)
    applied(make_warden, SPEC.format("t"))  # the store, without the extension
    plpgsql_context(False)
    conn.execute("create extension pgwarden_wal version '1.0'")  # the database owner's
    assert make_warden(SPEC.format("t")).plan().empty  # used as it is: PL/pgSQL still
    assert not _in_c(conn, "t")
    conn.execute("alter extension pgwarden_wal update")
    make_warden(SPEC.format("t")).apply()
    assert _in_c(conn, "t")
    conn.execute("insert into t values (1, 'a')")
    assert [(e["op"], e["has_context"]) for e in events(conn)] == [("I", True)]
