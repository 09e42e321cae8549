"""The Python entry point: :class:`Warden`."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from psycopg_pool import ConnectionPool

from pgwarden import __version__
from pgwarden._lifecycle import RowLifecycle
from pgwarden._names import QualifiedName
from pgwarden.catalog import Catalog, read_catalog
from pgwarden.config import Target, load_config, resolve_target
from pgwarden.db import APPLICATION_NAME, Context, Session, connect, open_session, run_with_retry
from pgwarden.engine import ApplyResult, Change, Plan, Status, apply_plan, build_plan, read_status
from pgwarden.features import REGISTRY, Feature
from pgwarden.features.audit import _runtime as audit
from pgwarden.features.audit import wal_declared
from pgwarden.features.audit._runtime import Event, KeyLike, Version
from pgwarden.features.audit._wal import Ingested
from pgwarden.features.audit._wal import ingest as ingest_wal
from pgwarden.ops.monitor import Monitor
from pgwarden.spec import Spec

T = TypeVar("T")


def _when(value: dt.datetime | str) -> dt.datetime:
    """A time from a datetime or an ISO 8601 string; naive times are taken as UTC."""
    when = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def embedded_data_dir(spec: Spec) -> Path:
    """``[server] data_dir``, relative to the declaration file's folder (or the cwd)."""
    base = spec.path.parent if spec.path is not None else Path.cwd()
    return base / spec.server.data_dir


