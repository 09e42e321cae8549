"""What ``tenancy`` reads before planning (reads only): the policies already on tables (to
refuse a permissive one of the user's and to compare pgwarden's with what it had), the
attributes of roles, and the columns of views (a grant may be a view)."""

from __future__ import annotations

import json
from typing import Any

import psycopg

from pgwarden._names import QualifiedName
from pgwarden.catalog import Column, Table


def read_state(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    policies: dict[str, list[dict[str, Any]]] = {}
    for relation, name, permissive, comment in conn.execute(
        """select format('"%s"."%s"', replace(n.nspname, '"', '""'), replace(c.relname, '"', '""')),
                  p.polname::text, p.polpermissive,
                  obj_description(p.oid, 'pg_policy')
             from pg_policy p join pg_class c on c.oid = p.polrelid
             join pg_namespace n on n.oid = c.relnamespace"""
    ):
        try:
            terms = json.loads(comment) if comment else None
        except ValueError:
            terms = None
        policies.setdefault(relation, []).append(
            {"name": name, "permissive": permissive, "terms": terms}
        )
    roles = {
        name: {"super": sup, "bypass": bypass}
        for name, sup, bypass in conn.execute(
            "select rolname::text, rolsuper, rolbypassrls from pg_roles"
        )
    }
    return {
        "policies": policies, "roles": roles, "views": _views(conn), "bypasses": _bypasses(conn),
    }  # fmt: skip


def _bypasses(conn: psycopg.Connection[Any]) -> list[dict[str, str]]:
    """What reads tables with another role's rights, so past their policies: views without
    security_invoker, materialized views, SECURITY DEFINER functions (outside pgwarden's
    schema). Matched to a tenanted table by the name in their text (a function body is not
    tracked by pg_depend, so this is a name search)."""
    found = []
    for kind, name, text in conn.execute(
        """select case c.relkind when 'm' then 'materialized view' else 'view' end,
                  format('%I.%I', n.nspname, c.relname), pg_get_viewdef(c.oid)
             from pg_class c join pg_namespace n on n.oid = c.relnamespace
            where c.relkind in ('v', 'm')
              and n.nspname not in ('pg_catalog', 'information_schema', 'warden')
              and not (c.relkind = 'v'
                       and 'security_invoker=true' = any(coalesce(c.reloptions, '{}')))
           union all
           select 'SECURITY DEFINER function', p.oid::regprocedure::text, p.prosrc
             from pg_proc p join pg_namespace n on n.oid = p.pronamespace
            where p.prosecdef
              and n.nspname not in ('pg_catalog', 'information_schema', 'warden')"""
    ):
        reason = (
            "runs as its owner" if kind != "materialized view" else "holds rows as of its refresh"
        )
        found.append({"what": f"{kind} {name} ({reason})", "text": text or ""})
    return found


def _views(conn: psycopg.Connection[Any]) -> dict[QualifiedName, Table]:
    """Views (and materialized views) with their columns, as stand-in tables."""
    found: dict[QualifiedName, list[Column]] = {}
    oids: dict[QualifiedName, int] = {}
    for schema, name, oid, column, type_name, type_oid, position in conn.execute(
        """select n.nspname::text, c.relname::text, c.oid::int, a.attname::text,
                  format_type(a.atttypid, a.atttypmod), a.atttypid::int, a.attnum::int
             from pg_class c join pg_namespace n on n.oid = c.relnamespace
             join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
            where c.relkind in ('v', 'm')
              and n.nspname not in ('pg_catalog', 'information_schema', 'warden')
            order by 1, 2, a.attnum"""
    ):
        key = QualifiedName(schema, name)
        oids[key] = oid
        found.setdefault(key, []).append(
            Column(column, type_name, type_oid, False, None, False, False, position)
        )
    return {
        key: Table(
            oid=oids[key],
            name=key,
            kind="view",
            owner="",
            columns=tuple(columns),
            primary_key=None,
            unique_keys=(),
            foreign_keys=(),
            referenced_by=(),
            indexes=(),
            triggers=(),
            rls_enabled=False,
            rls_forced=False,
            partition_of=None,
            partition_key=None,
            estimated_rows=0,
        )
        for key, columns in found.items()
    }
