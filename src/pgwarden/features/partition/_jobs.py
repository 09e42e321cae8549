"""The partition jobs ``maintain`` and the worker run: premake, rescue, retention.

Lock order is always the same: tables by name (the runner sorts jobs), and within a table
the parent, then its default partition, then the partition being made or removed. Each
partition is one short transaction with ``lock_timeout`` and retries.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar, Protocol, runtime_checkable

import psycopg
from psycopg import sql

from pgwarden._names import QualifiedName, owned_name
from pgwarden.errors import MaintenanceError
from pgwarden.features.partition._create import (
    carry_features,
    create_partition,
    locked,
    release_features,
)
from pgwarden.features.partition._layout import Layout, partman_tables, read_layout
from pgwarden.features.partition._options import PartitionOptions
from pgwarden.features.partition._split import Piece, split_default, split_key
from pgwarden.maintenance import JobContext
from pgwarden.spec import FeatureOptions

Span = tuple[Any, Any]


def _value(value: Any, column_type: str | None) -> sql.Composable:
    """A bound as a literal of the key column's type."""
    if isinstance(value, dt.datetime):
        if column_type == "date":
            return sql.Literal(value.date())
        if column_type == "timestamp without time zone":
            return sql.Literal(value.replace(tzinfo=None))
        return sql.Literal(value if value.tzinfo else value.replace(tzinfo=dt.UTC))
    return sql.Literal(value)


def _now_in(column_type: str | None, now: dt.datetime) -> dt.datetime:
    now = now if now.tzinfo else now.replace(tzinfo=dt.UTC)
    now = now.astimezone(dt.UTC)
    return now if column_type == "timestamp with time zone" else now.replace(tzinfo=None)


def _free(layout: Layout, low: Any, high: Any) -> list[Span]:
    """The parts of ``[low, high)`` no range partition covers (a bucket someone else's
    partition overlaps is trimmed around it, never refused)."""
    spans = [(low, high)]
    for part in layout.covering(low, high):
        rest = []
        for a, b in spans:
            p_low = a if part.low is None else max(a, part.low)
            p_high = b if part.high is None else min(b, part.high)
            if p_low >= p_high:
                rest.append((a, b))
                continue
            if a < p_low:
                rest.append((a, p_low))
            if p_high < b:
                rest.append((p_high, b))
        spans = rest
    return spans


def _range_piece(layout: Layout, opts: PartitionOptions, span: Span) -> Piece:
    low, high = span
    col = sql.Identifier(opts.column)
    lo, hi = _value(low, layout.column_type), _value(high, layout.column_type)
    name = QualifiedName(
        layout.parent.schema, owned_name(layout.parent.name, suffix=opts.step.suffix(low))
    )
    return Piece(
        name,
        sql.SQL("FOR VALUES FROM ({}) TO ({})").format(lo, hi),
        sql.SQL("{c} IS NOT NULL AND {c} >= {lo} AND {c} < {hi}").format(c=col, lo=lo, hi=hi),
    )


class _RowsWaiting(Exception):
    """The default partition holds rows for this partition: rescue's to move."""


def _make(ctx: JobContext, layout: Layout, piece: Piece, *, move: bool = True) -> int:
    """Create one partition (one transaction); -1 when rows wait in the default and
    ``move`` is off (the rescue job splits the default without holding writers)."""
    assert piece.bound is not None
    bound = piece.bound

    def work() -> int:
        moved = create_partition(
            ctx.conn,
            layout,
            piece.name,
            bound,
            piece.within,
            batch=ctx.batch,
            progress=lambda n: None,
            move=move,
        )
        if moved < 0:
            raise _RowsWaiting
        carry_features(ctx.conn, ctx.spec, ctx.features, layout.parent, [piece.name])
        return moved

    try:
        return locked(
            ctx.conn,
            lock_timeout_ms=ctx.lock_timeout_ms,
            retries=ctx.retries,
            what=f"create partition {piece.name} of {layout.parent}",
            work=work,
        )
    except _RowsWaiting:
        return -1


def _layout(ctx: JobContext, table: QualifiedName, *, exact: bool = False) -> Layout | None:
    if table in partman_tables(ctx.conn):
        return None
    layout = read_layout(ctx.conn, table, exact_default=exact)
    if layout is None:
        raise MaintenanceError(
            f"{table} is not partitioned: convert it first (pgwarden partitions convert {table})"
        )
    return layout


def _wanted_ranges(ctx: JobContext, layout: Layout, opts: PartitionOptions) -> list[Span]:
    step = opts.step
    if step.is_time:
        current = step.floor(_now_in(layout.column_type, ctx.now))
    else:
        row = ctx.conn.execute(
            sql.SQL("select max({}) from {}").format(
                sql.Identifier(opts.column), layout.parent.ident
            )
        ).fetchone()
        current = step.floor(int(row[0]) if row and row[0] is not None else 0)
    spans: list[Span] = []
    for i in range(opts.premake + 1):
        low = step.shift(current, i)
        spans.extend(_free(layout, low, step.shift(low, 1)))
    return spans


