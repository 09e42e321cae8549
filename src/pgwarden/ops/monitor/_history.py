"""Query history: deltas of the statistics counters, stored by ``monitor-snapshot`` in the
``warden`` schema in daily partitions (made ahead and dropped past ``[monitor] retention``
by pgwarden's partition feature), and the reads over it (top queries, regressions).

A snapshot stores what each counter gained since the previous snapshot; a counter lower than
last time (a reset, or an entry evicted and re-added) counts from zero. ``pg_stat_statements``
is never reset: other readers of it see what they always saw.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from pgwarden._names import QualifiedName
from pgwarden.ops.monitor._config import MonitorSection
from pgwarden.ops.monitor._model import Notice, QueryReport, QueryStat, Snapshot
from pgwarden.ops.monitor._statements import counters_query, read_counters, texts

SNAPSHOT_LOCK = 0x7067_776D_6F6E_6974  # one snapshot at a time per database
PARTITIONED = ("monitor_statements", "monitor_tables", "monitor_indexes", "monitor_database")

_DDL = """
create schema if not exists warden;
create table if not exists warden.monitor_snapshots (
    taken_at timestamptz primary key, seconds float8 not null,
    statements int not null, tables int not null, indexes int not null);
create table if not exists warden.monitor_statements (
    taken_at timestamptz not null, queryid int8 not null, calls int8 not null,
    total_ms float8 not null, rows int8 not null, hit int8 not null, read int8 not null,
    temp_written int8 not null, read_ms float8) partition by range (taken_at);
create table if not exists warden.monitor_tables (
    taken_at timestamptz not null, relid oid not null, name text not null,
    seq_scan int8 not null, idx_scan int8 not null, inserted int8 not null,
    updated int8 not null, deleted int8 not null, live int8 not null, dead int8 not null,
    bytes int8 not null) partition by range (taken_at);
create table if not exists warden.monitor_indexes (
    taken_at timestamptz not null, indexrelid oid not null, name text not null,
    scans int8 not null, bytes int8 not null) partition by range (taken_at);
create table if not exists warden.monitor_database (
    taken_at timestamptz not null, commits int8 not null, rollbacks int8 not null,
    hit int8 not null, read int8 not null, temp_bytes int8 not null, deadlocks int8 not null,
    connections int not null, bytes int8 not null) partition by range (taken_at);
create table if not exists warden.monitor_last_statements (
    queryid int8 primary key, calls int8, total_ms float8, rows int8, hit int8, read int8,
    temp_written int8, read_ms float8);
create table if not exists warden.monitor_last_tables (
    relid oid primary key, seq_scan int8, idx_scan int8, inserted int8, updated int8,
    deleted int8);
create table if not exists warden.monitor_last_indexes (indexrelid oid primary key, scans int8);
create table if not exists warden.monitor_last_database (
    id int primary key default 1 check (id = 1), commits int8, rollbacks int8, hit int8,
    read int8, temp_bytes int8, deadlocks int8);
"""

# Counter columns of each kind: the delta is current - last, or current after a reset.
_STATEMENT_COUNTERS = ("calls", "total_ms", "rows", "hit", "read", "temp_written", "read_ms")


def ensure_store(conn: psycopg.Connection[Any], opts: MonitorSection, now: dt.datetime) -> None:
    """Create the history tables if missing, and their partitions around ``now``; drop the
    partitions past ``retention``."""
    from pgwarden.features.partition._jobs import premake, retention
    from pgwarden.features.partition._options import PartitionOptions
    from pgwarden.maintenance import JobContext
    from pgwarden.spec import Spec

    exists = conn.execute("select to_regclass('warden.monitor_last_database')").fetchone()
    if not exists or exists[0] is None:
        with conn.transaction():
            conn.execute("select pg_advisory_xact_lock(%s)", (SNAPSHOT_LOCK,))
            conn.execute(_DDL)
    days = max(1, round(opts.retention.seconds / 86400))
    if not _partitions_due(conn, now, days):
        return
    part = PartitionOptions(
        column="taken_at", interval="1 day", premake=1, default=False,
        retention=f"{days} days", retention_mode="drop",
    )  # fmt: skip
    ctx = JobContext(conn=conn, spec=Spec.empty(), now=now)
    for name in PARTITIONED:
        table = QualifiedName("warden", name)
        premake(ctx, table, part)
        retention(ctx, table, part)


def _partitions_due(conn: psycopg.Connection[Any], now: dt.datetime, days: int) -> bool:
    """Whether a day partition is missing (today or tomorrow) or one is past retention; a
    snapshot then runs the partition feature's premake and retention (else: one query)."""
    rows = conn.execute(
        """select p.relname::text, c.relname::text from pg_inherits i
             join pg_class p on p.oid = i.inhparent join pg_class c on c.oid = i.inhrelid
             join pg_namespace n on n.oid = p.relnamespace
            where n.nspname = 'warden' and p.relname = any(%s)""",
        (list(PARTITIONED),),
    ).fetchall()
    have: dict[str, set[str]] = {name: set() for name in PARTITIONED}
    for parent, child in rows:
        have[parent].add(child.rsplit("_", 1)[-1])
    day = now.astimezone(dt.UTC).date()
    wanted = {f"p{(day + dt.timedelta(days=d)):%Y%m%d}" for d in (0, 1)}
    oldest = f"p{(day - dt.timedelta(days=days + 1)):%Y%m%d}"
    return any(not wanted <= parts or min(parts) < oldest for parts in have.values())