def embedded_url(spec: Spec) -> str:
    """Start the embedded server if needed, create ``[server] database`` if missing, and
    return its URL."""
    from psycopg import sql

    from pgwarden.server import EmbeddedServer

    status = EmbeddedServer(embedded_data_dir(spec)).ensure_running()
    name = spec.server.database
    with connect(status.url("postgres"), autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return status.url(name)


class Warden(RowLifecycle):
    """pgwarden bound to one database and one declaration.

    Build it from the configuration (file + environment)::

        warden = Warden.from_config()            # ./pgwarden.toml, env URL or embedded server
        print(warden.plan().changes)
        warden.apply()

    and run application work with a session context that the database's triggers see::

        with warden.session(actor="user:42", reason="import") as db:
            db.execute("update entries set count_value = 3 where entry_id = %s", [42])

    Soft delete, archive, partitions and maintenance (``restore``, ``purge``, ``archive``,
    ``maintain``...) come from :class:`pgwarden._lifecycle.RowLifecycle`.

    A ``Warden`` owns a small connection pool, opened on first use; ``close()`` it (or use it
    as a context manager) when done.
    """

    def __init__(
        self,
        url: str,
        *,
        spec: Spec | None = None,
        target: Target | None = None,
        features: Mapping[str, Feature] | None = None,
        pool_size: int = 10,
    ):
        self.url = url
        self.spec = spec or Spec.empty()
        self.target = target or Target(url, "argument")
        self.features = dict(features or REGISTRY)
        self._pool_size = pool_size
        self._pool: ConnectionPool[Any] | None = None
        self._pool_lock = threading.Lock()

    @classmethod
    def from_config(
        cls,
        path: str | Path | None = None,
        *,
        url: str | None = None,
        environ: Mapping[str, str] | None = None,
        pool_size: int = 10,
    ) -> Warden:
        """Read ``pgwarden.toml`` (or ``path``) and find the database: ``url`` if given, then
        ``PGWARDEN_DATABASE_URL``, ``DATABASE_URL``, the file's ``[database] url``, and last
        the embedded server (started if needed)."""
        spec = load_config(Path(path) if path is not None else None)
        target = resolve_target(spec, url=url, environ=environ)
        resolved = target.url or embedded_url(spec)
        return cls(resolved, spec=spec, target=target, pool_size=pool_size)

    # -- connections ---------------------------------------------------------------------

    @property
    def pool(self) -> ConnectionPool[Any]:
        """The connection pool used by :meth:`session` and :meth:`run` (opened lazily)."""
        with self._pool_lock:  # threads racing on first use must share one pool
            if self._pool is None:
                self._pool = ConnectionPool(
                    self.url,
                    min_size=1,
                    max_size=self._pool_size,
                    kwargs={"application_name": APPLICATION_NAME},
                    open=True,
                    name="pgwarden",
                )
            return self._pool

    def connect(self, *, autocommit: bool = False) -> psycopg.Connection[Any]:
        """A new connection of its own (not from the pool); the caller closes it."""
        return connect(self.url, autocommit=autocommit)

    @contextmanager
    def session(
        self,
        *,
        actor: str | None = None,
        tenant: str | None = None,
        reason: str | None = None,
        request_id: str | None = None,
    ) -> Iterator[Session]:
        """A transaction from the pool with ``pgwarden.actor`` / ``tenant`` / ``reason`` /
        ``request_id`` set for that transaction only. Commits when the block ends normally,
        rolls back on an exception."""
        context = Context(actor=actor, tenant=tenant, reason=reason, request_id=request_id)
        with open_session(self.pool, context) as session:
            yield session

    def run(
        self,
        work: Callable[[Session], T],
        *,
        actor: str | None = None,
        tenant: str | None = None,
        reason: str | None = None,
        request_id: str | None = None,
        retries: int = 5,
    ) -> T:
        """Run ``work(session)`` in a session, re-running it with jittered backoff when the
        transaction fails with a serialization failure or a deadlock. ``work`` must be safe to
        run again (its earlier attempt was rolled back)."""
        context = Context(actor=actor, tenant=tenant, reason=reason, request_id=request_id)
        return run_with_retry(self.pool, context, work, retries=retries)

    # -- declaration -> database ---------------------------------------------------------

    def catalog(self) -> Catalog:
        """A snapshot of the database's tables and server facts."""
        with self.connect(autocommit=True) as conn:
            return read_catalog(conn)

    def plan(self, *, only: Collection[QualifiedName] | None = None) -> Plan:
        """The changes that would make the database match the declaration (reads only).

        ``only`` limits the plan to those tables; what pgwarden owns elsewhere is left alone.
        """
        with self.connect(autocommit=True) as conn:
            return build_plan(conn, self.spec, self.features, only=only)

    def apply(
        self,
        *,
        expected: str | None = None,
        on_change: Callable[[Change], None] | None = None,
        only: Collection[QualifiedName] | None = None,
    ) -> ApplyResult:
        """Apply the plan (computed again under pgwarden's apply lock).

        Pass ``expected=plan.fingerprint`` to refuse running anything but the plan that was
        reviewed, and ``only`` as given to :meth:`plan`. Idempotent: a second call finds
        nothing to do.
        """
        with self.connect(autocommit=True) as conn:
            return apply_plan(
                conn,
                self.spec,
                self.features,
                expected=expected,
                on_change=on_change,
                version=__version__,
                only=only,
            )

    def status(self) -> Status:
        """What pgwarden owns in the database, drift, and pending changes."""
        with self.connect(autocommit=True) as conn:
            return read_status(conn, self.spec, self.features)

    # -- audit trail and time travel (reads use the pool: one connection, reused) ------------

    def ingest_audit(self) -> Ingested:
        """Write the events of every transaction committed so far on tables captured from the
        WAL (``capture = "wal"``). The reads below call it first, so they see every committed
        change; the worker and ``pgwarden audit ingest`` call it for SQL readers."""
        with self.connect(autocommit=True) as conn:
            return ingest_wal(conn)

    def _fresh(self) -> None:
        if wal_declared(self.spec):
            self.ingest_audit()

    def history(self, table: str, key: KeyLike) -> list[Version]:
        """Every version of one row of an audited table, oldest first: values, validity
        range, operation, who and why. ``key`` is the key value (a tuple for composite keys).
        Version 0, when present, is the row as it was before auditing began."""
        self._fresh()
        with self.pool.connection() as conn:
            return audit.history(conn, table, key)

    def as_of(self, table: str, at: dt.datetime | str) -> list[dict[str, Any]]:
        """The whole table as it was at ``at``, one dict per row."""
        self._fresh()
        with self.pool.connection() as conn:
            return audit.as_of(conn, table, _when(at))

    def diff(
        self, table: str, key: KeyLike, old: int, new: int | None = None
    ) -> dict[str, tuple[Any, Any]]:
        """``{column: (old value, new value)}`` between two versions of a row."""
        self._fresh()
        with self.pool.connection() as conn:
            return audit.diff(conn, table, key, old, new)

    def revert(
        self,
        table: str,
        key: KeyLike,
        *,
        to: int | dt.datetime | str,
        actor: str | None = None,
        reason: str | None = None,
    ) -> dict[str, Any] | None:
        """Put one row back as it was in version ``to`` (an int) or at time ``to``: updated,
        deleted, or brought back (undelete). The revert is itself audited, with ``actor``
        and ``reason``. Returns the restored values (None: the row is now absent)."""
        target: int | dt.datetime = to if isinstance(to, int) else _when(to)
        why = reason or f"revert {table} {key!r} to {to}"
        self._fresh()
        with self.session(actor=actor, reason=why) as db:
            return audit.revert(db.connection, table, key, target)

    def revert_transaction(
        self, txid: int, *, actor: str | None = None, reason: str | None = None
    ) -> list[tuple[str, Any, str]]:
        """Undo everything transaction ``txid`` changed, in one new (audited) transaction.
        Refuses, changing nothing, when a later transaction changed the same rows."""
        why = reason or f"revert transaction {txid}"
        self._fresh()
        with self.session(actor=actor, reason=why) as db:
            return audit.revert_transaction(db.connection, txid)

    def changes(
        self, after: tuple[int, int] = (0, 0), *, limit: int = 1000, table: str | None = None
    ) -> list[Event]:
        """The change feed: events after position ``after`` in a stable order that never
        skips a transaction committing late. Resume with the last event's ``position``."""
        self._fresh()
        with self.pool.connection() as conn:
            return audit.changes(conn, after, limit=limit, table=table)

    def log(
        self,
        *,
        table: str | None = None,
        actor: str | None = None,
        since: dt.datetime | str | None = None,
        limit: int = 100,
    ) -> list[Event]:
        """Recent audit events, newest first."""
        self._fresh()
        with self.pool.connection() as conn:
            return audit.log(
                conn,
                table=table,
                actor=actor,
                since=_when(since) if since is not None else None,
                limit=limit,
            )

    def prune_audit(self, *, batch: int = 10_000) -> int:
        """Delete audit events older than each table's ``retention``, in batches of
        ``batch`` (each its own short transaction); returns how many were deleted."""
        with self.connect(autocommit=True) as conn:
            return audit.prune(conn, batch=batch)

    @cached_property
    def monitor(self) -> Monitor:
        """Health checks, query history and live activity: :class:`pgwarden.ops.monitor.Monitor`."""
        return Monitor(self)

    def close(self) -> None:
        with self._pool_lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None

    def __enter__(self) -> Warden:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
