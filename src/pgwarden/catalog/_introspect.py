"""Reading :class:`Catalog` out of ``pg_catalog``: a few set-wise queries, whatever the size."""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

import psycopg
from psycopg.rows import dict_row

from pgwarden._names import QualifiedName
from pgwarden.catalog._model import (
    Catalog,
    Column,
    ForeignKey,
    Index,
    Key,
    ServerInfo,
    Table,
    Trigger,
)
from pgwarden.errors import PgwardenError

MIN_VERSION, MAX_TESTED = 140000, 189999
log = logging.getLogger("pgwarden.catalog")

# Schemas that never hold user tables. pgwarden's own schema is managed, not declared.
_SKIP = "('pg_catalog', 'information_schema', 'pg_toast', 'warden')"

_SERVER = """
select current_setting('server_version_num')::int as version_num,
       current_setting('server_version') as version,
       current_database() as database, current_user as "user",
       (select rolsuper from pg_roles where rolname = current_user) as is_superuser,
       pg_is_in_recovery() as in_recovery,
       -- Through pg_settings: a role without pg_read_all_settings sees no row (an error
       -- from current_setting), and must still be able to plan and apply.
       coalesce((select setting from pg_settings where name = 'shared_preload_libraries'), '')
         as preload,
       (select coalesce(jsonb_object_agg(extname, extversion), '{}') from pg_extension)
         as extensions,
       (select array_agg(name) from pg_available_extensions) as available,
       (select coalesce(jsonb_object_agg(name, default_version), '{}')
          from pg_available_extensions where default_version is not null) as defaults,
       current_setting('wal_level') as wal_level,
       (select rolsuper or rolreplication from pg_roles where rolname = current_user)
         as can_replicate
"""

_TABLES = f"""
select c.oid, n.nspname as schema, c.relname as name, c.relkind::text as relkind,
       pg_get_userbyid(c.relowner) as owner,
       c.relrowsecurity as rls_enabled, c.relforcerowsecurity as rls_forced,
       pn.nspname as parent_schema, pc.relname as parent_name,
       case when c.relkind = 'p' then pg_get_partkeydef(c.oid) end as partition_key,
       greatest(c.reltuples, 0)::bigint as estimated_rows
from pg_class c
join pg_namespace n on n.oid = c.relnamespace
left join pg_inherits i on i.inhrelid = c.oid and c.relispartition
left join pg_class pc on pc.oid = i.inhparent
left join pg_namespace pn on pn.oid = pc.relnamespace
where c.relkind in ('r', 'p') and n.nspname not in {_SKIP} and n.nspname not like 'pg\\_temp%'
"""  # noqa: S608 - constant text, no user input

_COLUMNS = f"""
select a.attrelid as oid, a.attname as name, format_type(a.atttypid, a.atttypmod) as type,
       a.atttypid as type_oid, a.attnotnull as not_null,
       pg_get_expr(d.adbin, d.adrelid) as "default",
       a.attgenerated <> '' as generated, a.attidentity <> '' as identity, a.attnum as position,
       a.attgenerated = 'v' as virtual
from pg_attribute a
join pg_class c on c.oid = a.attrelid
join pg_namespace n on n.oid = c.relnamespace
left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
where c.relkind in ('r', 'p') and n.nspname not in {_SKIP}
  and a.attnum > 0 and not a.attisdropped
order by a.attrelid, a.attnum
"""  # noqa: S608

_CONSTRAINTS = f"""
select con.conrelid as oid, con.conname as name, con.contype::text as contype,
       con.condeferrable as deferrable, con.convalidated as validated,
       array(select a.attname from unnest(con.conkey) with ordinality k(n, i)
             join pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.n order by k.i)
         as columns,
       fn.nspname as ref_schema, fc.relname as ref_name,
       array(select a.attname from unnest(con.confkey) with ordinality k(n, i)
             join pg_attribute a on a.attrelid = con.confrelid and a.attnum = k.n order by k.i)
         as ref_columns,
       con.confdeltype::text as on_delete, con.confupdtype::text as on_update
from pg_constraint con
join pg_class c on c.oid = con.conrelid
join pg_namespace n on n.oid = c.relnamespace
left join pg_class fc on fc.oid = con.confrelid
left join pg_namespace fn on fn.oid = fc.relnamespace
where con.contype in ('p', 'u', 'f') and n.nspname not in {_SKIP}
  and (con.contype <> 'f' or con.conparentid = 0)
"""  # noqa: S608

_INDEXES = """
select i.indrelid as oid, ic.relname as name, i.indisunique as unique,
       i.indisprimary as primary, i.indpred is not null as partial, i.indisvalid as valid,
       {nulls_not_distinct} as nulls_not_distinct, pg_get_indexdef(i.indexrelid) as definition,
       array(select pg_get_indexdef(i.indexrelid, k, true)
             from generate_series(1, i.indnkeyatts) k) as columns
from pg_index i
join pg_class ic on ic.oid = i.indexrelid
join pg_class c on c.oid = i.indrelid
join pg_namespace n on n.oid = c.relnamespace
where c.relkind in ('r', 'p') and n.nspname not in {skip}
"""