def take_snapshot(
    conn: psycopg.Connection[Any], opts: MonitorSection, now: dt.datetime | None = None
) -> Snapshot:
    """Store the deltas since the previous snapshot at ``now`` (default: the clock)."""
    started = time.perf_counter()
    at = now or dt.datetime.now(dt.UTC)
    ensure_store(conn, opts, at)
    notices: list[Notice] = []
    counters = counters_query(conn)
    if counters is None:
        notices.append(Notice("monitor-snapshot", "pg_stat_statements is not installed in "
                              "this database: statement history is not recorded"))  # fmt: skip
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", (SNAPSHOT_LOCK,))
        statements = 0 if counters is None else _statements(conn, counters, at)
        tables = _tables(conn, at)
        indexes = _indexes(conn, at)
        _database(conn, at)
        seconds = time.perf_counter() - started
        conn.execute(
            "insert into warden.monitor_snapshots values (%s, %s, %s, %s, %s) "
            "on conflict (taken_at) do nothing",
            (at, seconds, statements, tables, indexes),
        )
    return Snapshot(at, statements, tables, indexes, seconds, tuple(notices))


def _store(
    conn: psycopg.Connection[Any],
    at: dt.datetime,
    *,
    current: sql.Composable,
    history: str,
    stored: sql.Composable,
    where: str,
    last: str,
    key: str,
    counters: tuple[str, ...],
) -> int:
    """One statement per kind: read the cumulative counters once (``current``), insert into
    ``warden.<history>`` what they gained since ``warden.<last>`` (rows whose deltas match
    ``where``: something happened), and make ``<last>`` hold them, writing only those rows
    and new ones (idle objects cost no write and no dead tuple, snapshot after snapshot).
    Data-modifying CTEs all see the snapshot from before the statement, so the deltas are
    taken against the previous values."""
    ident = sql.Identifier
    names = sql.SQL(", ").join(map(ident, counters))
    # A counter lower than last time (a reset, an entry evicted and re-added): from zero.
    reset = sql.SQL("l.{k} is null or c.{f} < l.{f}").format(k=ident(key), f=ident(counters[0]))
    query = sql.SQL(
        """
        with cur as materialized ({current}),
        d as (select c.*, {deltas_named}, l.{key} is null as unseen
                from cur c left join warden.{last} l using ({key})),
        hist as (insert into warden.{history} select {at}::timestamptz, {stored}
                   from d where {where} returning 1),
        kept as (insert into warden.{last} as l ({key}, {names})
                 select {key}, {names} from d where unseen or ({where})
                 on conflict ({key}) do update set ({names}) = row({excluded})),
        gone as (delete from warden.{last} l
                  where not exists (select 1 from cur c where c.{key} = l.{key}))
        select count(*) from hist
        """
    ).format(
        current=current,
        deltas_named=sql.SQL(", ").join(
            sql.SQL("case when {r} then c.{c} else c.{c} - l.{c} end as {d}").format(
                r=reset, c=ident(c), d=ident("d_" + c)
            )
            for c in counters
        ),
        last=ident(last),
        key=ident(key),
        history=ident(history),
        at=sql.Literal(at),
        stored=stored,
        where=sql.SQL(where),
        names=names,
        excluded=sql.SQL(", ").join(sql.SQL("excluded.{}").format(ident(c)) for c in counters),
    )
    row = conn.execute(query).fetchone()
    return int(row[0]) if row else 0


