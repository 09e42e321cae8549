"""The ``archive`` and ``archive-retention`` maintenance jobs."""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import Any

import psycopg
from psycopg import sql

from pgwarden._names import QualifiedName
from pgwarden.catalog import Catalog, Table
from pgwarden.errors import MaintenanceError
from pgwarden.features.archive._options import ArchiveOptions, archive_name
from pgwarden.features.archive._partitions import (
    archive_partition,
    archive_partition_name,
    bounds_partition,
)
from pgwarden.features.archive._sql import count, cutoff, older_than, partition_columns, trusted
from pgwarden.maintenance import Job, JobContext
from pgwarden.movers import (
    ACTOR,
    Leaf,
    Settings,
    Target,
    in_transaction,
    leaves,
    move_statement,
    range_upper,
    relkind,
    run_batches,
)


def archive_job(table: Table, options: ArchiveOptions, catalog: Catalog) -> Job:
    return Job(
        name="archive",
        feature="archive",
        table=table.name,
        description=f"archive {table.name} ({options.column} older than {options.after})",
        run=partial(_archive, table, options),
        after=("purge",),  # rows deleted for good need not be archived
        estimate=partial(_due, table, options),
    )


def retention_job(table: Table, options: ArchiveOptions, catalog: Catalog) -> Job:
    return Job(
        name="archive-retention",
        feature="archive",
        table=table.name,
        description=f"delete archived {table.name} rows older than {options.retention}",
        run=partial(_retention, table, options),
        after=("archive",),  # so a run leaves nothing older than retention
    )


def _settings(ctx: JobContext, reason: str) -> Settings:
    return Settings(reason, ctx.lock_timeout_ms, ctx.retries, ctx.batch)


def _due(table: Table, options: ArchiveOptions, ctx: JobContext) -> int:
    return count(
        ctx.conn, table.name, table.name.name, _predicate(ctx.conn, table, options, ctx.now)
    )


def _predicate(
    conn: psycopg.Connection[Any], table: Table, options: ArchiveOptions, now: dt.datetime
) -> sql.Composable:
    due = older_than(table, options.column, cutoff(conn, now, options.after))
    if options.where is not None:
        due = sql.SQL("{} AND {}").format(due, trusted(options.where))
    return due


def _check_target(ctx: JobContext, table: Table, target: QualifiedName) -> list[str]:
    """The columns to move; refuses when the archive is missing or behind the source."""
    rows = ctx.conn.execute(
        """select attname from pg_attribute where attrelid = to_regclass(%s)
           and attnum > 0 and not attisdropped""",
        (target.regclass_text,),
    ).fetchall()
    have = {str(r[0]) for r in rows}
    missing = [c for c in table.column_names if c not in have]
    if not have or missing:
        what = f"lacks column {', '.join(missing)}" if have else "does not exist"
        raise MaintenanceError(
            f"{table.name}: archive table {target} {what}", hint="run pgwarden apply first"
        )
    return list(table.column_names)


def _archive(table: Table, options: ArchiveOptions, ctx: JobContext) -> tuple[int, str]:
    conn = ctx.conn
    target = archive_name(table.name, options)
    due = _predicate(conn, table, options, ctx.now)
    if ctx.dry_run:
        return count(conn, table.name, table.name.name, due), "rows would move"
    columns = _check_target(ctx, table, target)
    total = count(conn, table.name, table.name.name, due)
    settings = _settings(ctx, "archive")
    reason = f"{options.column} older than {options.after}" + (
        f" and {options.where}" if options.where else ""
    )
    extra = [("archived_by", ACTOR), ("archive_reason", sql.Literal(f"archive: {reason}"))]
    done = 0
    ctx.progress(0, total)

    def advanced(n: int) -> None:
        nonlocal done
        done += n
        ctx.progress(done, max(total, done))

    whole = 0
    partitioned_archive = relkind(conn, target) == "p"
    limit = cutoff(conn, ctx.now, options.after)
    for leaf in leaves(conn, table.name):
        whole_ok = options.where is None and partitioned_archive
        if (
            whole_ok
            and _wholly_due(ctx, table, options.column, leaf, table.name, limit)
            and not bounds_partition(conn, target, leaf.bounds)[1]
        ):
            rows = archive_partition(
                conn,
                table.name,
                leaf.name,
                options,
                lock_timeout_ms=ctx.lock_timeout_ms,
                retries=ctx.retries,
            )
            advanced(rows)
            whole += 1
            continue
        if partitioned_archive and leaf.bounds is not None:
            _ensure_partition(conn, target, leaf, settings)
        statement = move_statement(leaf.name, table.name.name, due, Target(target, columns, extra))
        run_batches(conn, leaf.name, leaf.pages, statement, settings,
                    what=f"archive {leaf.name}", on_batch=advanced)  # fmt: skip
    detail = "rows moved" + (f" ({whole} whole partitions)" if whole else "")
    return done, detail


