"""Rescue without holding writers for the move: the default partition is split by copying.

The rows of the default partition are copied, while the table stays writable, into the
partitions they need and into a new default for the rest (standalone tables; a trigger on
the default logs the key of every row changed meanwhile, and the copies are brought up to
date from the log). Then one short transaction under ``lock_timeout`` replays the last
changes, detaches the old default, attaches the new partitions (their bounds CHECK spares
the scan) and the new default (a scan of the leftovers only), and drops the old default.
The work under the lock is proportional to the changes since the last catch-up and to the
leftover rows, not to the rows moved. Nothing is deleted row by row, so no trigger or
foreign-key action fires.

Needs a primary key on the table (to copy in key order and replay by key) and no foreign
key pointing at it (PostgreSQL checks referencing rows when a partition is detached); other
tables use the one-transaction move of ``_create._move``. A run killed midway leaves only
copies: the next one drops them and starts again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from pgwarden._names import QualifiedName, owned_name
from pgwarden.errors import MaintenanceError
from pgwarden.features.partition._create import (
    _columns,
    carry,
    carry_features,
    locked,
)
from pgwarden.features.partition._layout import Layout
from pgwarden.maintenance import JobContext


@dataclass(frozen=True)
class Piece:
    """One table the default's rows are copied into: a partition, or the new default."""

    name: QualifiedName
    bound: sql.Composable | None
    """``FOR VALUES ...``; None for the new default."""
    within: sql.Composable
    """Which of the default's rows it takes."""


def split_key(conn: psycopg.Connection[Any], layout: Layout) -> list[str] | None:
    """The primary key to split by, or None when the default cannot be split by copy."""
    referenced = conn.execute(
        "select 1 from pg_constraint where contype = 'f' and confrelid = %s", (layout.oid,)
    ).fetchone()
    if referenced:
        return None
    row = conn.execute(
        """select array_agg(a.attname order by k.ord) from pg_index i
           cross join unnest(i.indkey) with ordinality k(attnum, ord)
           join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
           where i.indrelid = %s and i.indisprimary""",
        (layout.oid,),
    ).fetchone()
    return list(row[0]) if row and row[0] else None


