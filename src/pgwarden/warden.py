"""The Python entry point: :class:`Warden`."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from psycopg_pool import ConnectionPool

from pgwarden import __version__
from pgwarden._names import QualifiedName
from pgwarden.catalog import Catalog, read_catalog
from pgwarden.config import Target, load_config, resolve_target
from pgwarden.db import APPLICATION_NAME, Context, Session, connect, open_session, run_with_retry
from pgwarden.engine import ApplyResult, Change, Plan, Status, apply_plan, build_plan, read_status
from pgwarden.features import REGISTRY, Feature
from pgwarden.features.audit import _runtime as audit
from pgwarden.features.audit._runtime import Event, KeyLike, Version
from pgwarden.features.soft_delete import _runtime as soft_delete
from pgwarden.features.soft_delete._foreign_keys import (
    CascadeKey,
    ForeignKeyError,
    cascading_keys,
    restrict,
)
from pgwarden.features.soft_delete._runtime import Restored
from pgwarden.maintenance import Job, JobResult, Progress, collect_jobs, run_jobs
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


class Warden:
    """pgwarden bound to one database and one declaration.

    Build it from the configuration (file + environment)::

        warden = Warden.from_config()            # ./pgwarden.toml, env URL or embedded server
        print(warden.plan().changes)
        warden.apply()

    and run application work with a session context that the database's triggers see::

        with warden.session(actor="user:42", reason="import") as db:
            db.execute("update entries set count_value = 3 where entry_id = %s", [42])

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

    def history(self, table: str, key: KeyLike) -> list[Version]:
        """Every version of one row of an audited table, oldest first: values, validity
        range, operation, who and why. ``key`` is the key value (a tuple for composite keys).
        Version 0, when present, is the row as it was before auditing began."""
        with self.pool.connection() as conn:
            return audit.history(conn, table, key)

    def as_of(self, table: str, at: dt.datetime | str) -> list[dict[str, Any]]:
        """The whole table as it was at ``at``, one dict per row."""
        with self.pool.connection() as conn:
            return audit.as_of(conn, table, _when(at))

    def diff(
        self, table: str, key: KeyLike, old: int, new: int | None = None
    ) -> dict[str, tuple[Any, Any]]:
        """``{column: (old value, new value)}`` between two versions of a row."""
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
        with self.session(actor=actor, reason=why) as db:
            return audit.revert(db.connection, table, key, target)

    def revert_transaction(
        self, txid: int, *, actor: str | None = None, reason: str | None = None
    ) -> list[tuple[str, Any, str]]:
        """Undo everything transaction ``txid`` changed, in one new (audited) transaction.
        Refuses, changing nothing, when a later transaction changed the same rows."""
        why = reason or f"revert transaction {txid}"
        with self.session(actor=actor, reason=why) as db:
            return audit.revert_transaction(db.connection, txid)

    def changes(
        self, after: tuple[int, int] = (0, 0), *, limit: int = 1000, table: str | None = None
    ) -> list[Event]:
        """The change feed: events after position ``after`` in a stable order that never
        skips a transaction committing late. Resume with the last event's ``position``."""
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

    # -- soft delete ---------------------------------------------------------------------------

    def restore(self, table: str, key: KeyLike, *, actor: str | None = None) -> Restored:
        """Bring a soft-deleted row back, with exactly the rows its delete cascaded to (rows
        deleted separately stay deleted). Refuses, changing nothing, when the row references
        a row that is still deleted. A live row is left as is (``Restored.total == 0``)."""
        with self.session(actor=actor, reason="restore") as db:
            return soft_delete.restore(db.connection, self.spec, table, key)

    def hard_delete(self, table: str, key: KeyLike, *, actor: str | None = None) -> int:
        """Really delete one row of a soft-deletable table (foreign keys act as declared).
        Needs EXECUTE on ``warden.allow_hard_delete()``; returns the rows deleted."""
        with self.session(actor=actor, reason="hard delete") as db:
            return soft_delete.hard_delete(db.connection, self.spec, table, key)

    def purge(
        self,
        *,
        only: Collection[QualifiedName] | None = None,
        dry_run: bool = False,
        now: dt.datetime | None = None,
        batch: int = 10_000,
    ) -> list[JobResult]:
        """Hard-delete rows soft-deleted longer ago than their table's ``purge`` age, in
        batches (the ``purge`` jobs of :meth:`maintain`)."""
        return self.maintain(only=only, names=["purge"], dry_run=dry_run, now=now, batch=batch)

    def cascading_keys(self) -> list[CascadeKey]:
        """ON DELETE CASCADE foreign keys into tables that keep history (declare audit,
        versioning, soft_delete or archive): deleting a parent silently deletes them."""
        return cascading_keys(self.catalog(), self.spec)

    def restrict_foreign_key(self, table: str, constraint: str) -> bool:
        """Convert one ON DELETE CASCADE key of ``table`` to RESTRICT, online: added NOT
        VALID, validated while writes go on, swapped in a short transaction (lock_timeout
        and retries from the declaration). Safe to run again after an interruption; returns
        False when the key was RESTRICT already."""
        name = QualifiedName.parse(table)
        with self.connect(autocommit=True) as conn:
            catalog = read_catalog(conn)
            found = catalog.get(name)
            fks = found.foreign_keys if found else ()
            fk = next((f for f in fks if f.name == constraint), None)
            if fk is None:
                raise ForeignKeyError(f"{name} has no foreign key {constraint!r}")
            if fk.on_delete == "RESTRICT":
                return False
            if fk.on_delete != "CASCADE":
                raise ForeignKeyError(f"{name} {constraint} is ON DELETE {fk.on_delete}")
            restrict(
                conn, self.spec, catalog, CascadeKey(name, fk.name, fk.references, fk.columns, ())
            )
            return True

    # -- archive -------------------------------------------------------------------------------

    def archive(
        self,
        table: str | None = None,
        *,
        dry_run: bool = False,
        now: dt.datetime | None = None,
        batch: int = 10_000,
        wait: bool = False,
        progress: Callable[[Job], Progress] | None = None,
    ) -> list[JobResult]:
        """Move rows older than each table's ``archive.after`` into its archive table (the
        ``archive`` jobs of :meth:`maintain`; ``table``: only that one).

        Batches of about ``batch`` rows, each one transaction (DELETE ... RETURNING feeding
        an INSERT), so a crash or kill at any moment loses and duplicates nothing; rows locked
        by the application are skipped, not waited for, and left for the next run. Whole
        partitions of a range-partitioned table that lie entirely before the cutoff are
        detached and attached to the archive instead of copied. ``dry_run`` only counts the
        rows that would move. ``now`` is the clock the cutoff is measured from (default: now).
        The batches run with ``pgwarden.reason = 'archive'``, so an audited table's trail shows
        the moves as archive deletes; ``archived_by`` is ``pgwarden.actor`` or ``pgwarden``.
        Raises ``MaintenanceBusy`` when another maintenance run holds the lock (unless
        ``wait``), ``MaintenanceError`` when a batch fails (earlier batches stay committed).
        """
        only = [QualifiedName.parse(table)] if table is not None else None
        return self.maintain(
            only=only,
            names=["archive"],
            dry_run=dry_run,
            now=now,
            batch=batch,
            wait=wait,
            progress=progress,
        )

    def restore_archived(
        self,
        table: str,
        key: Any = None,
        where: str | None = None,
        *,
        batch: int = 10_000,
        progress: Progress | None = None,
    ) -> int:
        """Move archived rows of ``table`` back into it; returns how many came back.

        Give either ``key`` (one primary key value, or a tuple for a composite key) or
        ``where``, a SQL predicate on the archive table (the source's columns plus
        ``archived_at``, ``archived_by``, ``archive_reason``), e.g.
        ``where="user_id = 7 and entry_date >= '2023-01-01'"``. ``where`` is run as SQL: pass
        only your own, never text from an application's users. Batches of ``batch`` rows,
        one transaction each (a kill loses nothing); the restore's transactions carry
        ``pgwarden.reason = 'archive restore'``. A restored row whose key is live again stops
        the restore with ``MaintenanceError`` naming the key (earlier batches stay restored).
        Identity values are kept; generated columns are recomputed.
        """
        from pgwarden.features.archive._api import restore_declared

        with self.connect(autocommit=True) as conn:
            return restore_declared(
                conn, self.spec, table, key=key, where=where, batch=batch, progress=progress
            )

    # -- maintenance -------------------------------------------------------------------------

    def jobs(
        self,
        *,
        only: Collection[QualifiedName] | None = None,
        names: Collection[str] | None = None,
    ) -> list[Job]:
        """The maintenance jobs the declaration implies, in the order ``maintain`` runs them."""
        with self.connect(autocommit=True) as conn:
            return collect_jobs(
                self.spec, read_catalog(conn), self.features, only=only, names=names
            )

    def maintain(
        self,
        *,
        only: Collection[QualifiedName] | None = None,
        names: Collection[str] | None = None,
        dry_run: bool = False,
        now: dt.datetime | None = None,
        batch: int = 10_000,
        wait: bool = False,
        progress: Callable[[Job], Progress] | None = None,
        on_result: Callable[[JobResult], None] | None = None,
    ) -> list[JobResult]:
        """Run every due maintenance job (purge, archive, retention...), each in batches of
        ``batch`` rows, one short transaction per batch. ``dry_run`` counts what would be
        done and changes nothing. One runner per database: raises ``MaintenanceBusy`` when
        another holds the lock, unless ``wait``. Does nothing on a standby."""
        with self.connect(autocommit=True) as conn:
            jobs = collect_jobs(
                self.spec, read_catalog(conn), self.features, only=only, names=names
            )
            return run_jobs(
                conn,
                self.spec,
                jobs,
                now=now,
                dry_run=dry_run,
                batch=batch,
                progress=progress,
                on_result=on_result,
                connect=lambda: self.connect(autocommit=True),
                wait=wait,
            )

    # -- partitions ----------------------------------------------------------------------------

    def partitions(self, table: str | None = None) -> list[Any]:
        """Partitioned tables (or ``table``): partitions, bounds, rows, sizes, gaps, rows
        in the default partition; tables pg_partman manages are flagged and left alone."""
        from pgwarden.features.partition._report import report

        name = QualifiedName.parse(table) if table else None
        with self.connect(autocommit=True) as conn:
            return report(conn, self.spec, name)

    def convert_to_partitioned(
        self,
        table: str,
        *,
        batch: int = 10_000,
        progress: Callable[[str, int, int | None], None] | None = None,
        dry_run: bool = False,
    ) -> Any:
        """Convert plain ``table`` to the partitioned table its ``partition`` declaration
        describes, while it stays writable; resumable (run it again after a crash). See
        ``docs/partitions.md``. ``dry_run`` returns the steps and checks, changing nothing."""
        from pgwarden.features.partition._convert import convert

        with self.connect(autocommit=True) as conn:
            return convert(
                conn,
                self.spec,
                QualifiedName.parse(table),
                batch=batch,
                progress=progress,
                dry_run=dry_run,
            )

    def close(self) -> None:
        with self._pool_lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None

    def __enter__(self) -> Warden:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
