"""WAL capture (audit option ``capture = "wal"``): the slot, and the ingester that turns
decoded transactions into audit events.

The writing transaction pays only for a statement-level trigger that emits a signed logical
message when its context changes (who, why, from where), and brackets around UPDATEs that can
change keys. Its rows are in the WAL anyway; with
``REPLICA IDENTITY FULL`` the old rows are too. The ingester reads committed transactions
from this database's ``pgoutput`` slot, in commit order, and writes their events in one
transaction together with how far it got (``warden.audit_wal``); only then is the slot
advanced. A crash between the two re-reads transactions the store already has, and skips
them: nothing is lost, nothing is written twice.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from pgwarden.features.audit import _pgoutput
from pgwarden.features.audit._wal_events import write_events
from pgwarden.maintenance import Job, JobContext

_log = logging.getLogger("pgwarden.audit")
PUBLICATION = "pgwarden_audit"
LOCK = 0x7067_7761_7264_574C  # one ingester at a time per database ("pgwardWL")
SLOT_OPTIONS = ("proto_version", "1", "publication_names", PUBLICATION, "messages", "true")


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
    # PostgreSQL 18 refuses UPDATE and DELETE on a table whose replica identity holds a stored
    # generated column the publication leaves out: it publishes them (reads compute them anyway).
    stored = sql.SQL(
        ", publish_generated_columns = stored" if conn.info.server_version >= 180000 else ""
    )
    found = conn.execute(
        "select to_jsonb(p) ->> 'pubgencols' from pg_publication p where pubname = %s",
        (PUBLICATION,),
    ).fetchone()
    if found is None:
        conn.execute(
            sql.SQL(
                "CREATE PUBLICATION {} WITH (publish = 'insert, update, delete', "
                "publish_via_partition_root = true{})"
            ).format(sql.Identifier(PUBLICATION), stored)
        )
        made = True
    elif found[0] == "n":  # made by an earlier pgwarden, on PostgreSQL 18
        conn.execute(
            sql.SQL("ALTER PUBLICATION {} SET (publish_generated_columns = stored)").format(
                sql.Identifier(PUBLICATION)
            )
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
    for _ in range(500):
        # A follower streams it: end its stream (it waits for a slot again), then drop.
        active = conn.execute(
            "select pg_terminate_backend(active_pid) from pg_replication_slots "
            "where slot_name = %s and active_pid is not null",
            (slot,),
        ).fetchall()
        if not active:
            break
        time.sleep(0.01)
    found = conn.execute(
        "select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = %s",
        (slot,),
    ).fetchall()
    conn.execute(sql.SQL("DROP PUBLICATION IF EXISTS {}").format(sql.Identifier(PUBLICATION)))
    if conn.execute("select to_regclass('warden.audit_wal')").fetchone() != (None,):
        conn.execute("delete from warden.audit_wal where slot_name = %s", (slot,))
    return bool(found)


@dataclass(frozen=True)
class Slots:
    """This database's replication slot for WAL capture, and room for one."""

    exists: bool = False
    free: int = 0
    """Slots the server may still make (max_replication_slots less those in use)."""


def slots(conn: psycopg.Connection[Any]) -> Slots:
    """This database's slot, and room for one more (where the role may see the settings)."""
    row = conn.execute(
        "select exists(select 1 from pg_replication_slots where slot_name = %s), "
        "coalesce((select setting::int from pg_settings where name = 'max_replication_slots'), "
        "0) - (select count(*) from pg_replication_slots)",
        (slot_name(conn),),
    ).fetchone()
    return Slots(bool(row[0]), int(row[1])) if row else Slots()


def registered_wal(conn: psycopg.Connection[Any]) -> bool:
    """Whether a live table is registered as captured from the WAL."""
    if conn.execute("select to_regclass('warden.audit_tables')").fetchone() == (None,):
        return False
    row = conn.execute(
        "select exists(select 1 from warden.audit_tables where capture = 'wal' "
        "and relid is not null and dropped_at is null)"
    ).fetchone()
    return bool(row and row[0])


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
    rejected: int = 0
    """Messages with pgwarden's prefix but not its capture's signature (forged), dropped."""


