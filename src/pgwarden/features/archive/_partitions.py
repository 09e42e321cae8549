"""Whole partitions moved to the archive without copying a row: detach, add the archive's
columns (constant defaults: no rewrite), move to the archive schema, attach."""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg
from psycopg import sql

from pgwarden._names import QualifiedName
from pgwarden.errors import MaintenanceError
from pgwarden.features.archive._options import ArchiveOptions, archive_name
from pgwarden.movers import (
    ACTOR,
    EVERY_PAGE,
    Settings,
    Target,
    in_transaction,
    leaves,
    move_statement,
    relkind,
    run_batches,
)


def archive_partition_name(archive: QualifiedName, partition: QualifiedName) -> QualifiedName:
    """Where a source partition's rows live in the archive: same rule as the tables."""
    name = (
        partition.name if partition.schema == "public" else f"{partition.schema}__{partition.name}"
    )
    return QualifiedName(archive.schema, name.encode()[:63].decode(errors="ignore"))


def _columns(conn: psycopg.Connection[Any], name: QualifiedName) -> dict[str, str]:
    rows = conn.execute(
        """select attname, format_type(atttypid, atttypmod) from pg_attribute
           where attrelid = to_regclass(%s) and attnum > 0 and not attisdropped order by attnum""",
        (name.regclass_text,),
    ).fetchall()
    return {str(r[0]): str(r[1]) for r in rows}


def _bounds_of(
    conn: psycopg.Connection[Any], name: QualifiedName, parent: QualifiedName
) -> tuple[str | None, bool, str | None]:
    """(its parent, whether that is ``parent``, its bounds) for an attached partition;
    (None, False, None) for a table attached to nothing."""
    row = conn.execute(
        """select i.inhparent::regclass::text, i.inhparent = to_regclass(%s),
                  pg_get_expr(c.relpartbound, c.oid)
           from pg_class c join pg_inherits i on i.inhrelid = c.oid
           where c.oid = to_regclass(%s) and c.relispartition""",
        (parent.regclass_text, name.regclass_text),
    ).fetchone()
    return (None, False, None) if row is None else (row[0], bool(row[1]), row[2])


def bounds_partition(
    conn: psycopg.Connection[Any], target: QualifiedName, bounds: str | None
) -> tuple[QualifiedName | None, bool]:
    """The archive partition of ``target`` with exactly ``bounds`` (one the mover made for
    rows it moved by batches), and whether it holds rows."""
    row = conn.execute(
        """select n.nspname, c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid
           join pg_namespace n on n.oid = c.relnamespace
           where i.inhparent = to_regclass(%s) and pg_get_expr(c.relpartbound, c.oid) = %s""",
        (target.regclass_text, bounds),
    ).fetchone()
    if row is None:
        return None, False
    found = QualifiedName(str(row[0]), str(row[1]))
    rows = conn.execute(sql.SQL("select exists (select from {})").format(found.ident)).fetchone()
    return found, bool(rows and rows[0])


def archive_partition(
    conn: psycopg.Connection[Any],
    parent: QualifiedName,
    partition: QualifiedName,
    options: ArchiveOptions,
    *,
    bounds: str | None = None,
    lock_timeout_ms: int = 5000,
    retries: int = 5,
) -> int:
    """Move one partition of ``parent`` (attached, or already detached) into ``parent``'s
    archive; returns its row count. ``conn`` must be in autocommit.

    Attached: detached, given the archive's columns, moved and attached to the archive in
    one transaction (ACCESS EXCLUSIVE on ``parent`` for the detach, briefly; the attach scans
    the partition to validate it, reading only). Already detached: pass its ``bounds``
    (``FOR VALUES FROM (...) TO (...)`` as ``pg_get_expr(relpartbound)`` gave it) to attach it
    the same way. When the archive table is not partitioned (the source was partitioned after
    its archive was made), the rows are moved in batches and the emptied table is dropped.

    For ``retention_mode = "archive"`` of the partition manager, and for the ``archive`` job.
    """
    target = archive_name(parent, options)
    if relkind(conn, target) is None:
        raise MaintenanceError(
            f"{parent}: archive table {target} does not exist", hint="run pgwarden apply first"
        )
    if relkind(conn, partition) != "r":
        raise MaintenanceError(f"{partition}: not a table holding rows (sub-partitioned?)")
    settings = Settings("archive", lock_timeout_ms, retries, 10_000)
    attached_to, ours, attached_bounds = _bounds_of(conn, partition, parent)
    if attached_to is not None and not ours:
        raise MaintenanceError(f"{partition} is a partition of {attached_to}, not of {parent}")
    bounds = attached_bounds or bounds
    if relkind(conn, target) == "p" and bounds is None:
        raise MaintenanceError(
            f"{partition} is detached and its bounds are not known: the archive {target} is "
            "partitioned like its source, so it needs them",
            hint="pass bounds= as pg_get_expr(relpartbound, oid) gave them before the detach",
        )
    existing, holds_rows = (
        bounds_partition(conn, target, bounds) if relkind(conn, target) == "p" else (None, False)
    )
    if relkind(conn, target) != "p" or bounds is None or holds_rows:
        # No bounds, a plain archive, or an archive partition of those bounds already holding
        # rows moved earlier by batches: the rows join them, by batches.
        return _copy_and_drop(conn, parent, partition, target, attached_to is not None, settings)
    moved_to = archive_partition_name(target, partition)
    what = f"archive partition {partition} of {parent}"

    def work() -> int:
        if existing is not None:  # the mover's empty stand-in for these bounds: replaced
            conn.execute(sql.SQL("DROP TABLE {}").format(existing.ident))
        if attached_to is not None:
            conn.execute(
                sql.SQL("ALTER TABLE {} DETACH PARTITION {}").format(parent.ident, partition.ident)
            )
        _make_like_archive(conn, partition, target)
        if partition.schema != moved_to.schema:
            conn.execute(sql.SQL("ALTER TABLE {} SET SCHEMA {}").format(
                partition.ident, sql.Identifier(moved_to.schema)))  # fmt: skip
        if partition.name != moved_to.name:
            conn.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(
                QualifiedName(moved_to.schema, partition.name).ident,
                sql.Identifier(moved_to.name)))  # fmt: skip
        # Server-rendered bound text (pg_get_expr of the partition's own bounds).
        conn.execute(sql.SQL("ALTER TABLE {} ATTACH PARTITION {} {}").format(
            target.ident, moved_to.ident, sql.SQL(bounds)))  # fmt: skip
        row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(moved_to.ident)).fetchone()
        return int(row[0]) if row else 0

    return in_transaction(conn, settings, work, what=what)