class _Split:
    def __init__(self, ctx: JobContext, layout: Layout, key: list[str]):
        assert layout.default is not None
        self.ctx, self.conn, self.layout, self.key = ctx, ctx.conn, layout, key
        parent = layout.parent
        self.default = layout.default.name
        self.log = QualifiedName("warden", owned_name(parent.schema, parent.name, suffix="split"))
        self.cols = _columns(ctx.conn, parent)
        self.names = [
            r[0]
            for r in ctx.conn.execute(
                """select attname from pg_attribute where attrelid = %s and attnum > 0
                   and not attisdropped and attgenerated = '' order by attnum""",
                (layout.oid,),
            ).fetchall()
        ]
        self.keys = sql.SQL(", ").join(sql.Identifier(c) for c in key)

    def key_json(self, alias: str) -> sql.Composable:
        pairs = [
            sql.SQL("{}, {}").format(sql.Literal(c), sql.Identifier(alias, c)) for c in self.key
        ]
        return sql.SQL("jsonb_build_object({})").format(sql.SQL(", ").join(pairs))

    def logged(self, seqs: sql.Composable | None = None) -> sql.Composable:
        """The logged keys (of ``seqs`` only, when given), typed as the table's columns."""
        where = sql.SQL(" WHERE l.seq = ANY({})").format(seqs) if seqs else sql.SQL("")
        return sql.SQL(
            "SELECT DISTINCT {rk} FROM {log} l, jsonb_populate_record(NULL::{parent}, l.key) r{w}"
        ).format(
            rk=sql.SQL(", ").join(sql.Identifier("r", c) for c in self.key),
            log=self.log.ident,
            parent=self.layout.parent.ident,
            w=where,
        )

    def setup(self, pieces: list[Piece]) -> None:
        for piece in pieces:
            conn = self.conn
            if conn.execute("select to_regclass(%s)", (piece.name.regclass_text,)).fetchone() != (
                None,
            ):
                raise MaintenanceError(f"{self.layout.parent}: a table {piece.name} exists already")
            conn.execute(
                sql.SQL(
                    "CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING "
                    "GENERATED INCLUDING INDEXES INCLUDING STORAGE INCLUDING COMMENTS "
                    "INCLUDING STATISTICS)"
                ).format(piece.name.ident, self.layout.parent.ident)
            )
            if piece.bound is not None:
                conn.execute(
                    sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} CHECK ({})").format(
                        piece.name.ident, _check(piece), piece.within
                    )
                )
        self.conn.execute(
            sql.SQL(
                "CREATE TABLE {} (seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
                " key jsonb NOT NULL)"
            ).format(self.log.ident)
        )
        body = sql.SQL(
            "begin\n"
            "  if tg_op <> 'INSERT' then insert into {log} (key) values ({old}); end if;\n"
            "  if tg_op <> 'DELETE' then insert into {log} (key) values ({new}); end if;\n"
            "  return null;\n"
            "end"
        ).format(log=self.log.ident, old=self.key_json("old"), new=self.key_json("new"))
        self.conn.execute(
            sql.SQL(
                "CREATE FUNCTION {}() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER"
                " SET search_path = pg_catalog, pg_temp AS {}"
            ).format(self.log.ident, sql.Literal(body.as_string(self.conn)))
        )
        self.conn.execute(
            sql.SQL(
                "CREATE TRIGGER pgwarden_split AFTER INSERT OR UPDATE OR DELETE ON {} "
                "FOR EACH ROW EXECUTE FUNCTION {}()"
            ).format(self.default.ident, self.log.ident)
        )

    def copy(self, pieces: list[Piece], progress: Callable[[int], None]) -> int:
        """One pass over the default in page ranges (TID range scans), each range one
        transaction sending every row to the copy whose bounds hold it. A row updated
        meanwhile may be met twice (its new version in a later page): ON CONFLICT keeps the
        first, and the log, which has its key, brings the current version over. Pages
        added after the start hold rows the log has too. Returns the rows that went to
        range partitions (the new default's excepted)."""
        row = self.conn.execute(
            """select pg_relation_size(%s::regclass) / current_setting('block_size')::int,
                      greatest(reltuples, 1) / greatest(relpages, 1) from pg_class
               where oid = %s::regclass""",
            (self.default.regclass_text, self.default.regclass_text),
        ).fetchone()
        pages, density = (int(row[0]), float(row[1])) if row else (0, 1.0)
        step = max(1, int(self.ctx.batch / max(density, 1.0)))
        inserts = [
            sql.SQL(
                "{name} AS (INSERT INTO {dst} ({cols}) SELECT {cols} FROM batch WHERE {within} "
                "ON CONFLICT DO NOTHING RETURNING 1)"
            ).format(
                name=sql.Identifier(f"p{i}"),
                dst=piece.name.ident,
                cols=self.cols,
                within=piece.within,
            )
            for i, piece in enumerate(pieces)
        ]
        counts = sql.SQL(" + ").join(
            sql.SQL("(SELECT count(*) FROM {})").format(sql.Identifier(f"p{i}"))
            for i, piece in enumerate(pieces)
            if piece.bound is not None
        )
        copied = 0
        for start in range(0, pages, step):
            statement = sql.SQL(
                "WITH batch AS MATERIALIZED (SELECT {cols} FROM {src} WHERE ctid >= {lo}::tid "
                "AND ctid < {hi}::tid), {inserts} SELECT {counts}"
            ).format(
                cols=self.cols,
                src=self.default.ident,
                lo=sql.Literal(f"({start},0)"),
                hi=sql.Literal(f"({start + step},0)"),
                inserts=sql.SQL(", ").join(inserts),
                counts=counts,
            )
            with self.conn.transaction():
                done = self.conn.execute(statement).fetchone()
            copied += int(done[0]) if done and done[0] is not None else 0
            progress(copied)
        return copied

    def replay(self, pieces: list[Piece], batch: int | None) -> int:
        limit = sql.SQL(" LIMIT {}").format(sql.Literal(batch)) if batch else sql.SQL("")
        seqs = [
            r[0]
            for r in self.conn.execute(
                sql.SQL("SELECT seq FROM {} ORDER BY seq{}").format(self.log.ident, limit)
            ).fetchall()
        ]
        if not seqs:
            return 0
        keys = self.logged(sql.Literal(seqs))
        for piece in pieces:
            self.conn.execute(
                sql.SQL("DELETE FROM {} WHERE ({}) IN ({})").format(
                    piece.name.ident, self.keys, keys
                )
            )
            self.conn.execute(
                sql.SQL(
                    "INSERT INTO {dst} ({cols}) SELECT {cols} FROM {src} "
                    "WHERE ({within}) AND ({k}) IN ({keys})"
                ).format(
                    dst=piece.name.ident,
                    cols=self.cols,
                    src=self.default.ident,
                    within=piece.within,
                    k=self.keys,
                    keys=keys,
                )
            )
        self.conn.execute(
            sql.SQL("DELETE FROM {} WHERE seq = ANY({})").format(self.log.ident, sql.Literal(seqs))
        )
        return len(seqs)

    def checksum(self, relation: QualifiedName, keys: sql.Composable, inside: bool) -> Any:
        rows = sql.SQL("row({})::text").format(
            sql.SQL(", ").join(sql.Identifier("t", c) for c in self.names)
        )
        test = sql.SQL("IN" if inside else "NOT IN")
        return self.conn.execute(
            sql.SQL(
                "SELECT count(*), coalesce(sum(hashtextextended({}, 0)), 0) FROM {} t "
                "WHERE ({}) {} ({})"
            ).format(
                rows,
                relation.ident,
                sql.SQL(", ").join(sql.Identifier("t", c) for c in self.key),
                test,
                keys,
            )
        ).fetchone()

    def same(self, pieces: list[Piece], keys: sql.Composable, *, inside: bool) -> bool:
        whole = self.checksum(self.default, keys, inside)
        parts = [self.checksum(p.name, keys, inside) for p in pieces]
        return bool(whole[0] == sum(p[0] for p in parts) and whole[1] == sum(p[1] for p in parts))