def _list_name(layout: Layout, index: int, values: list[Any]) -> QualifiedName:
    first = str(values[0]).lower()
    slug = "".join(ch if ch.isalnum() else "_" for ch in first)[:24]
    clean = slug and slug.isascii() and not slug[0].isdigit() and slug == first
    return QualifiedName(
        layout.parent.schema, owned_name(layout.parent.name, suffix=slug if clean else f"v{index}")
    )


def _missing_lists(layout: Layout, opts: PartitionOptions) -> list[tuple[int, list[Any]]]:
    have = {str(v) for v in layout.listed}
    return [
        (i, group) for i, group in enumerate(opts.groups) if not any(str(v) in have for v in group)
    ]


def premake(ctx: JobContext, table: QualifiedName, opts: PartitionOptions) -> tuple[int, str]:
    """Create the current and the next ``premake`` range partitions (or every declared list
    partition) that do not exist yet; rows already waiting in the default move in."""
    layout = _layout(ctx, table)
    if layout is None:
        return 0, "managed by pg_partman: left alone"
    if opts.strategy == "list":
        todo_lists = _missing_lists(layout, opts)
        if ctx.dry_run:
            return len(todo_lists), "partitions to create"
        for index, group in todo_lists:
            col = sql.Identifier(opts.column)
            vals = sql.SQL(", ").join(_value(v, layout.column_type) for v in group)
            _make(
                ctx,
                layout,
                Piece(
                    _list_name(layout, index, group),
                    sql.SQL("FOR VALUES IN ({})").format(vals),
                    sql.SQL("{c} IS NOT NULL AND {c} IN ({v})").format(c=col, v=vals),
                ),
            )
        _carry_all(ctx, table)
        return len(todo_lists), "partitions created"
    todo = _wanted_ranges(ctx, layout, opts)
    if ctx.dry_run:
        return len(todo), "partitions to create"
    # Rows already waiting in the default for a bucket: left to rescue when it can split the
    # default without holding writers; moved in the creating transaction otherwise.
    move = layout.default is None or split_key(ctx.conn, layout) is None
    made = 0
    for done, span in enumerate(todo, 1):
        made += _make(ctx, layout, _range_piece(layout, opts, span), move=move) >= 0
        ctx.progress(done, len(todo))
    _carry_all(ctx, table)
    left = len(todo) - made
    return made, "partitions created" + (f" ({left} left to rescue)" if left else "")


def _carry_all(ctx: JobContext, table: QualifiedName) -> None:
    """Other features' per-partition objects on every partition, not only new ones: the
    default partition apply made in the same plan as them was not there to be seen."""
    spec = ctx.spec.tables.get(table)
    if spec is None or not set(spec.features) - {"partition"}:
        return
    layout = read_layout(ctx.conn, table, exact_default=False)
    if layout is not None:
        with ctx.conn.transaction():
            carry_features(ctx.conn, ctx.spec, ctx.features, table, [p.name for p in layout.parts])


def rescue(ctx: JobContext, table: QualifiedName, opts: PartitionOptions) -> tuple[int, str]:
    """Rows in the default partition that a range partition could hold: create that
    partition and move them into it (one transaction per partition, see ``_move``)."""
    layout = _layout(ctx, table, exact=True)
    if layout is None or layout.default is None or layout.default.rows == 0:
        return 0, "rows moved out of the default partition"
    default = layout.default
    if opts.strategy == "list":
        return 0, f"rows of undeclared values stay in {default.name} ({default.rows})"
    if ctx.dry_run:
        return default.rows, "rows in the default partition"
    step, col = opts.step, sql.Identifier(opts.column)
    spans: list[Span] = []
    cursor: Any = None
    while True:
        query = sql.SQL("select min({c}) from {t} where {c} is not null").format(
            c=col, t=default.name.ident
        )
        if cursor is not None:
            query = sql.SQL("{} and {} >= {}").format(
                query, col, _value(cursor, layout.column_type)
            )
        row = ctx.conn.execute(query).fetchone()
        if row is None or row[0] is None:
            break
        first = row[0]
        if isinstance(first, dt.date) and not isinstance(first, dt.datetime):
            first = dt.datetime(first.year, first.month, first.day)
        low = step.floor(first)
        cursor = step.shift(low, 1)
        spans.extend(_free(layout, low, cursor))
    pieces = [_range_piece(layout, opts, span) for span in spans]
    key = split_key(ctx.conn, layout)
    moved = 0
    if not pieces:
        pass
    elif key is not None:
        moved = split_default(ctx, layout, key, pieces)
    else:
        for piece in pieces:
            moved += max(_make(ctx, layout, piece), 0)
            ctx.progress(moved, default.rows)
    made = len(pieces)
    layout = read_layout(ctx.conn, table) or layout
    left = layout.default.rows if layout.default else 0
    tail = f" ({left} with a null key stay)" if left else ""
    return moved, f"rows moved out of the default partition into {made} partitions{tail}"


