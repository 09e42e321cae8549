"""An application session trying to read or write another tenant's rows: every way in is
closed (or, for what PostgreSQL cannot close, flagged by plan and doctor)."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest
from psycopg import errors as pg_errors
from psycopg import sql
from tests.tenancy.conftest import TABLES, Roles, Tenanted, as_role, sign

from pgwarden.spec import parse_spec


def _orgs(conn: psycopg.Connection[Any]) -> set[int]:
    return {r[0] for r in conn.execute("select org_id from docs")}


def test_forged_and_reset_settings_see_nothing(
    app: psycopg.Connection[Any], tenanted: Tenanted
) -> None:
    key = tenanted.key
    sign(app, key, "2")
    assert _orgs(app) == {2}
    # An injection claims another tenant: the MAC no longer matches, nothing is seen.
    app.execute("set local pgwarden.tenant = '1'")
    assert _orgs(app) == set()
    app.execute("select set_config('pgwarden.tenant', '1', false)")
    assert _orgs(app) == set()
    with pytest.raises(pg_errors.InsufficientPrivilege):
        app.execute("insert into docs (org_id, body) values (1, 'planted')")
    app.rollback()
    # A MAC captured in one transaction is worthless in the next one (bound to its start).
    sign(app, key, "1")
    mac = app.execute("select current_setting('pgwarden.tenant_mac')").fetchone()[0]  # type: ignore[index]
    app.commit()
    app.execute("select set_config('pgwarden.tenant', '1', true)")
    app.execute("select set_config('pgwarden.tenant_mac', %s, true)", (mac,))
    assert _orgs(app) == set()
    app.rollback()
    # ... and on another connection of the same role.
    app.execute("set pgwarden.tenant = '1'")
    app.execute(sql.SQL("set pgwarden.tenant_mac = {}").format(sql.Literal(mac)))
    assert _orgs(app) == set()
    app.rollback()
    # RESET ALL and RESET drop the context: nothing.
    sign(app, key, "1")
    app.execute("reset all")
    assert _orgs(app) == set()
    app.rollback()
    sign(app, key, "1")
    app.execute("reset pgwarden.tenant_mac")
    assert _orgs(app) == set()
    app.rollback()


def test_no_signing_oracle(app: psycopg.Connection[Any]) -> None:
    """The key is unreadable and nothing signs for the application role."""
    with pytest.raises(pg_errors.InsufficientPrivilege):
        app.execute("select value from warden.secrets")
    app.rollback()
    names = app.execute(
        "select p.proname::text from pg_proc p join pg_namespace n on n.oid = p.pronamespace"
        " where n.nspname = 'warden' and p.proname like 'tenan%'"
    ).fetchall()
    assert {n[0] for n in names} == {"tenant", "tenant_claimed"}


def test_the_grant_list_tells_a_tenant_its_own_grants_only(
    app: psycopg.Connection[Any], tenanted: Tenanted, roles: Roles
) -> None:
    """The policies' grant list runs with its owner's rights and reads the verified tenant
    itself: called directly it names no one else's grants, nothing to a forged tenant, and
    the shared rows need no privilege on the grant table."""
    grants = "select warden.public_entries__tenancy_grants(%s)"

    def listed(tenant: str, writing: bool) -> list[str]:
        sign(app, tenanted.key, tenant)
        row = app.execute(grants, (writing,)).fetchone()
        app.rollback()
        assert row is not None
        return list(row[0])

    assert listed("2", False) == ["(10,1)"] and listed("2", True) == []
    assert listed("3", True) == ["(10,1)"]
    assert listed("1", False) == []
    sign(app, tenanted.key, "2")
    app.execute("select set_config('pgwarden.tenant', '3', true)")  # an injection
    assert app.execute(grants, (False,)).fetchone() == ([],)
    app.rollback()
    with psycopg.connect(tenanted.url, autocommit=True) as root:
        revoke = sql.SQL("REVOKE SELECT ON access FROM {}").format(sql.Identifier(roles.app))
        root.execute(revoke)
        try:
            with pytest.raises(pg_errors.InsufficientPrivilege):
                app.execute("select * from access")
            app.rollback()
            sign(app, tenanted.key, "2")
            notes = {r[0] for r in app.execute("select note from entries")}
            assert notes == {"e1", "e2"}
            app.rollback()
        finally:
            root.execute(sql.SQL("GRANT SELECT ON access TO {}").format(sql.Identifier(roles.app)))


def test_owner_and_set_role(tenanted: Tenanted, roles: Roles, admin_url: str) -> None:
    """The table's owner is filtered too (FORCE); SET ROLE to a role one is not a member
    of is refused; the admin role sees all."""
    owner = f"tn_owner_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(tenanted.url, autocommit=True) as root:
        root.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(owner)))
        root.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(sql.Identifier(owner)))
        root.execute(sql.SQL("ALTER TABLE docs OWNER TO {}").format(sql.Identifier(owner)))
        try:
            with psycopg.connect(as_role(tenanted.url, owner)) as conn:
                assert _orgs(conn) == set()
                sign(conn, tenanted.key, "3")
                assert _orgs(conn) == set()  # policies name the app role, not the owner
                conn.rollback()
            with psycopg.connect(as_role(tenanted.url, roles.app)) as conn:
                for role in (owner, roles.admin, "postgres"):
                    with pytest.raises(pg_errors.InsufficientPrivilege):
                        conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
                    conn.rollback()
            with psycopg.connect(as_role(tenanted.url, roles.admin)) as conn:
                assert _orgs(conn) == {1, 2, 3}
        finally:
            root.execute("ALTER TABLE docs OWNER TO CURRENT_USER")
            root.execute(
                sql.SQL("REVOKE ALL ON SCHEMA public FROM {}").format(sql.Identifier(owner))
            )
            root.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(owner)))


def test_copy_cursors_and_prepared_statements(
    app: psycopg.Connection[Any], tenanted: Tenanted
) -> None:
    sign(app, tenanted.key, "2")
    with app.cursor().copy("copy docs (org_id) to stdout") as copy:
        assert {int(r[0]) for r in copy.rows()} == {2}
    with app.cursor("c") as cur:  # a server-side cursor
        cur.execute("select org_id from docs")
        assert {r[0] for r in cur} == {2}
    app.execute("prepare q as select org_id from docs")
    app.commit()
    # The prepared statement (and psycopg's own server-side prepare) outlive the
    # transaction; each execution reads the context of the transaction it runs in.
    sign(app, tenanted.key, "3")
    assert {r[0] for r in app.execute("execute q")} == {3}
    for _ in range(6):
        assert {r[0] for r in app.execute("select org_id from docs", prepare=True)} == {3}
    app.commit()
    assert app.execute("execute q").fetchall() == []
    app.execute("deallocate q")
    app.commit()


def test_views_and_definer_functions_are_flagged(tenanted: Tenanted, roles: Roles) -> None:
    """A view without security_invoker, a materialized view or a SECURITY DEFINER function
    over a tenanted table reads past the policies: the plan flags each (on the table's row
    level security line) and doctor too."""
    from pgwarden import Warden

    with psycopg.connect(tenanted.url, autocommit=True) as root:
        root.execute(
            """create view docs_leak as select * from docs;
               create view docs_safe with (security_invoker = true) as select * from docs;
               create materialized view docs_mat as select org_id from docs;
               create function docs_count() returns bigint language sql security definer
                 set search_path = public as 'select count(*) from docs'"""
        )
        root.execute(
            sql.SQL("grant select on docs_leak, docs_safe to {}").format(sql.Identifier(roles.app))
        )
        try:
            with psycopg.connect(as_role(tenanted.url, roles.app)) as conn:
                sign(conn, tenanted.key, "2")
                assert {r[0] for r in conn.execute("select org_id from docs_safe")} == {2}
                # What the flags are about: the plain view runs as its owner, postgres.
                assert {r[0] for r in conn.execute("select org_id from docs_leak")} == {1, 2, 3}
            root.execute("alter table docs no force row level security")  # drift: replanned
            warden = Warden(tenanted.url, spec=parse_spec(roles.toml() + TABLES, file="x.toml"))
            try:
                line = next(
                    c.description for c in warden.plan().changes
                    if c.description.startswith("row level security on public.docs")
                )  # fmt: skip
                warden.apply()
            finally:
                warden.close()
            assert "view public.docs_leak" in line
            assert "materialized view public.docs_mat" in line
            assert "SECURITY DEFINER function docs_count()" in line
            assert "docs_safe" not in line
            report = tenanted.warden.monitor.doctor(["security"])
            findings = {f.object for f in report.findings}
            assert "public.docs_leak" in findings and "function docs_count()" in findings
        finally:
            root.execute(
                "drop view docs_leak, docs_safe; drop materialized view docs_mat;"
                " drop function docs_count()"
            )


def test_switching_tenant_in_a_session_reuses_its_binding_and_fails_closed_elsewhere(
    tenanted: Tenanted, roles: Roles
) -> None:
    from psycopg_pool import ConnectionPool

    from pgwarden.db import Context, open_session, set_tenant

    key = tenanted.key
    with ConnectionPool(as_role(tenanted.url, roles.app), min_size=1, max_size=1) as pool:
        with open_session(pool, Context(actor="t", tenant="2"), key) as db:
            assert db.binding is not None
            assert _orgs(db.connection) == {2}
            set_tenant(db.connection, "1", key, db.binding)  # one statement
            assert _orgs(db.connection) == {1}
            set_tenant(db.connection, "2", key, db.binding)
            assert _orgs(db.connection) == {2}
            stale = db.binding
        # The same connection (a pool of one), the next transaction: the old nonce signs
        # nothing there (the MAC binds the transaction's start).
        with open_session(pool, Context(actor="t", tenant="2"), key) as db:
            assert db.binding is not None and db.binding != stale
            set_tenant(db.connection, "1", key, stale)
            assert _orgs(db.connection) == set()
        with open_session(pool, Context(actor="t"), key) as db:  # nothing signed, no nonce
            assert db.binding is None
            set_tenant(db.connection, "3", key, db.binding)  # two round trips, still signed
            assert _orgs(db.connection) == {3}


def test_an_async_session_signs_with_its_first_statement_and_fails_closed_after(
    tenanted: Tenanted, roles: Roles
) -> None:
    """The asyncio session sends the MAC with the block's first statement (pipeline mode):
    that statement already sees the tenant; the next block on the same connection, unsigned,
    sees nothing; an error in the block rolls it back."""
    import asyncio

    from psycopg_pool import AsyncConnectionPool

    from pgwarden.db import Context, open_async_session

    async def orgs(db: Any) -> set[int]:
        cur = await db.execute("select org_id from docs")
        return {r[0] for r in await cur.fetchall()}

    async def scenario() -> tuple[set[int], set[int], set[int], set[int]]:
        url = as_role(tenanted.url, roles.app)
        async with AsyncConnectionPool(url, min_size=1, max_size=1, open=False) as pool:
            async with open_async_session(pool, Context(tenant="2"), tenanted.key) as db:
                first = await orgs(db)
                second = await orgs(db)
            with pytest.raises(pg_errors.DivisionByZero):
                async with open_async_session(pool, Context(tenant="1"), tenanted.key) as db:
                    await db.execute("select 1 / 0")
            async with open_async_session(pool, Context(tenant="1"), tenanted.key) as db:
                after_error = await orgs(db)
            async with open_async_session(pool, Context(tenant="1"), None) as db:
                unsigned = await orgs(db)
            return first, second, after_error, unsigned

    first, second, after_error, unsigned = asyncio.run(scenario())
    assert (first, second, after_error, unsigned) == ({2}, {2}, {1}, set())


def test_run_statement_signs_its_tenant_and_fails_closed_unsigned(
    tenanted: Tenanted, roles: Roles
) -> None:
    from psycopg_pool import ConnectionPool

    from pgwarden.db import Context, run_statement

    query = "select array_agg(distinct org_id) as orgs from docs"
    with ConnectionPool(as_role(tenanted.url, roles.app), min_size=1, max_size=1) as pool:
        signed = run_statement(pool, Context(tenant="2"), query, key=tenanted.key)
        unsigned = run_statement(pool, Context(tenant="2"), query)
    assert signed == [{"orgs": [2]}]
    assert unsigned == [{"orgs": None}]


def test_context_statement_signs_with_a_nonce_of_its_own_transaction_only(
    app: psycopg.Connection[Any], tenanted: Tenanted
) -> None:
    """The context sent after a first statement that read the nonce verifies in that
    transaction; the same statement with another transaction's nonce, or without a key,
    shows nothing."""
    from pgwarden.db import NONCE_SQL, Context, context_statement

    context = Context(actor="app", tenant="2")

    def orgs_after(nonce_from_here: bool, key: bytes | None) -> set[int]:
        with app.transaction():
            row = app.execute("select " + NONCE_SQL).fetchone()
            assert row is not None
            nonce = (int(row[0]), int(row[1])) if nonce_from_here else stale
            app.execute(*context_statement(context, key, nonce))
            return _orgs(app)

    with app.transaction():
        row = app.execute("select " + NONCE_SQL).fetchone()
        assert row is not None
        stale = (int(row[0]), int(row[1]))
    assert orgs_after(True, tenanted.key) == {2}
    assert orgs_after(False, tenanted.key) == set()  # a nonce of an earlier transaction
    assert orgs_after(True, None) == set()  # unsigned: the policies' verification fails