def _wholly_due(
    ctx: JobContext,
    table: Table,
    column: str,
    leaf: Leaf,
    parent: QualifiedName,
    limit: dt.datetime,
) -> bool:
    """A direct partition of ``parent`` (the source or its archive, partitioned alike) whose
    whole range is before ``limit``, on a one-column range key that is the archive column."""
    if leaf.parent != parent or not (table.partition_key or "").upper().startswith("RANGE"):
        return False
    if partition_columns(ctx.conn, table) != (column,):
        return False
    upper = range_upper(leaf.bounds)
    col = table.column(column)
    if upper is None or col is None:
        return False
    bound: sql.Composable = sql.Literal(limit)
    if col.type in ("smallint", "integer", "bigint"):
        bound = sql.Literal(int(limit.timestamp()))
    # The bound is the server's own rendering of a literal; the type is format_type output.
    query = sql.SQL("select ({})::{} <= {}").format(
        sql.SQL(upper),
        sql.SQL(col.type),
        bound,
    )
    row = ctx.conn.execute(query).fetchone()
    return bool(row and row[0])


def _has_partition(
    conn: psycopg.Connection[Any], target: QualifiedName, bounds: str | None
) -> bool:
    row = conn.execute(
        """select 1 from pg_inherits i join pg_class c on c.oid = i.inhrelid
           where i.inhparent = to_regclass(%s) and pg_get_expr(c.relpartbound, c.oid) = %s""",
        (target.regclass_text, bounds),
    ).fetchone()
    return row is not None


def _ensure_partition(
    conn: psycopg.Connection[Any], target: QualifiedName, leaf: Leaf, settings: Settings
) -> None:
    """An archive partition with the leaf's bounds, for its rows moved one by one (unless one
    with those bounds, or one covering them, exists already)."""
    if _has_partition(conn, target, leaf.bounds):
        return
    name = archive_partition_name(target, leaf.name)

    def work() -> int:
        try:
            with conn.transaction():
                conn.execute(sql.SQL("CREATE TABLE {} PARTITION OF {} {}").format(
                    name.ident, target.ident, sql.SQL(leaf.bounds or "DEFAULT")))  # fmt: skip
        except psycopg.errors.InvalidObjectDefinition:
            pass  # overlaps an archive partition made otherwise: rows are routed there
        return 0

    in_transaction(conn, settings, work, what=f"create archive partition {name}")


def _retention(table: Table, options: ArchiveOptions, ctx: JobContext) -> tuple[int, str]:
    conn = ctx.conn
    target = archive_name(table.name, options)
    assert options.retention is not None
    limit = cutoff(conn, ctx.now, options.retention)
    old = older_than(table, options.column, limit)
    if relkind(conn, target) is None:
        return 0, "no archive table yet"
    if ctx.dry_run:
        return count(conn, target, target.name, old), "archived rows past retention"
    settings = _settings(ctx, "archive retention")
    total = count(conn, target, target.name, old)
    done, dropped = 0, 0
    ctx.progress(0, total)

    def advanced(n: int) -> None:
        nonlocal done
        done += n
        ctx.progress(done, max(total, done))

    for leaf in leaves(conn, target):
        if _wholly_due(ctx, table, options.column, leaf, target, limit):
            rows = count(conn, leaf.name, leaf.name.name, sql.SQL("true"))
            # A whole archive partition past retention: dropped, not deleted row by row.
            drop = sql.SQL("DROP TABLE {}").format(leaf.name.ident)
            in_transaction(conn, settings, partial(_rowcount, conn, drop), what=f"drop {leaf.name}")
            advanced(rows)
            dropped += 1
            continue
        statement = move_statement(leaf.name, target.name, old, None)
        run_batches(conn, leaf.name, leaf.pages, statement, settings,
                    what=f"archive retention on {leaf.name}", on_batch=advanced)  # fmt: skip
    return done, "archived rows deleted" + (f" ({dropped} whole partitions)" if dropped else "")


def _rowcount(conn: psycopg.Connection[Any], statement: sql.Composed) -> int:
    return conn.execute(statement).rowcount
