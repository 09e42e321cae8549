"""Reading ``pg_stat_statements`` across its versions (1.9 on PostgreSQL 14 to 1.12 on 18).

Counters are read with ``pg_stat_statements(false)``: no query text, so no read of the text
file on every pass; the text of the few statements shown is fetched by queryid afterwards.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

Row = dict[str, Any]


def _location(conn: psycopg.Connection[Any]) -> tuple[str, tuple[int, int]] | None:
    row = conn.execute(
        "select n.nspname, e.extversion from pg_extension e "
        "join pg_namespace n on n.oid = e.extnamespace where e.extname = 'pg_stat_statements'"
    ).fetchone()
    if row is None:
        return None
    major, _, minor = str(row[1]).partition(".")
    return str(row[0]), (int(major), int(minor or 0))


def _read_time(version: tuple[int, int]) -> str:
    # 1.11 (PostgreSQL 17) renamed blk_read_time to shared_blk_read_time.
    return "shared_blk_read_time" if version >= (1, 11) else "blk_read_time"


def counters_query(conn: psycopg.Connection[Any]) -> sql.Composed | None:
    """The query of :func:`read_counters` (None without the extension in this database)."""
    where = _location(conn)
    if where is None:
        return None
    schema, version = where
    return sql.SQL(
        """
        select queryid, sum(calls)::int8 as calls, sum(total_exec_time)::float8 as total_ms,
               sum(rows)::int8 as rows, sum(shared_blks_hit)::int8 as hit,
               sum(shared_blks_read)::int8 as read,
               sum(temp_blks_written)::int8 as temp_written,
               sum({read_time})::float8 as read_ms
          from {schema}.pg_stat_statements(false)
         where dbid = (select oid from pg_database where datname = current_database())
           and toplevel and queryid is not null
         group by queryid
        """
    ).format(read_time=sql.Identifier(_read_time(version)), schema=sql.Identifier(schema))


def read_counters(conn: psycopg.Connection[Any]) -> list[Row]:
    """Cumulative counters of this database's top-level statements, one row per queryid
    (summed over roles). Empty when the extension is not installed in this database."""
    query = counters_query(conn)
    if query is None:
        return []
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query).fetchall()


def texts(conn: psycopg.Connection[Any], queryids: Iterable[int]) -> dict[int, str]:
    """The text of the given statements (only these are returned, not kept)."""
    ids = list(queryids)
    where = _location(conn)
    if where is None or not ids:
        return {}
    query = sql.SQL(
        "select distinct on (queryid) queryid, query from {}.pg_stat_statements(true) "
        "where queryid = any(%s) and dbid = (select oid from pg_database "
        "where datname = current_database())"
    ).format(sql.Identifier(where[0]))
    return {r[0]: r[1] for r in conn.execute(query, (ids,)).fetchall() if r[1] is not None}
