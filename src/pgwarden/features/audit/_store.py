"""Maintenance of pgwarden's own event store: partitioned by month of ``at``, made ahead and
rescued by the partition feature's jobs, and kept to each table's retention."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql

from pgwarden._names import QualifiedName
from pgwarden.features.audit import _runtime
from pgwarden.maintenance import Job, JobContext, in_batch

STORE = QualifiedName("warden", "audit_events")
PREMAKE = 3
"""Months made ahead: maintenance may pause that long before events reach the default."""


def _options() -> Any:
    from pgwarden.features.partition._options import PartitionOptions

    return PartitionOptions(column="at", interval="1 month", premake=PREMAKE)


def _partitioned(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute(
        "select relkind = 'p' from pg_class where oid = to_regclass('warden.audit_events')"
    ).fetchone()
    return bool(row and row[0])


def _premake(ctx: JobContext) -> tuple[int, str]:
    from pgwarden.features.partition import _jobs

    if not _partitioned(ctx.conn):
        return 0, "the event store is not partitioned yet (run apply)"
    made, detail = _jobs.premake(ctx, STORE, _options())
    return made, f"{detail} (event store)"


def _rescue(ctx: JobContext) -> tuple[int, str]:
    from pgwarden.features.partition import _jobs

    if not _partitioned(ctx.conn):
        return 0, "the event store is not partitioned yet (run apply)"
    moved, detail = _jobs.rescue(ctx, STORE, _options())
    return moved, f"{detail} (event store)"


def drop_partitions(ctx: JobContext, names: list[str]) -> int:
    """Drop these partitions of the stores, one short transaction each; returns the events
    they held."""
    dropped = 0
    for name in names:
        # Server-rendered regclass text of a partition of the store (our own objects).
        def drop(conn: psycopg.Connection[Any], name: str = name) -> int:
            row = conn.execute(sql.SQL("select count(*) from {}").format(sql.SQL(name))).fetchone()
            conn.execute(sql.SQL("drop table {}").format(sql.SQL(name)))
            return int(row[0]) if row else 0

        dropped += in_batch(ctx, drop)
    return dropped


def _retention(ctx: JobContext) -> tuple[int, str]:
    """Drop whole months (hot store) and years (archive) whose every event is past its
    table's retention, then delete the rest of the expired events in batches."""
    expired = [
        str(r[0])
        for r in ctx.conn.execute("select warden.audit_expired_partitions(%s)::text", (ctx.now,))
    ]
    if ctx.dry_run:
        due = _runtime.prunable(ctx.conn, ctx.now)
        return due, f"events past retention ({len(expired)} whole partitions)"
    dropped = drop_partitions(ctx, expired)
    deleted = _runtime.prune(ctx.conn, batch=ctx.batch, now=ctx.now)
    years = sum(1 for name in expired if name.startswith("warden.audit_events_archive"))
    months = "".join(
        f"; {n} whole {unit} dropped"
        for n, unit in ((len(expired) - years, "months"), (years, "archive years"))
        if n
    )
    return dropped + deleted, f"events deleted{months}"


def store_jobs(with_retention: Sequence[str], with_archive: Sequence[str] = ()) -> list[Job]:
    """The event store's jobs: months made ahead, rows rescued from its default partition,
    and (when a table declares them) archiving and retention."""
    from pgwarden.features.audit._archive import archive_events

    jobs = [
        Job("audit-store-premake", "audit", None, "make the event store's months ahead",
            _premake),
        Job("audit-store-rescue", "audit", None, "move events out of the store's default",
            _rescue, after=("audit-store-premake",)),
    ]  # fmt: skip
    if with_archive:
        jobs.append(
            Job(
                "audit-archive",
                "audit",
                None,
                f"move audit events past archive_after to the archive ({', '.join(with_archive)})",
                archive_events,
                # Rows archived or purged by the other jobs leave their events first.
                after=("audit-store-rescue", "purge", "archive", "archive-retention"),
            )
        )
    if with_retention:
        jobs.append(
            Job(
                "audit-retention",
                "audit",
                None,
                f"delete audit events past retention ({', '.join(with_retention)})",
                _retention,
                after=("audit-store-rescue", "audit-archive", "partition-retention"),
            )
        )
    return jobs