def retention(ctx: JobContext, table: QualifiedName, opts: PartitionOptions) -> tuple[int, str]:
    """Range partitions wholly older than ``retention`` leave the table: detached (kept as
    plain tables), dropped, or handed to the archive feature and then dropped."""
    layout = _layout(ctx, table)
    rstep = opts.retention_step
    if layout is None or rstep is None:
        return 0, "partitions past retention"
    cutoff = rstep.shift(_now_in(layout.column_type, ctx.now), -1)
    old = [p for p in layout.ranges if p.high is not None and p.high <= cutoff]
    resumed = 0 if ctx.dry_run else _finish_pending(ctx, table, opts)
    if ctx.dry_run:
        return len(old), f"partitions past retention ({opts.retention_mode})"
    tracked = _tracked(ctx.conn)
    for part in old:
        mode = opts.retention_mode

        def work(part: QualifiedName = part.name, mode: str = mode) -> None:
            # The archive feature detaches the partition itself, in the transaction that
            # moves it into the archive; here it is only marked as pending.
            if mode != "archive":
                ctx.conn.execute(
                    sql.SQL("ALTER TABLE {} DETACH PARTITION {}").format(table.ident, part.ident)
                )
            release_features(ctx.conn, ctx.spec, ctx.features, table, part)
            if mode == "drop":
                ctx.conn.execute(sql.SQL("DROP TABLE {}").format(part.ident))
            if tracked:
                ctx.conn.execute(
                    """insert into warden.partition_detached (partition_schema, partition_name,
                           parent_schema, parent_name, mode, done_at)
                       values (%s, %s, %s, %s, %s,
                               case when %s = 'archive' then null else now() end)""",
                    (part.schema, part.name, table.schema, table.name, mode, mode),
                )

        locked(
            ctx.conn,
            lock_timeout_ms=ctx.lock_timeout_ms,
            retries=ctx.retries,
            what=f"{mode} {part.name} of {table}",
            work=work,
        )
        if mode == "archive":
            _archive(ctx, table, part.name)
    return len(old) + resumed, f"partitions past retention ({opts.retention_mode})"


def _tracked(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute("select to_regclass('warden.partition_detached') is not null").fetchone()
    return bool(row and row[0])


def _finish_pending(ctx: JobContext, table: QualifiedName, opts: PartitionOptions) -> int:
    """Archive hand-overs a killed run left pending: still a partition of ``table`` (the
    archive's transaction never committed) or already moved (only the mark is missing)."""
    if not _tracked(ctx.conn) or opts.retention_mode != "archive":
        return 0
    rows = ctx.conn.execute(
        """select partition_schema, partition_name from warden.partition_detached
           where parent_schema = %s and parent_name = %s and mode = 'archive'
             and done_at is null""",
        (table.schema, table.name),
    ).fetchall()
    for schema, name in rows:
        _archive(ctx, table, QualifiedName(schema, name))
    return len(rows)


@runtime_checkable
class PartitionReceiver(Protocol):
    """A feature that takes over the partitions retention lets go (``retention_mode =
    "archive"``): the archive feature. Declared on the same table, it is handed each one."""

    name: ClassVar[str]

    def receive_partition(
        self,
        conn: psycopg.Connection[Any],
        table: QualifiedName,
        partition: QualifiedName,
        options: FeatureOptions,
        *,
        lock_timeout_ms: int,
        retries: int,
    ) -> int:
        """Take ``partition`` of ``table`` (attached, or detached already); returns its rows."""
        ...


def receiver(ctx: JobContext, table: QualifiedName) -> tuple[PartitionReceiver, Any] | None:
    """The feature declared on ``table`` that receives partitions, with its options."""
    table_spec = ctx.spec.tables.get(table)
    for name, options in table_spec.features.items() if table_spec else ():
        feature = ctx.features.get(name)
        if isinstance(feature, PartitionReceiver):
            return feature, options
    return None


def _archive(ctx: JobContext, table: QualifiedName, part: QualifiedName) -> None:
    found = receiver(ctx, table)
    if found is None:
        raise MaintenanceError(
            f"{table}: retention_mode = archive needs archive declared on the table; "
            f"{part} was left as it is"
        )
    feature, options = found
    # archive_partition attaches the partition to the archive whole, replacing the empty
    # stand-in the archive mover may have made for its bounds, or moves its rows by batches
    # into one that holds rows already. Gone already: a run stopped after moving it.
    gone = ctx.conn.execute("select to_regclass(%s) is null", (part.regclass_text,)).fetchone()
    rows = None
    if gone == (False,):
        rows = int(
            feature.receive_partition(
                ctx.conn,
                table,
                part,
                options,
                lock_timeout_ms=ctx.lock_timeout_ms,
                retries=ctx.retries,
            )
        )
    if _tracked(ctx.conn):
        ctx.conn.execute(
            """update warden.partition_detached set done_at = now(), rows = %s
               where partition_schema = %s and partition_name = %s and done_at is null""",
            (rows, part.schema, part.name),
        )
