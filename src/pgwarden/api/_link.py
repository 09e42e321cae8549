"""One asynchronous connection per purpose, reopened on demand, that fails fast.

The probes, ``/metrics`` and the sampler each own a :class:`Link` rather than sharing a pool: a
pool would retry and back off while the server is down (so the first scrape after the server
died would wait instead of answering ``pg_up 0``), and after a restart it could take its
backoff's time to notice. A link tries once per use, with short timeouts.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import psycopg

from pgwarden.db import APPLICATION_NAME

T = TypeVar("T")

CONNECT_TIMEOUT = 3
"""Seconds to wait for a connection (libpq's minimum is 2)."""


class Unreachable(Exception):
    """The server did not answer (refused, closed, timed out); the message says how."""


class Link:
    """A connection used by one task at a time (callers queue on a lock)."""

    def __init__(self, url: str, purpose: str, *, statement_timeout: float = 5.0):
        self.url = url
        self.purpose = purpose
        self.statement_timeout = statement_timeout
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._lock: asyncio.Lock | None = None

    async def run(self, work: Callable[[psycopg.AsyncConnection[Any]], Awaitable[T]]) -> T:
        """``work(conn)`` on the open connection (opened first if needed). Raises
        :class:`Unreachable` when the server cannot be reached or the connection broke; other
        database errors (a missing view, a permission) pass through unchanged."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            try:
                conn = await self._open()
            except (psycopg.Error, TimeoutError) as exc:
                await self.close()
                raise Unreachable(_describe(exc)) from exc
            try:
                return await asyncio.wait_for(work(conn), self.statement_timeout + 1)
            except (psycopg.Error, TimeoutError) as exc:
                # A statement's own error (not preloaded, no permission, timeout) leaves an
                # autocommit connection usable; only a broken connection means unreachable.
                if isinstance(exc, TimeoutError) or conn.broken or conn.closed:
                    await self.close()
                    raise Unreachable(_describe(exc)) from exc
                raise

    async def _open(self) -> psycopg.AsyncConnection[Any]:
        if self._conn is not None and not self._conn.closed:
            return self._conn
        timeout_ms = int(self.statement_timeout * 1000)
        conn = await asyncio.wait_for(
            psycopg.AsyncConnection.connect(
                self.url,
                autocommit=True,
                connect_timeout=CONNECT_TIMEOUT,
                application_name=f"{APPLICATION_NAME} serve {self.purpose}",
                # A hung query must not hold the probe; a lock wait must not either.
                options=f"-c statement_timeout={timeout_ms} -c lock_timeout=1000",
            ),
            CONNECT_TIMEOUT + 1,
        )
        self._conn = conn
        return conn

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # already broken: nothing more to release
                await conn.close()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "the server did not answer in time"
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
