"""What ``[roles]`` reads while planning (reads only): roles as they are, the schemas, what
pgwarden recorded when it first granted, and what a role owns or belongs to."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import psycopg

from pgwarden.engine import read_ledger

ATTRIBUTES = ("SUPERUSER", "CREATEDB", "CREATEROLE", "INHERIT", "LOGIN", "REPLICATION", "BYPASSRLS")


@dataclass(frozen=True)
class LiveRole:
    name: str
    attributes: frozenset[str]
    """Those of :data:`ATTRIBUTES` the role has."""

    def has(self, attribute: str) -> bool:
        return attribute in self.attributes


class Reader:
    """Reads over the planning connection, each once per plan."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn
        row = conn.execute("select current_user").fetchone()
        self.current_user: str = row[0] if row else ""
        self.roles: dict[str, LiveRole] = {
            r[0]: LiveRole(
                r[0], frozenset(a for a, on in zip(ATTRIBUTES, r[1:], strict=True) if on)
            )
            for r in conn.execute(
                """select rolname, rolsuper, rolcreatedb, rolcreaterole, rolinherit,
                          rolcanlogin, rolreplication, rolbypassrls from pg_roles"""
            )
        }
        self.schemas: set[str] = {
            r[0]
            for r in conn.execute(
                "select nspname from pg_namespace where nspname !~ '^pg_'"
                " and nspname <> 'information_schema'"
            )
        }
        # The drop each of [roles]' objects was recorded with when pgwarden first made it:
        # it restores what was there before, so later plans must not recompute it.
        self.recorded_drops: dict[str, str] = {
            key: owned.drop_sql
            for key, owned in read_ledger(conn).items()
            if owned.feature == "roles"
        }
        present = conn.execute("select to_regclass('warden.migrations') is not null").fetchone()
        self.streams: set[str] = (
            {r[0] for r in conn.execute("select distinct stream from warden.migrations")}
            if present and present[0]
            else set()
        )

    @cached_property
    def setting_contexts(self) -> dict[str, str]:
        """Which settings a role's defaults may name, and how each may be set: read only
        when a declared role has settings (every plan builds a Reader)."""
        return {r[0]: r[1] for r in self.conn.execute("select name, context from pg_settings")}

    def role_setting(self, role: str, name: str) -> str | None:
        """``role``'s own default for ``name`` in this database, as stored, or None."""
        row = self.conn.execute(
            """select substr(s.cfg, length(%(n)s) + 2) from pg_db_role_setting d
                 cross join lateral unnest(d.setconfig) s(cfg)
                where d.setdatabase = (select oid from pg_database
                                        where datname = current_database())
                  and d.setrole = (select oid from pg_roles where rolname = %(r)s)
                  and split_part(s.cfg, '=', 1) = %(n)s""",
            {"r": role, "n": name},
        ).fetchone()
        return row[0] if row else None

    def owned_in(self, role: str, schemas: list[str]) -> list[str]:
        """What ``role`` owns in ``schemas`` (the schemas themselves included)."""
        rows = self.conn.execute(
            """select format('schema %%I', n.nspname) from pg_namespace n
                where n.nspname = any(%(s)s) and n.nspowner = (select oid from pg_roles
                                                              where rolname = %(r)s)
               union all
               select format('%%s %%s', case c.relkind when 'v' then 'view'
                                               when 'S' then 'sequence' else 'table' end,
                             c.oid::regclass)
                 from pg_class c join pg_namespace n on n.oid = c.relnamespace
                where n.nspname = any(%(s)s) and c.relkind in ('r', 'p', 'v', 'm', 'S', 'f')
                  and c.relowner = (select oid from pg_roles where rolname = %(r)s)
               union all
               select format('function %%s', p.oid::regprocedure)
                 from pg_proc p join pg_namespace n on n.oid = p.pronamespace
                where n.nspname = any(%(s)s)
                  and p.proowner = (select oid from pg_roles where rolname = %(r)s)
               order by 1""",
            {"s": schemas, "r": role},
        ).fetchall()
        return [r[0] for r in rows]

    def member_of(self, role: str) -> set[str]:
        """Every role ``role`` belongs to, directly or through others (it may SET ROLE to
        each, whatever its INHERIT)."""
        rows = self.conn.execute(
            """with recursive up(oid) as (
                   select roleid from pg_auth_members
                    where member = (select oid from pg_roles where rolname = %s)
                   union
                   select m.roleid from pg_auth_members m join up on m.member = up.oid)
               select rolname from pg_roles where oid in (select oid from up)""",
            (role,),
        ).fetchall()
        return {r[0] for r in rows}

    def privileges(self, role: str, schema: str) -> list[tuple[str, str | None, list[str]]]:
        """The privileges ``role`` holds now on ``schema`` (name ``None``) and on its
        relations, as (GRANT's object class, relation name, privileges): what giving [roles]
        up must restore."""
        rows = self.conn.execute(
            """select 'SCHEMA', null, array_agg(a.privilege_type order by a.privilege_type)
                 from pg_namespace n, aclexplode(n.nspacl) a
                where n.nspname = %(s)s
                  and a.grantee = (select oid from pg_roles where rolname = %(r)s)
               union all
               select case when c.relkind = 'S' then 'SEQUENCE' else 'TABLE' end,
                      c.relname::text, array_agg(a.privilege_type order by a.privilege_type)
                 from pg_class c join pg_namespace n on n.oid = c.relnamespace,
                      aclexplode(c.relacl) a
                where n.nspname = %(s)s and c.relkind in ('r', 'p', 'v', 'm', 'f', 'S')
                  and a.grantee = (select oid from pg_roles where rolname = %(r)s)
                group by c.relname, c.relkind
                order by 1, 2""",
            {"s": schema, "r": role},
        ).fetchall()
        return [(r[0], r[1], list(r[2])) for r in rows if r[2]]
