"""Decoded transactions into audit events: each change staged (one COPY) with its statement
and context, its images and key built per relation by the same expressions the trigger
capture uses, then appended to the store in WAL order (one INSERT)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from pgwarden.features.audit import _pgoutput
from pgwarden.features.audit._sql import image_of, key_expr
from pgwarden.features.audit._wal_literals import NUL, array, copy_text, plain_record, record

PREFIX = "pgwarden.audit"
"""Prefix of the messages the capture functions emit (``capture_wal.sql``): a kind letter, its
payload, and a MAC (``warden.audit_wal_signed``)."""
CONTEXT_SEQ_BASE = 16384
"""Context numbers of WAL-captured events start here, apart from those the trigger capture
of another table gives the same transaction (both record contexts under its id)."""


@dataclass(frozen=True)
class _Table:
    table_id: int
    relid: int | None
    key: tuple[str, ...] | None
    excluded: tuple[str, ...]
    redacted: tuple[str, ...]
    skip_unchanged: bool


@dataclass(frozen=True)
class _Shape:
    """One relation as its rows were written; ``row_type`` when that is the table's current
    shape (rows are then cast whole to the table's type, the fast way)."""

    relation: _pgoutput.Relation
    table: _Table
    row_type: str | None


def _tables(conn: psycopg.Connection[Any]) -> tuple[dict[int, _Table], dict[int, int]]:
    """Registrations by table_id, and table_id by the live table's oid."""
    rows = conn.execute(
        "select table_id, relid, key_columns, excluded, redacted, skip_unchanged "
        "from warden.audit_tables"
    ).fetchall()
    by_id = {
        int(r[0]): _Table(
            int(r[0]), r[1], tuple(r[2]) if r[2] is not None else None,
            tuple(r[3]), tuple(r[4]), bool(r[5]),
        )
        for r in rows
    }  # fmt: skip
    return by_id, {int(r[1]): int(r[0]) for r in rows if r[1] is not None}


def _row_type(conn: psycopg.Connection[Any], relation: _pgoutput.Relation) -> str | None:
    """The table's row type, if its columns are still those the rows were written with."""
    row = conn.execute(
        "select c.reltype::regtype::text, array_agg(a.attname::text order by a.attnum), "
        "array_agg(a.atttypid::int order by a.attnum), array_agg(a.atttypmod order by a.attnum) "
        "from pg_class c join pg_attribute a on a.attrelid = c.oid "
        "where c.oid = %s and a.attnum > 0 and not a.attisdropped group by c.reltype",
        (relation.oid,),
    ).fetchone()
    if row is None:
        return None
    same = (tuple(row[1]), tuple(row[2]), tuple(row[3])) == (
        relation.columns, relation.types, relation.typmods
    )  # fmt: skip
    return str(row[0]) if same else None


_STAGE = """
create temp table if not exists pgw_wal_rows (
    ord bigint, rel int, op "char", stmt int, txid bigint, seq smallint, at timestamptz,
    table_id int, o text, n text, img jsonb
) on commit delete rows;
create temp table if not exists pgw_wal_statements (stmt int, sid bigint) on commit delete rows;
create temp table if not exists pgw_wal_contexts (
    txid bigint, context_seq smallint, tx_started_at timestamptz, actor text, tenant text,
    reason text, request_id text, login_role text, acting_role text, client_addr inet,
    application_name text, backend_pid int
) on commit delete rows
"""


def write_events(
    conn: psycopg.Connection[Any], transactions: list[_pgoutput.Transaction]
) -> tuple[int, int]:
    """Append the events of ``transactions`` (decoded, in commit order) to the store, inside
    the caller's transaction. Returns how many, and how many messages were dropped as not
    signed by pgwarden's capture (forged)."""
    tables, by_relid = _tables(conn)
    row = conn.execute(
        "select pg_snapshot_xmax(pg_current_snapshot())::text::bigint, "
        "(select secret from warden.audit_wal_key), "
        "to_regclass('pg_temp.pgw_wal_statements') is not null"
    ).fetchone()
    assert row is not None
    if not row[2]:  # the session's first batch (the tables last as long as it does)
        conn.execute(_STAGE)
    staged = _Staging(tables, by_relid, int(row[0]), lambda r: _row_type(conn, r), row[1])
    for tx in transactions:
        staged.add(tx)
    if not staged.lines:
        return 0, staged.rejected
    with conn.cursor().copy(
        "copy pg_temp.pgw_wal_rows (ord, rel, op, stmt, txid, seq, at, table_id, o, n, img) "
        "from stdin"
    ) as copy:
        copy.write(b"".join(staged.lines))
    with conn.cursor().copy("copy pg_temp.pgw_wal_contexts from stdin") as copy:
        for c in staged.contexts:
            copy.write_row(c)
    conn.execute(
        "insert into pg_temp.pgw_wal_statements select i, nextval('warden.audit_statement_seq') "
        "from generate_series(0, %s - 1) i order by i",
        (staged.statements,),
    )
    conn.execute(
        "insert into warden.audit_contexts (txid, context_seq, tx_started_at, actor, tenant, "
        "reason, request_id, login_role, acting_role, client_addr, application_name, "
        "backend_pid) select txid::text::xid8, context_seq, tx_started_at, actor, tenant, "
        "reason, request_id, login_role, acting_role, client_addr, application_name, "
        "backend_pid from pg_temp.pgw_wal_contexts on conflict do nothing"
    )
    # One statement: each relation's rows with their images and keys (a branch each), the
    # rows TRUNCATE removed, the TRUNCATEs themselves, in WAL order. Staging the images in a
    # table of their own first, then joining them back, cost a fifth of the backend's time.
    branches = [_images(conn, shape, index) for index, shape in enumerate(staged.shapes)]
    branches += [_truncated_rows(table) for table in staged.truncated.values()]
    branches.append(
        sql.SQL(
            "select {}, null::jsonb, null::jsonb, null::jsonb, null::jsonb "
            "from pg_temp.pgw_wal_rows s where s.op = 'T'"
        ).format(_STAGED)
    )
    cur = conn.execute(
        sql.SQL(
            "insert into warden.audit_events (statement_id, txid, context_seq, table_id, op, "
            "at, row_key, old_key, old_row, new_row) "
            "select st.sid, e.txid::text::xid8, e.seq, e.table_id, e.op, e.at, e.row_key, "
            "e.old_key, e.old_row, e.new_row from ({}) e (ord, stmt, txid, seq, table_id, op, "
            "at, row_key, old_key, old_row, new_row) "
            "join pg_temp.pgw_wal_statements st on st.stmt = e.stmt order by e.ord"
        ).format(sql.SQL(" union all ").join(branches))
    )
    return cur.rowcount, staged.rejected


class _Staging:
    """Decoded transactions as COPY lines of ``pgw_wal_rows``: each change with its statement
    and the transaction's latest context message before it."""

    def __init__(
        self,
        tables: dict[int, _Table],
        by_relid: dict[int, int],
        xmax: int,
        row_type: Callable[[_pgoutput.Relation], str | None],
        secret: bytes,
    ) -> None:
        self.tables, self.by_relid, self.xmax, self.row_type = tables, by_relid, xmax, row_type
        self.secret = bytes(secret)
        self.rejected = 0
        self.lines: list[bytes] = []
        self.contexts: list[tuple[Any, ...]] = []
        self.shapes: list[_Shape] = []
        self._shape_index: dict[tuple[Any, ...], int] = {}
        self._by_relation: dict[int, tuple[_pgoutput.Relation, int, bool]] = {}
        self.truncated: dict[int, _Table] = {}
        self.statements = 0

    def _xid8(self, xid: int) -> int:
        # The decoded transaction committed before now: in the current epoch unless its
        # 32-bit id is ahead of the next one (then the epoch before).
        epoch = self.xmax >> 32
        if xid > self.xmax & 0xFFFFFFFF:
            epoch -= 1
        return epoch << 32 | xid

    def _shape(self, relation: _pgoutput.Relation, table: _Table) -> tuple[int, bool]:
        """The relation's shape index, and whether its rows are cast whole (row literals)."""
        found = self._by_relation.get(id(relation))
        if found is not None and found[0] is relation:
            return found[1], found[2]
        key = (relation.oid, relation.columns, relation.types, relation.typmods)
        if key not in self._shape_index:
            self._shape_index[key] = len(self.shapes)
            self.shapes.append(_Shape(relation, table, self.row_type(relation)))
        index = self._shape_index[key]
        whole = self.shapes[index].row_type is not None
        # By identity: the decoder makes one Relation per Relation message, and hashing its
        # column tuples for every row cost more than the rest of the lookup.
        self._by_relation[id(relation)] = (relation, index, whole)
        return index, whole

    def _statement(self) -> int:
        self.statements += 1
        return self.statements - 1

    def _line(self, rel: int, op: str, stmt: int, head: bytes, table_id: int,
              old: bytes, new: bytes, img: bytes) -> None:  # fmt: skip
        self.lines.append(
            b"%d\t%d\t%s\t%d\t%s\t%d\t%s\t%s\t%s\n"
            % (len(self.lines), rel, op.encode(), stmt, head, table_id, old, new, img)
        )

    def _signed(self, txid: int, content: bytes) -> tuple[str, bytes] | None:
        """A message's kind and payload, if its MAC is ours for this transaction (anyone can
        emit messages with our prefix; only the capture functions can sign them)."""
        payload, _, mac = content.rpartition(b"\x1f")
        inner = hashlib.sha256(self.secret + b"%d\x1f" % txid + payload).digest()
        expected = hashlib.sha256(self.secret + inner).hexdigest().encode()
        if not payload or not hmac.compare_digest(mac, expected):
            self.rejected += 1
            return None
        return payload[:1].decode(), payload[1:]

    def add(self, tx: _pgoutput.Transaction) -> None:
        txid = self._xid8(tx.xid)
        at = tx.committed_at.isoformat().encode()
        context: tuple[Any, ...] | None = None
        seq = CONTEXT_SEQ_BASE - 1
        ctx_seq = 0  # rows before any context message: made before the triggers were
        brackets: dict[int, list[int]] = {}  # table_id -> open key-changing UPDATEs
        # Partitions a TRUNCATE recorded whole, per table, until its next row change: their
        # own TRUNCATE triggers (same statement) would record the same rows again.
        covered: dict[int, set[int]] = {}
        skipping = False
        truncating: tuple[int, int] | None = None  # (table, statement) the next rows are of
        held: tuple[Any, ...] | None = None  # a DELETE in a bracket: half of a partition move?
        head, head_seq = b"", -1  # the line's transaction, context and time, made once each
        for item in tx.items:
            if isinstance(item, _pgoutput.Message):
                if held is not None:
                    self._line(*held)
                    held = None
                signed = self._signed(txid, item.content) if item.prefix == PREFIX else None
                if signed is None:
                    continue
                kind, payload = signed
                if kind == "R":
                    if truncating is not None and not skipping:
                        table_id, stmt = truncating
                        self.truncated.setdefault(table_id, self.tables[table_id])
                        first = b"%d\t%d\t%s" % (txid, ctx_seq, at)
                        self._line(-1, "D", stmt, first, table_id, b"\\N", b"\\N",
                                   copy_text(payload))  # fmt: skip
                    continue
                fields = json.loads(payload)
                if kind == "C":
                    login, acting, client, pid, actor, tenant, reason, request, app, began = fields
                    who = (actor, tenant, reason, request, login, acting, client, app, pid)
                    if who != context:
                        context, seq = who, seq + 1
                        self.contexts.append((txid, seq, began, *who))
                    ctx_seq = seq
                    continue
                table_id = int(fields[0])
                if table_id not in self.tables:
                    continue
                if kind == "B":
                    brackets.setdefault(table_id, []).append(self._statement())
                elif kind == "E" and brackets.get(table_id):
                    brackets[table_id].pop()
                elif kind == "T":
                    relid, parts = int(fields[1]), {int(r) for r in fields[2]}
                    root = self.tables[table_id].relid
                    truncating, skipping = (table_id, self._statement()), False
                    if relid in covered.get(table_id, set()):
                        skipping = True  # part of a TRUNCATE of an ancestor, recorded
                    elif relid == root or root is None:
                        first = b"%d\t%d\t%s" % (txid, ctx_seq, at)
                        self._line(-2, "T", truncating[1], first, table_id, b"\\N", b"\\N",
                                   b"\\N")  # fmt: skip
                    covered.setdefault(table_id, set()).update(parts)
                continue
            found = self.by_relid.get(item.relation.oid)
            if found is None or found not in self.tables:
                continue
            table_id, truncating = found, None
            if covered:
                covered.pop(table_id, None)
            # Outside a bracketed UPDATE, each row is its own statement: WAL order is the
            # order of changes, and no key is both old and new within one.
            stmt = brackets[table_id][-1] if brackets.get(table_id) else self._statement()
            index, whole = self._shape(item.relation, self.tables[table_id])
            old, new = item.old, item.new
            if item.unchanged and new is not None:  # a TOASTed value the UPDATE left alone
                new = tuple(
                    (old[i] if old is not None else NUL) if v is _pgoutput.UNCHANGED else v
                    for i, v in enumerate(new)
                )
            if head_seq != ctx_seq:
                head, head_seq = b"%d\t%d\t%s" % (txid, ctx_seq, at), ctx_seq
            if whole and item.plain:  # the common case: nothing to escape
                o = plain_record(old) if old is not None else b"\\N"
                n = plain_record(new) if new is not None else b"\\N"
            else:
                literal = record if whole else array
                o = copy_text(literal(old)) if old is not None else b"\\N"
                n = copy_text(literal(new)) if new is not None else b"\\N"
            line = (index, item.op, stmt, head, table_id, o, n, b"\\N")
            if held is not None:
                # An UPDATE moving a row to another partition is a DELETE from the one and an
                # INSERT into the other, back to back in the WAL: one update, its key moved.
                if item.op == "I" and held[2] == stmt and held[4] == table_id:
                    line = (index, "U", stmt, head, table_id, held[5], line[6], b"\\N")
                else:
                    self._line(*held)
                held = None
            if item.op == "D" and brackets.get(table_id):
                held = line
                continue
            self._line(*line)
        if held is not None:
            self._line(*held)


def _images(conn: psycopg.Connection[Any], shape: _Shape, index: int) -> sql.Composed:
    """The query building one relation's old and new images and keys from its rows' text:
    cast whole to the table's type when its columns are unchanged, else column by column to
    the types they had when the rows were written."""
    relation, table = shape.relation, shape.table
    old: sql.Composable
    new: sql.Composable
    if shape.row_type is not None:
        # Server-rendered type name (regtype), never user input.
        whole = sql.SQL(shape.row_type)
        old = sql.SQL("to_jsonb(s.o::{})").format(whole)
        new = sql.SQL("to_jsonb(s.n::{})").format(whole)
    else:
        types = [
            str(r[0])
            for r in conn.execute(
                "select format_type(t, m) from unnest(%s::oid[], %s::int[]) "
                "with ordinality u(t, m, i) order by i",
                (list(relation.types), list(relation.typmods)),
            )
        ]

        def by_column(text: str) -> sql.Composable:
            # Type names as the server renders them (format_type), never user input.
            columns = sql.SQL(", ").join(
                sql.SQL("a.v[{}]::{} as {}").format(
                    sql.Literal(i + 1), sql.SQL(t), sql.Identifier(c)
                )
                for i, (c, t) in enumerate(zip(relation.columns, types, strict=True))
            )
            return sql.SQL(
                "(select to_jsonb(r.*) from (select s.{}::text[] as v) a, lateral (select {}) r)"
            ).format(sql.Identifier(text), columns)

        old, new = by_column("o"), by_column("n")
    excluded = sql.SQL("{}::text[]").format(list(table.excluded)) if table.excluded else None
    redacted = sql.SQL("{}::text[]").format(list(table.redacted)) if table.redacted else None
    relid = sql.Literal(table.relid)
    changed = sql.SQL("i.oj is distinct from i.nj") if table.skip_unchanged else sql.SQL("true")
    return sql.SQL(
        "select {staged}, case when s.op = 'D' then k.ok else k.nk end, "
        "case when s.op = 'U' then nullif(k.ok, k.nk) end, i.oj, i.nj "
        "from pg_temp.pgw_wal_rows s "
        # offset 0: the images are built once per row, not again for the WHERE clause.
        "cross join lateral (select case when s.o is null then null else {img_o} end as oj, "
        "case when s.n is null then null else {img_n} end as nj offset 0) i "
        "cross join lateral (select {key_o} as ok, {key_n} as nk) k "
        "where s.rel = {rel} and (s.op <> 'U' or {changed})"
    ).format(
        staged=_STAGED,
        img_o=image_of(old, excluded, redacted),
        img_n=image_of(new, excluded, redacted),
        key_o=key_expr("i.oj", table.key, relid),
        key_n=key_expr("i.nj", table.key, relid),
        rel=sql.Literal(index),
        changed=changed,
    )


def _truncated_rows(table: _Table) -> sql.Composed:
    """The query keying the rows a TRUNCATE removed (their images came ready in the WAL)."""
    return sql.SQL(
        "select {staged}, {key}, null::jsonb, s.img, null::jsonb from pg_temp.pgw_wal_rows s "
        "where s.rel = -1 and s.table_id = {tid}"
    ).format(staged=_STAGED, key=key_expr("s.img", table.key, sql.Literal(table.relid)),
             tid=sql.Literal(table.table_id))  # fmt: skip


_STAGED = sql.SQL("s.ord, s.stmt, s.txid, s.seq, s.table_id, s.op, s.at")
"""The staged row's own columns, first in each branch of the events' query."""
