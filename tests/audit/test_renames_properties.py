"""Property: with columns renamed at random between and inside transactions (chains, renames
back, swaps through a free name), ``as_of`` each commit time equals the snapshot taken then,
column by column (by attribute number), and reverting every row to an earlier commit
reproduces it."""

from __future__ import annotations

import itertools
from typing import Any

import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql

from pgwarden import Warden
from pgwarden.spec import parse_spec

NAMES = ["a", "b", "c", "x", "y"]
VALUE = st.tuples(st.none() | st.text("pq", max_size=2), st.none() | st.integers(0, 3),
                  st.none() | st.text("rs", max_size=2))  # fmt: skip
IDS = st.integers(1, 6)
STEP = st.one_of(
    st.tuples(st.just("insert"), IDS, VALUE),
    st.tuples(st.just("update"), st.lists(IDS, min_size=1, max_size=3), VALUE),
    st.tuples(st.just("delete"), IDS),
    st.tuples(st.just("rename"), st.integers(0, 2), st.sampled_from(NAMES)),
)
TRANSACTION = st.lists(STEP, min_size=1, max_size=3)

_schemas = itertools.count()


def _run(
    conn: psycopg.Connection[Any], table: sql.Identifier, names: list[str], step: tuple[Any, ...]
) -> None:
    columns = sql.SQL(", ").join(sql.Identifier(n) for n in names)
    if step[0] == "insert":
        conn.execute(
            sql.SQL("insert into {} (id, {}) values (%s, %s, %s, %s) on conflict do nothing")
            .format(table, columns),
            [step[1], *step[2]],
        )  # fmt: skip
    elif step[0] == "update":
        conn.execute(
            sql.SQL("update {} set ({}) = (%s, %s, %s) where id = any(%s)").format(table, columns),
            [*step[2], step[1]],
        )
    elif step[0] == "delete":
        conn.execute(sql.SQL("delete from {} where id = %s").format(table), [step[1]])
    elif step[2] not in names:  # rename: to a free name (a rename back is a later step)
        conn.execute(
            sql.SQL("alter table {} rename column {} to {}").format(
                table, sql.Identifier(names[step[1]]), sql.Identifier(step[2])
            )
        )
        names[step[1]] = step[2]


def _clock(conn: psycopg.Connection[Any]) -> Any:
    row = conn.execute("select clock_timestamp()").fetchone()
    assert row is not None
    return row[0]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(transactions=st.lists(TRANSACTION, min_size=1, max_size=6), data=st.data())
def test_as_of_and_revert_reproduce_every_commit_across_renames(
    conn: psycopg.Connection[Any], db_url: str, transactions: list[list[Any]], data: st.DataObject
) -> None:
    schema = f"rn{next(_schemas)}"
    table = sql.Identifier(schema, "items")
    conn.execute(sql.SQL("create schema {}").format(sql.Identifier(schema)))
    conn.execute(
        sql.SQL("create table {} (id int primary key, a text, b int, c text)").format(table)
    )
    conn.execute(sql.SQL("insert into {} values (1, 'p', 1, 'r'), (2, null, 2, 's')").format(table))
    names = ["a", "b", "c"]
    # Never prepared: the table's columns change between calls, and a statement psycopg
    # prepared after a few runs would fail ("cached plan must not change result type").
    ordered = sql.SQL("select * from {} order by id").format(table)
    as_of = sql.SQL("select * from warden.as_of(null::{}, %s) order by id").format(table)
    with Warden(db_url, spec=parse_spec(f'[tables."{schema}.items"]\naudit = true\n')) as warden:
        warden.apply()
        commits = [(_clock(conn), conn.execute(ordered, prepare=False).fetchall())]
        for steps in transactions:
            with conn.transaction():
                for step in steps:
                    _run(conn, table, names, step)
            commits.append((_clock(conn), conn.execute(ordered, prepare=False).fetchall()))

        for at, snapshot in commits:
            assert conn.execute(as_of, [at]).fetchall() == snapshot, f"as_of({at}) {names}"

        at, snapshot = data.draw(st.sampled_from(commits[:-1] or commits), label="revert to")
        keys = (
            {r[0] for r in conn.execute(ordered, prepare=False)}
            | {r[0] for r in snapshot}
            | set(range(1, 7))
        )
        for key in sorted(keys):
            warden.audit.revert(f"{schema}.items", key, to=at)
        assert conn.execute(ordered, prepare=False).fetchall() == snapshot
