"""The isolation matrix, generated from the declaration: role x table x command x whose row,
each cell asserted on a real server; and random operations by random tenants."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import errors as pg_errors
from tests.tenancy.conftest import TABLES, Roles, Tenanted, as_role, sign

from pgwarden.features.tenancy import TenancyOptions
from pgwarden.spec import parse_spec

# Whose rows a cell touches, seen from tenant 1 (own), 2 (reads item 10 of 1), 3 (writes it).
WHOSE = {"own": ("1", "1"), "other": ("2", "3"), "granted-read": ("2", "1"),
         "granted-write": ("3", "1")}  # fmt: skip
COMMANDS = ("select", "insert", "update", "delete")


def _cells() -> list[tuple[str, str, str, str]]:
    spec = parse_spec(TABLES, file="pgwarden.toml")
    cells = []
    for name, table in sorted(spec.tables.items()):
        options = table.features["tenancy"]
        assert isinstance(options, TenancyOptions)
        whose = [w for w in WHOSE if options.grant is not None or not w.startswith("granted")]
        for role in ("app", "readonly", "admin", "app-no-tenant"):
            for command in COMMANDS:
                for who in whose:
                    cells.append((role, name.name, command, who))
    return cells


def _expected(role: str, command: str, who: str) -> str:
    if role == "admin":
        return "allowed"
    if role == "readonly" and command != "select":
        return "no-privilege"
    if role == "app-no-tenant":
        return "refused" if command == "insert" else "none"
    if who == "own" or who == "granted-write" or (who == "granted-read" and command == "select"):
        return "allowed"
    return "refused" if command == "insert" else "none"


def _statement(table: str, command: str, owner: str) -> tuple[str, list[Any]]:
    column = "org_id" if table == "docs" else "user_id"
    extra = {"docs": ("body", "'x'"), "entries": ("item_id", "10" if owner == "1" else "20")}
    col, value = extra[table]
    if command == "select":
        return f"select count(*) from {table} where {column} = %s", [int(owner)]
    if command == "insert":
        return f"insert into {table} ({column}, {col}) values (%s, {value})", [int(owner)]
    if command == "update":
        return f"update {table} set {column} = {column} where {column} = %s", [int(owner)]
    return f"delete from {table} where {column} = %s", [int(owner)]


@pytest.mark.parametrize(("role", "table", "command", "who"), _cells())
def test_matrix(
    tenanted: Tenanted, roles: Roles, role: str, table: str, command: str, who: str
) -> None:
    key, db_url = tenanted.key, tenanted.url
    tenant, owner = WHOSE[who]
    if table == "entries" and who == "other":
        owner = "3"  # user 3's own entry: no grant of 2 on it
    login = {"app": roles.app, "readonly": roles.readonly, "admin": roles.admin}.get(
        role, roles.app
    )
    statement, params = _statement(table, command, owner)
    expected = _expected(role, command, who)
    with psycopg.connect(as_role(db_url, login)) as conn:
        if role != "app-no-tenant":
            sign(conn, key, tenant)
        try:
            cur = conn.execute(statement, params)
        except pg_errors.InsufficientPrivilege as exc:
            outcome = "refused" if "row-level security" in str(exc) else "no-privilege"
        else:
            count = cur.fetchone()[0] if command == "select" else cur.rowcount  # type: ignore[index]
            outcome = "allowed" if count else "none"
        conn.rollback()
    assert outcome == expected, (role, table, command, who)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["insert", "update", "delete", "select", "forge"]),
            st.sampled_from(["1", "2", "3"]),
            st.sampled_from(["1", "2", "3"]),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_random_operations_never_cross_tenants(
    tenanted: Tenanted, roles: Roles, ops: list[tuple[str, str, str]]
) -> None:
    """Each step: a tenant acts on rows (its own, or another's by key), or forges another
    tenant's setting; afterwards the table is exactly what a model of "a tenant only ever
    touches its own rows" says, and no read ever returned another tenant's row."""
    warden, key, db_url = tenanted.warden, tenanted.key, tenanted.url
    with warden.connect(autocommit=True) as root:
        root.execute("delete from docs")
        model = {
            r[0]: r[1]
            for r in root.execute(
                "insert into docs (org_id, body) values (1, 'a'), (2, 'b'), (3, 'c')"
                " returning id, org_id"
            )
        }
        with psycopg.connect(as_role(db_url, roles.app)) as conn:
            for op, tenant, target in ops:
                sign(conn, key, tenant)
                if op == "forge":
                    conn.execute("select set_config('pgwarden.tenant', %s, true)", (target,))
                    seen = conn.execute("select org_id from docs").fetchall()
                    assert seen == [] or target == tenant
                elif op == "select":
                    seen = conn.execute("select org_id from docs").fetchall()
                    assert {str(s[0]) for s in seen} <= {tenant}
                elif op == "insert":
                    try:
                        with conn.transaction():
                            rows = conn.execute(
                                "insert into docs (org_id, body) values (%s, 'n') returning id",
                                (int(target),),
                            ).fetchall()
                    except pg_errors.InsufficientPrivilege:
                        assert target != tenant
                    else:
                        assert target == tenant
                        model.update({r[0]: int(target) for r in rows})
                elif op == "update":
                    rows = conn.execute(
                        "update docs set body = 'u' where org_id = %s returning id, org_id",
                        (int(target),),
                    ).fetchall()
                    assert all(str(r[1]) == tenant for r in rows)
                    assert bool(rows) == (target == tenant and target in map(str, model.values()))
                else:
                    rows = conn.execute(
                        "delete from docs where org_id = %s returning id, org_id", (int(target),)
                    ).fetchall()
                    assert all(str(r[1]) == tenant for r in rows)
                    for r in rows:
                        del model[r[0]]
                conn.commit()
        actual = dict(root.execute("select id, org_id from docs").fetchall())
        assert actual == model
