"""Property: whatever DML runs (multi-row inserts, updates that change keys, deletes,
truncates, no-op updates) across many transactions, ``as_of`` each commit time equals the
snapshot taken then, and reverting every row to an earlier time reproduces it exactly; on a
plain table and on a partitioned one (where changing a key moves rows between partitions),
captured by triggers and from the WAL."""

from __future__ import annotations

import itertools
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql

from pgwarden import Warden
from pgwarden.spec import parse_spec

from ._support import needs_logical_wal

COLUMNS = "id, n, label, at, doc, tags, blob, amount"
VALUE = st.fixed_dictionaries(
    {
        "n": st.none() | st.integers(-5, 5),
        "label": st.none() | st.text(alphabet="ab'\"\\ é", max_size=4),
        "at": st.none()
        | st.sampled_from(["2026-01-01 10:00:00.123456+00", "1999-12-31 23:59:59+05"]),
        "doc": st.none() | st.sampled_from(['{"a": 1}', '{"b": [1, null, "x"]}', "[]", "null"]),
        "tags": st.none() | st.lists(st.none() | st.integers(0, 3), max_size=3),
        "blob": st.none() | st.binary(max_size=3),
        "amount": st.none() | st.sampled_from(["0", "1.50", "-3.14159", "1e20"]),
    }
)
IDS = st.integers(1, 12)
STEP = st.one_of(
    st.tuples(st.just("insert"), st.lists(st.tuples(IDS, VALUE), min_size=1, max_size=4)),
    st.tuples(st.just("update"), st.lists(IDS, min_size=1, max_size=5), VALUE),
    st.tuples(st.just("rekey"), st.permutations(list(range(1, 13))), st.integers(1, 6)),
    st.tuples(st.just("delete"), st.lists(IDS, min_size=1, max_size=4)),
    st.tuples(st.just("noop"), st.just(None)),
    st.tuples(st.just("truncate"), st.just(None)),
)
TRANSACTION = st.lists(STEP, min_size=1, max_size=3)

_schemas = itertools.count()


def _values(v: dict[str, Any]) -> list[Any]:
    return [v["n"], v["label"], v["at"], v["doc"], v["tags"], v["blob"], v["amount"]]


def _run(conn: psycopg.Connection[Any], table: sql.Identifier, step: tuple[Any, ...]) -> None:
    kind = step[0]
    if kind == "insert":
        existing = {r[0] for r in conn.execute(sql.SQL("select id from {}").format(table))}
        rows = {i: v for i, v in step[1] if i not in existing}
        for i, v in rows.items():
            conn.execute(
                sql.SQL(
                    "insert into {} ({}) values (%s, %s, %s, %s, %s::jsonb, %s, %s, %s::numeric)"
                ).format(table, sql.SQL(COLUMNS)),
                [i, *_values(v)],
            )
    elif kind == "update":
        conn.execute(
            sql.SQL(
                "update {} set n = %s, label = %s, at = %s, doc = %s::jsonb, tags = %s, "
                "blob = %s, amount = %s::numeric where id = any(%s)"
            ).format(table),
            [*_values(step[2]), step[1]],
        )
    elif kind == "rekey":
        # Move some rows onto a permutation of their own ids plus fresh ones, in ONE
        # statement: shifts and swaps that only a deferrable key allows mid-statement.
        perm, size = step[1], step[2]
        existing = sorted(r[0] for r in conn.execute(sql.SQL("select id from {}").format(table)))
        old = [i for i in perm if i in existing][:size]
        fresh = itertools.count(max(existing, default=0) + 1)
        new = [n if j % 2 == 0 else next(fresh) for j, n in enumerate(reversed(old))]
        conn.execute(
            sql.SQL(
                "update {} t set id = m.new from unnest(%s::int[], %s::int[]) m(old, new) "
                "where t.id = m.old"
            ).format(table),
            [old, new],
        )
    elif kind == "delete":
        conn.execute(sql.SQL("delete from {} where id = any(%s)").format(table), [step[1]])
    elif kind == "noop":
        conn.execute(sql.SQL("update {} set n = n").format(table))
    elif kind == "truncate":
        conn.execute(sql.SQL("truncate {}").format(table))