def _statements(conn: psycopg.Connection[Any], counters: sql.Composed, at: dt.datetime) -> int:
    return _store(
        conn, at, current=counters, history="monitor_statements",
        stored=sql.SQL("queryid, d_calls, d_total_ms, d_rows, d_hit, d_read, d_temp_written, "
                       "d_read_ms"),
        where="d_calls > 0", last="monitor_last_statements", key="queryid",
        counters=_STATEMENT_COUNTERS,
    )  # fmt: skip


_USER = (
    "n.nspname not in ('pg_catalog', 'information_schema', 'warden') "
    "and n.nspname !~ '^pg_(toast|temp_|toast_temp_)'"
)
_TABLE_COUNTERS = ("seq_scan", "idx_scan", "inserted", "updated", "deleted")
# The statistics functions, not pg_stat_all_tables / _indexes (which compute every counter
# of every relation, system ones included).
_CURRENT_TABLES = """
select c.oid as relid, format('%I.%I', n.nspname, c.relname) as name,
       pg_stat_get_numscans(c.oid) as seq_scan, coalesce(ix.scans, 0) as idx_scan,
       pg_stat_get_tuples_inserted(c.oid) as inserted,
       pg_stat_get_tuples_updated(c.oid) as updated,
       pg_stat_get_tuples_deleted(c.oid) as deleted,
       pg_stat_get_live_tuples(c.oid) as live, pg_stat_get_dead_tuples(c.oid) as dead
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
  left join (select indrelid, sum(pg_stat_get_numscans(indexrelid))::int8 as scans
               from pg_index group by indrelid) ix on ix.indrelid = c.oid
 where c.relkind in ('r', 'm') and {}
"""
_CURRENT_INDEXES = """
select i.indexrelid, format('%I.%I', n.nspname, c.relname) as name,
       pg_stat_get_numscans(i.indexrelid) as scans
  from pg_index i join pg_class c on c.oid = i.indexrelid
  join pg_namespace n on n.oid = c.relnamespace where {}
"""


def _tables(conn: psycopg.Connection[Any], at: dt.datetime) -> int:
    return _store(
        conn, at, current=sql.SQL(_CURRENT_TABLES).format(sql.SQL(_USER)),
        history="monitor_tables",
        stored=sql.SQL("relid, name, d_seq_scan, d_idx_scan, d_inserted, d_updated, d_deleted, "
                       "live, dead, pg_relation_size(relid)"),
        # Idle tables store nothing: history grows with activity, not with the schema.
        where="d_seq_scan + d_idx_scan + d_inserted + d_updated + d_deleted > 0",
        last="monitor_last_tables", key="relid", counters=_TABLE_COUNTERS,
    )  # fmt: skip


def _indexes(conn: psycopg.Connection[Any], at: dt.datetime) -> int:
    return _store(
        conn, at, current=sql.SQL(_CURRENT_INDEXES).format(sql.SQL(_USER)),
        history="monitor_indexes",
        stored=sql.SQL("indexrelid, name, d_scans, pg_relation_size(indexrelid)"),
        where="d_scans > 0", last="monitor_last_indexes", key="indexrelid",
        counters=("scans",),
    )  # fmt: skip


def _database(conn: psycopg.Connection[Any], at: dt.datetime) -> None:
    conn.execute(
        """with c as (select xact_commit as commits, xact_rollback as rollbacks, blks_hit as hit,
                             blks_read as read, temp_bytes, deadlocks, numbackends,
                             -- pg_database_size() stats every file: pages are enough
                             (select sum(relpages)::int8 from pg_class)
                               * current_setting('block_size')::int8 as bytes
                        from pg_stat_database where datname = current_database()),
                l as (select * from warden.monitor_last_database),
                ins as (
           insert into warden.monitor_database
           select %s::timestamptz,
                  c.commits - case when c.commits < coalesce(l.commits, 0) then 0
                                   else coalesce(l.commits, 0) end,
                  c.rollbacks - least(c.rollbacks, coalesce(l.rollbacks, 0)),
                  c.hit - least(c.hit, coalesce(l.hit, 0)),
                  c.read - least(c.read, coalesce(l.read, 0)),
                  c.temp_bytes - least(c.temp_bytes, coalesce(l.temp_bytes, 0)),
                  c.deadlocks - least(c.deadlocks, coalesce(l.deadlocks, 0)),
                  c.numbackends, c.bytes
             from c left join l on true)
           insert into warden.monitor_last_database
           select 1, commits, rollbacks, hit, read, temp_bytes, deadlocks from c
           on conflict (id) do update set commits = excluded.commits,
              rollbacks = excluded.rollbacks, hit = excluded.hit, read = excluded.read,
              temp_bytes = excluded.temp_bytes, deadlocks = excluded.deadlocks""",
        (at,),
    )


