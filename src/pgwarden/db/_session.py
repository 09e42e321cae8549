"""Transaction-scoped session context: who acts, for which tenant, why, in which request.

The context is set with ``set_config(name, value, true)``, i.e. for the current transaction
only, so a pooled connection (or one behind PgBouncer in transaction mode) never carries one
caller's identity into the next caller's transaction. psql users set the same names with
``SET LOCAL pgwarden.actor = '...'``.
"""

from __future__ import annotations

import hmac
import os
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

T = TypeVar("T")

SETTINGS = ("actor", "tenant", "reason", "request_id")
"""Names under the ``pgwarden.`` prefix; empty string means "not set" (PostgreSQL keeps ''
after a transaction-local placeholder ends, so readers must treat '' as NULL)."""

_SET_CONTEXT = (
    "select set_config('pgwarden.actor', %s, true), set_config('pgwarden.tenant', %s, true),"
    " set_config('pgwarden.reason', %s, true), set_config('pgwarden.request_id', %s, true)"
)

NONCE_SQL: LiteralString = (
    "pg_backend_pid(), (extract(epoch from transaction_timestamp()) * 1000000)::bigint"
)
"""Two columns for a transaction's first statement: what a signed tenant's MAC binds (the
backend and the transaction's start, which ``warden.tenant()`` reads too). See
:func:`context_statement`."""

# With a tenant and a key: the context, and the nonce, in the same round trip.
_SET_CONTEXT_NONCE = _SET_CONTEXT + ", " + NONCE_SQL
_SET_MAC = "select set_config('pgwarden.tenant_mac', %s, true)"
_SET_CONTEXT_SIGNED = _SET_CONTEXT + ", set_config('pgwarden.tenant_mac', %s, true)"

TENANT_KEY_ENV = "PGWARDEN_TENANT_KEY"
"""Environment variable holding the tenancy key (hex), for applications whose role cannot
read it from the database (``pgwarden tenancy key`` prints it)."""

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


def tenant_mac(key: bytes, backend_pid: int, started_us: int, tenant: str) -> str:
    """The MAC ``warden.tenant()`` expects: HMAC-SHA256 of ``pid:start:tenant``, hex."""
    message = f"{backend_pid}:{started_us}:{tenant}".encode()
    return hmac.new(key, message, "sha256").hexdigest()


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
    return _SET_CONTEXT, context.values()


def tenant_key_from_env(environ: dict[str, str] | None = None) -> bytes | None:
    """The tenancy key from ``PGWARDEN_TENANT_KEY`` (hex), or None."""
    value = (environ if environ is not None else os.environ).get(TENANT_KEY_ENV)
    return bytes.fromhex(value.strip()) if value else None


def read_tenant_key(conn: psycopg.Connection[Any]) -> bytes | None:
    """The tenancy key from ``warden.secrets``, or None when there is none or this role may
    not read it (an application role never may)."""
    try:
        with conn.transaction():
            row = conn.execute(
                "select value from warden.secrets where name = 'tenancy_key'"
            ).fetchone()
    except (pg_errors.InsufficientPrivilege, pg_errors.UndefinedTable, pg_errors.InvalidSchemaName):
        return None
    return bytes.fromhex(row[0]) if row else None


_SET_TENANT = (
    "select set_config('pgwarden.tenant', %s, true), pg_backend_pid(),"
    " (extract(epoch from transaction_timestamp()) * 1000000)::bigint"
)


_SET_SIGNED = (
    "select set_config('pgwarden.tenant', %s, true), set_config('pgwarden.tenant_mac', %s, true)"
)


