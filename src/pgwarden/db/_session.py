"""Transaction-scoped session context: who acts, for which tenant, why, in which request.

The context is set with ``set_config(name, value, true)``, i.e. for the current transaction
only, so a pooled connection (or one behind PgBouncer in transaction mode) never carries one
caller's identity into the next caller's transaction. psql users set the same names with
``SET LOCAL pgwarden.actor = '...'``.
"""

from __future__ import annotations

import random
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any, LiteralString, TypeVar

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql
from psycopg_pool import AsyncConnectionPool, ConnectionPool

from pgwarden.db._signing import (
    NONCE_SQL,
    SET_CONTEXT,
    SET_MAC,
    Signing,
    TenantBinding,
    tenant_mac,
)

T = TypeVar("T")

SETTINGS = ("actor", "tenant", "reason", "request_id")
"""Names under the ``pgwarden.`` prefix; empty string means "not set" (PostgreSQL keeps ''
after a transaction-local placeholder ends, so readers must treat '' as NULL)."""

_SET_CONTEXT_SIGNED: LiteralString = SET_CONTEXT + ", set_config('pgwarden.tenant_mac', %s, true)"

RETRYABLE = (pg_errors.SerializationFailure, pg_errors.DeadlockDetected)


@dataclass(frozen=True)
class Context:
    """Who is acting and why; every field optional."""

    actor: str | None = None
    tenant: str | None = None
    reason: str | None = None
    request_id: str | None = None

    def values(self) -> tuple[str, str, str, str]:
        return (self.actor or "", self.tenant or "", self.reason or "", self.request_id or "")


def context_statement(
    context: Context, key: bytes | None = None, nonce: tuple[int, int] | None = None
) -> tuple[str, tuple[str, ...]]:
    """The statement (and its parameters) that sets ``context`` for the rest of the current
    transaction, in one statement; the tenant signed with ``key`` when ``nonce`` is the
    transaction's (backend pid, start in microseconds), read by an earlier statement of the
    same transaction that selected :data:`NONCE_SQL`. For an application whose first
    statement is its own (a token lookup that says who the tenant is): it learns the nonce
    with it, then sends the context with its next statement, in a pipeline."""
    if context.tenant and key and nonce:
        return _SET_CONTEXT_SIGNED, (*context.values(), tenant_mac(key, *nonce, context.tenant))
    return SET_CONTEXT, context.values()


_SET_SIGNED = (
    "select set_config('pgwarden.tenant', %s, true), set_config('pgwarden.tenant_mac', %s, true)"
)
_SET_TENANT: LiteralString = "select set_config('pgwarden.tenant', %s, true), " + NONCE_SQL


def set_tenant(
    conn: psycopg.Connection[Any],
    tenant: str,
    key: bytes | None,
    binding: TenantBinding | None = None,
) -> None:
    """In the transaction ``conn`` is in, act for ``tenant`` from the next statement on,
    signed with ``key`` (the application's: it may sign any tenant, so only its own code,
    never a request's SQL, decides when). ``binding``: what the transaction's MAC is bound
    to, when known (:attr:`Session.binding`): one round trip instead of two."""
    if binding is not None and key:
        conn.execute(_SET_SIGNED, (tenant, binding.sign(key, tenant)))
        return
    with conn.pipeline():
        row = conn.execute(_SET_TENANT, (tenant,)).fetchone()
        assert row is not None
        mac = tenant_mac(key, row[1], row[2], tenant) if key else ""
        conn.execute(SET_MAC, (mac,))


class Session:
    """One transaction with its context set. Use :meth:`execute` like a psycopg connection;
    the block's end commits (never ``connection.commit()`` inside: what followed would run in
    a new transaction, without the context)."""

    def __init__(
        self,
        connection: psycopg.Connection[Any],
        context: Context,
        binding: TenantBinding | None = None,
        server: str = "primary",
    ):
        self.connection = connection
        self.context = context
        self.binding = binding
        """What the signed tenant's MAC is bound to, when the session signed one:
        :func:`set_tenant` signs another tenant for the same transaction with it."""
        self.server = server
        """Where the transaction runs: ``"primary"`` or a replica's ``host:port/dbname``."""
        self.commit_lsn: str | None = None
        """Once the block has committed, on a primary with replicas: the WAL position that
        holds the commit; ``after=`` of a read session that must see this transaction."""

    def execute(
        self,
        query: str | bytes | sql.SQL | sql.Composed,
        params: Sequence[Any] | dict[str, Any] | None = None,
    ) -> Any:
        """Run one statement in this session's transaction; returns the psycopg cursor."""
        return self.connection.execute(query, params)

    def cursor(self, **kw: Any) -> Any:
        return self.connection.cursor(**kw)


