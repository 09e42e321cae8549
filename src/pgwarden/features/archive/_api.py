"""What the Python API and the CLI call: restore by table name, from the declaration."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

import psycopg

from pgwarden._names import QualifiedName
from pgwarden.catalog import read_catalog
from pgwarden.errors import MaintenanceError
from pgwarden.features._base import FeatureAPI
from pgwarden.features.archive._options import ArchiveOptions
from pgwarden.features.archive._restore import restore
from pgwarden.maintenance import Job, JobResult, Progress
from pgwarden.spec import Spec


def declared_options(spec: Spec, name: QualifiedName) -> ArchiveOptions:
    """The ``archive`` options declared for ``name``, or a clear error."""
    table_spec = spec.tables.get(name)
    options = table_spec.features.get("archive") if table_spec else None
    if not isinstance(options, ArchiveOptions):
        raise MaintenanceError(
            f"{name}: no archive is declared for it in {spec.file}",
            hint=f'declare [tables."{name}"] archive = {{ after = "...", column = "..." }}',
        )
    return options


def restore_declared(
    conn: psycopg.Connection[Any],
    spec: Spec,
    table: str,
    *,
    key: Any = None,
    where: str | None = None,
    batch: int = 10_000,
    progress: Callable[[int, int | None], None] | None = None,
) -> int:
    """:func:`restore` for a table named as the user writes it (``schema.table``)."""
    name = QualifiedName.parse(table)
    options = declared_options(spec, name)
    live = read_catalog(conn).get(name)
    if live is None:
        raise MaintenanceError(f"{name}: no such table in this database")
    parts: Sequence[Any] | None = None
    if key is not None:
        parts = tuple(key) if isinstance(key, (tuple, list)) else (key,)
    return restore(
        conn,
        live,
        options,
        key=parts,
        where=where,
        batch=batch,
        lock_timeout_ms=spec.database.lock_timeout.milliseconds,
        retries=spec.database.retries,
        progress=progress,
    )


class ArchiveAPI(FeatureAPI):
    """Archives of a :class:`~pgwarden.Warden`'s database: ``warden.archive``."""

    def run(
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
        ``archive`` jobs of ``warden.maintain``; ``table``: only that one).

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
        return self.warden.maintain(
            only=only,
            names=["archive"],
            dry_run=dry_run,
            now=now,
            batch=batch,
            wait=wait,
            progress=progress,
        )

    def restore(
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
        with self.warden.connect(autocommit=True) as conn:
            return restore_declared(
                conn,
                self.warden.spec,
                table,
                key=key,
                where=where,
                batch=batch,
                progress=progress,
            )