def set_tenant(
    conn: psycopg.Connection[Any],
    tenant: str,
    key: bytes | None,
    nonce: tuple[int, int] | None = None,
) -> None:
    """In the transaction ``conn`` is in, act for ``tenant`` from the next statement on,
    signed with ``key`` (the application's: it may sign any tenant, so only its own code,
    never a request's SQL, decides when). ``nonce``: the transaction's (backend pid, start
    in microseconds) when known (:attr:`Session.nonce`): one round trip instead of two."""
    if nonce is not None and key:
        conn.execute(_SET_SIGNED, (tenant, tenant_mac(key, nonce[0], nonce[1], tenant)))
        return
    with conn.pipeline():
        row = conn.execute(_SET_TENANT, (tenant,)).fetchone()
        assert row is not None
        mac = tenant_mac(key, row[1], row[2], tenant) if key else ""
        conn.execute(_SET_MAC, (mac,))


class Session:
    """One transaction with its context set. Use :meth:`execute` like a psycopg connection;
    the block's end commits (never ``connection.commit()`` inside: what followed would run in
    a new transaction, without the context)."""

    def __init__(
        self,
        connection: psycopg.Connection[Any],
        context: Context,
        nonce: tuple[int, int] | None = None,
    ):
        self.connection = connection
        self.context = context
        self.nonce = nonce
        """What a signed tenant's MAC binds (backend pid, transaction start in microseconds),
        when the session signed one: :func:`set_tenant` reuses it."""

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
    pool: ConnectionPool[Any], context: Context, key: bytes | None = None
) -> Iterator[Session]:
    """Borrow a connection, open a transaction, set the context; commit on success. With a
    tenant and the tenancy ``key``, the tenant is signed for this transaction (a second round
    trip: the MAC binds the backend and the transaction start, known only once it began)."""
    # The pool's block commits on success and rolls back on an exception. BEGIN (psycopg's,
    # implicit) and the context go in one round trip through a pipeline, not two: a request
    # doing two statements waits on the server a quarter less. (The whole block in pipeline
    # mode, the MAC riding with the first statement, measured no faster: 2.43 vs 2.45 ms
    # p50 per Kitaab entry, calls interleaved.)
    with pool.connection() as conn:
        with conn.pipeline():
            nonce = _set_context(conn, context, key)
        yield Session(conn, context, nonce)


def _set_context(
    conn: psycopg.Connection[Any], context: Context, key: bytes | None
) -> tuple[int, int] | None:
    """Queue the context's statements on ``conn``, in pipeline mode; with a tenant and a key,
    wait for the transaction's nonce and queue the MAC. Returns the nonce (or None)."""
    if not (context.tenant and key):
        conn.execute(_SET_CONTEXT, context.values())
        return None
    row = conn.execute(_SET_CONTEXT_NONCE, context.values()).fetchone()
    assert row is not None
    nonce = (int(row[4]), int(row[5]))
    conn.execute(_SET_MAC, (tenant_mac(key, *nonce, context.tenant),))
    return nonce


class AsyncSession:
    """:class:`Session` for asyncio: one transaction on an ``AsyncConnection`` with its context
    set; ``await session.execute(...)`` returns the psycopg async cursor."""

    def __init__(self, connection: psycopg.AsyncConnection[Any], context: Context):
        self.connection = connection
        self.context = context

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

    With a signed tenant the block runs in psycopg's pipeline mode: the MAC, which needs the
    answer of the first round trip, is sent with the block's first statement instead of on
    its own, so a one-statement request waits on the server three times (context, statement,
    commit), as without a tenant. Pipeline mode has no COPY; a statement's error is raised
    when its results are fetched."""
    async with pool.connection() as conn:
        if context.tenant and key:
            async with conn.pipeline():
                cur = await conn.execute(_SET_CONTEXT_NONCE, context.values())
                row = await cur.fetchone()
                assert row is not None
                # Queued, not waited for: it goes with the block's first statement.
                await conn.execute(_SET_MAC, (tenant_mac(key, row[4], row[5], context.tenant),))
                yield AsyncSession(conn, context)
        else:
            async with conn.pipeline():
                await conn.execute(_SET_CONTEXT, context.values())
            yield AsyncSession(conn, context)


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
