"""Roles are cluster-wide: each test names its own (unique on a shared server) and drops them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

SNAPSHOT = """
select 'role', r.rolname, concat_ws(' ', r.rolsuper, r.rolinherit, r.rolcanlogin,
                                    r.rolbypassrls, r.rolcreaterole, r.rolcreatedb)
  from pg_roles r where r.rolname = any(%(roles)s)
union all
select 'schema', n.nspname, pg_get_userbyid(n.nspowner)
  from pg_namespace n where n.nspname = any(%(schemas)s)
union all
select 'schema acl', n.nspname, a.grantee::regrole::text || ':' || a.privilege_type
  from pg_namespace n,
       aclexplode(coalesce(n.nspacl, acldefault('n'::"char", n.nspowner))) a
 where n.nspname = any(%(schemas)s)
union all
select 'relation', c.oid::regclass::text, pg_get_userbyid(c.relowner)
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
 where n.nspname = any(%(schemas)s) and c.relkind in ('r', 'p', 'v', 'm', 'S')
union all
select 'relation acl', c.oid::regclass::text, a.grantee::regrole::text || ':' || a.privilege_type
  from pg_class c join pg_namespace n on n.oid = c.relnamespace,
       aclexplode(coalesce(c.relacl, acldefault((case when c.relkind = 'S' then 's' else 'r' end)::"char",
                                                c.relowner))) a
 where n.nspname = any(%(schemas)s) and c.relkind in ('r', 'p', 'v', 'm', 'S')
union all
select 'routine', p.oid::regprocedure::text, pg_get_userbyid(p.proowner)
  from pg_proc p join pg_namespace n on n.oid = p.pronamespace
 where n.nspname = any(%(schemas)s)
union all
select 'default acl', pg_get_userbyid(d.defaclrole) || ' in ' || coalesce(n.nspname, '*'),
       d.defaclobjtype::text || ':' || a.grantee::regrole::text || ':' || a.privilege_type
  from pg_default_acl d left join pg_namespace n on n.oid = d.defaclnamespace,
       aclexplode(d.defaclacl) a
union all
select 'warden acl', o.name, o.grantee
  from (select c.relname::text as name, a.grantee::regrole::text || ':' || a.privilege_type as grantee
          from pg_class c join pg_namespace n on n.oid = c.relnamespace, aclexplode(c.relacl) a
         where n.nspname = 'warden' and a.grantee in (select oid from pg_roles
                                                       where rolname = any(%(roles)s))
        union all
        select p.oid::regprocedure::text, a.grantee::regrole::text || ':' || a.privilege_type
          from pg_proc p join pg_namespace n on n.oid = p.pronamespace, aclexplode(p.proacl) a
         where n.nspname = 'warden' and a.grantee in (select oid from pg_roles
                                                       where rolname = any(%(roles)s))) o
order by 1, 2, 3
"""


def snapshot(
    conn: psycopg.Connection[Any], roles: list[str], schemas: list[str]
) -> list[tuple[str, str, str]]:
    """Roles, owners and privileges as the catalog has them (pgwarden's own relations in the
    schemas included: removal must give back exactly what was there)."""
    rows = conn.execute(SNAPSHOT, {"roles": roles, "schemas": schemas}).fetchall()
    return [(str(a), str(b), str(c)) for a, b, c in rows]


class Names:
    """Unique role names for one test: ``names.app`` etc., all dropped afterwards."""

    def __init__(self) -> None:
        self.run = uuid.uuid4().hex[:8]
        self.made: list[str] = []

    def __getattr__(self, slot: str) -> str:
        if slot.startswith("_"):
            raise AttributeError(slot)
        name = f"t{self.run}_{slot}"
        if name not in self.made:
            self.made.append(name)
        return name


@pytest.fixture
def names(db_url: str) -> Iterator[Names]:
    made = Names()
    yield made
    # The test database is dropped after this: take the roles' privileges there first.
    with psycopg.connect(db_url, autocommit=True) as conn:
        for name in made.made:
            exists = conn.execute("select 1 from pg_roles where rolname = %s", (name,))
            if exists.fetchone():
                conn.execute(sql.SQL("DROP OWNED BY {} CASCADE").format(sql.Identifier(name)))
                conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


def login(db_url: str, role: str, *, direct: bool = True) -> psycopg.Connection[Any]:
    """A connection acting as ``role``: logged in as it (the servers under test trust local
    connections), or, for a NOLOGIN role (``direct=False``), SET ROLE from the test's
    superuser (which could SET ROLE again: not for tests of what the role may become)."""
    if direct:
        params = psycopg.conninfo.conninfo_to_dict(db_url)
        params["user"] = role
        return psycopg.connect(psycopg.conninfo.make_conninfo(**params), autocommit=True)  # type: ignore[arg-type]
    conn = psycopg.connect(db_url, autocommit=True)
    conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
    return conn
