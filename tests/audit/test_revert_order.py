"""``revert_transaction`` puts rows back in an order their foreign keys accept: through key
moves, ON UPDATE / ON DELETE actions recorded in the same transaction (captured after their
parent's row, by triggers and from the WAL), and soft-deleted rows; undoing transactions
newest first always works and brings the tables back exactly."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql

from pgwarden import Warden
from pgwarden.spec import parse_spec

from ._support import applied, needs_logical_wal, rows


def _spec(capture: str, tables: tuple[str, ...], soft: tuple[str, ...] = ()) -> str:
    return "".join(
        f'[tables."public.{t}"]\naudit = {{ capture = "{capture}" }}\n'
        + ("soft_delete = true\n" if t in soft else "")
        for t in tables
    )


def _tx(warden: Warden, *statements: str) -> int:
    with warden.session() as db:
        for statement in statements:
            db.execute(statement)
        found = db.execute("select pg_current_xact_id()::text").fetchone()
    assert found is not None
    return int(found[0])


def _tables(conn: psycopg.Connection[Any], *names: str) -> list[list[tuple[Any, ...]]]:
    return [rows(conn, f"select * from {name} order by 1") for name in names]


@pytest.mark.parametrize("capture", ["trigger", "wal"])
def test_newest_first_undo_through_a_key_move_under_a_soft_delete_child(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden], capture: str
) -> None:
    """The real-schema hunt's failure, reduced (HR: departments, employees with soft delete):
    undoing the employee's insert left it soft-deleted, still referencing department 7, so
    undoing the department's key move failed on employees_department_id_fkey."""
    if capture == "wal":
        needs_logical_wal(conn)
    conn.execute("create table departments (department_id smallint primary key, name text)")
    conn.execute(
        "create table employees (employee_id int primary key, "
        "department_id smallint references departments)"
    )
    conn.execute("insert into departments values (10, 'Admin')")
    conn.execute("insert into employees values (1, 10)")
    warden = applied(make_warden, _spec(capture, ("departments", "employees"), ("employees",)))
    before = _tables(conn, "departments", "employees")
    txids = [
        _tx(warden, "insert into departments values (5, 'new')"),
        _tx(warden, "update departments set department_id = 7 where department_id = 5"),
        _tx(
            warden, "insert into employees values (2, 7)", "update employees set department_id = 7"
        ),
        _tx(warden, "delete from employees where employee_id = 2"),  # soft: marked
        _tx(
            warden,
            "insert into departments values (8, 'b')",
            "update departments set department_id = 9 where department_id = 8",
            "insert into employees values (3, 9)",
        ),
    ]
    for txid in reversed(txids):
        warden.audit.revert_transaction(txid)
    # Exactly as before: the employees inserted are gone, not soft-deleted.
    assert _tables(conn, "departments", "employees") == before
    # Inserted, soft-deleted (an update), restored by the first undo, deleted for real.
    history = warden.audit.history("public.employees", 2)
    assert [v.op for v in history] == ["insert", "update", "update", "delete"]


def test_an_insert_others_still_reference_is_soft_deleted(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    """Undone out of order (a later transaction's row references it), an insert is deleted as
    any DELETE of a soft-delete table is: marked, its ON DELETE CASCADE children marked too."""
    conn.execute("create table parent (id int primary key)")
    conn.execute(
        "create table child (id int primary key, parent_id int references parent on delete cascade)"
    )
    warden = applied(make_warden, _spec("trigger", ("parent", "child"), ("parent", "child")))
    first = _tx(warden, "insert into parent values (1), (2)")
    _tx(warden, "insert into child values (10, 1)")
    warden.audit.revert_transaction(first)
    assert rows(conn, "select id, deleted_at is not null from parent order by id") == [
        (1, True)  # referenced: marked, not removed
    ]
    assert rows(conn, "select id, deleted_at is not null from child") == [(10, True)]


# An undo the capture order would refuse: each case's rows come back, and undoing the undo
# brings back the changed rows.
CASES = {
    "on delete cascade": (
        "on delete cascade",
        ["delete from p where id = 1"],
    ),
    "on delete set null": (
        "on delete set null",
        ["delete from p where id = 1"],
    ),
    "on update cascade": (
        "on update cascade",
        ["update p set id = 5 where id = 1"],
    ),
    "cascade, then a child moved": (
        "on update cascade",
        [
            "update p set id = 5 where id = 1",
            "update c set pid = 2 where id = 10",
            "update p set id = 1 where id = 2",
        ],
    ),
    "keys rotated": (
        "on update cascade",
        [
            "update p set id = 9 where id = 1",
            "update p set id = 1 where id = 2",
            "update p set id = 2 where id = 9",
        ],
    ),
    "inserted, moved, deleted": (
        "on update cascade on delete cascade",
        [
            "insert into p values (3)",
            "insert into c values (30, 3)",
            "update p set id = 4 where id = 3",
            "update c set pid = 4 where id = 10",
            "delete from p where id = 4",
        ],
    ),
    "moved, then deleted": (
        "on update cascade on delete cascade",
        ["update p set id = 3 where id = 1", "delete from p where id = 3"],
    ),
    "set null on a key move": (
        "on update set null on delete cascade",
        ["update p set id = 7 where id = 1", "delete from p where id = 2"],
    ),
}


@pytest.mark.parametrize("capture", ["trigger", "wal"])
@pytest.mark.parametrize("case", list(CASES))
def test_foreign_key_actions_in_the_same_transaction_are_undone(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden], capture: str, case: str
) -> None:
    if capture == "wal":
        needs_logical_wal(conn)
    action, statements = CASES[case]
    conn.execute("create table p (id int primary key)")
    conn.execute(f"create table c (id int primary key, pid int references p {action})")
    conn.execute("insert into p values (1), (2)")
    conn.execute("insert into c values (10, 1), (11, 1), (12, 2)")
    warden = applied(make_warden, _spec(capture, ("p", "c")))
    before = _tables(conn, "p", "c")
    txid = _tx(warden, *statements)
    after = _tables(conn, "p", "c")

    warden.audit.revert_transaction(txid)
    assert _tables(conn, "p", "c") == before
    # The revert is a transaction like any other: undoing it gives the changes back.
    warden.audit.ingest()
    revert = conn.execute("select max(txid)::text::bigint from warden.audit_events_all").fetchone()
    assert revert is not None
    warden.audit.revert_transaction(revert[0])
    assert _tables(conn, "p", "c") == after


