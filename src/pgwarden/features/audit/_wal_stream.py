"""The follower (``pgwarden audit ingest --follow``): the slot streamed over the replication
protocol, so each change is decoded once, by the walsender, as it is written.

Reading the slot through SQL (:func:`~pgwarden.features.audit._wal.ingest`) makes the server
decode again from the slot's restart point at every call, and that point moves only every
few seconds while transactions keep starting: under sustained load each pass re-read tens of
MB of WAL, and the ingester fell behind without bound (~170 transactions/s read against
~1,350/s written). Streamed, the walsender keeps its decoding state between messages.

psycopg 3 has no replication API, but its libpq binding speaks COPY BOTH: this module sends
``START_REPLICATION`` on a ``replication=database`` connection, reads XLogData and keepalive
messages, and sends standby status updates. Exactly once, as with the SQL reader: a batch's
events are written in one transaction with the end LSN of its last transaction
(``warden.audit_wal``), and only then is that position confirmed to the server; after a crash
the server resends from the last confirmed position and the store skips what it has.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import select
import struct
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
from psycopg import pq, sql

from pgwarden.errors import AuditError
from pgwarden.features.audit import _pgoutput
from pgwarden.features.audit._wal import (
    LOCK,
    SLOT_OPTIONS,
    Ingested,
    last_record_end,
    lsn_text,
    slot_name,
    store,
)

_log = logging.getLogger("pgwarden.audit")
APPLICATION_NAME = "pgwarden audit follower"
"""Of both its connections (the stream and the writes), as pg_stat_activity shows them."""
_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
_XLOG_DATA = 25  # 'w', start LSN, end LSN, send time: then one pgoutput message
_KEEPALIVE = struct.Struct("!Qq?")  # after 'k': the server's WAL end, send time, reply now?
_STATUS = struct.Struct("!cQQQq?")  # 'r', written, flushed, applied, clock, reply requested
GATHER = 0.02
"""Seconds the follower lets messages gather in its socket before reading them."""
_READ_AT_MOST = 20_000
"""Messages read in one go at most (a backlog is read in bounded slices)."""


def _clock() -> int:
    """Microseconds since 2000-01-01, the protocol's clock."""
    return (dt.datetime.now(dt.UTC) - _EPOCH) // dt.timedelta(microseconds=1)


class _Stream:
    """One ``START_REPLICATION`` of the slot, from ``start``."""

    def __init__(self, url: str, conn: psycopg.Connection[Any], slot: str, start: int) -> None:
        info = psycopg.conninfo.make_conninfo(
            url, replication="database", application_name=APPLICATION_NAME
        )
        self.pgconn = pq.PGconn.connect(info.encode())
        self.lock = threading.Lock()  # the keep-alive thread sends on it too
        if self.pgconn.status != pq.ConnStatus.OK:
            raise AuditError(f"audit follower: cannot connect for replication: {self._error()}")
        options = sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(name), sql.Literal(value))
            for name, value in zip(SLOT_OPTIONS[::2], SLOT_OPTIONS[1::2], strict=True)
        )
        command = sql.SQL("START_REPLICATION SLOT {} LOGICAL {} ({})").format(
            sql.Identifier(slot), sql.SQL(lsn_text(start)), options
        )
        self.pgconn.send_query(command.as_bytes(conn))
        result = self.pgconn.get_result()
        if result is None or result.status != pq.ExecStatus.COPY_BOTH:
            raise AuditError(f"audit follower: START_REPLICATION failed: {self._error()}")

    def _error(self) -> str:
        return self.pgconn.error_message.decode(errors="replace").strip()

    def read(self, timeout: float, gather: float = GATHER) -> list[bytes]:
        """The messages that came, waiting up to ``timeout`` seconds for the first (empty
        when none came). Once one is there, ``gather`` seconds more for others: the walsender
        sends each message as it is decoded, one packet each, and reading them as they come
        woke this process and called the kernel twice per message, more CPU than decoding
        them (the events wait for their batch's ``linger`` anyway)."""
        messages = self._drain()
        if messages:
            return messages
        ready, _, _ = select.select([self.pgconn.socket], [], [], max(timeout, 0))
        if not ready:
            return messages
        if gather > 0:
            time.sleep(gather)
        # libpq reads at most its buffer's free space (from 8 kB) at a time: read on while
        # the socket has more, else this reader is capped at a buffer per ``gather``.
        while len(messages) < _READ_AT_MOST:
            self.pgconn.consume_input()
            messages += self._drain()
            if not select.select([self.pgconn.socket], [], [], 0)[0]:
                break
        return messages

    def _drain(self) -> list[bytes]:
        """The whole messages libpq holds, without waiting."""
        messages = []
        get = self.pgconn.get_copy_data
        while True:
            size, data = get(1)
            if size > 0:
                messages.append(bytes(data))
            elif size < 0:
                why = self._error() or "the server ended it"
                raise AuditError(f"audit follower: the replication stream ended: {why}")
            else:
                return messages

    def confirm(self, lsn: int) -> None:
        """Tell the server everything before ``lsn`` is stored (the slot may move past it)."""
        with self.lock:
            self.pgconn.put_copy_data(_STATUS.pack(b"r", lsn, lsn, lsn, _clock(), False))
            self.pgconn.flush()

    @contextlib.contextmanager
    def alive(self, lsn: int, every: float = 5.0) -> Iterator[None]:
        """While the block runs (writing a big batch can take longer than the server's
        ``wal_sender_timeout``, 60 s by default), tell the server every ``every`` seconds
        that this reader is alive, at the position already confirmed."""
        done = threading.Event()

        def beat() -> None:
            while not done.wait(every):
                with contextlib.suppress(psycopg.Error):
                    self.confirm(lsn)

        thread = threading.Thread(target=beat, name="pgwarden-follower-alive", daemon=True)
        thread.start()
        try:
            yield
        finally:
            done.set()
            thread.join()

    def close(self) -> None:
        self.pgconn.finish()


