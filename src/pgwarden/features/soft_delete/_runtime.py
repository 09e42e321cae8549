"""Soft delete at run time: restore, the privileged hard delete, and purge."""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from pgwarden._names import QualifiedName
from pgwarden.catalog import Table
from pgwarden.errors import SoftDeleteError
from pgwarden.features.soft_delete._options import SoftDeleteOptions
from pgwarden.features.soft_delete._parts import FEATURE
from pgwarden.maintenance import Job, JobContext, in_batch
from pgwarden.spec import Spec

KeyLike = Any
"""A key value, or a tuple of values for a composite primary key."""


@dataclass(frozen=True)
class Restored:
    """What a restore brought back: the row, and the rows its delete had cascaded to."""

    table: str
    key: Any
    rows: dict[str, int] = field(default_factory=dict)
    """Rows made live again, by table (empty when the row was live already)."""

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def declared(spec: Spec, table: str) -> tuple[QualifiedName, SoftDeleteOptions]:
    """The table's name and soft-delete options, or a clear error naming the file."""
    try:
        name = QualifiedName.parse(table)
    except ValueError as exc:
        raise SoftDeleteError(str(exc)) from None
    section = spec.tables.get(name)
    options = section.features.get(FEATURE) if section else None
    if not isinstance(options, SoftDeleteOptions):
        raise SoftDeleteError(
            f"{name} has no soft_delete in {spec.file}",
            hint=f'declare it: [tables."{name}"] soft_delete = true',
        )
    return name, options


def _key_columns(conn: psycopg.Connection[Any], name: QualifiedName) -> list[tuple[str, str]]:
    rows = conn.execute(
        "select a.attname, format_type(a.atttypid, a.atttypmod) from pg_index i "
        "join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey) "
        "where i.indrelid = to_regclass(%s) and i.indisprimary "
        "order by array_position(i.indkey::int2[], a.attnum)",
        (name.regclass_text,),
    ).fetchall()
    if not rows:
        raise SoftDeleteError(f"{name} does not exist or has no primary key")
    return [(str(r[0]), str(r[1])) for r in rows]


def _where_key(
    conn: psycopg.Connection[Any], name: QualifiedName, key: KeyLike
) -> tuple[sql.Composed, list[Any]]:
    columns = _key_columns(conn, name)
    values = list(key) if isinstance(key, tuple | list) else [key]
    if len(values) != len(columns):
        raise SoftDeleteError(
            f"{name} is keyed by ({', '.join(c for c, _ in columns)}): "
            f"give {len(columns)} value(s), not {len(values)}"
        )
    # Types are the server's own names for the key columns (catalog text, not user input).
    where = sql.SQL(" AND ").join(
        sql.SQL("{} = %s::{}").format(sql.Identifier(c), sql.SQL(t)) for c, t in columns
    )
    return where, values


def restore(conn: psycopg.Connection[Any], spec: Spec, table: str, key: KeyLike) -> Restored:
    """Make one deleted row live again, with exactly the rows its delete cascaded to
    (``conn`` is in a transaction with the session context set)."""
    name, options = declared(spec, table)
    where, values = _where_key(conn, name, key)
    row = conn.execute(
        sql.SQL("select {}, {} from {} where {} for update").format(
            sql.Identifier(options.column), sql.Identifier(options.deletion), name.ident, where
        ),
        values,
    ).fetchone()
    if row is None:
        raise SoftDeleteError(f"{name} has no row with key {key!r}")
    if row[0] is None:
        return Restored(str(name), key)
    # What the restore brings back: every row that delete marked, in every table declaring
    # soft delete (a declared table that does not exist has none).
    counts: dict[str, int] = {}
    for other, other_options in _soft_deletable(spec):
        present = conn.execute("select to_regclass(%s)", (other.regclass_text,)).fetchone()
        if present is None or present[0] is None:
            continue
        found = conn.execute(
            sql.SQL("select count(*) from {} where {} = %s and {} is not null").format(
                other.ident,
                sql.Identifier(other_options.deletion),
                sql.Identifier(other_options.column),
            ),
            (row[1],),
        ).fetchone()
        if found and found[0]:
            counts[str(other)] = int(found[0])
    try:
        conn.execute(
            sql.SQL("update {} set {} = null where {}").format(
                name.ident, sql.Identifier(options.column), where
            ),
            values,
        )
    except psycopg.errors.ForeignKeyViolation as exc:
        raise SoftDeleteError(
            exc.diag.message_primary or str(exc), hint=exc.diag.message_hint
        ) from None
    return Restored(str(name), key, counts)


def _soft_deletable(spec: Spec) -> list[tuple[QualifiedName, SoftDeleteOptions]]:
    return [
        (name, options)
        for name, section in sorted(spec.tables.items())
        if isinstance(options := section.features.get(FEATURE), SoftDeleteOptions)
    ]