def ingest(
    conn: psycopg.Connection[Any],
    *,
    batch: int = 50_000,
    progress: Callable[[int], None] | None = None,
    take_over: bool = False,
) -> Ingested:
    """Write the events of every transaction committed so far (``conn`` in autocommit);
    ``progress`` gets the number of events written so far after each batch.

    Reads the slot ``batch`` changes at a time (whole transactions), so memory stays bounded
    by the largest transaction. Waits for another ingester of this database to finish first.
    While a follower streams the slot, waits for it to have stored every transaction
    committed before this call; with ``take_over``, ends its stream instead and reads the
    rest here (what the follower had not confirmed is read again, once).
    """
    slot = slot_name(conn)
    if not conn.execute(
        "select 1 from pg_replication_slots where slot_name = %s", (slot,)
    ).fetchone():
        return Ingested(0, 0, 0)
    if not _lock(conn, slot, take_over=take_over):
        # A follower streams the slot (``pgwarden audit ingest --follow``): wait for it.
        return wait_for_follower(conn, slot)
    try:
        # Every transaction older than the oldest one running here now has committed (or
        # aborted): once this pass has read everything, their events are all in the store.
        row = conn.execute("select warden.running_horizon()::text").fetchone()
        horizon = row[0] if row else "0"
        # Decoding reads WAL up to what is flushed: after this, that is past every commit
        # made before this call.
        committed_position(conn, slot)
        transactions = events = rejected = 0
        while True:
            rows = conn.execute(
                "select data from pg_logical_slot_peek_binary_changes(%s, NULL, %s, "
                "%s, %s, %s, %s, %s, %s)",
                (slot, batch, *SLOT_OPTIONS),
            ).fetchall()
            decoded = _pgoutput.decode(r[0] for r in rows)
            if not decoded:
                break
            fresh, written, dropped = store(conn, slot, decoded)
            _advance(conn, slot, decoded[-1].end_lsn)
            transactions += fresh
            events += written
            rejected += dropped
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
        if rejected:
            _log.warning(
                "audit ingester dropped %d message(s) with pgwarden's prefix that its capture "
                "did not sign (forged by a session?)",
                rejected,
            )
        return Ingested(transactions, events, int(lag[0]) if lag else 0, rejected)
    finally:
        conn.execute("select pg_advisory_unlock(%s)", (LOCK,))


def _lock(conn: psycopg.Connection[Any], slot: str, *, take_over: bool = False) -> bool:
    """Take the ingesters' lock, waiting for a one-shot ingester to finish; False when a
    follower holds it (the slot is streamed: it is active). With ``take_over``, end the
    follower's stream and take the lock once it lets go (it waits for the lock to stream
    again, from what the store has)."""
    while True:
        row = conn.execute("select pg_try_advisory_lock(%s)", (LOCK,)).fetchone()
        if row and row[0]:
            return True
        active = conn.execute(
            "select active_pid from pg_replication_slots where slot_name = %s and active",
            (slot,),
        ).fetchone()
        if active and not take_over:
            return False
        if active:
            conn.execute("select pg_terminate_backend(%s)", active)
        time.sleep(0.02)


def committed_position(conn: psycopg.Connection[Any], slot: str) -> int:
    """A WAL position past the commit of every transaction committed before this call, and
    flushed: a reader of the slot (which decodes flushed WAL only) reaches it.

    With ``synchronous_commit = off`` a commit returns before its record is flushed, and
    ``pg_current_wal_lsn()`` (where WAL is *written*) can still be behind it: taken as the
    target, a follower's confirmation passed it before the follower had even received the
    transaction. The insert position is past every commit record made so far; a synchronous
    commit flushes the WAL up to its own record, after it, but only a transaction that
    writes has a commit record: this one touches the slot's progress row."""
    with conn.transaction():
        conn.execute("set local synchronous_commit = on")
        row = conn.execute(
            "insert into warden.audit_wal as w (slot_name, ingested_lsn) values (%s, '0/0') "
            "on conflict (slot_name) do update set ingested_at = w.ingested_at "
            "returning pg_current_wal_insert_lsn() - '0/0'",
            (slot,),
        ).fetchone()
    assert row is not None
    return int(row[0])