def _make_like_archive(
    conn: psycopg.Connection[Any], table: QualifiedName, target: QualifiedName
) -> None:
    """Give a detached partition exactly the archive's columns, without rewriting it."""
    have = _columns(conn, table)
    want = _columns(conn, target)
    extra = sorted(set(have) - set(want))
    if extra:
        raise MaintenanceError(
            f"{table}: archive {target} lacks column {', '.join(extra)}",
            hint="run pgwarden apply first (the archive follows the source's columns)",
        )
    now = conn.execute("select now()").fetchone()
    assert now is not None
    at: dt.datetime = now[0]
    fixed = {
        "archived_at": sql.SQL("timestamptz NOT NULL DEFAULT {}").format(sql.Literal(at)),
        "archived_by": sql.SQL("text DEFAULT {}").format(ACTOR),
        "archive_reason": sql.SQL("text DEFAULT 'archive: whole partition'"),
    }
    for name, type_ in want.items():
        if name in have:
            continue
        # Non-volatile defaults are evaluated once and kept in the catalog: no rewrite. A
        # partition's own defaults do not matter to the archive (rows go in through it).
        definition = fixed.get(name, sql.SQL(type_))
        conn.execute(sql.SQL("ALTER TABLE {} ADD COLUMN {} {}").format(
            table.ident, sql.Identifier(name), definition))  # fmt: skip
    # The archive references nothing and fires nothing: constraints and pgwarden triggers
    # the partition inherited from its source (foreign keys, audit TRUNCATE) are dropped.
    for (name,) in conn.execute(
        "select conname from pg_constraint where conrelid = to_regclass(%s) and contype = 'f'",
        (table.regclass_text,),
    ).fetchall():
        conn.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
            table.ident, sql.Identifier(name)))  # fmt: skip
    for (name,) in conn.execute(
        r"""select tgname from pg_trigger where tgrelid = to_regclass(%s) and not tgisinternal
            and tgname like 'pgwarden\_%%'""",
        (table.regclass_text,),
    ).fetchall():
        conn.execute(sql.SQL("DROP TRIGGER {} ON {}").format(sql.Identifier(name), table.ident))


def _copy_and_drop(
    conn: psycopg.Connection[Any],
    parent: QualifiedName,
    partition: QualifiedName,
    target: QualifiedName,
    attached: bool,
    settings: Settings,
) -> int:
    """Fallback without bounds or with a plain archive: batches, then drop the empty table.

    An attached partition stays attached while its rows move (a kill leaves them visible in
    the source); it is detached and dropped, empty, in the last transaction."""
    columns = [c for c in _columns(conn, partition) if c in _columns(conn, target)]
    extra = [("archived_by", ACTOR), ("archive_reason", sql.Literal("archive: whole partition"))]
    statement = move_statement(
        partition, parent.name, sql.SQL("true"), Target(target, columns, extra)
    )
    pages = leaves(conn, partition)[0].pages
    moved = run_batches(conn, partition, pages, statement, settings, what=f"archive {partition}")

    def finish() -> int:
        conn.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(partition.ident))
        if attached:
            conn.execute(
                sql.SQL("ALTER TABLE {} DETACH PARTITION {}").format(parent.ident, partition.ident)
            )
        # Rows written (or locked) while the batches ran: moved in this transaction, which
        # holds the partition exclusively, so none is skipped and the drop loses nothing.
        rest = conn.execute(statement(*EVERY_PAGE)).rowcount
        conn.execute(sql.SQL("DROP TABLE {}").format(partition.ident))
        return rest

    return moved + in_transaction(conn, settings, finish, what=f"drop emptied {partition}")
