"""Read-only sessions on replicas, writes on the primary, and reads that see earlier writes.

A read-only session goes to a usable replica (:mod:`pgwarden.db._replicas`), in turn, or to
the primary when none is; it is ``READ ONLY`` wherever it runs, so a write in it fails the
same way on either. A replica that fails while the session is being opened (stopped,
restarting) is marked down and the next one, or the primary, is used: the caller sees no
error. A failure inside the caller's block is the caller's, unless it runs through
:func:`run_read`, which runs the work again elsewhere.

**Read your writes.** A write session on a primary with replicas commits with
``COMMIT; SELECT pg_current_wal_insert_lsn()`` in one message, so it learns where its commit
is in the WAL without a round trip of its own (:attr:`Session.commit_lsn`). A read with
``after=`` that position goes to a replica the last measure shows has replayed it; else
to the one that had replayed most, where the statement that sets the context also asks
``pg_last_wal_replay_lsn() >= after`` (same round trip), and, when not yet, asks again every
few milliseconds up to ``replay_wait``; then the primary. Later statements of a READ
COMMITTED transaction take their snapshots after the answer, so they see the write; under
another isolation the snapshot was taken by that very statement, so only a replica known to
have replayed it beforehand (or the primary) serves it.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any, LiteralString, TypeVar

import psycopg
from psycopg import pq
from psycopg_pool import ConnectionPool

from pgwarden.db._lag import format_lsn, parse_lsn, settled
from pgwarden.db._replicas import Replicas
from pgwarden.db._session import (
    RETRYABLE,
    Context,
    Session,
    _set_context,
    begin_context,
    open_session,
)

T = TypeVar("T")

_REPLAYED: LiteralString = (
    "select pg_last_wal_replay_lsn() >= %s::pg_lsn,"
    " current_setting('transaction_isolation') = 'read committed'"
)
_STILL: LiteralString = "select pg_last_wal_replay_lsn() >= %s::pg_lsn"
_COMMIT: LiteralString = "commit; select pg_current_wal_insert_lsn()::text"


@contextmanager
def open_read_session(
    replicas: Replicas | None,
    primary: ConnectionPool[Any],
    context: Context,
    key: bytes | None = None,
    *,
    after: str | None = None,
    avoid: frozenset[int] = frozenset(),
) -> Iterator[Session]:
    """A read-only transaction with ``context`` set, on a usable replica (one that has
    replayed ``after``, a :attr:`Session.commit_lsn`, when given) or else the primary; the
    replicas in ``avoid`` (indexes) are not tried."""
    with ExitStack() as stack:
        session = None
        if replicas is not None:
            session = _on_replica(stack, replicas, context, key, after, avoid)
        if session is None:
            session = stack.enter_context(open_session(primary, context, key, read_only=True))
        yield session


def _on_replica(
    stack: ExitStack,
    replicas: Replicas,
    context: Context,
    key: bytes | None,
    after: str | None,
    avoid: frozenset[int],
) -> Session | None:
    target = None if after is None else settled(parse_lsn(after), replicas.block_size)
    position = None if target is None else format_lsn(target)
    deadline = time.monotonic() + replicas.replay_wait
    for index in replicas.candidates(target, avoid):
        known = target is None or replicas.has_replayed(index, target)
        probe = None if known else (_REPLAYED, (position,))
        attempt = ExitStack()
        try:
            conn = attempt.enter_context(replicas.pool(index).connection())
            # A standby refuses writes by itself (the same ReadOnlySqlTransaction): no
            # SET TRANSACTION READ ONLY to send there.
            binding, row = begin_context(conn, context, key, probe=probe)
            if not known and not (row[1] and (row[0] or _wait(conn, position, deadline))):
                attempt.close()  # not replayed in time (or not provably): the next, or the primary
                continue
        except psycopg.OperationalError as exc:  # refused, restarting, gone: not the caller's
            replicas.mark_down(index, exc)
            attempt.__exit__(type(exc), exc, exc.__traceback__)
            continue
        except BaseException as exc:
            attempt.__exit__(type(exc), exc, exc.__traceback__)
            raise
        stack.enter_context(attempt)
        return Session(conn, context, binding, server=replicas.names[index])
    return None


def _wait(conn: psycopg.Connection[Any], position: str | None, deadline: float) -> bool:
    """Ask the replica every few milliseconds whether it has replayed ``position``, until
    the deadline."""
    pause = 0.002
    while time.monotonic() + pause < deadline:
        time.sleep(pause)
        row = conn.execute(_STILL, (position,)).fetchone()
        if row is not None and row[0]:
            return True
        pause = min(pause * 2, 0.02)
    return False


def run_read(
    replicas: Replicas | None,
    primary: ConnectionPool[Any],
    context: Context,
    work: Callable[[Session], T],
    *,
    after: str | None = None,
    retries: int = 5,
    base_delay: float = 0.02,
    key: bytes | None = None,
) -> T:
    """Run ``work`` in a read-only session (:func:`open_read_session`), again when it fails
    with a serialization failure (a standby's "canceling statement due to conflict with
    recovery" is one), a deadlock, or, on a replica, a lost connection: then on another
    replica, or the primary, never on the one that failed. On the primary it is
    :func:`pgwarden.db.run_with_retry`'s loop."""
    attempt = 0
    avoid: frozenset[int] = frozenset()
    while True:
        server = "primary"
        try:
            with open_read_session(
                replicas, primary, context, key, after=after, avoid=avoid
            ) as session:
                server = session.server
                return work(session)
        except (*RETRYABLE, psycopg.OperationalError) as exc:
            if server == "primary" and not isinstance(exc, RETRYABLE):
                raise
            attempt += 1
            if attempt > retries:
                raise
            if server != "primary" and replicas is not None:
                index = replicas.names.index(server)
                avoid |= {index}
                if not isinstance(exc, RETRYABLE):
                    replicas.mark_down(index, exc)
                continue  # elsewhere at once: the conflict was that replica's
            time.sleep(random.uniform(0, base_delay * 2**attempt))


@contextmanager
def open_tracked_session(
    pool: ConnectionPool[Any], context: Context, key: bytes | None = None
) -> Iterator[Session]:
    """:func:`pgwarden.db.open_session` that commits with ``COMMIT; SELECT
    pg_current_wal_insert_lsn()`` (one message, one round trip) and keeps the position in
    :attr:`Session.commit_lsn`: a replica that has replayed it has this transaction."""
    with pool.connection() as conn:
        session = Session(conn, context, _set_context(conn, context, key))
        yield session
        if conn.info.transaction_status == pq.TransactionStatus.INTRANS:
            cursor = conn.execute(_COMMIT)
            cursor.nextset()
            row = cursor.fetchone()
            session.commit_lsn = None if row is None else str(row[0])
