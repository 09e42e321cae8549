"""Live activity for ``pgwarden top``: backends, waits, the blocking tree; cancel/terminate."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row

from pgwarden.ops.monitor._model import Activity

_ACTIVITY = """
select pid, usename as user, coalesce(application_name, '') as application,
       host(client_addr) as client, state,
       case when wait_event is not null then wait_event_type || ':' || wait_event end as wait,
       coalesce(query, '') as query,
       extract(epoch from now() - case when state = 'active' then query_start
                                       else state_change end)::float8 as seconds,
       extract(epoch from now() - xact_start)::float8 as xact_seconds,
       pg_blocking_pids(pid) as blocked_by
  from pg_stat_activity
 where pid <> pg_backend_pid() and backend_type = 'client backend'
 order by xact_start nulls last, pid
"""


def read_activity(conn: psycopg.Connection[Any]) -> list[Activity]:
    """Client backends other than this one, oldest transaction first."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(_ACTIVITY).fetchall()
    return [
        Activity(
            pid=r["pid"],
            user=r["user"],
            application=r["application"],
            client=r["client"],
            state=r["state"],
            wait=r["wait"],
            query=r["query"],
            seconds=r["seconds"],
            xact_seconds=r["xact_seconds"],
            blocked_by=tuple(r["blocked_by"] or ()),
        )
        for r in rows
    ]


def signal_backend(conn: psycopg.Connection[Any], pid: int, *, terminate: bool) -> bool:
    """Cancel the query of (or terminate) backend ``pid``; False when it was not signalled
    (gone, or not ours to signal)."""
    fn = "pg_terminate_backend" if terminate else "pg_cancel_backend"
    row = conn.execute(f"select {fn}(%s)", (pid,)).fetchone()
    return bool(row and row[0])
