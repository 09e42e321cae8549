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
from typing import Any, TypeVar

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


class Session:
    """One transaction with its context set. Use :meth:`execute` like a psycopg connection;
    the block's end commits (never ``connection.commit()`` inside: what followed would run in
    a new transaction, without the context)."""

    def __init__(self, connection: psycopg.Connection[Any], context: Context):
        self.connection = connection
        self.context = context

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
def open_session(pool: ConnectionPool[Any], context: Context) -> Iterator[Session]:
    """Borrow a connection, open a transaction, set the context; commit on success."""
    # The pool's block commits on success and rolls back on an exception. BEGIN (psycopg's,
    # implicit) and the context go in one round trip through a pipeline, not two: a request
    # doing two statements waits on the server a quarter less.
    with pool.connection() as conn:
        with conn.pipeline():
            conn.execute(_SET_CONTEXT, context.values())
        yield Session(conn, context)


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
    pool: AsyncConnectionPool[Any], context: Context
) -> AsyncIterator[AsyncSession]:
    """:func:`open_session` for asyncio: the same transaction, context and single round trip
    to begin, on a connection of a psycopg ``AsyncConnectionPool`` (not in autocommit)."""
    async with pool.connection() as conn:
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
) -> T:
    """Run ``work`` in a session, re-running it on serialization failure or deadlock.

    ``work`` must be re-runnable: everything it did in a failed attempt was rolled back.
    Waits grow exponentially with full jitter so that colliding transactions spread out.
    """
    attempt = 0
    while True:
        try:
            with open_session(pool, context) as session:
                return work(session)
        except RETRYABLE:
            attempt += 1
            if attempt > retries:
                raise
            time.sleep(random.uniform(0, base_delay * 2**attempt))