def hard_delete(conn: psycopg.Connection[Any], spec: Spec, table: str, key: KeyLike) -> int:
    """Really delete one row (the privileged path: needs EXECUTE on
    ``warden.allow_hard_delete()``); foreign keys act as declared. Returns rows deleted."""
    name, _ = declared(spec, table)
    where, values = _where_key(conn, name, key)
    try:
        conn.execute("select warden.allow_hard_delete()")
    except psycopg.errors.InsufficientPrivilege as exc:
        raise SoftDeleteError(
            f"hard delete of {name} refused: {exc.diag.message_primary}",
            hint="grant EXECUTE on function warden.allow_hard_delete() to this role",
        ) from None
    try:
        cur = conn.execute(sql.SQL("delete from {} where {}").format(name.ident, where), values)
    except (psycopg.errors.ForeignKeyViolation, psycopg.errors.RestrictViolation) as exc:
        raise SoftDeleteError(
            f"hard delete of {name} {key!r} refused: {exc.diag.message_primary}",
            hint=exc.diag.message_detail,
        ) from None
    return cur.rowcount


def purge_job(table: Table, options: SoftDeleteOptions) -> Job:
    assert options.purge is not None
    return Job(
        name="purge",
        feature=FEATURE,
        table=table.name,
        description=f"purge {table.name} rows deleted over {options.purge} ago",
        run=functools.partial(_purge, table, options),
        before=("archive",),  # rows purged for good need not be archived
    )


_REFUSED = (psycopg.errors.ForeignKeyViolation, psycopg.errors.RestrictViolation)


def _purge(table: Table, options: SoftDeleteOptions, ctx: JobContext) -> tuple[int, str]:
    """Hard-delete rows soft-deleted before the cutoff, one batch per transaction, in key
    order. A row a foreign key still protects is skipped (and counted), not retried."""
    assert options.purge is not None and table.primary_key is not None
    names = table.primary_key.columns
    parts = {
        "table": table.name.ident,
        "keys": sql.SQL(", ").join(map(sql.Identifier, names)),
        "due": sql.SQL("{} < %s::timestamptz - %s::interval").format(
            sql.Identifier(options.column)
        ),
        "after": sql.SQL("true"),
        "join": sql.SQL(" AND ").join(
            sql.SQL("t.{0} = b.{0}").format(sql.Identifier(c)) for c in names
        ),
        "returned": sql.SQL(", ").join(sql.Identifier("t", c) for c in names),
    }
    cutoff = [ctx.now, options.purge.interval]
    total_row = ctx.conn.execute(
        sql.SQL("select count(*) from {table} where {due}").format(**parts), cutoff
    ).fetchone()
    total = int(total_row[0]) if total_row else 0
    if ctx.dry_run or total == 0:
        return total, "deleted rows past purge age"
    pick = sql.SQL(
        "select {keys} from {table} where {due} and {after} order by {keys} "
        "limit %s for update skip locked"
    )
    delete = sql.SQL(
        "with b as ({pick}) delete from {table} t using b where {join} returning {returned}"
    )
    done = skipped = 0
    last: tuple[Any, ...] | None = None
    while True:
        if last is not None:
            marks = sql.SQL(", ").join(sql.Placeholder() * len(names))
            parts["after"] = sql.SQL("({}) > ({})").format(parts["keys"], marks)
        params = [*cutoff, *(last or ()), ctx.batch]
        try:
            keys = _rows(ctx, delete.format(pick=pick.format(**parts), **parts), params)
        except _REFUSED:
            keys = _rows(ctx, pick.format(**parts), params)
            removed = _one_by_one(ctx, table, names, keys)
            done, skipped = done + removed, skipped + len(keys) - removed
        else:
            done += len(keys)
        if not keys:
            break
        last = max(keys)
        ctx.progress(done + skipped, total)
    detail = "rows purged" + (f"; {skipped} kept: still referenced" if skipped else "")
    return done, detail


def _rows(ctx: JobContext, query: sql.Composed, params: list[Any]) -> list[tuple[Any, ...]]:
    def work(conn: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
        conn.execute(
            "select warden.allow_hard_delete(), set_config('pgwarden.reason', 'purge', true)"
        )
        return [tuple(r) for r in conn.execute(query, params).fetchall()]

    return in_batch(ctx, work)


def _one_by_one(
    ctx: JobContext, table: Table, names: tuple[str, ...], keys: list[tuple[Any, ...]]
) -> int:
    """Delete ``keys`` each in its own transaction; returns how many a foreign key allowed."""
    statement = sql.SQL("delete from {} where {} returning 1").format(
        table.name.ident,
        sql.SQL(" AND ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in names),
    )
    removed = 0
    for key in keys:
        with contextlib.suppress(*_REFUSED):
            removed += len(_rows(ctx, statement, list(key)))
    return removed
