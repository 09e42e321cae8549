"""Refreshing a declared view: one at a time per view, concurrently when it can, recorded."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from importlib import resources
from typing import Any

import psycopg
from psycopg import sql

from pgwarden._names import QualifiedName
from pgwarden.features.materialized_views._deltas import catch_up
from pgwarden.features.materialized_views._incremental import Incremental
from pgwarden.features.materialized_views._options import ViewSpec

# Session advisory locks (REFRESH_LOCK, hashtext(view)): refreshes of one view never overlap,
# whoever runs them (the worker, `pgwarden views refresh`, the Python API).
REFRESH_LOCK = 0x7677  # "vw"


@dataclass(frozen=True)
class Refreshed:
    """One refresh: of which view, when, how long, how many rows, and how."""

    view: str
    started_at: dt.datetime
    seconds: float
    rows: int | None
    concurrently: bool
    skipped: str | None = None
    """Why nothing ran (another refresh of this view holds its lock)."""
    incremental: bool = False
    """Applied the change feed since the last refresh (an incremental view)."""
    events: int | None = None
    """Feed events applied (incremental views; None when computed whole)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "view": self.view,
            "started_at": self.started_at.isoformat(),
            "seconds": round(self.seconds, 3),
            "rows": self.rows,
            "concurrently": self.concurrently,
            "skipped": self.skipped,
            "incremental": self.incremental,
            "events": self.events,
        }


def ensure_log(conn: psycopg.Connection[Any]) -> None:
    """The refresh log table (the feature's state migration; idempotent)."""
    present = conn.execute(
        "select 1 from pg_attribute where attrelid = to_regclass('warden.view_refreshes')"
        " and attname = 'incremental'"
    ).fetchone()
    if present:
        return
    folder = resources.files(__package__).joinpath("migrations")
    with conn.transaction():
        conn.execute("create schema if not exists warden")
        for file in ("0001_refreshes.sql", "0002_feeds.sql"):  # each idempotent
            conn.execute(folder.joinpath(file).read_text().encode())  # ours, no parameters


def last_refresh(conn: psycopg.Connection[Any], name: QualifiedName) -> dt.datetime | None:
    """Start of the last successful refresh of ``name`` (None: never, or no log yet)."""
    present = conn.execute("select to_regclass('warden.view_refreshes')").fetchone()
    if not present or present[0] is None:
        return None
    row = conn.execute(
        "select max(started_at) from warden.view_refreshes where view_name = %s and ok",
        (str(name),),
    ).fetchone()
    return row[0] if row else None


def is_populated(conn: psycopg.Connection[Any], name: QualifiedName) -> bool | None:
    row = conn.execute(
        "select ispopulated from pg_matviews where schemaname = %s and matviewname = %s",
        (name.schema, name.name),
    ).fetchone()
    return None if row is None else bool(row[0])


def refresh(
    conn: psycopg.Connection[Any],
    name: QualifiedName,
    view: ViewSpec,
    *,
    now: dt.datetime,
    lock_timeout_ms: int,
    incremental: Incremental | None = None,
    full: bool = False,
) -> Refreshed:
    """Refresh ``name`` now (``conn`` in autocommit): an incremental view applies the change
    feed since its last refresh (``full``: computes itself whole again); a materialized view
    refreshes ``CONCURRENTLY`` when it has a unique key and is populated (readers never
    wait), else plainly (ACCESS EXCLUSIVE). Records the refresh and drops records older than
    ``keep_log``. Skips when another refresh of the same view is running."""
    ensure_log(conn)
    key = (REFRESH_LOCK, str(name))
    got = conn.execute("select pg_try_advisory_lock(%s, hashtext(%s))", key).fetchone()
    if got != (True,):
        return Refreshed(str(name), now, 0.0, None, False, skipped="another refresh is running")
    try:
        concurrently = (
            incremental is None and bool(view.unique_key) and is_populated(conn, name) is True
        )
        started = time.perf_counter()
        ok, detail, rows, events = True, "", None, None
        try:
            if incremental is not None:
                done = catch_up(conn, incremental, lock_timeout_ms=lock_timeout_ms, full=full)
                events = None if done.full else done.events
            else:
                _rematerialize(conn, name, concurrently, lock_timeout_ms)
            counted = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(name.ident)).fetchone()
            rows = int(counted[0]) if counted else None
        except psycopg.Error as exc:
            ok, detail = False, str(exc.diag.message_primary or exc)
        seconds = time.perf_counter() - started
        with conn.transaction():
            conn.execute(
                """insert into warden.view_refreshes (view_name, started_at, seconds, rows,
                       concurrent, ok, detail, incremental, events)
                   values (%s, %s, %s, %s, %s, %s, %s, %s, %s)""",
                (
                    str(name),
                    now,
                    seconds,
                    rows,
                    concurrently,
                    ok,
                    detail,
                    incremental is not None,
                    events,
                ),
            )
            conn.execute(
                "delete from warden.view_refreshes where view_name = %s"
                " and started_at < %s::timestamptz - %s::interval",
                (str(name), now, view.keep_log.interval),
            )
        if not ok:
            from pgwarden.errors import MaintenanceError

            raise MaintenanceError(f"refresh of {name} failed: {detail}")
        return Refreshed(
            str(name), now, seconds, rows, concurrently, None, incremental is not None, events
        )
    finally:
        conn.execute("select pg_advisory_unlock(%s, hashtext(%s))", key)


def _rematerialize(
    conn: psycopg.Connection[Any], name: QualifiedName, concurrently: bool, lock_timeout_ms: int
) -> None:
    statement = sql.SQL("REFRESH MATERIALIZED VIEW {}{}").format(
        sql.SQL("CONCURRENTLY ") if concurrently else sql.SQL(""), name.ident
    )
    with conn.transaction():
        conn.execute("select set_config('lock_timeout', %s, true)", (f"{lock_timeout_ms}ms",))
        conn.execute(statement)
