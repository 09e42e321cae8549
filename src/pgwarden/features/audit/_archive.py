"""The ``audit-archive`` job: events older than their table's ``archive_after`` move from the
hot store (``warden.audit_events``, by month) to ``warden.audit_events_archive`` (by year).

Each batch is one statement in one transaction (``delete ... returning`` feeding an
``insert``, run through :func:`pgwarden.maintenance.in_batch`), walking one month's pages in
order with the archive feature's batch machinery: a process killed at any moment leaves every
event in exactly one of the two stores. Reads go through ``warden.audit_events_all``, so
nothing a reader sees changes. Months of the hot store left empty and past are dropped.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg
from psycopg import sql

from pgwarden._names import QualifiedName
from pgwarden.features.audit._store import STORE, drop_partitions
from pgwarden.maintenance import JobContext, in_batch
from pgwarden.movers import Settings, Target, leaves, move_statement, relkind, run_batches

ARCHIVE = QualifiedName("warden", "audit_events_archive")
COLUMNS = ("event_id", "statement_id", "txid", "context_seq", "table_id", "op", "at",
           "row_key", "old_key", "old_row", "new_row")  # fmt: skip
"""Every column of both stores, moved as they are (event ids and transaction ids kept)."""
UTC = dt.UTC


def due_predicate(conn: psycopg.Connection[Any], now: dt.datetime) -> sql.Composable | None:
    """Events (alias ``e``) past their table's ``archive_after`` at ``now``, as registered in
    ``warden.audit_tables`` (tables no longer audited, or dropped, keep theirs); None when no
    table has one. One term per distinct age, so the test per event is a few comparisons."""
    rows = conn.execute(
        "select array_agg(table_id order by table_id), %s::timestamptz - archive_after "
        "from warden.audit_tables where archive_after is not null group by archive_after "
        "order by 2",
        (now,),
    ).fetchall()
    if not rows:
        return None
    terms = [
        sql.SQL("(e.table_id = ANY({}::int[]) AND e.at < {})").format(
            sql.Literal(ids), sql.Literal(cut)
        )
        for ids, cut in rows
    ]
    # The latest cutoff alone first: it prunes the store's newer months from every scan.
    return sql.SQL("e.at < {} AND ({})").format(
        sql.Literal(max(cut for _, cut in rows)), sql.SQL(" OR ").join(terms)
    )


def _due_by_month(
    conn: psycopg.Connection[Any], predicate: sql.Composable
) -> dict[str, tuple[int, dt.datetime, dt.datetime]]:
    """Per partition of the hot store (by name) holding due events: how many, the oldest,
    the newest. One scan of the months the cutoffs reach."""
    rows = conn.execute(
        sql.SQL(
            "select c.relname, d.n, d.oldest, d.newest from (select e.tableoid, count(*) as n, "
            "min(e.at) as oldest, max(e.at) as newest from warden.audit_events e where {} "
            "group by 1) d join pg_class c on c.oid = d.tableoid"
        ).format(predicate)
    ).fetchall()
    return {str(r[0]): (int(r[1]), r[2], r[3]) for r in rows}


def _year(year: int) -> dt.datetime:
    return dt.datetime(year, 1, 1, tzinfo=UTC)


def _ensure_years(ctx: JobContext, first: int, last: int) -> None:
    """A yearly partition of the archive for every year from ``first`` to ``last`` (UTC)."""
    for year in range(first, last + 1):
        create = sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} PARTITION OF {} FOR VALUES FROM ({}) TO ({})"
        ).format(
            sql.Identifier(ARCHIVE.schema, f"{ARCHIVE.name}__y{year}"),
            ARCHIVE.ident,
            sql.Literal(_year(year)),
            sql.Literal(_year(year + 1)),
        )

        def make(conn: psycopg.Connection[Any], create: sql.Composed = create) -> None:
            conn.execute(create)

        in_batch(ctx, make)


def archive_events(ctx: JobContext) -> tuple[int, str]:
    """Move every due event to the archive (``ctx.dry_run``: count them), then drop the hot
    store's past months left empty. Returns (events, detail)."""
    conn = ctx.conn
    if relkind(conn, ARCHIVE) != "p" or relkind(conn, STORE) != "p":
        return 0, "the event store has no archive yet (run apply)"
    predicate = due_predicate(conn, ctx.now)
    if predicate is None:
        return 0, "no audited table has archive_after"
    due = _due_by_month(conn, predicate)
    total = sum(n for n, _, _ in due.values())
    if ctx.dry_run:
        return total, f"events would move to the archive (from {len(due)} months)"
    done = 0
    ctx.progress(0, total)

    def advanced(n: int) -> None:
        nonlocal done
        done += n
        ctx.progress(done, max(total, done))

    if due:
        first = min(oldest for _, oldest, _ in due.values()).astimezone(UTC).year
        last = max(newest for _, _, newest in due.values()).astimezone(UTC).year
        _ensure_years(ctx, first, last)
        # Only into years that have a partition: an event that became due while this runs,
        # in a year not made yet, waits for the next run instead of failing the batch.
        moving = sql.SQL("{} AND e.at >= {} AND e.at < {}").format(
            predicate, sql.Literal(_year(first)), sql.Literal(_year(last + 1))
        )
        settings = Settings("audit archive", ctx.lock_timeout_ms, ctx.retries, ctx.batch)
        for leaf in leaves(conn, STORE):
            if leaf.name.name not in due:
                continue
            run_batches(
                conn,
                leaf.name,
                leaf.pages,
                move_statement(leaf.name, "e", moving, Target(ARCHIVE, COLUMNS)),
                settings,
                what=f"audit archive of {leaf.name}",
                on_batch=advanced,
                transact=lambda work: in_batch(ctx, lambda _conn: work()),
            )
    emptied = _emptied_months(ctx)
    drop_partitions(ctx, emptied)
    months = f"; {len(emptied)} emptied months dropped" if emptied else ""
    return done, f"events moved to the archive{months}"


def _emptied_months(ctx: JobContext) -> list[str]:
    """Partitions of the hot store that ended before ``ctx.now`` and hold no event (the
    current and future months never qualify: see warden.audit_expired_partitions)."""
    names = [
        str(r[0])
        for r in ctx.conn.execute(
            "select p::text from warden.audit_expired_partitions(%s) p "
            "join pg_inherits i on i.inhrelid = p where i.inhparent = %s::regclass",
            (ctx.now, STORE.regclass_text),
        )
    ]
    empty = []
    for name in names:
        # Server-rendered regclass text of a partition of the store (our own objects).
        row = ctx.conn.execute(
            sql.SQL("select not exists (select 1 from {})").format(sql.SQL(name))
        ).fetchone()
        if row and row[0]:
            empty.append(name)
    return empty