def _check(piece: Piece) -> sql.Identifier:
    return sql.Identifier(piece.name.name[:50] + "__bounds")


def split_default(ctx: JobContext, layout: Layout, key: list[str], pieces: list[Piece]) -> int:
    """Copy the default's rows into ``pieces`` (range partitions) and a new default, then
    swap them in. Returns the rows that went to the new partitions."""
    assert layout.default is not None
    new_default = QualifiedName(
        layout.parent.schema, owned_name(layout.parent.name, suffix="pgw_default")
    )
    ranges = sql.SQL(" OR ").join(sql.SQL("({})").format(p.within) for p in pieces)
    rest = Piece(new_default, None, sql.SQL("NOT coalesce({}, false)").format(ranges))
    everything = [*pieces, rest]
    job = _Split(ctx, layout, key)
    _cleanup(ctx.conn, job, everything)
    locked(
        ctx.conn,
        lock_timeout_ms=ctx.lock_timeout_ms,
        retries=ctx.retries,
        what=f"prepare the split of {job.default}",
        work=lambda: job.setup(everything),
    )
    waiting = layout.default.rows or None
    moved = job.copy(everything, lambda n: ctx.progress(n, waiting))
    for _ in range(1000):
        with ctx.conn.transaction():
            if job.replay(everything, ctx.batch) < ctx.batch:
                break
    with ctx.conn.transaction():
        ctx.conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        if not job.same(everything, job.logged(), inside=False):
            raise MaintenanceError(f"{job.default}: the copies do not match; nothing swapped")

    def swap() -> None:
        conn, parent = ctx.conn, layout.parent
        conn.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(parent.ident))
        conn.execute(
            sql.SQL("CREATE TEMP TABLE pgw_split_keys ON COMMIT DROP AS {}").format(job.logged())
        )
        job.replay(everything, None)
        if not job.same(everything, sql.SQL("SELECT * FROM pgw_split_keys"), inside=True):
            raise MaintenanceError(f"{job.default}: the last changes did not copy; nothing swapped")
        conn.execute(
            sql.SQL("ALTER TABLE {} DETACH PARTITION {}").format(parent.ident, job.default.ident)
        )
        for piece in pieces:
            conn.execute(
                sql.SQL("ALTER TABLE {} ATTACH PARTITION {} {}").format(
                    parent.ident, piece.name.ident, piece.bound
                )
            )
            conn.execute(
                sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(piece.name.ident, _check(piece))
            )
        conn.execute(sql.SQL("DROP TABLE {}").format(job.default.ident))
        conn.execute(
            sql.SQL("ALTER TABLE {} RENAME TO {}").format(
                new_default.ident, sql.Identifier(job.default.name)
            )
        )
        conn.execute(
            sql.SQL("ALTER TABLE {} ATTACH PARTITION {} DEFAULT").format(
                parent.ident, job.default.ident
            )
        )
        made = [p.name for p in pieces] + [job.default]
        carry(conn, layout, made)
        carry_features(conn, ctx.spec, ctx.features, parent, made)
        conn.execute(sql.SQL("DROP TABLE {}").format(job.log.ident))
        conn.execute(sql.SQL("DROP FUNCTION {}()").format(job.log.ident))

    locked(
        ctx.conn,
        lock_timeout_ms=ctx.lock_timeout_ms,
        retries=ctx.retries,
        what=f"swap the split default of {layout.parent}",
        work=swap,
    )
    return moved


def _cleanup(conn: psycopg.Connection[Any], job: _Split, pieces: list[Piece]) -> None:
    """Copies left by a killed run (standalone tables, never attached): dropped. Only when
    its change log is there: setup makes the copies and the log in one transaction."""
    present = conn.execute("select to_regclass(%s)", (job.log.regclass_text,)).fetchone()
    if present is None or present[0] is None:
        return
    with conn.transaction():
        conn.execute(
            sql.SQL("DROP TRIGGER IF EXISTS pgwarden_split ON {}").format(job.default.ident)
        )
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(job.log.ident))
        conn.execute(sql.SQL("DROP FUNCTION IF EXISTS {}()").format(job.log.ident))
        for piece in pieces:
            row = conn.execute(
                "select relispartition from pg_class where oid = to_regclass(%s)",
                (piece.name.regclass_text,),
            ).fetchone()
            if row is not None and not row[0]:
                conn.execute(sql.SQL("DROP TABLE {}").format(piece.name.ident))
