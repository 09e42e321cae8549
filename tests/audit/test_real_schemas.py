"""The hunt: audit + versioning (+ soft delete) on look-alikes of public sample schemas
(``_shapes.py``), random DML, and every read checked against the tables at each commit.

Each example builds one shape in a schema of its own, declares every table in pgwarden.toml
and applies it, runs random transactions (a statement the schema refuses — a key, a check,
a numeric overflow — is rolled back to its savepoint, as an application would), snapshots
every table at every commit, then checks: ``as_of`` at every commit equals the snapshot (``row_as_of`` too), the
``__versions`` view's rows valid then are rows of it, the latest ``history`` version is the
live row, ``diff`` agrees with ``changed``, and undoing the transactions newest first with
``revert_transaction`` brings every table back to an earlier commit."""

from __future__ import annotations

import itertools
import os
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql

from pgwarden import Warden
from pgwarden.spec import parse_spec

from ._shapes import SHAPES, Shape
from ._support import needs_logical_wal, now

_schemas = itertools.count()
# What the schema may refuse: integrity (23) and data (22) errors. Anything else fails.
EXPECTED = ("22", "23")


def _steps(shape: Shape, columns: dict[str, dict[str, Any]]) -> st.SearchStrategy[Any]:
    def of(name: str) -> st.SearchStrategy[Any]:
        row = st.fixed_dictionaries({}, optional=columns[name])
        where = st.tuples(st.integers(0, 50), st.integers(1, 3))
        return st.one_of(
            st.tuples(st.just("insert"), st.just(name), st.lists(row, min_size=1, max_size=3)),
            st.tuples(st.just("update"), st.just(name), row.filter(bool), where),
            st.tuples(st.just("delete"), st.just(name), where),
        )

    return st.sampled_from(list(shape.tables)).flatmap(of)


def _statement(
    tables: dict[str, sql.Identifier], shape: Shape, step: tuple[Any, ...]
) -> sql.Composable:
    kind, name = step[0], step[1]
    table = tables[name]
    key = sql.SQL(", ").join(map(sql.Identifier, shape.tables[name]))
    if kind == "insert":
        names = sorted({c for row in step[2] for c in row})
        if not names:
            return sql.SQL("insert into {} default values").format(table)
        values = sql.SQL(", ").join(
            sql.SQL("({})").format(
                sql.SQL(", ").join(row.get(c, sql.SQL("DEFAULT")) for c in names)
            )
            for row in step[2]
        )
        return sql.SQL("insert into {} ({}) values {}").format(
            table, sql.SQL(", ").join(map(sql.Identifier, names)), values
        )
    offset, limit = step[-1]
    some = sql.SQL(
        "({key}) in (select {key} from {t} order by {key} "
        "offset {n} % greatest((select count(*) from {t}), 1) limit {m})"
    ).format(key=key, t=table, n=sql.Literal(offset), m=sql.Literal(limit))
    if kind == "update":
        sets = sql.SQL(", ").join(
            sql.SQL("{} = {}").format(sql.Identifier(c), v) for c, v in sorted(step[2].items())
        )
        return sql.SQL("update {} set {} where {}").format(table, sets, some)
    return sql.SQL("delete from {} where {}").format(table, some)


def _ordered(shape: Shape, name: str) -> sql.Composable:
    return sql.SQL(", ").join(map(sql.Identifier, shape.tables[name]))


def _snapshot(
    conn: psycopg.Connection[Any], shape: Shape, tables: dict[str, sql.Identifier]
) -> dict[str, list[tuple[Any, ...]]]:
    return {
        name: conn.execute(
            sql.SQL("select * from {} order by {}").format(t, _ordered(shape, name))
        ).fetchall()
        for name, t in tables.items()
    }


def _spec(schema: str, shape: Shape, capture: str) -> str:
    quoted = '"' + schema.replace('"', '""') + '"'
    return "".join(
        f'[tables.\'{quoted}."{name}"\']\naudit = {{ capture = "{capture}" }}\n'
        "versioning = true\n" + ("soft_delete = true\n" if name in shape.soft_delete else "")
        for name in shape.tables
    )