def follow(
    url: str,
    *,
    stop: Callable[[], bool],
    batch: int = 20_000,
    linger: float = 0.25,
    progress: Callable[[Ingested], None] | None = None,
) -> Ingested:
    """Stream this database's slot and write its events until ``stop()`` says so (checked at
    least every second); returns what was written. ``batch``: changes written in one
    transaction at most; ``linger``: the longest a committed transaction waits for others
    to share its write. ``progress`` gets the totals after each write.

    While the database has no slot (no table captured from the WAL yet, or any more), it
    waits for one. A lost stream or connection (the server restarted, the slot was dropped
    by an apply) is opened again a second later."""
    zero = Ingested(0, 0, 0)
    total, stream = zero, [zero]  # the streams ended so far; the current one

    def counted(done: Ingested) -> None:
        stream[0] = done
        if progress:
            progress(_sum(total, done))

    while not stop():
        try:
            _follow_once(url, stop, batch, linger, counted)
        except (AuditError, psycopg.OperationalError) as exc:
            _log.warning("%s; streaming again in 1 s", str(exc).strip())
        total, stream[0] = _sum(total, stream[0]), zero
        if not stop():
            time.sleep(1)  # no slot yet, or the stream was lost
    return total


def _sum(a: Ingested, b: Ingested) -> Ingested:
    return Ingested(
        a.transactions + b.transactions, a.events + b.events, b.lag_bytes, a.rejected + b.rejected
    )


def local_url(url: str) -> str:
    """``url`` through the server's unix socket when it reaches the server over TCP on this
    machine (a loopback address) and the server lets the same role in there; else ``url``.

    The walsender sends each message as soon as it is decoded, a packet of its own: over
    loopback TCP each went through the kernel's whole TCP path, in the walsender's time, about
    a third of the walsender's CPU per event (measured: 27-33 µs per event over TCP, 19 µs
    through the socket)."""
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
            row = conn.execute(
                "select coalesce(host(inet_server_addr())::inet <<= any(array["
                "'127.0.0.0/8'::inet, '::1/128'::inet]), false), "
                "current_setting('unix_socket_directories'), current_setting('port'), "
                "pg_postmaster_start_time()"
            ).fetchone()
    except psycopg.Error:
        return url
    if row is None or not row[0]:
        return url  # already on a unix socket, or the server is on another machine
    params = psycopg.conninfo.conninfo_to_dict(url)
    params.pop("hostaddr", None)
    for directory in str(row[1]).split(","):
        directory = directory.strip().strip('"')
        if not directory:
            continue
        local = psycopg.conninfo.make_conninfo(
            **{**params, "host": directory, "port": str(row[2])}  # type: ignore[arg-type]
        )
        try:
            with psycopg.connect(local, autocommit=True, connect_timeout=10) as conn:
                # The same server (not another one whose socket sits there): started then.
                same = conn.execute("select pg_postmaster_start_time() = %s", (row[3],))
                if same.fetchone() == (True,):
                    return local
        except psycopg.Error:
            continue  # its authentication refuses this role there: TCP it is
    return url