def last_record_end(insert: int, block: int, segment: int) -> int:
    """The end of the last WAL record, from the insert position ``insert``
    (``pg_current_wal_insert_lsn()``) and the server's WAL block and segment sizes.

    When the last record ended a page, the insert position is after the next page's header
    (24 bytes; 40 on a segment's first page), where no record ends: a reader's position,
    always at the end of a record, would never reach it while no WAL follows."""
    header = 40 if insert % segment < block else 24
    return insert - header if insert % block == header else insert


def store(
    conn: psycopg.Connection[Any], slot: str, decoded: list[_pgoutput.Transaction]
) -> tuple[int, int, int]:
    """Write the events of ``decoded`` (whole transactions in commit order) in one
    transaction together with how far they go, skipping those the store already has (read
    again after a crash before the slot moved). Returns the transactions and events written,
    and the messages dropped as forged."""
    with conn.transaction():
        # The staging tables have no statistics: a big batch's joins sort by guesses, and
        # spilled to disk at the default work_mem.
        conn.execute("set local work_mem = '64MB'")
        done = conn.execute(
            "select ingested_lsn - '0/0' from warden.audit_wal where slot_name = %s for update",
            (slot,),
        ).fetchone()
        fresh = [t for t in decoded if t.end_lsn > int(done[0] if done else 0)]
        written, dropped = write_events(conn, fresh) if fresh else (0, 0)
        # Never backwards: a re-read batch may end before what the store already has.
        conn.execute(
            "update warden.audit_wal set ingested_lsn = greatest(ingested_lsn, "
            "%s::pg_lsn), ingested_at = now() where slot_name = %s",
            (lsn_text(decoded[-1].end_lsn), slot),
        )
        if written:
            conn.execute("select pg_notify('pgwarden_changes', '')")
    return len(fresh), written, dropped


def wait_for_follower(
    conn: psycopg.Connection[Any], slot: str, *, timeout: float = 60.0
) -> Ingested:
    """Wait until the follower streaming the slot has stored every transaction committed
    before this call, then move the feed's horizon as :func:`ingest` does. The follower
    confirms a position to the server only once the events before it are stored."""
    row = conn.execute("select warden.running_horizon()::text").fetchone()
    horizon = row[0] if row else "0"
    target = lsn_text(committed_position(conn, slot))
    deadline = time.monotonic() + timeout
    while True:
        row = conn.execute(
            "select active, confirmed_flush_lsn >= %s::pg_lsn, "
            "coalesce(pg_current_wal_lsn() - confirmed_flush_lsn, 0)::bigint "
            "from pg_replication_slots where slot_name = %s",
            (target, slot),
        ).fetchone()
        if row is None:
            return Ingested(0, 0, 0)
        if row[1]:
            conn.execute(
                "update warden.audit_wal set horizon = greatest(horizon, %s::xid8) "
                "where slot_name = %s",
                (horizon, slot),
            )
            return Ingested(0, 0, int(row[2]))
        if not row[0]:  # the follower stopped: read the rest here
            return ingest(conn)
        if time.monotonic() > deadline:
            _log.warning(
                "audit ingester: the follower streaming slot %s has not caught up in %.0f s "
                "(%d bytes of WAL behind)", slot, timeout, row[2],
            )  # fmt: skip
            return Ingested(0, 0, int(row[2]))
        time.sleep(0.02)


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
        # Events still in the WAL are written before the store's jobs look at it.
        before=("audit-store-premake", "audit-store-rescue", "audit-archive", "audit-retention"),
    )


def _advance(conn: psycopg.Connection[Any], slot: str, lsn: int) -> None:
    # After the events' commit: a crash before this re-reads transactions the store has.
    conn.execute("select pg_replication_slot_advance(%s, %s::pg_lsn)", (slot, lsn_text(lsn)))


def lsn_text(value: int) -> str:
    return f"{value >> 32:X}/{value & 0xFFFFFFFF:X}"


def status(conn: psycopg.Connection[Any]) -> dict[str, Any] | None:
    """The slot's state: WAL held back (bytes not yet ingested) and the last ingestion."""
    if conn.execute("select to_regclass('warden.audit_wal')").fetchone() == (None,):
        return None
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
