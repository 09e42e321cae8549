"""Extension pgwarden_wal serves audit (context and capture in C) and tenancy (the tenant
verified in C): removing either feature keeps it for the other, in both orders, and
dropping it never takes ``warden.tenant()`` or the policies with it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from tests.tenancy.conftest import c_verifier_available

from pgwarden import Warden

AUDIT = '[tables."public.docs"]\naudit = { capture = "trigger" }\n'
TENANCY = '[tables."public.notes"]\ntenancy = { column = "org_id" }\n'


def _state(conn: psycopg.Connection[Any]) -> tuple[str | None, str]:
    """The extension's version (None: not there) and which warden.tenant() is there."""
    row = conn.execute("select extversion from pg_extension where extname = 'pgwarden_wal'")
    found = row.fetchone()
    body = conn.execute("select pg_get_functiondef('warden.tenant()'::regprocedure)").fetchone()[0]  # type: ignore[index]
    return (found[0] if found else None), ("c" if "warden_wal.tenant()" in body else "sql")


def _apply(make_warden: Callable[..., Warden], spec: str) -> None:
    warden = make_warden(spec)
    warden.apply()
    assert warden.plan().empty


@pytest.fixture
def both(conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]) -> None:
    if not c_verifier_available(conn):
        pytest.skip("extension pgwarden_wal 1.3 is not available on this server")
    conn.execute(
        "create table docs (id int primary key, v text);"
        " create table notes (id int primary key, org_id bigint not null)"
    )
    _apply(make_warden, AUDIT + TENANCY)
    assert _state(conn) == ("1.3", "c")


def test_audit_goes_first_then_tenancy(
    both: None, conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    _apply(make_warden, TENANCY)
    assert _state(conn) == ("1.3", "c")
    conn.execute("insert into docs values (1, 'a')")  # audit's triggers went, nothing breaks
    _apply(make_warden, "")
    assert _state(conn) == (None, "sql")


def test_tenancy_goes_first_then_audit(
    both: None, conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    _apply(make_warden, AUDIT)
    assert _state(conn) == ("1.3", "sql")
    conn.execute("insert into docs values (1, 'a')")  # captured in C still
    assert conn.execute("select count(*) from warden.audit_events").fetchone() == (1,)
    _apply(make_warden, "")
    assert _state(conn) == (None, "sql")


def test_an_older_extension_of_ours_is_updated_one_of_the_owners_used_as_it_is(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    if not c_verifier_available(conn):
        pytest.skip("extension pgwarden_wal 1.3 is not available on this server")
    conn.execute("create table notes (id int primary key, org_id bigint not null)")
    conn.execute("create extension pgwarden_wal version '1.2'")  # the database owner's
    warden = make_warden(TENANCY)
    said = [c.description for c in warden.plan().changes]
    assert any("ALTER EXTENSION pgwarden_wal UPDATE (it is at 1.2)" in d for d in said)
    _apply(make_warden, TENANCY)
    assert _state(conn) == ("1.2", "sql")
    conn.execute("drop extension pgwarden_wal")
    _apply(make_warden, TENANCY)
    assert _state(conn) == ("1.3", "c")
    # Ours, made older by hand (its dependents with it): repaired to the newest, in C.
    conn.execute("drop extension pgwarden_wal cascade")
    conn.execute("create extension pgwarden_wal version '1.2'")
    _apply(make_warden, TENANCY)
    assert _state(conn) == ("1.3", "c")
    count = "select count(*) from pg_policy where polrelid = 'notes'::regclass"
    assert conn.execute(count).fetchone() == (4,)


def test_dropping_the_extension_puts_the_sql_function_back_first(
    both: None, conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    """Its drop (pgwarden's, or run by hand) makes warden.tenant() SQL again before dropping
    the extension: never a cascade to the policies, which keep verifying; the next apply
    repairs both. DROP EXTENSION without it is refused while warden.tenant() calls it."""
    from pgwarden.features._extension import extension

    with pytest.raises(psycopg.errors.DependentObjectsStillExist):
        conn.execute("drop extension pgwarden_wal")
    conn.execute("insert into notes values (1, 7)")
    conn.execute(extension().drop.as_string(conn))
    assert _state(conn) == (None, "sql")
    count = "select count(*) from pg_policy where polrelid = 'notes'::regclass"
    assert conn.execute(count).fetchone() == (4,)
    warden = make_warden(AUDIT + TENANCY)
    repairs = {str(c.ref) for c in warden.plan().changes if c.action in ("repair", "replace")}
    assert any("pgwarden_wal" in r for r in repairs) and any("tenant" in r for r in repairs)
    _apply(make_warden, AUDIT + TENANCY)
    assert _state(conn) == ("1.3", "c")
