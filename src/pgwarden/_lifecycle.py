"""The row-lifecycle half of :class:`pgwarden.Warden`: soft delete and restore, archive,
partitions and the maintenance jobs that keep them (``Warden`` inherits these methods)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Mapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

import psycopg

from pgwarden._names import QualifiedName
from pgwarden.catalog import Catalog, read_catalog
from pgwarden.features.audit._runtime import KeyLike
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

if TYPE_CHECKING:
    from pgwarden.db import Session
    from pgwarden.features import Feature


class RowLifecycle:
    """Methods of :class:`pgwarden.Warden` about where rows live and when they go."""

    spec: Spec
    features: Mapping[str, Feature]

    if TYPE_CHECKING:

        def connect(self, *, autocommit: bool = False) -> psycopg.Connection[Any]: ...

        def session(
            self,
            *,
            actor: str | None = None,
            tenant: str | None = None,
            reason: str | None = None,
            request_id: str | None = None,
        ) -> AbstractContextManager[Session]: ...

        def catalog(self) -> Catalog: ...

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
            found = read_catalog(conn).get(name)
            fks = found.foreign_keys if found else ()
            fk = next((f for f in fks if f.name == constraint), None)
            if fk is None:
                raise ForeignKeyError(f"{name} has no foreign key {constraint!r}")
            if fk.on_delete == "RESTRICT":
                return False
            if fk.on_delete != "CASCADE":
                raise ForeignKeyError(f"{name} {constraint} is ON DELETE {fk.on_delete}")
            restrict(conn, self.spec, fk)
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
                features=self.features,
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
                features=self.features,
                batch=batch,
                progress=progress,
                dry_run=dry_run,
            )