ACTIONS = [
    "on update cascade on delete cascade",
    "on update cascade on delete set null",
    "on update cascade",
    "on delete cascade",
    "",
]


def _some(table: str) -> str:
    """An existing row's id (the n-th, cyclically): most statements then change something."""
    return (
        f"(select id from {table} order by id "
        f"offset {{}} % greatest((select count(*) from {table}), 1) limit 1)"
    )


N = st.integers(0, 5)
STEP = st.one_of(
    st.tuples(st.just("insert into p values ({})"), st.integers(1, 6)),
    st.tuples(st.just("insert into c values ({}, " + _some("p") + ")"), st.integers(10, 15), N),
    st.tuples(st.just("update p set id = {} where id = " + _some("p")), st.integers(1, 6), N),
    st.tuples(st.just("update c set pid = " + _some("p") + " where id = " + _some("c")), N, N),
    st.tuples(st.just("delete from p where id = " + _some("p")), N),
    st.tuples(st.just("delete from c where id = " + _some("c")), N),
)
_databases = itertools.count()


@pytest.mark.parametrize("capture", ["trigger", "wal"])
@settings(
    max_examples=int(os.environ.get("PGWARDEN_HUNT_EXAMPLES", "15")),
    derandomize="PGWARDEN_HUNT_EXAMPLES" not in os.environ,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    action=st.sampled_from(ACTIONS),
    transactions=st.lists(st.lists(STEP, min_size=1, max_size=6), min_size=1, max_size=4),
)
def test_undoing_newest_first_brings_back_every_commit(
    conn: psycopg.Connection[Any],
    db_url: str,
    capture: str,
    action: str,
    transactions: list[list[tuple[Any, ...]]],
) -> None:
    """Random key moves, inserts and deletes on a parent and a child under a foreign key
    action; undoing every transaction newest first passes through every commit."""
    if capture == "wal":
        needs_logical_wal(conn)
    schema = f"revert_order_{next(_databases)}"
    s = sql.Identifier(schema)
    conn.execute(sql.SQL("create schema {}").format(s))
    conn.execute(sql.SQL("set search_path to {}").format(s))
    conn.execute("create table p (id int primary key)")
    conn.execute(f"create table c (id int primary key, pid int references p {action})")
    conn.execute("insert into p values (1), (2)")
    conn.execute("insert into c values (10, 1), (11, 1), (12, 2)")
    spec = "".join(
        f'[tables."{schema}.{t}"]\naudit = {{ capture = "{capture}" }}\n' for t in ("p", "c")
    )
    with Warden(db_url, spec=parse_spec(spec)) as warden:
        warden.apply()
        commits = [(_tables(conn, "p", "c"), None)]
        for steps in transactions:
            with conn.transaction():
                for template, *values in steps:
                    try:
                        with conn.transaction():
                            conn.execute(template.format(*values))
                    except psycopg.Error as exc:  # a key or a foreign key refused it
                        assert (exc.sqlstate or "").startswith("23"), exc
                found = conn.execute("select pg_current_xact_id()::text::bigint").fetchone()
            assert found is not None
            commits.append((_tables(conn, "p", "c"), found[0]))
        warden.audit.ingest()
        for i in range(len(commits) - 1, 0, -1):
            txid = commits[i][1]
            if conn.execute(
                "select 1 from warden.audit_events_all where txid = %s::text::xid8", (str(txid),)
            ).fetchone():
                warden.audit.revert_transaction(txid)  # type: ignore[arg-type]
            assert _tables(conn, "p", "c") == commits[i - 1][0], f"undoing commit {i}"
    conn.execute("reset search_path")
