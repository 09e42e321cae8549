"""What one ``/metrics`` scrape reads from the server (``_metrics`` turns it into series).

Bounded whatever the database's size: at most ``DATABASES`` databases, the ``top_tables``
largest tables (picked by ``relpages`` before any statistics or size is read) and the
``top_queries`` statements by total time (``pg_stat_statements(false)``: no query text).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import dict_row

DATABASES = 10

DATABASE_COLUMNS = (
    "numbackends", "xact_commit", "xact_rollback", "blks_read", "blks_hit", "tup_returned",
    "tup_fetched", "tup_inserted", "tup_updated", "tup_deleted", "conflicts", "temp_files",
    "temp_bytes", "deadlocks",
)  # fmt: skip
TABLE_COLUMNS = (
    "seq_scan", "idx_scan", "n_tup_ins", "n_tup_upd", "n_tup_del", "n_live_tup", "n_dead_tup",
    "size_bytes", "last_autovacuum", "last_autoanalyze",
)  # fmt: skip

_SERVER_SQL = """
select current_setting('server_version') as version,
       current_setting('server_version_num')::int as version_num,
       extract(epoch from pg_postmaster_start_time())::float8 as started,
       current_setting('max_connections')::int as max_connections,
       pg_is_in_recovery() as replica,
       case when pg_is_in_recovery() then  -- as /readyz measures it (see _probes)
         case when pg_last_wal_replay_lsn() >= greatest(pg_last_wal_receive_lsn(), r.latest_end_lsn)
              then 0.0
              else extract(epoch from now() - pg_last_xact_replay_timestamp())::float8 end
       end as lag_seconds,
       current_database() as datname
from (select 1) as one left join pg_stat_wal_receiver r on true
"""
_DATABASE_SQL = """
select d.datid::text as datid, d.datname, d.numbackends, d.xact_commit, d.xact_rollback,
       d.blks_read, d.blks_hit, d.tup_returned, d.tup_fetched, d.tup_inserted, d.tup_updated,
       d.tup_deleted, d.conflicts, d.temp_files, d.temp_bytes, d.deadlocks
from pg_stat_database d
where d.datname is not null and has_database_privilege(d.datname, 'CONNECT')
order by d.datname = current_database() desc, d.xact_commit desc, d.datname
limit %s
"""
_ACTIVITY_SQL = """
select coalesce(datname, '') as datname, coalesce(state, 'unknown') as state, count(*) as n,
       coalesce(extract(epoch from max(clock_timestamp() - xact_start)), 0)::float8 as max_tx
from pg_stat_activity where backend_type = 'client backend' group by 1, 2
"""
_LOCKS_SQL = """
select coalesce(d.datname, '') as datname, lower(l.mode) as mode, count(*) as n
from pg_locks l left join pg_database d on d.oid = l.database group by 1, 2
"""
_STANDBYS_SQL = """
select coalesce(application_name, '') as application_name,
       coalesce(client_addr::text, '') as client_addr, coalesce(state, '') as state,
       pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::float8 as lag_bytes
from pg_stat_replication where not pg_is_in_recovery()
"""
_TABLES_SQL = """
with largest as (
  -- relpages (kept by VACUUM/ANALYZE) picks the largest first. Their statistics are then read
  -- with the functions behind pg_stat_user_tables, for those N only: the view itself
  -- aggregates over every table before any filter applies (24 ms at 2,000 tables).
  select c.oid from pg_class c join pg_namespace n on n.oid = c.relnamespace
  where c.relkind in ('r', 'p', 'm') and n.nspname not in ('pg_catalog', 'information_schema')
    and n.nspname !~ '^pg_toast'
  order by c.relpages desc, c.oid limit %s
)
select n.nspname as schemaname, c.relname, pg_stat_get_numscans(c.oid) as seq_scan,
       (select coalesce(sum(pg_stat_get_numscans(i.indexrelid)), 0)::bigint
        from pg_index i where i.indrelid = c.oid) as idx_scan,
       pg_stat_get_tuples_inserted(c.oid) as n_tup_ins,
       pg_stat_get_tuples_updated(c.oid) as n_tup_upd,
       pg_stat_get_tuples_deleted(c.oid) as n_tup_del,
       pg_stat_get_live_tuples(c.oid) as n_live_tup,
       pg_stat_get_dead_tuples(c.oid) as n_dead_tup,
       pg_total_relation_size(c.oid) as size_bytes,
       extract(epoch from pg_stat_get_last_autovacuum_time(c.oid))::float8 as last_autovacuum,
       extract(epoch from pg_stat_get_last_autoanalyze_time(c.oid))::float8 as last_autoanalyze
from largest l join pg_class c on c.oid = l.oid join pg_namespace n on n.oid = c.relnamespace
"""
_STATEMENTS_SQL = """
with mine as (
  select s.queryid, r.rolname, s.calls, s.total_exec_time, s.rows
  from {schema}.pg_stat_statements(false) s left join pg_roles r on r.oid = s.userid
  where s.dbid = (select oid from pg_database where datname = current_database())
), ranked as (
  select *, row_number() over (order by total_exec_time desc) as rank from mine
)
select case when rank <= %(top)s then queryid::text else 'other' end as queryid,
       case when rank <= %(top)s then coalesce(rolname, '') else '' end as "user",
       sum(calls)::float8 as calls, sum(total_exec_time)::float8 / 1000 as seconds,
       sum(rows)::float8 as rows
from ranked group by 1, 2
"""


@dataclass
class Scrape:
    """What one scrape read (``None`` fields: that part could not be read)."""

    server: dict[str, Any]
    databases: list[dict[str, Any]]
    activity: list[dict[str, Any]]
    locks: list[dict[str, Any]]
    standbys: list[dict[str, Any]]
    tables: list[dict[str, Any]]
    statements: list[dict[str, Any]] | None


async def read_scrape(
    conn: psycopg.AsyncConnection[Any], top_tables: int, top_queries: int
) -> Scrape:
    """Everything one scrape shows, in a handful of statements on one connection."""

    async def rows(query: str, params: Any = None) -> list[dict[str, Any]]:
        async with conn.cursor(row_factory=dict_row) as cur:
            await cur.execute(query, params)
            return await cur.fetchall()

    server = (await rows(_SERVER_SQL))[0]
    scrape = Scrape(
        server=server,
        databases=await rows(_DATABASE_SQL, (DATABASES,)),
        activity=await rows(_ACTIVITY_SQL),
        locks=await rows(_LOCKS_SQL),
        standbys=await rows(_STANDBYS_SQL),
        tables=await rows(_TABLES_SQL, (top_tables,)) if top_tables else [],
        statements=None,
    )
    schema = await rows(
        "select n.nspname from pg_extension e join pg_namespace n on n.oid = e.extnamespace "
        "where e.extname = 'pg_stat_statements'"
    )
    if schema and top_queries:
        try:  # installed but not preloaded, or not readable: no per-query series
            query = psycopg.sql.SQL(_STATEMENTS_SQL).format(
                schema=psycopg.sql.Identifier(schema[0]["nspname"])
            )
            async with conn.cursor(row_factory=dict_row) as cur:
                await cur.execute(query, {"top": top_queries})
                scrape.statements = await cur.fetchall()
        except psycopg.Error as exc:
            if conn.broken:
                raise
            scrape.statements = None
            del exc
    return scrape
