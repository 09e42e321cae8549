"""The ``audit-checkpoint`` job: checkpoints of audited tables (option ``checkpoint_every``).

A checkpoint is the whole state of a table at a time ``C`` (``warden.audit_checkpoint_take``:
the live table gone back by the changes made since ``C``), so that ``as_of(T)`` reads the
first checkpoint after ``T`` and only the changes between ``T`` and it, not every change
since ``T``. Taking one is a single REPEATABLE READ transaction (rows, snapshot and header
together: a process killed midway leaves nothing). ``C`` is chosen before every transaction
still running: a transaction that captured a change before ``C`` and commits later would
otherwise be missing from it. A table captured from the WAL is completed only once every
transaction its snapshot saw is ingested (``warden.audit_checkpoint_finish``).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from pgwarden.features.audit._options import AuditOptions
from pgwarden.maintenance import Job, JobContext, in_batch
from pgwarden.spec import Duration

DRAIN_SECONDS = 5.0
"""How long a run waits for transactions older than the checkpoint's time to end."""


@dataclass(frozen=True)
class _Table:
    name: str
    table_id: int
    relid: int
    every: Duration | int
    keep: dt.timedelta | None


def checkpoint_job(declared: Sequence[tuple[str, AuditOptions]]) -> Job:
    """The job keeping the checkpoints of ``declared`` (tables with ``checkpoint_every``)."""
    names = ", ".join(name for name, _ in declared)

    def run(ctx: JobContext) -> tuple[int, str]:
        return _run(ctx, declared)

    return Job(
        "audit-checkpoint",
        "audit",
        None,
        f"take and expire table checkpoints for as_of ({names})",
        run,
        # Events still in the WAL are written first; expired events leave before.
        after=("audit-ingest", "audit-store-rescue", "audit-archive", "audit-retention"),
    )


def _tables(ctx: JobContext, declared: Sequence[tuple[str, AuditOptions]]) -> list[_Table]:
    found = []
    for name, options in declared:
        row = ctx.conn.execute(
            "select table_id, relid from warden.audit_tables where relid = to_regclass(%s)",
            (name,),
        ).fetchone()
        if row is None or options.checkpoint_every is None:
            continue  # not applied yet
        keep = options.checkpoint_keep or options.retention
        found.append(
            _Table(
                name,
                int(row[0]),
                int(row[1]),
                options.checkpoint_every,
                dt.timedelta(seconds=keep.seconds) if keep else None,
            )
        )
    return found


def _run(ctx: JobContext, declared: Sequence[tuple[str, AuditOptions]]) -> tuple[int, str]:
    conn = ctx.conn
    if conn.execute("select to_regclass('warden.audit_checkpoints')").fetchone() == (None,):
        return 0, "no checkpoint store yet (run apply)"
    tables = _tables(ctx, declared)
    expired = _expired(ctx, tables)
    due = [t for t in tables if _due(ctx, t)]
    if ctx.dry_run:
        return len(due), f"checkpoints to take ({len(expired)} to drop)"
    for checkpoint_id in expired:
        _drop(ctx, checkpoint_id)
    taken: list[str] = []
    waiting: list[str] = []
    for table in due:
        (taken if _take(ctx, table) is not None else waiting).append(table.name)
    finished = _finish_pending(ctx)
    detail = f"checkpoints taken ({', '.join(taken) or 'none'}); {len(expired)} dropped"
    if waiting:
        detail += f"; waited in vain for older transactions to end: {', '.join(waiting)}"
    if finished:
        detail += f"; {finished} completed after ingestion"
    return len(taken), detail


def _expired(ctx: JobContext, tables: list[_Table]) -> list[int]:
    """Checkpoints no read can use any more: of a table that no longer declares them or is
    another relation now (dropped, recreated, converted), or older than their keep (a
    checkpoint serves only times before it, which are then past the table's retention)."""
    keep = {t.table_id: (t.relid, t.keep) for t in tables}
    rows = ctx.conn.execute(
        "select checkpoint_id, table_id, relid, at from warden.audit_checkpoints"
    ).fetchall()
    gone = []
    for checkpoint_id, table_id, relid, at in rows:
        mine = keep.get(int(table_id))
        if mine is None or mine[0] != int(relid) or (mine[1] and at < ctx.now - mine[1]):
            gone.append(int(checkpoint_id))
    return gone


