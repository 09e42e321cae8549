"""``warden.tenant()`` verified in C (extension pgwarden_wal 1.3): the same answers as the SQL
function for every sequence of claims, MACs, resets and savepoints, remembered per
transaction and claim only, with the key kept from the application role. On a server
without the extension (PostgreSQL 15 here) the SQL function is planned: those tests say so
and check the SQL path instead."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import errors as pg_errors
from psycopg import sql
from tests.tenancy.conftest import Roles, Tenanted, as_role, c_verifier_available, sign

from pgwarden.db import tenant_mac


def _definition(conn: psycopg.Connection[Any]) -> str:
    row = conn.execute("select pg_get_functiondef('warden.tenant()'::regprocedure)").fetchone()
    assert row is not None
    return str(row[0])


@pytest.fixture
def root(tenanted: Tenanted) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(tenanted.url) as conn:
        yield conn


def _orgs(conn: psycopg.Connection[Any]) -> set[int]:
    return {r[0] for r in conn.execute("select org_id from docs")}


def test_the_function_is_what_the_server_allows(root: psycopg.Connection[Any]) -> None:
    """In C where the extension is: an inlinable SQL function (no SECURITY DEFINER, no SET)
    over warden_wal.tenant(); else the SECURITY DEFINER SQL function reading the key."""
    definer, config = root.execute(
        "select prosecdef, proconfig from pg_proc where oid = 'warden.tenant()'::regprocedure"
    ).fetchone()  # type: ignore[misc]
    if c_verifier_available(root):
        assert "warden_wal.tenant()" in _definition(root)
        assert (definer, config) == (False, None)
    else:
        assert "warden.secrets" in _definition(root)
        assert definer and config == ["search_path=pg_catalog, pg_temp"]


def test_policies_run_the_c_function_inlined(
    in_c: None, app: psycopg.Connection[Any], tenanted: Tenanted
) -> None:
    """The policies' (select warden.tenant()) is the C function itself once planned: the
    application role needs no USAGE on schema warden_wal for it."""
    sign(app, tenanted.key, "2")
    plan = "\n".join(r[0] for r in app.execute("explain (verbose) select org_id from docs"))
    assert "warden_wal.tenant()" in plan and "warden.tenant()" not in plan
    assert _orgs(app) == {2}
    with pytest.raises(pg_errors.InsufficientPrivilege):
        app.execute("select warden_wal.tenant()")


def test_a_new_claim_in_the_transaction_is_verified_again(
    app: psycopg.Connection[Any], tenanted: Tenanted
) -> None:
    """A verified call is remembered for its claim and MAC only: SET, set_config, RESET and a
    savepoint rolled back each change what is verified, never returning the old tenant for
    a new claim."""
    sign(app, tenanted.key, "2")
    assert _orgs(app) == {2}
    app.execute("set local pgwarden.tenant = '1'")
    assert _orgs(app) == set()
    app.execute("set local pgwarden.tenant = '2'")  # the claim its MAC signs: verified again
    assert _orgs(app) == {2}
    app.execute("savepoint s")
    app.execute("select set_config('pgwarden.tenant', '3', true)")
    assert _orgs(app) == set()
    app.execute("rollback to savepoint s")
    assert _orgs(app) == {2}
    app.execute("select set_config('pgwarden.tenant_mac', repeat('0', 64), true)")
    assert _orgs(app) == set()
    app.execute("reset pgwarden.tenant_mac")
    assert _orgs(app) == set()
    app.rollback()
    assert _orgs(app) == set()  # the next transaction: nothing remembered


def test_a_mac_of_another_backend_signs_nothing_here(
    app: psycopg.Connection[Any], tenanted: Tenanted, roles: Roles
) -> None:
    with psycopg.connect(as_role(tenanted.url, roles.app)) as other:
        sign(other, tenanted.key, "1")
        assert _orgs(other) == {1}
        mac = other.execute("select current_setting('pgwarden.tenant_mac')").fetchone()[0]  # type: ignore[index]
        # Same claim and MAC, another backend (in a transaction begun at another moment).
        app.execute("select set_config('pgwarden.tenant', '1', true)")
        app.execute("select set_config('pgwarden.tenant_mac', %s, true)", (mac,))
        assert _orgs(app) == set()
        assert _orgs(other) == {1}


def test_the_key_stays_unreadable_and_a_new_key_counts_from_the_next_transaction(
    app: psycopg.Connection[Any], root: psycopg.Connection[Any], tenanted: Tenanted
) -> None:
    with pytest.raises(pg_errors.InsufficientPrivilege):
        app.execute("select value from warden.secrets")
    app.rollback()
    new = secrets.token_bytes(32)
    sign(app, tenanted.key, "2")
    assert _orgs(app) == {2}
    _set_key(root, new)
    try:
        # In C this transaction keeps the answer of the key it read; the SQL function reads
        # the key again at each statement.
        assert _orgs(app) == ({2} if c_verifier_available(root) else set())
        app.commit()
        sign(app, tenanted.key, "2")
        assert _orgs(app) == set()
        app.rollback()
        sign(app, new, "2")
        assert _orgs(app) == {2}
        app.rollback()
    finally:
        _set_key(root, tenanted.key)
    sign(app, tenanted.key, "2")
    assert _orgs(app) == {2}
    app.rollback()


def _set_key(conn: psycopg.Connection[Any], key: bytes) -> None:
    """A rotation: the key and the pads the SQL function reads."""
    padded = key.ljust(64, b"\0")
    values = {
        "tenancy_key": key.hex(),
        "tenancy_ipad": bytes(b ^ 0x36 for b in padded).hex(),
        "tenancy_opad": bytes(b ^ 0x5C for b in padded).hex(),
    }
    for name, value in values.items():
        conn.execute("update warden.secrets set value = %s where name = %s", (value, name))
    conn.commit()


def test_the_admin_role_signs_its_inserts_as_documented(
    tenanted: Tenanted, roles: Roles, root: psycopg.Connection[Any]
) -> None:
    """The admin role reads every row without a context; a row it inserts without its tenant
    column gets the tenant its signed context names (the trigger's call of warden.tenant())."""
    with psycopg.connect(as_role(tenanted.url, roles.admin)) as admin:
        assert _orgs(admin) == {1, 2, 3}
        sign(admin, tenanted.key, "3")
        row = admin.execute("insert into docs (body) values ('by admin') returning org_id")
        assert row.fetchone() == (3,)
        admin.rollback()
        admin.execute("set pgwarden.tenant = '3'")  # unsigned: no tenant to fill in
        with pytest.raises(pg_errors.NotNullViolation):
            admin.execute("insert into docs (body) values ('by admin')")
        admin.rollback()


_STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("sign"), st.sampled_from(["1", "2", "3", "x y", "é"])),
        st.tuples(st.just("claim"), st.sampled_from(["1", "2", "", "3"])),
        st.tuples(st.just("mac"), st.sampled_from(["", "0" * 64, "bad"])),
        st.tuples(st.just("reset"), st.sampled_from(["pgwarden.tenant", "pgwarden.tenant_mac"])),
        st.tuples(st.just("savepoint"), st.just("")),
        st.tuples(st.just("rollback to"), st.just("")),
        st.tuples(st.just("commit"), st.just("")),
    ),
    max_size=14,
)


