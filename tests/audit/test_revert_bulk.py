"""``revert_transaction`` of a bulk transaction of one table: put back by one statement per
kind of change (the revert's own events show it), to exactly the rows there were; and, when a
unique value needs the row-by-row order, row by row, as if the bulk attempt never ran."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pgwarden import Warden
from pgwarden.errors import AuditError

from ._support import applied, events, rows

SPEC = '[tables."public.t"]\naudit = true\n'
TABLE = "create table t (id int primary key, v text, n int, u text unique)"


def _txid(conn: psycopg.Connection[Any], *statements: str) -> int:
    with conn.transaction():
        for statement in statements:
            conn.execute(statement)
        found = conn.execute("select pg_current_xact_id()::text::bigint").fetchone()
    assert found is not None
    return int(found[0])


def _revert_statements(conn: psycopg.Connection[Any], before: int) -> int:
    """How many statements the revert's own changes took (trigger capture: one id each)."""
    return len({e["statement_id"] for e in events(conn)[before:]})


def test_a_bulk_transaction_is_put_back_by_one_statement_per_kind(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute(TABLE)
    warden = applied(make_warden, SPEC)
    conn.execute("insert into t select i, 'v' || i, i, 'u' || i from generate_series(1, 300) i")
    before_rows = rows(conn, "select * from t order by id")
    txid = _txid(
        conn,
        "update t set v = 'changed', n = n * 2 where id <= 200",
        "update t set n = -1 where id <= 50",  # twice: back to before the first
        "delete from t where id > 250",
        "insert into t select i, 'new', 0, 'n' || i from generate_series(301, 340) i",
    )
    start = len(events(conn))
    done = warden.audit.revert_transaction(txid)
    assert rows(conn, "select * from t order by id") == before_rows
    assert _revert_statements(conn, start) == 3  # one DELETE, one UPDATE, one INSERT
    actions: dict[str, int] = {}
    for _, _, action in done:
        actions[action] = actions.get(action, 0) + 1
    assert actions == {"updated back": 250, "restored": 50, "deleted": 40}


def test_keys_moved_by_a_bulk_update_are_moved_back_in_one_statement(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute(TABLE)
    warden = applied(make_warden, SPEC)
    conn.execute("insert into t select i, 'v', i, 'u' || i from generate_series(1, 200) i")
    before_rows = rows(conn, "select * from t order by id")
    txid = _txid(conn, "update t set n = n + 1, id = case when id % 10 = 0 then -id else id end")
    start = len(events(conn))
    done = warden.audit.revert_transaction(txid)
    assert rows(conn, "select * from t order by id") == before_rows
    assert _revert_statements(conn, start) == 1
    assert sorted(k for k, a in ((d[1], d[2]) for d in done) if a == "moved back") == sorted(
        [[i] for i in range(10, 201, 10)]
    )
    # a key taken again since: the old key is not free, refused, nothing changed
    txid = _txid(conn, "update t set id = -id where id % 10 = 0")
    conn.execute("insert into t values (10, 'again', 0, 'again')")
    after = rows(conn, "select * from t order by id")
    with pytest.raises(AuditError, match=r"row \[10\] of public.t changed since"):
        warden.audit.revert_transaction(txid)
    assert rows(conn, "select * from t order by id") == after


def test_a_row_changed_since_refuses_the_bulk_revert_and_changes_nothing(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute(TABLE)
    warden = applied(make_warden, SPEC)
    conn.execute("insert into t select i, 'v', i, 'u' || i from generate_series(1, 100) i")
    txid = _txid(conn, "update t set v = 'bulk'", "delete from t where id = 100")
    conn.execute("update t set n = 0 where id = 42")  # a later change
    after = rows(conn, "select * from t order by id")
    with pytest.raises(AuditError, match=r"row \[42\] of public.t changed since"):
        warden.audit.revert_transaction(txid)
    assert rows(conn, "select * from t order by id") == after
    conn.execute("insert into t values (100, 'back', 0, 'x')")  # a deleted key written again
    conn.execute("update t set n = 42 where id = 42")
    with pytest.raises(AuditError, match=r"row \[100\] of public.t changed since"):
        warden.audit.revert_transaction(txid)


def test_values_swapped_through_a_unique_key_go_back_row_by_row(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute(TABLE)
    warden = applied(make_warden, SPEC)
    conn.execute("insert into t values (1, 'a', 1, 'a'), (2, 'b', 2, 'b')")
    # one UPDATE putting both back at once would meet the unique value still held
    txid = _txid(conn, "update t set u = 'x' where id = 1", "update t set u = 'a' where id = 2")
    start = len(events(conn))
    warden.audit.revert_transaction(txid)
    assert rows(conn, "select * from t order by id") == [(1, "a", 1, "a"), (2, "b", 2, "b")]
    # row by row: a statement per row, the failed bulk UPDATE left nothing behind
    assert _revert_statements(conn, start) == 2
    assert len(events(conn)) - start == 2


OPS = st.lists(
    st.tuples(
        st.sampled_from(["insert", "update", "update_u", "rekey", "delete"]), st.integers(1, 30)
    ),
    max_size=25,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(initial=st.sets(st.integers(1, 30), max_size=20), ops=OPS)
def test_any_transaction_of_one_table_is_undone_exactly(
    conn: psycopg.Connection[Any],
    make_warden: Callable[..., Warden],
    initial: set[int],
    ops: list[tuple[str, int]],
) -> None:
    if conn.execute("select to_regclass('t')").fetchone() == (None,):
        conn.execute(TABLE)
    warden = applied(make_warden, SPEC)
    conn.execute("delete from t")
    for key in sorted(initial):
        conn.execute("insert into t values (%s, 'v', %s, %s)", (key, key, f"u{key}"))
    before = rows(conn, "select * from t order by id")
    with conn.transaction():
        for op, key in ops:
            with conn.transaction():  # a statement refused (a duplicate) is undone alone
                try:
                    if op == "insert":
                        conn.execute("insert into t values (%s, 'i', 0, null)", (key,))
                    elif op == "update":
                        conn.execute("update t set v = v || '+', n = n + 1 where id >= %s", (key,))
                    elif op == "rekey":  # a key moved (again: a chain of keys)
                        conn.execute("update t set id = id + 100 where id %% 100 = %s", (key,))
                    elif op == "update_u":  # unique values moving between rows
                        conn.execute("update t set u = 'w' || (id %% 3) where id = %s", (key,))
                    else:
                        conn.execute("delete from t where id = %s", (key,))
                except psycopg.errors.UniqueViolation:
                    raise psycopg.Rollback() from None
        found = conn.execute("select pg_current_xact_id_if_assigned()::text").fetchone()
    txid = found[0] if found else None
    changed = conn.execute(
        "select exists (select from warden.audit_events_all where txid = %s::xid8)", (txid,)
    ).fetchone()
    if txid is None or changed != (True,):
        return  # the transaction changed nothing
    try:
        warden.audit.revert_transaction(int(txid))
    except AuditError as exc:
        assert "duplicate key value" in str(exc)
        return  # no order puts two rows' unique values back (a swap): refused, as documented
    assert rows(conn, "select * from t order by id") == before