_TRIGGERS = f"""
select t.tgrelid as oid, t.tgname as name, t.tgfoid::regproc::text as function,
       t.tgenabled::text as enabled, pg_get_triggerdef(t.oid) as definition
from pg_trigger t
join pg_class c on c.oid = t.tgrelid
join pg_namespace n on n.oid = c.relnamespace
where not t.tgisinternal and n.nspname not in {_SKIP}
"""  # noqa: S608

_FK_ACTIONS = {
    "a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT",
}  # fmt: skip


def read_server(conn: psycopg.Connection[Any]) -> ServerInfo:
    """Facts about the server pgwarden is talking to; refuses versions it does not support."""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(_SERVER).fetchone()
    assert row is not None
    info = ServerInfo(
        version_num=row["version_num"],
        version=row["version"],
        database=row["database"],
        user=row["user"],
        is_superuser=bool(row["is_superuser"]),
        in_recovery=row["in_recovery"],
        shared_preload_libraries=tuple(p.strip() for p in row["preload"].split(",") if p.strip()),
        extensions=dict(row["extensions"]),
        available_extensions=frozenset(row["available"] or ()),
        available_versions=dict(row["defaults"]),
        wal_level=row["wal_level"],
        can_replicate=bool(row["can_replicate"]),
    )
    if info.version_num > MAX_TESTED:
        log.warning(
            "PostgreSQL %s is newer than pgwarden has been tested with (14 to 18)", info.version
        )
    if info.version_num < MIN_VERSION:
        raise PgwardenError(
            f"PostgreSQL {info.version} is not supported: pgwarden needs 14 or newer",
            hint="upgrade the server, or run without a URL to use the embedded PostgreSQL",
        )
    return info


def read_catalog(conn: psycopg.Connection[Any]) -> Catalog:
    """Introspect the server and every user table in a few queries."""
    server = read_server(conn)
    with conn.cursor(row_factory=dict_row) as cur:
        table_rows = cur.execute(_TABLES).fetchall()
        names = {r["oid"]: QualifiedName(r["schema"], r["name"]) for r in table_rows}
        columns: dict[int, list[Column]] = defaultdict(list)
        for r in cur.execute(_COLUMNS):
            oid = r.pop("oid")
            columns[oid].append(Column(**r))
        primary: dict[int, Key] = {}
        uniques: dict[int, list[Key]] = defaultdict(list)
        fks_out: dict[int, list[ForeignKey]] = defaultdict(list)
        fks_in: dict[QualifiedName, list[ForeignKey]] = defaultdict(list)
        for r in cur.execute(_CONSTRAINTS):
            if r["oid"] not in names:
                continue
            if r["contype"] in ("p", "u"):
                key = Key(r["name"], tuple(r["columns"]), r["contype"] == "p", r["deferrable"])
                if key.primary:
                    primary[r["oid"]] = key
                else:
                    uniques[r["oid"]].append(key)
                continue
            fk = ForeignKey(
                name=r["name"],
                table=names[r["oid"]],
                columns=tuple(r["columns"]),
                references=QualifiedName(r["ref_schema"], r["ref_name"]),
                referenced_columns=tuple(r["ref_columns"]),
                on_delete=_FK_ACTIONS[r["on_delete"]],
                on_update=_FK_ACTIONS[r["on_update"]],
                deferrable=r["deferrable"],
                validated=r["validated"],
            )
            fks_out[r["oid"]].append(fk)
            fks_in[fk.references].append(fk)
        indexes: dict[int, list[Index]] = defaultdict(list)
        nnd = "i.indnullsnotdistinct" if server.version_num >= 150000 else "false"
        for r in cur.execute(_INDEXES.format(nulls_not_distinct=nnd, skip=_SKIP)):
            oid = r.pop("oid")
            r["columns"] = tuple(c.strip('"') for c in r["columns"])
            indexes[oid].append(Index(**r))
        triggers: dict[int, list[Trigger]] = defaultdict(list)
        for r in cur.execute(_TRIGGERS):
            oid = r.pop("oid")
            triggers[oid].append(Trigger(**r))
    tables: dict[QualifiedName, Table] = {}
    for r in table_rows:
        oid, name = r["oid"], names[r["oid"]]
        parent = QualifiedName(r["parent_schema"], r["parent_name"]) if r["parent_name"] else None
        tables[name] = Table(
            oid=oid,
            name=name,
            kind="partitioned table" if r["relkind"] == "p" else "table",
            owner=r["owner"],
            columns=tuple(columns[oid]),
            primary_key=primary.get(oid),
            unique_keys=tuple(uniques[oid]),
            foreign_keys=tuple(fks_out[oid]),
            referenced_by=tuple(fks_in[name]),
            indexes=tuple(sorted(indexes[oid], key=lambda i: i.name)),
            triggers=tuple(sorted(triggers[oid], key=lambda t: t.name)),
            rls_enabled=r["rls_enabled"],
            rls_forced=r["rls_forced"],
            partition_of=parent,
            partition_key=r["partition_key"],
            estimated_rows=r["estimated_rows"],
        )
    return Catalog(server=server, tables=tables)
