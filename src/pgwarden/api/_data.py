"""What ``/api/health``, ``/api/tables`` and ``/api/changes`` answer."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.rows import dict_row

from pgwarden._names import QualifiedName
from pgwarden.api._link import Unreachable
from pgwarden.db import connect
from pgwarden.errors import DatabaseUnavailable, PgwardenError
from pgwarden.features.audit import _runtime as audit
from pgwarden.features.audit._runtime import Event

if TYPE_CHECKING:
    from pgwarden.api._app import Services

_SERVER_SQL = """
select current_setting('server_version') as version, current_database() as database,
       pg_postmaster_start_time() as started,
       extract(epoch from now() - pg_postmaster_start_time())::bigint as uptime_seconds,
       case when pg_is_in_recovery() then 'replica' else 'primary' end as role,
       pg_database_size(current_database()) as size_bytes,
       (select count(*) from pg_stat_activity where backend_type = 'client backend')
         as connections,
       current_setting('max_connections')::int as max_connections
"""
_TABLES_SQL = """
with largest as (  -- statistics and sizes for these only (see _scrape._TABLES_SQL)
  select c.oid, c.relkind,
         case when c.relkind = 'p' then (
           select coalesce(sum(p.relpages), 0) from pg_inherits i
           join pg_class p on p.oid = i.inhrelid where i.inhparent = c.oid)
         else c.relpages end as pages
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
  where c.relkind in ('r', 'p') and not c.relispartition
    and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname !~ '^pg_toast'
  order by pages desc, c.oid limit %s
)
select n.nspname as schema, c.relname as name, l.relkind = 'p' as partitioned,
       case when l.relkind = 'p' then (
         select coalesce(sum(pg_total_relation_size(i.inhrelid)), 0)::bigint
         from pg_inherits i where i.inhparent = l.oid)
       else pg_total_relation_size(l.oid) end as size_bytes,
       pg_stat_get_live_tuples(l.oid) as rows, pg_stat_get_dead_tuples(l.oid) as dead_rows,
       pg_stat_get_numscans(l.oid) as seq_scan,
       greatest(pg_stat_get_last_vacuum_time(l.oid), pg_stat_get_last_autovacuum_time(l.oid))
         as last_vacuum
from largest l join pg_class c on c.oid = l.oid join pg_namespace n on n.oid = c.relnamespace
order by l.pages desc, l.oid
"""


async def _rows(services: Services, query: str, params: Any = None) -> list[dict[str, Any]]:
    async def read(conn: psycopg.AsyncConnection[Any]) -> list[dict[str, Any]]:
        async with conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(query, params)
            return await cur.fetchall()

    return await services.api.run(read)


async def health(services: Services) -> dict[str, Any]:
    """Server facts (``reachable`` false when it does not answer), findings, feature state."""
    try:
        server: dict[str, Any] = {"reachable": True, **(await _rows(services, _SERVER_SQL))[0]}
    except Unreachable as exc:
        server = {"reachable": False, "error": str(exc)}
    snapshot = await services.state.current(wait=5.0)
    body: dict[str, Any] = {"server": server, "backups": None}
    if snapshot is None:
        body.update(checks={"state": "pending"}, findings=None, features=None, alerts=None)
        return body
    body["checks"] = {
        "state": "ok" if not snapshot.errors else "incomplete",
        "taken_at": snapshot.taken_at,
        "age_seconds": round(time.time() - snapshot.taken_at, 1),
        "seconds": round(snapshot.checks_seconds, 3),
        "errors": snapshot.errors,
        "notices": snapshot.notices,
    }
    body["findings"] = (
        None
        if snapshot.findings is None
        else {"counts": snapshot.counts(), "items": snapshot.findings}
    )
    body["features"] = snapshot.features
    body["backups"] = snapshot.features.get("backups") if snapshot.features else None
    body["alerts"] = snapshot.alerts
    return body


async def tables(services: Services, limit: int) -> dict[str, Any]:
    rows = await _rows(services, _TABLES_SQL, (limit,))
    snapshot = services.state.snapshot
    parts = {p["table"]: p for p in (snapshot.features.get("partitions", []) if snapshot else [])}
    declared = {
        str(name): sorted(spec.features) for name, spec in services.warden.spec.tables.items()
    }
    for row in rows:
        name = str(QualifiedName(row["schema"], row["name"]))
        row["table"] = name
        row["features"] = declared.get(name, [])
        part = parts.get(name)
        row["partitions"] = part["partitions"] if part else None
        row["partitions_ahead"] = part["ahead"] if part else None
        row["default_rows"] = part["default_rows"] if part else None
        if row["last_vacuum"] is not None:
            row["last_vacuum"] = row["last_vacuum"].isoformat()
    return {"tables": rows}


async def changes(services: Services, limit: int) -> dict[str, Any]:
    """Recent audit events: which columns changed, by whom and why; never the values (the
    dashboard must not become a way around column privileges)."""
    try:
        events = await asyncio.to_thread(_recent, services.warden.url, limit)
    except DatabaseUnavailable as exc:
        raise Unreachable(exc.message) from None
    except PgwardenError as exc:
        return {"changes": [], "note": exc.message}
    except psycopg.Error as exc:
        return {"changes": [], "note": str(exc).strip().splitlines()[0]}
    out = []
    for event in events:
        old, new = event.old_row or {}, event.new_row or {}
        changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        out.append(
            {
                "at": event.at.isoformat(),
                "table": event.table,
                "op": {"I": "insert", "U": "update", "D": "delete", "T": "truncate"}[event.op],
                "key": event.key,
                "changed": changed if event.op == "U" else [],
                "actor": event.actor,
                "reason": event.reason,
                "txid": event.txid,
            }
        )
    return {"changes": out}


def _recent(url: str, limit: int) -> list[Event]:
    # A connection of its own, not the Warden's pool: a pool waits (30 s) for a server that
    # is down, a connection attempt fails at once. The log does not ingest WAL first (the
    # worker does): a page view must not write.
    with connect(url, autocommit=True, connect_timeout=3) as conn:
        return audit.log(conn, limit=limit)
