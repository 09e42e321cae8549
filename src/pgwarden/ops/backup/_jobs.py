"""The worker's backup jobs (entry point ``pgwarden.jobs``): backup, drill, prune."""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg

from pgwarden.catalog import Catalog
from pgwarden.maintenance import Job, JobContext
from pgwarden.ops.backup._config import BackupSection
from pgwarden.ops.backup._service import Backups
from pgwarden.spec import Spec


def _url(conn: psycopg.Connection[Any]) -> str:
    params: dict[str, Any] = dict(conn.info.get_parameters())
    if conn.info.password:
        params["password"] = conn.info.password
    return psycopg.conninfo.make_conninfo(**params)


def _backups(ctx: JobContext) -> Backups:
    return Backups(_url(ctx.conn), ctx.spec.section("backup", BackupSection), spec=ctx.spec)


def _age(iso: str | None, now: dt.datetime) -> float | None:
    return None if iso is None else (now - dt.datetime.fromisoformat(iso)).total_seconds()


def _backup(ctx: JobContext) -> tuple[int, str]:
    backups = _backups(ctx)
    records = backups.records()
    age = _age(records[-1].stop_time if records else None, ctx.now)
    if age is not None and age < backups.section.every.seconds:
        return 0, f"newest backup {records[-1].id} is {age / 3600:.1f} h old"
    if ctx.dry_run:
        return 1, "a backup is due"
    record = backups.run()
    return 1, f"backup {record.id} ({record.kind}, {record.bytes:,} bytes)"


def _verify(ctx: JobContext) -> tuple[int, str]:
    backups = _backups(ctx)
    records = backups.records()
    if not records:
        return 0, "no backup to verify"
    checked = [r.verification.at for r in records if r.verification]
    age = _age(max(checked) if checked else None, ctx.now)
    if age is not None and age < backups.section.verify_every.seconds:
        return 0, f"last drill {age / 3600:.1f} h ago"
    if ctx.dry_run:
        return 1, f"drill of {records[-1].id} is due"
    report = backups.verify()
    if not report.ok:
        from pgwarden.errors import BackupVerifyFailed

        raise BackupVerifyFailed("; ".join(report.problems))
    return 1, f"verified {report.backup}, RTO {report.rto_seconds:.1f} s"


def _prune(ctx: JobContext) -> tuple[int, str]:
    result = _backups(ctx).prune(dry_run=ctx.dry_run)
    return len(result.removed), f"{len(result.removed)} backups, {len(result.wal_segments)} WAL"


def jobs(spec: Spec, catalog: Catalog) -> list[Job]:
    """The backup jobs, when ``pgwarden.toml`` has a ``[backup]`` section."""
    if "backup" not in spec.sections:
        return []
    # A drill proves the newest backup, so it follows the backup; retention then keeps the
    # newest verified one.
    return [
        Job("backup", "backup", None, "take a backup when one is due", _backup),
        Job(
            "backup-verify",
            "backup",
            None,
            "restore drill of the newest backup",
            _verify,
            after=("backup",),
        ),
        Job("backup-prune", "backup", None, "backup retention", _prune, after=("backup-verify",)),
    ]