@pytest.mark.parametrize("shape_name", list(SHAPES))
@pytest.mark.parametrize("capture", ["trigger", "wal"])
@settings(
    # A longer hunt: PGWARDEN_HUNT_EXAMPLES=50 (docs/audit.md lists what one found).
    max_examples=int(os.environ.get("PGWARDEN_HUNT_EXAMPLES", "4")),
    # CI runs the same examples every time; a longer hunt draws new ones.
    derandomize="PGWARDEN_HUNT_EXAMPLES" not in os.environ,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(data=st.data())
def test_every_read_matches_the_tables_at_every_commit(
    conn: psycopg.Connection[Any], db_url: str, capture: str, shape_name: str, data: st.DataObject
) -> None:
    if capture == "wal":
        needs_logical_wal(conn)
    shape = SHAPES[shape_name]
    vector = bool(
        conn.execute("select 1 from pg_available_extensions where name = 'vector'").fetchone()
    )
    if vector:
        conn.execute("create extension if not exists vector")
    # WAL capture refuses a virtual generated column (tests/audit/test_generated.py).
    virtual = conn.info.server_version >= 180000 and capture == "trigger"
    schema = f"{shape.name} {next(_schemas)}"
    s = sql.Identifier(schema)
    conn.execute(sql.SQL("create schema {}").format(s))
    conn.execute(sql.SQL(shape.ddl(virtual, vector)).format(s=s))
    tables = {name: sql.Identifier(schema, name) for name in shape.tables}
    steps = _steps(shape, shape.columns(s, tables, vector))  # type: ignore[arg-type]

    with Warden(db_url, spec=parse_spec(_spec(schema, shape, capture))) as warden:
        warden.apply()
        commits = [(now(conn), _snapshot(conn, shape, tables), None)]
        for _ in range(data.draw(st.integers(1, 6), label="transactions")):
            with conn.transaction():
                for step in data.draw(st.lists(steps, min_size=1, max_size=4), label="steps"):
                    try:
                        with conn.transaction():
                            conn.execute(_statement(tables, shape, step))
                    except psycopg.Error as exc:
                        if not (exc.sqlstate or "").startswith(EXPECTED):
                            raise
                txid = conn.execute("select pg_current_xact_id()::text::bigint").fetchone()
            commits.append((now(conn), _snapshot(conn, shape, tables), txid[0] if txid else None))
        warden.audit.ingest()

        for name, table in tables.items():
            as_of = sql.SQL("select * from warden.as_of(null::{}, %s) order by {}").format(
                table, _ordered(shape, name)
            )
            versions = sql.SQL(
                "select * from {} where valid_from <= %s and (valid_to is null or valid_to > %s) "
                "and op in ('insert', 'update')"
            ).format(sql.Identifier(schema, f"{name}__versions"))
            names = [
                d.name
                for d in conn.execute(sql.SQL("select * from {} limit 0").format(table)).description
                or ()
            ]
            at_key = [names.index(c) for c in shape.tables[name]]
            row_as_of = sql.SQL(
                "select * from warden.row_as_of(null::{}, jsonb_build_array({}), %s)"
            ).format(table, sql.SQL(", ").join(sql.Placeholder() * len(at_key)))
            for at, snapshot, _ in commits:
                assert conn.execute(as_of, (at,)).fetchall() == snapshot[name], f"{name} {at}"
                for row in snapshot[name][:1]:
                    one = conn.execute(row_as_of, [*(row[i] for i in at_key), at]).fetchall()
                    assert one == [row], f"{name} {at} row_as_of"
                for row in conn.execute(versions, (at, at)).fetchall():
                    assert row[11:] in snapshot[name], f"{name} {at} versions"
            _check_history(conn, warden, schema, shape, name)

        # Undo transactions newest first, back to a commit: every table is as it was then.
        back = data.draw(st.integers(0, len(commits) - 2), label="back to")
        for _, _, txid in reversed(commits[back + 1 :]):
            found = conn.execute(
                "select 1 from warden.audit_events_all where txid = %s::text::xid8", (str(txid),)
            ).fetchone()
            if found:
                warden.audit.revert_transaction(txid)
        # Exactly, soft-delete tables too: an insert undone is deleted for real.
        now_ = _snapshot(conn, shape, tables)
        for name in tables:
            assert now_[name] == commits[back][1][name], f"{name} after reverting to commit {back}"


def _check_history(
    conn: psycopg.Connection[Any], warden: Warden, schema: str, shape: Shape, name: str
) -> None:
    """The latest version of the first live row is that row; diff agrees with changed."""
    live = conn.execute(
        sql.SQL("select to_jsonb(t) from {} t order by {} limit 1").format(
            sql.Identifier(schema, name), _ordered(shape, name)
        )
    ).fetchone()
    if live is None:
        return
    quoted = '"' + schema.replace('"', '""') + '"."' + name.replace('"', '""') + '"'
    key = tuple(live[0][c] for c in shape.tables[name])
    history = warden.audit.history(quoted, key if len(key) > 1 else key[0])
    if not history:
        return  # never changed since auditing began
    assert history[-1].row == live[0], f"{name} {key} latest version"
    if len(history) > 1 and history[-2].row is not None and history[-1].changed is not None:
        diff = warden.audit.diff(quoted, key if len(key) > 1 else key[0], history[-2].version)
        assert sorted(diff) == history[-1].changed, f"{name} {key} diff"