def has_history(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute(
        "select to_regclass('warden.monitor_snapshots') is not null and "
        "exists (select 1 from pg_class where oid = to_regclass('warden.monitor_snapshots'))"
    ).fetchone()
    if not row or not row[0]:
        return False
    got = conn.execute("select exists (select 1 from warden.monitor_snapshots)").fetchone()
    return bool(got and got[0])


_WINDOW = """
select queryid, sum(calls)::int8 as calls, sum(total_ms)::float8 as total_ms,
       sum(rows)::int8 as rows, sum(hit)::int8 as hit, sum(read)::int8 as read
  from warden.monitor_statements
 where taken_at > %(low)s and taken_at <= %(high)s
 group by queryid
"""


def top_queries(conn: psycopg.Connection[Any], window: dt.timedelta, top: int) -> QueryReport:
    """Top statements by total time over the last ``window`` (history), with the window
    before it for comparison; ``pg_stat_statements`` since its reset without history."""
    until = dt.datetime.now(dt.UTC)
    if has_history(conn):
        since = until - window
        with conn.cursor(row_factory=dict_row) as cur:
            now_rows = cur.execute(_WINDOW, {"low": since, "high": until}).fetchall()
            before = {
                r["queryid"]: r
                for r in cur.execute(_WINDOW, {"low": since - window, "high": since})
            }
        source, start = "history", since
    else:
        now_rows, before, source, start = read_counters(conn), {}, "live", None
    now_rows.sort(key=lambda r: -r["total_ms"])
    chosen = now_rows[:top]
    text = texts(conn, [r["queryid"] for r in chosen])
    stats = []
    for r in chosen:
        blocks = r["hit"] + r["read"]
        prev = before.get(r["queryid"])
        stats.append(
            QueryStat(
                queryid=r["queryid"],
                query=text.get(r["queryid"]),
                calls=r["calls"],
                total_ms=r["total_ms"],
                mean_ms=r["total_ms"] / r["calls"] if r["calls"] else 0.0,
                rows=r["rows"],
                cache_hit=r["hit"] / blocks if blocks else None,
                previous_total_ms=prev["total_ms"] if prev else (0.0 if source == "history"
                                                                 else None),
            )
        )  # fmt: skip
    return QueryReport(start, until, source, tuple(stats))


def query_text(conn: psycopg.Connection[Any], queryid: int) -> str | None:
    return texts(conn, [queryid]).get(queryid)


def regressions(conn: psycopg.Connection[Any], opts: MonitorSection) -> list[dict[str, Any]] | None:
    """Statements whose mean time over the last hour exceeds the 7 days before by more than
    ``regression_pct`` (None: no history to compare with)."""
    if not has_history(conn):
        return None
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            """
            with w as (
              select queryid, taken_at > now() - interval '1 hour' as recent,
                     sum(calls) as calls, sum(total_ms) as total_ms
                from warden.monitor_statements
               where taken_at > now() - interval '8 days'
               group by 1, 2)
            select r.queryid, r.calls::int8 as calls, (r.total_ms / r.calls)::float8 as mean_ms,
                   (b.total_ms / b.calls)::float8 as before_ms
              from w r join w b on b.queryid = r.queryid and not b.recent
             where r.recent and r.calls >= %(min)s and b.calls >= %(min)s
               and r.total_ms / r.calls > (1 + %(pct)s / 100.0) * (b.total_ms / b.calls)
               and r.total_ms / r.calls >= 1
             order by r.total_ms desc
            """,
            {"min": opts.min_calls, "pct": opts.regression_pct},
        ).fetchall()