def _snapshot(
    conn: psycopg.Connection[Any], query: sql.Composable, *params: Any
) -> list[tuple[Any, ...]]:
    return conn.execute(query, params).fetchall()


def items_table(
    conn: psycopg.Connection[Any], schema: str, *, partitioned: bool = False
) -> tuple[sql.Identifier, sql.Composed]:
    """``<schema>.items`` with a column of each kind and two rows that exist before auditing
    starts (their history must be right too); returns it and a query of its rows by id.
    ``partitioned``: by range of id in two partitions (ids below 7, the rest), so that
    changing keys moves rows between partitions."""
    table = sql.Identifier(schema, "items")
    conn.execute(sql.SQL("create schema {}").format(sql.Identifier(schema)))
    conn.execute(
        sql.SQL(
            "create table {} (id int primary key deferrable initially immediate, n int, "
            "label text, at timestamptz, doc jsonb, tags int[], blob bytea, amount numeric)"
            + (" partition by range (id)" if partitioned else "")
        ).format(table)
    )
    if partitioned:
        for name, bounds in (("low", "minvalue) to (7"), ("high", "7) to (maxvalue")):
            conn.execute(
                sql.SQL("create table {} partition of {} for values from (" + bounds + ")").format(
                    sql.Identifier(schema, f"items_{name}"), table
                )
            )
    conn.execute(sql.SQL("insert into {} (id, n) values (1, 1), (2, 2)").format(table))
    return table, sql.SQL("select {} from {} order by id").format(sql.SQL(COLUMNS), table)


@pytest.mark.parametrize("partitioned", [False, True], ids=["table", "partitioned"])
@pytest.mark.parametrize("capture", ["trigger", "wal"])
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(transactions=st.lists(TRANSACTION, min_size=1, max_size=8), data=st.data())
def test_as_of_and_revert_reproduce_every_commit(
    conn: psycopg.Connection[Any],
    db_url: str,
    capture: str,
    partitioned: bool,
    transactions: list[list[Any]],
    data: st.DataObject,
) -> None:
    if capture == "wal":
        needs_logical_wal(conn)
    schema = f"tt{next(_schemas)}"
    table, ordered = items_table(conn, schema, partitioned=partitioned)
    as_of = sql.SQL("select {} from warden.as_of(null::{}, %s) order by id").format(
        sql.SQL(COLUMNS), table
    )
    spec = f'[tables."{schema}.items"]\naudit = {{ capture = "{capture}" }}\n'
    with Warden(db_url, spec=parse_spec(spec)) as warden:
        warden.apply()
        commits = [
            (conn.execute("select clock_timestamp()").fetchone()[0], _snapshot(conn, ordered))
        ]  # type: ignore[index]
        for steps in transactions:
            with conn.transaction():
                for step in steps:
                    _run(conn, table, step)
            commits.append(
                (conn.execute("select clock_timestamp()").fetchone()[0], _snapshot(conn, ordered))
            )  # type: ignore[index]

        warden.audit.ingest()  # capture = "wal": SQL reads see what was ingested
        for at, snapshot in commits:
            assert _snapshot(conn, as_of, at) == snapshot, f"as_of({at})"

        # Revert every row ever seen to an earlier commit: the table must equal that snapshot.
        at, snapshot = data.draw(st.sampled_from(commits[:-1] or commits), label="revert to")
        keys = {
            r[0]
            for r in conn.execute(
                "select distinct (k ->> 0)::int from warden.audit_events e, "
                "lateral (values (e.row_key), (e.old_key)) v(k) "
                "where e.table_id = warden.audit_table_id(%s) and k is not null",
                (f"{schema}.items",),
            )
        } | {r[0] for r in snapshot}
        for key in sorted(keys):
            warden.audit.revert(f"{schema}.items", key, to=at)
        assert _snapshot(conn, ordered) == snapshot