@pytest.fixture
def reference(in_c: None, root: psycopg.Connection[Any]) -> Iterator[None]:
    """The SQL function under another name, to compare the C one with."""
    from pgwarden.features._base import sql_template

    text = sql_template("pgwarden.features.tenancy", "_tenant_sql.sql")
    made = text.replace("warden.tenant()", "warden.tenant_reference()")
    root.execute(made.encode())
    root.commit()
    yield
    root.execute("drop function warden.tenant_reference()")
    root.commit()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=_STEPS)
def test_c_answers_as_sql_does_for_any_sequence(
    reference: None, root: psycopg.Connection[Any], tenanted: Tenanted, steps: list[tuple[str, str]]
) -> None:
    """After every step, the C function (remembering) and the SQL one (verifying each time)
    give the same tenant, and the right one: the claim when its MAC is this transaction's."""
    conn = root
    conn.rollback()
    saved = 0
    for action, value in steps:
        if action == "sign":
            sign(conn, tenanted.key, value)
        elif action == "claim":
            conn.execute("select set_config('pgwarden.tenant', %s, true)", (value,))
        elif action == "mac":
            conn.execute("select set_config('pgwarden.tenant_mac', %s, true)", (value,))
        elif action == "reset":
            conn.execute(sql.SQL("reset {}").format(sql.Identifier(*value.split("."))))
        elif action == "savepoint":
            conn.execute("savepoint s")
            saved += 1
        elif action == "rollback to" and saved:
            conn.execute("rollback to savepoint s")
        elif action == "commit":
            conn.commit()
            saved = 0
        row = conn.execute(
            "select warden.tenant(), warden.tenant_reference(),"
            " nullif(current_setting('pgwarden.tenant', true), ''),"
            " nullif(current_setting('pgwarden.tenant_mac', true), ''), pg_backend_pid(),"
            " (extract(epoch from transaction_timestamp()) * 1000000)::bigint"
        ).fetchone()
        assert row is not None
        c, reference_answer, claimed, mac, pid, started = row
        expected = (
            claimed
            if claimed is not None and mac == tenant_mac(tenanted.key, pid, started, claimed)
            else None
        )
        assert c == reference_answer == expected
    conn.rollback()
