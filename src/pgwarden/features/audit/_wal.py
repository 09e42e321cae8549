"""WAL capture (audit option ``capture = "wal"``): the slot, and the ingester that turns
decoded transactions into audit events.

The writing transaction pays only for a statement-level trigger that emits one logical
message per statement (who, why, from where). Its rows are in the WAL anyway; with
``REPLICA IDENTITY FULL`` the old rows are too. The ingester reads committed transactions
from this database's ``pgoutput`` slot, in commit order, and writes their events in one
transaction together with how far it got (``warden.audit_wal``); only then is the slot
advanced. A crash between the two re-reads transactions the store already has, and skips
them: nothing is lost, nothing is written twice.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from pgwarden.features.audit import _pgoutput
from pgwarden.features.audit._sql import image_expr, key_expr
from pgwarden.maintenance import Job, JobContext

PUBLICATION = "pgwarden_audit"
MARK, ROW = "pgwarden.audit", "pgwarden.audit.row"
"""Prefixes of the messages the capture functions emit: a statement's context, a truncated
row's image."""
CONTEXT_SEQ_BASE = 16384
"""Context numbers of WAL-captured events start here, apart from those the trigger capture
of another table gives the same transaction (both record contexts under its id)."""
_LOCK = 0x7067_7761_7264_574C  # one ingester at a time per database ("pgwardWL")
_SLOT_OPTIONS = ("proto_version", "1", "publication_names", PUBLICATION, "messages", "true")


def slot_name(conn: psycopg.Connection[Any]) -> str:
    """This database's slot (slot names are cluster-wide)."""
    row = conn.execute("select 'pgwarden_audit_' || left(md5(current_database()), 16)").fetchone()
    assert row is not None
    return str(row[0])


def ensure_slot(conn: psycopg.Connection[Any]) -> bool:
    """Create the publication and the slot if missing (``conn`` in autocommit, outside any
    transaction: a slot cannot be made in one that wrote). The publication comes first: a
    slot must never decode a change from before its publication existed. Returns whether
    anything was created."""
    made = False
    if conn.execute("select 1 from pg_publication where pubname = %s", (PUBLICATION,)).fetchone():
        pass
    else:
        conn.execute(
            sql.SQL(
                "CREATE PUBLICATION {} WITH (publish = 'insert, update, delete', "
                "publish_via_partition_root = true)"
            ).format(sql.Identifier(PUBLICATION))
        )
        made = True
    slot = slot_name(conn)
    if not conn.execute(
        "select 1 from pg_replication_slots where slot_name = %s", (slot,)
    ).fetchone():
        conn.execute("select pg_create_logical_replication_slot(%s, 'pgoutput')", (slot,))
        made = True
    return made


def drop_slot(conn: psycopg.Connection[Any]) -> bool:
    """Drop the slot and the publication (no table is captured from the WAL any more); the
    slot would otherwise keep WAL on disk forever. Returns whether the slot existed."""
    slot = slot_name(conn)
    found = conn.execute(
        "select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = %s",
        (slot,),
    ).fetchall()
    conn.execute(sql.SQL("DROP PUBLICATION IF EXISTS {}").format(sql.Identifier(PUBLICATION)))
    if conn.execute("select to_regclass('warden.audit_wal')").fetchone() != (None,):
        conn.execute("delete from warden.audit_wal where slot_name = %s", (slot,))
    return bool(found)


