"""The Python entry point: :class:`Warden`."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar, overload

import psycopg
from psycopg_pool import ConnectionPool

from pgwarden import __version__
from pgwarden._names import QualifiedName
from pgwarden.catalog import Catalog, read_catalog
from pgwarden.config import Target, load_config, resolve_replicas, resolve_target
from pgwarden.db import (
    APPLICATION_NAME,
    Context,
    Replicas,
    Session,
    connect,
    open_read_session,
    open_session,
    open_tracked_session,
    read_tenant_key,
    run_read,
    run_with_retry,
    tenant_key_from_env,
)
from pgwarden.engine import ApplyResult, Change, Plan, Status, apply_plan, build_plan, read_status
from pgwarden.features import Feature, FeatureAPI, registered_features
from pgwarden.features.archive._api import ArchiveAPI
from pgwarden.features.audit._api import AuditAPI
from pgwarden.features.partition._api import PartitionsAPI
from pgwarden.features.soft_delete._api import SoftDeleteAPI
from pgwarden.maintenance import Job, JobResult, Progress, collect_jobs, run_jobs
from pgwarden.ops.monitor import Monitor
from pgwarden.spec import Spec

T = TypeVar("T")
A = TypeVar("A", bound=FeatureAPI)


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

    Each feature's Python API hangs off it by name: ``warden.audit.history(...)``,
    ``warden.soft_delete.restore(...)``, ``warden.archive.restore(...)``,
    ``warden.partitions.convert(...)``; a plug-in feature's as ``warden.api(TheirAPI)``.
    ``maintain()`` runs every due job the declaration implies.

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
        tenant_key: bytes | None = None,
        replicas: Sequence[str] = (),
    ):
        self.url = url
        self.replica_urls = tuple(replicas)
        self._replicas: Replicas | None = None
        self._tenant_key = tenant_key
        self.spec = spec or Spec.empty()
        self.target = target or Target(url, "argument")
        self.features = dict(features or registered_features())
        self._pool_size = pool_size
        self._pool: ConnectionPool[Any] | None = None
        self._pool_lock = threading.Lock()
        self._apis: dict[str, FeatureAPI] = {}

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
        replicas = resolve_replicas(spec, environ)
        resolved = target.url or embedded_url(spec)
        return cls(resolved, spec=spec, target=target, pool_size=pool_size, replicas=replicas)

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

    @property
    def tenant_key(self) -> bytes | None:
        """The key :meth:`session` signs a tenant with: given to the constructor, else
        ``$PGWARDEN_TENANT_KEY`` (hex), else read from the database when this connection's
        role may (an application role may not: give it the key). None: tenants go unsigned
        (seen by nothing under ``[tenancy] signed = true``)."""
        if self._tenant_key is None:
            self._tenant_key = tenant_key_from_env()
        if self._tenant_key is None:
            with self.connect(autocommit=True) as conn:
                self._tenant_key = read_tenant_key(conn) or b""
        return self._tenant_key or None

    def connect(self, *, autocommit: bool = False) -> psycopg.Connection[Any]:
        """A new connection of its own (not from the pool); the caller closes it."""
        return connect(self.url, autocommit=autocommit)

    @property
    def replicas(self) -> Replicas | None:
        """The replicas read-only sessions use (``[database] replicas``), their pools and
        measured lag; None without any. Measuring starts with the first read."""
        if not self.replica_urls:
            return None
        with self._pool_lock:
            if self._replicas is None:
                options = self.spec.database
                self._replicas = Replicas(
                    self.url,
                    self.replica_urls,
                    max_lag=options.max_lag.seconds,
                    replay_wait=options.replay_wait.seconds,
                    check_every=options.replica_check.seconds,
                    pool_size=self._pool_size,
                )
            return self._replicas

    def _context(
        self, actor: str | None, tenant: str | None, reason: str | None, request_id: str | None
    ) -> tuple[Context, bytes | None]:
        """A session's context and the key its tenant is signed with (None without one)."""
        context = Context(actor=actor, tenant=tenant, reason=reason, request_id=request_id)
        return context, self.tenant_key if tenant else None

    @contextmanager
    def session(
        self,
        *,
        actor: str | None = None,
        tenant: str | None = None,
        reason: str | None = None,
        request_id: str | None = None,
        readonly: bool = False,
        after: str | None = None,
    ) -> Iterator[Session]:
        """A transaction from the pool with ``pgwarden.actor`` / ``tenant`` / ``reason`` /
        ``request_id`` set for that transaction only. Commits when the block ends normally,
        rolls back on an exception.

        ``readonly``: a ``READ ONLY`` transaction, on a replica whose lag is within
        ``[database] max_lag`` when there is one, else on the primary (``session.server``
        says which). ``after``: a write's ``session.commit_lsn``: only a replica that has
        replayed it (waiting up to ``replay_wait``), else the primary. Without ``readonly``
        the primary, and with replicas ``session.commit_lsn`` is set once the block has
        committed. See docs/replicas.md."""
        context, key = self._context(actor, tenant, reason, request_id)
        if readonly:
            with open_read_session(self.replicas, self.pool, context, key, after=after) as session:
                yield session
        elif self.replica_urls:
            with open_tracked_session(self.pool, context, key) as session:
                yield session
        else:
            with open_session(self.pool, context, key) as session:
                yield session

    def read(
        self,
        work: Callable[[Session], T],
        *,
        actor: str | None = None,
        tenant: str | None = None,
        reason: str | None = None,
        request_id: str | None = None,
        after: str | None = None,
        retries: int = 5,
    ) -> T:
        """:meth:`run` for reads: ``work(session)`` in a ``readonly`` :meth:`session` (on a
        replica when one is usable; ``after`` as there), run again when a replica cancels
        it for a conflict with recovery or loses its connection (then elsewhere: another
        replica or the primary), or on a serialization failure or a deadlock."""
        context, key = self._context(actor, tenant, reason, request_id)
        return run_read(
            self.replicas, self.pool, context, work, after=after, retries=retries, key=key
        )

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
        context, key = self._context(actor, tenant, reason, request_id)
        return run_with_retry(self.pool, context, work, retries=retries, key=key)

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
        if self._tenant_key == b"":  # none before: this apply may make it
            self._tenant_key = None
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

    # -- features' Python APIs --------------------------------------------------------------

    @overload
    def api(self, which: type[A]) -> A: ...
    @overload
    def api(self, which: str) -> FeatureAPI: ...
    def api(self, which: type[A] | str) -> A | FeatureAPI:
        """The Python API of an installed feature, by its class (typed) or by its name on a
        ``Warden`` (``"audit"``, ``"partitions"``...). Built once per ``Warden``."""
        for name, feature in self.features.items():
            cls = feature.api
            if cls is None:
                continue
            if which is cls or which == (cls.attribute or name):
                found = self._apis.get(name)
                if found is None:
                    found = self._apis[name] = cls(self)
                return found
        raise AttributeError(f"no installed feature has the Python API {which!r}")

    def __getattr__(self, name: str) -> FeatureAPI:
        # A plug-in feature's API as an attribute (warden.search), like the built-in ones.
        if name.startswith("_"):
            raise AttributeError(name)
        return self.api(name)

    @property
    def audit(self) -> AuditAPI:
        """The audit trail: history, as-of, diff, revert, the change feed (``audit``)."""
        return self.api(AuditAPI)

    @property
    def soft_delete(self) -> SoftDeleteAPI:
        """Restore, hard delete, purge, foreign-key policy (``soft_delete``)."""
        return self.api(SoftDeleteAPI)

    @property
    def archive(self) -> ArchiveAPI:
        """Archive runs and restores (``archive``)."""
        return self.api(ArchiveAPI)

    @property
    def partitions(self) -> PartitionsAPI:
        """Partition reports and online conversion (``partition``)."""
        return self.api(PartitionsAPI)

    # -- maintenance ---------------------------------------------------------------------------

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
                features=self.features,
            )

    @cached_property
    def monitor(self) -> Monitor:
        """Health checks, query history and live activity: :class:`pgwarden.ops.monitor.Monitor`."""
        return Monitor(self)

    def close(self) -> None:
        with self._pool_lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None
            replicas, self._replicas = self._replicas, None
        if replicas is not None:
            replicas.close()

    def __enter__(self) -> Warden:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
