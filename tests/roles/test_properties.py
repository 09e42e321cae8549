"""Property: whatever roles are declared, added and removed, in any order, the database holds
exactly the declaration; removing everything gives back exactly what was there."""

from __future__ import annotations

from typing import Any

import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql
from tests.roles.conftest import Names, snapshot

from pgwarden import Warden
from pgwarden.spec import parse_spec

SLOTS = ("owner", "app", "readonly", "admin")
TABLE = {
    "app": {"SELECT", "INSERT", "UPDATE", "DELETE"},
    "readonly": {"SELECT"},
    "admin": {"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE"},
}
declarations = st.lists(st.sets(st.sampled_from(SLOTS)), min_size=1, max_size=3)


def _check(
    conn: psycopg.Connection[Any], names: Names, declared: set[str], adopted: set[str]
) -> None:
    for slot in SLOTS:
        role = getattr(names, slot)
        exists = conn.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone()
        assert (exists is not None) == (slot in declared or slot in adopted), (slot, declared)
        if exists is None or slot == "owner":
            continue
        held = {
            p
            for p in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE")
            if conn.execute("select has_table_privilege(%s, 'app.items', %s)", (role, p)).fetchone()
            == (True,)
        }
        assert held == (TABLE[slot] if slot in declared else set()), (slot, declared, held)
    owner = conn.execute(
        "select pg_get_userbyid(relowner) from pg_class where oid = 'app.items'::regclass"
    ).fetchone()
    assert (owner == (names.owner,)) == ("owner" in declared), (owner, declared)


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=declarations, adopted=st.sets(st.sampled_from(SLOTS), max_size=2))
def test_applied_state_is_the_declaration(
    conn: psycopg.Connection[Any],
    db_url: str,
    names: Names,
    steps: list[set[str]],
    adopted: set[str],
) -> None:
    conn.execute("create schema if not exists app")
    conn.execute("create table if not exists app.items (id serial primary key, name text)")
    for slot in adopted:
        conn.execute(sql.SQL("CREATE ROLE {}").format(sql.Identifier(getattr(names, slot))))
    roles = [getattr(names, s) for s in SLOTS]
    before = snapshot(conn, roles, ["app"])
    try:
        for declared in [*steps, set()]:
            text = '[roles]\nschemas = ["app"]\n' + "".join(
                f'{slot} = "{getattr(names, slot)}"\n' for slot in sorted(declared)
            )
            with Warden(db_url, spec=parse_spec(text if declared else "", file="t.toml")) as w:
                w.apply()
                assert w.plan().empty
            _check(conn, names, declared, adopted)
        assert snapshot(conn, roles, ["app"]) == before
    finally:
        for slot in adopted:
            role = sql.Identifier(getattr(names, slot))
            conn.execute(sql.SQL("DROP OWNED BY {}; DROP ROLE {}").format(role, role))