@contextmanager
def open_session(
    pool: ConnectionPool[Any],
    context: Context,
    key: bytes | None = None,
    *,
    read_only: bool = False,
) -> Iterator[Session]:
    """Borrow a connection, open a transaction, set the context; commit on success. With a
    tenant and the tenancy ``key``, the tenant is signed for this transaction: with ``BEGIN``
    in one round trip where the backend runs extension ``pgwarden_wal``, once the
    connection has seen its backend's binding (after the backend's first verification:
    usually from the connection's third transaction); otherwise a second round trip sends
    the MAC (see :mod:`pgwarden.db._signing`). ``read_only``: ``SET TRANSACTION READ ONLY``
    first, in the same round trip."""
    # The pool's block commits on success and rolls back on an exception. (The whole block
    # in pipeline mode, the MAC riding with the first statement, measured no faster: 2.43 vs
    # 2.45 ms p50 per Kitaab entry, calls interleaved.)
    with pool.connection() as conn:
        yield Session(conn, context, begin_context(conn, context, key, read_only=read_only)[0])


def _set_context(
    conn: psycopg.Connection[Any], context: Context, key: bytes | None
) -> TenantBinding | None:
    """Set ``context`` in ``conn``'s transaction: psycopg's implicit ``BEGIN`` and the
    context in one round trip (a request doing two statements waits on the server a quarter
    less than with two); with a tenant and a key, signed, and the MAC sent on its own when
    the one sent with the context cannot hold. Returns the MAC's binding (or None)."""
    return begin_context(conn, context, key)[0]


_READ_ONLY: LiteralString = "set transaction read only"


def begin_context(
    conn: psycopg.Connection[Any],
    context: Context,
    key: bytes | None,
    *,
    read_only: bool = False,
    probe: tuple[LiteralString, Sequence[Any]] | None = None,
) -> tuple[TenantBinding | None, Any]:
    """:func:`_set_context`, the transaction made read-only first when ``read_only``, and
    ``probe`` (a statement and its parameters) sent after the context in the same round
    trip. Returns the MAC's binding (or None) and the probe's first row (or None)."""
    probed = None
    if not (context.tenant and key):
        with conn.pipeline():
            if read_only:
                conn.execute(_READ_ONLY)
            conn.execute(SET_CONTEXT, context.values())
            if probe is not None:
                probed = conn.execute(*probe)
        return None, None if probed is None else probed.fetchone()
    signing = Signing.begin(conn, context.values(), context.tenant, key)
    with conn.pipeline():
        if read_only:
            conn.execute(_READ_ONLY)
        cursor = conn.execute(*signing.statement)
        if probe is not None:
            probed = conn.execute(*probe)
    binding, mac = signing.settle(cursor.fetchone())
    if mac is not None:
        conn.execute(SET_MAC, (mac,))
    return binding, None if probed is None else probed.fetchone()


class AsyncSession:
    """:class:`Session` for asyncio: one transaction on an ``AsyncConnection`` with its context
    set; ``await session.execute(...)`` returns the psycopg async cursor."""

    def __init__(
        self,
        connection: psycopg.AsyncConnection[Any],
        context: Context,
        binding: TenantBinding | None = None,
    ):
        self.connection = connection
        self.context = context
        self.binding = binding

    async def execute(
        self,
        query: str | bytes | sql.SQL | sql.Composed,
        params: Sequence[Any] | dict[str, Any] | None = None,
    ) -> Any:
        return await self.connection.execute(query, params)


@asynccontextmanager
async def open_async_session(
    pool: AsyncConnectionPool[Any], context: Context, key: bytes | None = None
) -> AsyncIterator[AsyncSession]:
    """:func:`open_session` for asyncio: the same transaction and context (signed with
    ``key``), on a connection of a psycopg ``AsyncConnectionPool`` (not in autocommit).

    When the signed tenant's MAC cannot go with ``BEGIN`` (see :func:`open_session`), the
    block runs in psycopg's pipeline mode: the MAC is sent with the block's first statement
    instead of on its own, so a one-statement request still waits on the server three times
    (context, statement, commit). Pipeline mode has no COPY; a statement's error is raised
    when its results are fetched."""
    async with pool.connection() as conn:
        if not (context.tenant and key):
            async with conn.pipeline():
                await conn.execute(SET_CONTEXT, context.values())
            yield AsyncSession(conn, context)
            return
        signing = Signing.begin(conn, context.values(), context.tenant, key)
        async with conn.pipeline():
            cursor = await conn.execute(*signing.statement)
        binding, mac = signing.settle(await cursor.fetchone())
        if mac is None:
            yield AsyncSession(conn, context, binding)
            return
        async with conn.pipeline():
            await conn.execute(SET_MAC, (mac,))  # queued: it goes with the first statement
            yield AsyncSession(conn, context, binding)


def run_with_retry(
    pool: ConnectionPool[Any],
    context: Context,
    work: Callable[[Session], T],
    *,
    retries: int = 5,
    base_delay: float = 0.02,
    key: bytes | None = None,
) -> T:
    """Run ``work`` in a session, re-running it on serialization failure or deadlock.

    ``work`` must be re-runnable: everything it did in a failed attempt was rolled back.
    Waits grow exponentially with full jitter so that colliding transactions spread out.
    """
    attempt = 0
    while True:
        try:
            with open_session(pool, context, key) as session:
                return work(session)
        except RETRYABLE:
            attempt += 1
            if attempt > retries:
                raise
            time.sleep(random.uniform(0, base_delay * 2**attempt))
