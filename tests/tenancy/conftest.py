"""Roles and grants the tenancy tests log in as (cluster-wide on a shared server: unique
names, dropped at the end), and a Warden per role."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from psycopg import sql

from pgwarden import Warden
from pgwarden.spec import parse_spec


@dataclass(frozen=True)
class Roles:
    app: str
    readonly: str
    admin: str

    def toml(self) -> str:
        return (
            f'[roles]\napp = "{self.app}"\nreadonly = "{self.readonly}"\nadmin = "{self.admin}"\n'
        )


@pytest.fixture(scope="session")
def roles(admin_url: str) -> Iterator[Roles]:
    tag = uuid.uuid4().hex[:8]
    made = Roles(f"tn_app_{tag}", f"tn_ro_{tag}", f"tn_admin_{tag}")
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(made.app)))
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(made.readonly)))
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN BYPASSRLS").format(sql.Identifier(made.admin)))
    yield made
    with psycopg.connect(admin_url, autocommit=True) as conn:
        for name in (made.app, made.readonly, made.admin):
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


def grant(conn: psycopg.Connection[Any], roles: Roles, schema: str = "public") -> None:
    """What ``[roles]`` grants (until that module lands): the app writes, readonly reads."""
    s = sql.Identifier(schema)
    app, ro, admin = (sql.Identifier(r) for r in (roles.app, roles.readonly, roles.admin))
    for statement in (
        "GRANT USAGE ON SCHEMA {s} TO {app}, {ro}, {admin}",
        "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {s} TO {app}, {admin}",
        "GRANT USAGE ON ALL SEQUENCES IN SCHEMA {s} TO {app}, {admin}",
        "GRANT SELECT ON ALL TABLES IN SCHEMA {s} TO {ro}",
    ):
        conn.execute(sql.SQL(statement).format(s=s, app=app, ro=ro, admin=admin))


def as_role(url: str, role: str) -> str:
    params = psycopg.conninfo.conninfo_to_dict(url)
    params["user"] = role
    params.pop("password", None)
    return psycopg.conninfo.make_conninfo(**params)  # type: ignore[arg-type]


@pytest.fixture
def warden_as(db_url: str) -> Iterator[Callable[..., Warden]]:
    """A Warden connecting as ``role`` with ``key``."""
    made: list[Warden] = []

    def make(role: str, spec_text: str = "", key: bytes | None = None) -> Warden:
        warden = Warden(
            as_role(db_url, role), spec=parse_spec(spec_text, file="pgwarden.toml"),
            tenant_key=key,
        )  # fmt: skip
        made.append(warden)
        return warden

    yield make
    for warden in made:
        warden.close()


def sign(conn: psycopg.Connection[Any], key: bytes, tenant: str) -> None:
    """Set a signed tenant for the transaction ``conn`` is in (or begins)."""
    from pgwarden.db import tenant_mac

    row = conn.execute(
        "select set_config('pgwarden.tenant', %s, true), pg_backend_pid(),"
        " (extract(epoch from transaction_timestamp()) * 1000000)::bigint",
        (tenant,),
    ).fetchone()
    assert row is not None
    conn.execute(
        "select set_config('pgwarden.tenant_mac', %s, true)",
        (tenant_mac(key, row[1], row[2], tenant),),
    )


# Two shapes: a tenant key (docs.org_id) and ownership with grants (entries.user_id, shared
# through access by item). The matrix and the attacks are generated from this declaration.
SCHEMA = """
create table docs (id bigserial primary key, org_id bigint not null, body text);
create table items (item_id bigint primary key, owner_id bigint not null);
create table access (item_id bigint not null, owner_id bigint not null, viewer_id bigint not null,
                     can_write boolean not null default false);
create table entries (entry_id bigserial primary key, user_id bigint not null,
                      item_id bigint not null references items, note text);
"""
TABLES = """
[tables."public.docs"]
tenancy = { column = "org_id" }

[tables."public.entries"]
tenancy = { column = "user_id", grant = { table = "public.access", on = "item_id", grantee = "viewer_id", owner = "owner_id", write = "can_write" } }
"""


@dataclass(frozen=True)
class Tenanted:
    url: str
    warden: Warden
    key: bytes


@pytest.fixture(scope="module")
def tenanted(admin_url: str, template_db: str, roles: Roles) -> Iterator[Tenanted]:
    """One database per test module: the two tables, applied with their roles; tenants 1, 2
    and 3 with rows each; user 2 may read item 10 of user 1, user 3 may write it. Tests roll
    back what they do (or put the rows back)."""
    from tests.conftest import _with_db, scratch_database

    with scratch_database(admin_url, "pgwarden_tn", template_db) as name:
        url = _with_db(admin_url, name)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(SCHEMA)
            grant(conn, roles)
            warden = Warden(url, spec=parse_spec(roles.toml() + TABLES, file="pgwarden.toml"))
            warden.apply()
            conn.execute(
                """insert into docs (org_id, body) values (1, 'd1a'), (1, 'd1b'), (2, 'd2'), (3, 'd3');
                   insert into items values (10, 1), (20, 2), (30, 3);
                   insert into access values (10, 1, 2, false), (10, 1, 3, true);
                   insert into entries (user_id, item_id, note) values
                     (1, 10, 'e1'), (2, 20, 'e2'), (3, 30, 'e3')"""
            )
        try:
            yield Tenanted(url, warden, warden.tenancy.key())
        finally:
            warden.close()


def c_verifier_available(conn: psycopg.Connection[Any]) -> bool:
    """Whether the server can install pgwarden_wal 1.3, whose C verifier warden.tenant()
    then calls (PostgreSQL 15 here has no extension: the SQL verifier)."""
    return bool(
        conn.execute(
            "select exists (select from pg_available_extension_versions"
            " where name = 'pgwarden_wal' and version = '1.3')"
        ).fetchone()[0]  # type: ignore[index]
    )


@pytest.fixture
def app(tenanted: Tenanted, roles: Roles) -> Iterator[psycopg.Connection[Any]]:
    """A connection of the app role to the tenanted database."""
    with psycopg.connect(as_role(tenanted.url, roles.app)) as conn:
        yield conn


@pytest.fixture
def in_c(tenanted: Tenanted) -> None:
    """Skips the test where the verifier is not in C (PostgreSQL 15 here)."""
    with psycopg.connect(tenanted.url) as root:
        if not c_verifier_available(root):
            pytest.skip("extension pgwarden_wal 1.3 is not available on this server")