def _follow_once(
    url: str,
    stop: Callable[[], bool],
    batch: int,
    linger: float,
    progress: Callable[[Ingested], None],
) -> bool:
    """Stream until stopped; False when the database has no slot (or it was stopped before
    it could stream)."""
    url = local_url(url)
    with psycopg.connect(url, autocommit=True, application_name=APPLICATION_NAME) as conn:
        slot = slot_name(conn)
        if not conn.execute(
            "select 1 from pg_replication_slots where slot_name = %s", (slot,)
        ).fetchone():
            return False
        # Polled, not waited for: a pass of ingest() may hold it for long (a backlog), and
        # stop() is to be heard within a second.
        while conn.execute("select not pg_try_advisory_lock(%s)", (LOCK,)).fetchone() == (True,):
            if stop():
                return False
            time.sleep(0.05)
        conn.execute(
            "insert into warden.audit_wal (slot_name, ingested_lsn) values (%s, '0/0') "
            "on conflict do nothing",
            (slot,),
        )
        row = conn.execute(
            "select ingested_lsn - '0/0' from warden.audit_wal where slot_name = %s", (slot,)
        ).fetchone()
        confirmed = int(row[0]) if row else 0
        stream = _Stream(url, conn, slot, confirmed)
        try:
            _run(conn, stream, slot, confirmed, stop, batch, linger, progress)
        finally:
            stream.close()
    return True


def _run(
    conn: psycopg.Connection[Any],
    stream: _Stream,
    slot: str,
    confirmed: int,
    stop: Callable[[], bool],
    batch: int,
    linger: float,
    progress: Callable[[Ingested], None],
) -> None:
    decoder = _pgoutput.Decoder()
    pending: list[_pgoutput.Transaction] = []
    changes = 0
    since = 0.0  # when the oldest pending transaction came
    transactions = events = rejected = 0
    horizon = _Horizon(conn, slot)

    def write() -> None:
        nonlocal pending, changes, confirmed, transactions, events, rejected
        with stream.alive(confirmed):
            fresh, written, dropped = store(conn, slot, pending)
        transactions, events, rejected = (
            transactions + fresh, events + written, rejected + dropped
        )  # fmt: skip
        confirmed = max(confirmed, pending[-1].end_lsn)
        stream.confirm(confirmed)
        pending, changes = [], 0
        progress(Ingested(transactions, events, 0, rejected))

    while not stop():
        wait = since + linger - time.monotonic() if pending else 1.0
        for message in stream.read(min(wait, 1.0)):
            if message[0] == 0x77:  # 'w': XLogData
                tx = decoder.feed(message, _XLOG_DATA)
                if tx is not None:
                    if not pending:
                        since = time.monotonic()
                    pending.append(tx)
                    changes += len(tx.items)
                    if changes >= batch:
                        write()
            elif message[0] == 0x6B:  # 'k': keepalive
                end, _, reply = _KEEPALIVE.unpack_from(message, 1)
                if not pending and decoder.current is None and end > confirmed:
                    # Every transaction sent before this point is stored: nothing to wait for.
                    confirmed = end
                    reply = True
                if reply:
                    stream.confirm(confirmed)
        if pending and time.monotonic() - since >= linger:
            write()
        horizon.tick(confirmed)


class _Horizon:
    """Moves the change feed's horizon (``warden.audit_wal.horizon``) behind the follower,
    about once a second: the oldest transaction running at some moment, once every
    transaction committed before that moment is confirmed stored."""

    def __init__(self, conn: psycopg.Connection[Any], slot: str) -> None:
        self.conn, self.slot = conn, slot
        row = conn.execute(
            "select current_setting('wal_block_size')::int, "
            "(select setting::bigint from pg_settings where name = 'wal_segment_size')"
        ).fetchone()
        assert row is not None
        self.block, self.segment = int(row[0]), int(row[1])
        self.pending: tuple[str, int] | None = None  # (horizon, WAL position) to wait for
        self.written = ""
        self.at = 0.0

    def tick(self, confirmed: int) -> None:
        if self.pending is not None and confirmed >= self.pending[1]:
            if self.pending[0] != self.written:  # no write (and no WAL) while idle
                self.conn.execute(
                    "update warden.audit_wal set horizon = greatest(horizon, %s::xid8) "
                    "where slot_name = %s",
                    (self.pending[0], self.slot),
                )
                self.written = self.pending[0]
            self.pending = None
        if self.pending is None and time.monotonic() - self.at >= 1.0:
            self.at = time.monotonic()
            # Taken before the position, in a statement of its own (the horizon is for
            # later statements): a transaction older than the horizon committed before it
            # (the walsender sends it once flushed). The insert position, not
            # pg_current_wal_lsn(): with synchronous_commit = off, WAL is written some time
            # after a commit returns, and the horizon passed transactions not yet stored.
            horizon = self.conn.execute("select warden.running_horizon()::text").fetchone()
            row = self.conn.execute("select pg_current_wal_insert_lsn() - '0/0'").fetchone()
            if horizon is not None and row is not None:
                end = last_record_end(int(row[0]), self.block, self.segment)
                self.pending = (str(horizon[0]), end)
