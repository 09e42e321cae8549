"""Property: whatever sequence of declarations is applied, the database matches the last one,
a second apply does nothing, and declaring nothing restores the original schema exactly."""

from __future__ import annotations

import itertools
from typing import Any

import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pgwarden import Warden
from pgwarden.spec import parse_spec

TABLES = {
    "a": "id int primary key",
    "b": "id int primary key, created_at timestamptz",  # an adoptable column
    "c": "id int, note text",  # no primary key
}
NAMES = st.sampled_from(
    [None, ("created_at", "updated_at"), ("made", "changed"), ("created_at", "touched")]
)
DECLARATION = st.fixed_dictionaries({t: NAMES for t in TABLES})

_counter = itertools.count()


def _snapshot(conn: psycopg.Connection[Any], schema: str) -> dict[str, Any]:
    columns = conn.execute(
        "select table_name, column_name, data_type from information_schema.columns "
        "where table_schema = %s order by 1, 2",
        (schema,),
    ).fetchall()
    triggers = conn.execute(
        "select c.relname, t.tgname from pg_trigger t join pg_class c on c.oid = t.tgrelid "
        "where c.relnamespace = to_regnamespace(%s) and not t.tgisinternal order by 1, 2",
        (schema,),
    ).fetchall()
    functions = conn.execute(
        "select proname from pg_proc where pronamespace = to_regnamespace('warden') "
        "and proname like %s order by 1",
        (schema + "\\_%",),
    ).fetchall()
    return {"columns": columns, "triggers": triggers, "functions": functions}


def _spec_text(schema: str, declaration: dict[str, tuple[str, str] | None]) -> str:
    parts = []
    for table, names in declaration.items():
        if names is not None:
            created, updated = names
            parts.append(
                f'[tables."{schema}.{table}"]\n'
                f'timestamps = {{ created = "{created}", updated = "{updated}" }}\n'
            )
    return "\n".join(parts)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(steps=st.lists(DECLARATION, min_size=1, max_size=4))
def test_any_sequence_of_declarations_converges(
    conn: psycopg.Connection[Any], db_url: str, steps: list[dict[str, Any]]
) -> None:
    schema = f"p{next(_counter)}"
    conn.execute(f"create schema {schema}")
    for table, columns in TABLES.items():
        conn.execute(f"create table {schema}.{table} ({columns})")
    original = _snapshot(conn, schema)

    for declaration in [*steps, dict.fromkeys(TABLES)]:
        with Warden(db_url, spec=parse_spec(_spec_text(schema, declaration))) as warden:
            warden.apply()
            assert warden.plan().empty, "a second apply would change something"
        state = _snapshot(conn, schema)
        for table, names in declaration.items():
            cols = {c for t, c, _ in state["columns"] if t == table}
            base = {c for t, c, _ in original["columns"] if t == table}
            expected = base | set(names or ())
            # Adopted columns stay; columns pgwarden added for an older declaration go.
            assert cols == expected, (table, names)
            has_trigger = (table, "pgwarden_timestamps") in state["triggers"]
            assert has_trigger == (names is not None)
        if declaration.get("a") is not None:
            conn.execute(f"insert into {schema}.a (id) values (%s)", (next(_counter),))
    assert _snapshot(conn, schema) == original
