"""Transaction-scoped session context: who acts, for which tenant, why, in which request.

The context is set with ``set_config(name, value, true)``, i.e. for the current transaction
only, so a pooled connection (or one behind PgBouncer in transaction mode) never carries one
caller's identity into the next caller's transaction. psql users set the same names with
``SET LOCAL pgwarden.actor = '...'``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql
from psycopg_pool import ConnectionPool

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
    """One transaction with its context set. Use :meth:`execute` like a psycopg connection."""

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
    with pool.connection() as conn, conn.transaction():
        conn.execute(_SET_CONTEXT, context.values())
        yield Session(conn, context)


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