def _due(ctx: JobContext, table: _Table) -> bool:
    """No checkpoint yet, or ``checkpoint_every`` changes (or time, with changes) since the
    last one."""
    row = ctx.conn.execute(
        "select max(at) from warden.audit_checkpoints where table_id = %s and relid = %s",
        (table.table_id, table.relid),
    ).fetchone()
    last = row[0] if row else None
    if last is None:
        return True
    if isinstance(table.every, Duration) and ctx.now - last < dt.timedelta(
        seconds=table.every.seconds
    ):
        return False
    enough = table.every if isinstance(table.every, int) else 1
    changed = ctx.conn.execute(
        "select count(*) from (select 1 from warden.audit_events_all e "
        "where e.table_id = %s and e.at > %s limit %s) x",
        (table.table_id, last, enough),
    ).fetchone()
    return bool(changed and changed[0] >= enough)


def _take(ctx: JobContext, table: _Table) -> int | None:
    """Take one checkpoint; None when transactions older than its time did not end."""
    conn = ctx.conn
    row = conn.execute(
        "select clock_timestamp(), pg_snapshot_xmax(pg_current_snapshot())::text"
    ).fetchone()
    assert row is not None
    at, xmax = row
    # Every transaction with an id then must have ended: one that captured a change before
    # `at` and commits later would be missing from the checkpoint.
    deadline = time.monotonic() + max(DRAIN_SECONDS, ctx.lock_timeout_ms / 1000)
    while True:
        done = conn.execute("select warden.running_horizon() >= %s::xid8", (xmax,)).fetchone()
        if done and done[0]:
            break
        if time.monotonic() > deadline:
            return None
        time.sleep(0.1)

    def take(c: psycopg.Connection[Any]) -> int:
        found = c.execute("select warden.audit_checkpoint_take(%s, %s)", (table.table_id, at))
        return int(found.fetchone()[0])  # type: ignore[index]

    # One snapshot for the rows and the one recorded with them.
    level = conn.isolation_level
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    try:
        checkpoint_id = in_batch(ctx, take)
    finally:
        conn.isolation_level = level
    # Hint bits, visibility map and statistics now, not on the first reads.
    name = sql.Identifier("warden", f"audit_checkpoint__{checkpoint_id}")
    conn.execute(sql.SQL("vacuum (analyze) {}").format(name))
    return checkpoint_id


def _finish_pending(ctx: JobContext) -> int:
    """Complete the checkpoints of tables captured from the WAL (ingesting first); drop
    those that cannot be."""
    pending = [
        int(r[0])
        for r in ctx.conn.execute(
            "select checkpoint_id from warden.audit_checkpoints where not complete "
            "order by checkpoint_id"
        )
    ]
    if not pending:
        return 0
    from pgwarden.features.audit._wal import ingest

    ingest(ctx.conn)
    finished = 0
    for checkpoint_id in pending:

        def finish(conn: psycopg.Connection[Any], i: int = checkpoint_id) -> bool | None:
            row = conn.execute("select warden.audit_checkpoint_finish(%s)", (i,)).fetchone()
            return row[0] if row else None

        done = in_batch(ctx, finish)
        if done is None:
            _drop(ctx, checkpoint_id)
        elif done:
            finished += 1
    return finished


def _drop(ctx: JobContext, checkpoint_id: int) -> None:
    table = sql.Identifier("warden", f"audit_checkpoint__{checkpoint_id}")

    def drop(conn: psycopg.Connection[Any]) -> None:
        conn.execute(sql.SQL("drop table if exists {}").format(table))
        conn.execute(
            "delete from warden.audit_checkpoints where checkpoint_id = %s", (checkpoint_id,)
        )

    in_batch(ctx, drop)


def storage(conn: psycopg.Connection[Any], table_id: int) -> tuple[int, int, int]:
    """Checkpoints of a table: how many (complete), their rows and their bytes in all."""
    row = conn.execute(
        "select count(*), coalesce(sum(rows), 0), coalesce(sum(bytes), 0) "
        "from warden.audit_checkpoints where table_id = %s and complete",
        (table_id,),
    ).fetchone()
    return (int(row[0]), int(row[1]), int(row[2])) if row else (0, 0, 0)