def slot_exists(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute(
        "select 1 from pg_replication_slots where slot_name = %s", (slot_name(conn),)
    ).fetchone()
    return row is not None


@dataclass(frozen=True)
class Ingested:
    """What one :func:`ingest` call wrote."""

    transactions: int
    events: int
    lag_bytes: int
    """WAL the slot still holds back after this call (0: caught up)."""


def ingest(
    conn: psycopg.Connection[Any],
    *,
    batch: int = 50_000,
    progress: Callable[[int], None] | None = None,
) -> Ingested:
    """Write the events of every transaction committed so far (``conn`` in autocommit);
    ``progress`` gets the number of events written so far after each batch.

    Reads the slot ``batch`` changes at a time (whole transactions), so memory stays bounded
    by the largest transaction. Waits for another ingester of this database to finish first.
    """
    if not slot_exists(conn):
        return Ingested(0, 0, 0)
    slot = slot_name(conn)
    conn.execute("select pg_advisory_lock(%s)", (_LOCK,))
    try:
        conn.execute(
            "insert into warden.audit_wal (slot_name, ingested_lsn) values (%s, '0/0') "
            "on conflict do nothing",
            (slot,),
        )
        # Every transaction older than the oldest one running now has committed (or
        # aborted): once this pass has read everything, their events are all in the store.
        row = conn.execute("select pg_snapshot_xmin(pg_current_snapshot())::text").fetchone()
        horizon = row[0] if row else "0"
        # Decoding reads WAL up to what is flushed: with synchronous_commit = off a commit
        # that returned may not be yet. A synchronous commit of our own flushes everything
        # before it, so every transaction committed before this call is read.
        with conn.transaction():
            conn.execute("set local synchronous_commit = on")
            conn.execute(
                "update warden.audit_wal set ingested_at = ingested_at where slot_name = %s",
                (slot,),
            )
        transactions = events = 0
        while True:
            rows = conn.execute(
                "select data from pg_logical_slot_peek_binary_changes(%s, NULL, %s, "
                "%s, %s, %s, %s, %s, %s)",
                (slot, batch, *_SLOT_OPTIONS),
            ).fetchall()
            decoded = _pgoutput.decode(r[0] for r in rows)
            if not decoded:
                break
            with conn.transaction():
                done = conn.execute(
                    "select ingested_lsn - '0/0' from warden.audit_wal where slot_name = %s "
                    "for update",
                    (slot,),
                ).fetchone()
                fresh = [t for t in decoded if t.end_lsn > int(done[0] if done else 0)]
                written = _write(conn, fresh) if fresh else 0
                # Never backwards: a re-read batch may end before what the store already has.
                conn.execute(
                    "update warden.audit_wal set ingested_lsn = greatest(ingested_lsn, "
                    "%s::pg_lsn), ingested_at = now() where slot_name = %s",
                    (_lsn(decoded[-1].end_lsn), slot),
                )
                if written:
                    conn.execute("select pg_notify('pgwarden_changes', '')")
            _advance(conn, slot, decoded[-1].end_lsn)
            transactions += len(fresh)
            events += written
            if progress:
                progress(events)
            if len(rows) < batch:
                break
        conn.execute(
            "update warden.audit_wal set horizon = greatest(horizon, %s::xid8) "
            "where slot_name = %s",
            (horizon, slot),
        )
        lag = conn.execute(
            "select coalesce(pg_current_wal_lsn() - confirmed_flush_lsn, 0)::bigint "
            "from pg_replication_slots where slot_name = %s",
            (slot,),
        ).fetchone()
        return Ingested(transactions, events, int(lag[0]) if lag else 0)
    finally:
        conn.execute("select pg_advisory_unlock(%s)", (_LOCK,))


def ingest_job(tables: list[str]) -> Job:
    """The maintenance job writing the events of ``tables`` (captured from the WAL)."""

    def run(ctx: JobContext) -> tuple[int, str]:
        if ctx.dry_run:
            state = status(ctx.conn)
            return 0, f"{state['lag_bytes'] if state else 0} bytes of WAL to read"
        done = ingest(ctx.conn, progress=lambda n: ctx.progress(n, None))
        return done.events, f"events from {done.transactions} transactions (WAL)"

    return Job(
        "audit-ingest",
        "audit",
        None,
        f"write the audit events of tables captured from the WAL ({', '.join(tables)})",
        run,
        order=5,
    )


def _advance(conn: psycopg.Connection[Any], slot: str, lsn: int) -> None:
    # After the events' commit: a crash before this re-reads transactions the store has.
    conn.execute("select pg_replication_slot_advance(%s, %s::pg_lsn)", (slot, _lsn(lsn)))


def _lsn(value: int) -> str:
    return f"{value >> 32:X}/{value & 0xFFFFFFFF:X}"


@dataclass(frozen=True)
class _Table:
    table_id: int
    relid: int | None
    key: tuple[str, ...] | None
    excluded: tuple[str, ...]
    redacted: tuple[str, ...]
    skip_unchanged: bool


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


_STAGE = """
create temp table if not exists pgw_wal_rows (
    ord bigint, rel int, op "char", sid bigint, txid bigint, seq smallint, at timestamptz,
    table_id int, o text[], n text[], img jsonb
) on commit delete rows;
create temp table if not exists pgw_wal_events (
    ord bigint, row_key jsonb, old_key jsonb, old_row jsonb, new_row jsonb
) on commit delete rows;
create temp table if not exists pgw_wal_contexts (
    txid bigint, context_seq smallint, tx_started_at timestamptz, actor text, tenant text,
    reason text, request_id text, login_role text, acting_role text, client_addr inet,
    application_name text, backend_pid int
) on commit delete rows
"""


def _write(conn: psycopg.Connection[Any], transactions: list[_pgoutput.Transaction]) -> int:
    """Stage the transactions' rows, build their images and keys per relation (as the
    trigger capture would), and append the events in WAL order. Returns how many."""
    tables, by_relid = _tables(conn)
    conn.execute(_STAGE)
    row = conn.execute("select pg_snapshot_xmax(pg_current_snapshot())::text::bigint").fetchone()
    assert row is not None
    staged = _Staging(tables, by_relid, int(row[0]))
    for tx in transactions:
        staged.add(tx)
    if not staged.rows:
        return 0
    sids = [
        int(r[0])
        for r in conn.execute(
            "select nextval('warden.audit_statement_seq') from generate_series(1, %s)",
            (staged.statements,),
        )
    ]
    with conn.cursor().copy(
        "copy pg_temp.pgw_wal_rows (ord, rel, op, sid, txid, seq, at, table_id, o, n, img) "
        "from stdin"
    ) as copy:
        for r in staged.rows:
            copy.write_row((*r[:3], sids[r[3]], *r[4:]))
    with conn.cursor().copy("copy pg_temp.pgw_wal_contexts from stdin") as copy:
        for c in staged.contexts:
            copy.write_row(c)
    for index, (relation, table) in enumerate(staged.relations):
        conn.execute(_images(conn, relation, table, index))
    for table in staged.truncated.values():
        conn.execute(_truncated_rows(table))
    conn.execute(
        "insert into warden.audit_contexts (txid, context_seq, tx_started_at, actor, tenant, "
        "reason, request_id, login_role, acting_role, client_addr, application_name, "
        "backend_pid) select txid::text::xid8, context_seq, tx_started_at, actor, tenant, "
        "reason, request_id, login_role, acting_role, client_addr, application_name, "
        "backend_pid from pg_temp.pgw_wal_contexts on conflict do nothing"
    )
    cur = conn.execute(
        "insert into warden.audit_events (statement_id, txid, context_seq, table_id, op, at, "
        "row_key, old_key, old_row, new_row) "
        "select s.sid, s.txid::text::xid8, s.seq, s.table_id, s.op, s.at, e.row_key, "
        "e.old_key, e.old_row, e.new_row from pg_temp.pgw_wal_rows s "
        "left join pg_temp.pgw_wal_events e on e.ord = s.ord "
        "where s.op = 'T' or e.ord is not null order by s.ord"
    )
    return cur.rowcount


class _Staging:
    """Decoded transactions as rows of ``pgw_wal_rows``: each change with its statement
    (the latest marker of its table in the transaction) and context."""

    def __init__(self, tables: dict[int, _Table], by_relid: dict[int, int], xmax: int) -> None:
        self.tables, self.by_relid, self.xmax = tables, by_relid, xmax
        self.rows: list[tuple[Any, ...]] = []
        self.contexts: list[tuple[Any, ...]] = []
        self.relations: list[tuple[_pgoutput.Relation, _Table]] = []
        self._relation_index: dict[tuple[Any, ...], int] = {}
        self.truncated: dict[int, _Table] = {}
        self.statements = 0

    def _xid8(self, xid: int) -> int:
        # The decoded transaction committed before now: in the current epoch unless its
        # 32-bit id is ahead of the next one (then the epoch before).
        epoch = self.xmax >> 32
        if xid > self.xmax & 0xFFFFFFFF:
            epoch -= 1
        return epoch << 32 | xid

    def _relation(self, relation: _pgoutput.Relation, table: _Table) -> int:
        shape = (relation.oid, relation.columns, relation.types, relation.typmods)
        if shape not in self._relation_index:
            self._relation_index[shape] = len(self.relations)
            self.relations.append((relation, table))
        return self._relation_index[shape]

    def _statement(self) -> int:
        self.statements += 1
        return self.statements - 1

    def add(self, tx: _pgoutput.Transaction) -> None:
        txid = self._xid8(tx.xid)
        current: dict[int, tuple[int, int]] = {}  # table_id -> (statement, context_seq)
        context: tuple[Any, ...] | None = None
        seq = CONTEXT_SEQ_BASE - 1
        # Partitions a TRUNCATE recorded whole, per table, until its next row change: their
        # own TRUNCATE triggers (same statement) would record the same rows again.
        covered: dict[int, set[int]] = {}
        skipping = False
        truncating: int | None = None  # the table whose TRUNCATE the next rows belong to
        for item in tx.items:
            if isinstance(item, _pgoutput.Message):
                if item.prefix == ROW:
                    if truncating is not None and not skipping:
                        statement, ctx_seq = current[truncating]
                        self.truncated.setdefault(truncating, self.tables[truncating])
                        self.rows.append((len(self.rows), -1, "D", statement, txid, ctx_seq,
                                          tx.committed_at, truncating, None, None,
                                          item.content.decode()))  # fmt: skip
                    continue
                if item.prefix != MARK:
                    continue
                mark = json.loads(item.content)
                op, table_id, relid = mark[0], int(mark[1]), int(mark[2])
                if table_id not in self.tables:
                    continue
                who = (*mark[3:12],)
                if context is None or who != context:
                    context, seq = who, seq + 1
                    self.contexts.append((txid, seq, mark[12], *who))
                current[table_id] = (self._statement(), seq)
                skipping, truncating = False, table_id if op == "T" else None
                if op == "T":
                    root = self.tables[table_id].relid
                    if relid in covered.get(table_id, set()):
                        skipping = True  # part of a TRUNCATE of an ancestor, recorded
                    elif relid == root or root is None:
                        statement, ctx_seq = current[table_id]
                        self.rows.append((len(self.rows), -2, "T", statement, txid, ctx_seq,
                                          tx.committed_at, table_id, None, None, None))  # fmt: skip
                    covered.setdefault(table_id, set()).update(int(r) for r in mark[13] or ())
                continue
            table_id_or_none = self.by_relid.get(item.relation.oid)
            if table_id_or_none is None or table_id_or_none not in self.tables:
                continue
            table_id, truncating = table_id_or_none, None
            covered.pop(table_id, None)
            if table_id not in current:  # no marker: made before its statement trigger was
                current[table_id] = (self._statement(), 0)
            statement, ctx_seq = current[table_id]
            rel = self._relation(item.relation, self.tables[table_id])
            old = list(item.old) if item.old is not None else None
            new = None
            if item.new is not None:
                new = [
                    (old[i] if old is not None else None) if v is _pgoutput.UNCHANGED else v
                    for i, v in enumerate(item.new)
                ]
            self.rows.append((len(self.rows), rel, item.op, statement, txid, ctx_seq,
                              tx.committed_at, table_id, old, new, None))  # fmt: skip


def _images(
    conn: psycopg.Connection[Any], relation: _pgoutput.Relation, table: _Table, index: int
) -> sql.Composed:
    """The query building one relation's old and new images and keys from their text values,
    cast to the types the columns had when the rows were written."""
    types = [
        str(r[0])
        for r in conn.execute(
            "select format_type(t, m) from unnest(%s::oid[], %s::int[]) with ordinality u(t, m, i) "
            "order by i",
            (list(relation.types), list(relation.typmods)),
        )
    ]

    def columns(array: str) -> sql.Composable:
        # Type names as the server renders them (format_type), never user input.
        return sql.SQL(", ").join(
            sql.SQL("s.{}[{}]::{} as {}").format(
                sql.Identifier(array), sql.Literal(i + 1), sql.SQL(t), sql.Identifier(c)
            )
            for i, (c, t) in enumerate(zip(relation.columns, types, strict=True))
        )

    excluded = sql.SQL("{}::text[]").format(list(table.excluded)) if table.excluded else None
    redacted = sql.SQL("{}::text[]").format(list(table.redacted)) if table.redacted else None
    relid = sql.Literal(table.relid)
    changed = sql.SQL("i.oj is distinct from i.nj") if table.skip_unchanged else sql.SQL("true")
    return sql.SQL(
        "insert into pg_temp.pgw_wal_events (ord, row_key, old_key, old_row, new_row) "
        "select s.ord, case when s.op = 'D' then k.ok else k.nk end, "
        "case when s.op = 'U' then nullif(k.ok, k.nk) end, i.oj, i.nj "
        "from pg_temp.pgw_wal_rows s "
        "cross join lateral (select "
        "case when s.o is null then null else (select {img_o} from (select {cols_o}) o) end as oj,"
        " case when s.n is null then null else (select {img_n} from (select {cols_n}) n) end as nj"
        ") i cross join lateral (select {key_o} as ok, {key_n} as nk) k "
        "where s.rel = {rel} and (s.op <> 'U' or {changed})"
    ).format(
        img_o=image_expr("o", excluded, redacted),
        img_n=image_expr("n", excluded, redacted),
        cols_o=columns("o"),
        cols_n=columns("n"),
        key_o=key_expr("i.oj", table.key, relid),
        key_n=key_expr("i.nj", table.key, relid),
        rel=sql.Literal(index),
        changed=changed,
    )


def _truncated_rows(table: _Table) -> sql.Composed:
    """The query keying the rows a TRUNCATE removed (their images came ready in the WAL)."""
    return sql.SQL(
        "insert into pg_temp.pgw_wal_events (ord, row_key, old_row) "
        "select s.ord, {key}, s.img from pg_temp.pgw_wal_rows s "
        "where s.rel = -1 and s.table_id = {tid}"
    ).format(key=key_expr("s.img", table.key, sql.Literal(table.relid)),
             tid=sql.Literal(table.table_id))  # fmt: skip


def status(conn: psycopg.Connection[Any]) -> dict[str, Any] | None:
    """The slot's state: WAL held back (bytes not yet ingested) and the last ingestion."""
    row = conn.execute(
        "select s.slot_name, s.active, "
        "coalesce(pg_current_wal_lsn() - s.confirmed_flush_lsn, 0)::bigint, w.ingested_at "
        "from pg_replication_slots s left join warden.audit_wal w using (slot_name) "
        "where s.slot_name = %s",
        (slot_name(conn),),
    ).fetchone()
    if row is None:
        return None
    ingested_at: dt.datetime | None = row[3]
    return {"slot": row[0], "active": row[1], "lag_bytes": int(row[2]), "ingested_at": ingested_at}
