"""pgwarden's own features: WAL-capture ingest lag and slot retention, rows waiting in
default partitions, partitions not made ahead, purges and archiving due, audit store size,
audited columns that look like personal data.

Due work is measured by running the maintenance jobs of ``pgwarden maintain`` in dry-run
mode (they count, and change nothing), so the doctor and ``maintain`` never disagree.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

from pgwarden.errors import PgwardenError
from pgwarden.ops.monitor._checks._common import human
from pgwarden.ops.monitor._engine import Ctx, check
from pgwarden.ops.monitor._model import Finding, Severity

# Job name -> the check reporting it.
_JOBS = {
    "partition-premake": "pgwarden.partitions_ahead",
    "audit-store-premake": "pgwarden.partitions_ahead",
    "partition-rescue": "pgwarden.default_partition_rows",
    "audit-store-rescue": "pgwarden.default_partition_rows",
    "purge": "pgwarden.purge_due",
    "archive": "pgwarden.archive_backlog",
    "audit-archive": "pgwarden.archive_backlog",
}
_ADVICE = {
    "pgwarden.partitions_ahead": "partitions are missing ahead of time: new rows go to the "
    "default partition; run pgwarden maintain (or the worker)",
    "pgwarden.default_partition_rows": "rows wait in the default partition: pgwarden "
    "maintain moves them into their partitions",
    "pgwarden.purge_due": "soft-deleted rows are past their purge age: is the worker running?",
    "pgwarden.archive_backlog": "rows are past their archive age: is the worker running?",
}


def _due(ctx: Ctx) -> dict[tuple[str, str], tuple[int, str]]:
    """(check, object) -> (rows, detail) of the declared jobs that have work to do."""
    if "due" in ctx.cache:
        found: dict[tuple[str, str], tuple[int, str]] = ctx.cache["due"]
        return found
    from pgwarden.catalog import read_catalog
    from pgwarden.features import registered_features
    from pgwarden.maintenance import JobContext, collect_jobs

    found = {}
    if ctx.spec.tables:
        catalog = read_catalog(ctx.conn)
        jobs = collect_jobs(ctx.spec, catalog, registered_features(), names=set(_JOBS))
        now = dt.datetime.now(dt.UTC)
        for job in jobs:
            job_ctx = JobContext(conn=ctx.conn, spec=ctx.spec, now=now, dry_run=True)
            try:
                rows, detail = job.run(job_ctx)
            except PgwardenError as exc:  # e.g. a table declared partitioned, not converted
                ctx.note(_JOBS[job.name], f"{job.name} {job.table or ''}: {exc.message}")
                continue
            if rows:
                key = (_JOBS[job.name], str(job.table) if job.table else "audit store")
                found[key] = (rows, detail)
    ctx.cache["due"] = found
    return found


def _report(ctx: Ctx, check_id: str) -> Iterator[Finding]:
    for (cid, obj), (rows, detail) in sorted(_due(ctx).items()):
        if cid == check_id:
            yield Finding(cid, Severity.WARNING, obj, {"rows": rows}, _ADVICE[cid],
                          detail=detail)  # fmt: skip


@check("pgwarden.partitions_ahead", "Partitions not made ahead", "maintain (dry run)",
       "fewer than the declared premake")  # fmt: skip
def _ahead(ctx: Ctx) -> Iterator[Finding]:
    yield from _report(ctx, "pgwarden.partitions_ahead")


@check("pgwarden.default_partition_rows", "Rows in default partitions", "maintain (dry run)",
       "any row")  # fmt: skip
def _default_rows(ctx: Ctx) -> Iterator[Finding]:
    yield from _report(ctx, "pgwarden.default_partition_rows")


@check("pgwarden.purge_due", "Soft-deleted rows past their purge age", "maintain (dry run)",
       "any row")  # fmt: skip
def _purge(ctx: Ctx) -> Iterator[Finding]:
    yield from _report(ctx, "pgwarden.purge_due")


@check("pgwarden.archive_backlog", "Rows past their archive age", "maintain (dry run)",
       "any row")  # fmt: skip
def _archive(ctx: Ctx) -> Iterator[Finding]:
    yield from _report(ctx, "pgwarden.archive_backlog")


@check(
    "pgwarden.wal_capture",
    "WAL-capture audit: ingest lag and WAL its slot retains",
    "pg_replication_slots, warden.audit_wal",
    "slot_retained (1 GB), or events not ingested for 10 minutes",
)
def _wal(ctx: Ctx) -> Iterator[Finding]:
    from pgwarden.features.audit import wal_possible, wal_required
    from pgwarden.features.audit._wal import registered_wal, slot_name

    if not wal_possible(ctx.spec):
        return
    slot = slot_name(ctx.conn)
    rows = ctx.rows(
        "select active, pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::int8 as lag "
        "from pg_replication_slots where slot_name = %s",
        (slot,),
    )
    if not rows:
        if not (wal_required(ctx.spec) or registered_wal(ctx.conn)):
            return  # capture = "auto" chose triggers here
        yield Finding("pgwarden.wal_capture", Severity.CRITICAL, f"slot {slot}", {},
                      "tables declare capture = \"wal\" but the slot is missing: pgwarden "
                      "apply creates it (changes made meanwhile are not audited)")  # fmt: skip
        return
    lag = int(rows[0]["lag"] or 0)
    idle = ctx.value(
        "select extract(epoch from now() - ingested_at)::float8 from warden.audit_wal "
        "where slot_name = %s",
        (slot,),
    )
    stale = idle is not None and idle > 600 and lag > 0
    if lag >= ctx.opts.slot_retained or stale:
        yield Finding(
            "pgwarden.wal_capture",
            Severity.WARNING,
            f"slot {slot}",
            {"lag_bytes": lag, "seconds_since_ingest": round(idle or 0)},
            f"{human(lag)} of WAL not yet turned into audit events: run the worker (or "
            "pgwarden audit ingest); the slot keeps that WAL on disk",
        )


@check(
    "pgwarden.audit_growth",
    "Size of the audit store",
    "pg_total_relation_size of warden.audit_events partitions",
    "audit_store_size (1 GB)",
)
def _audit_growth(ctx: Ctx) -> Iterator[Finding]:
    size = ctx.value(
        "select coalesce(sum(pg_total_relation_size(c.oid)), 0)::int8 from pg_class c "
        "join pg_namespace n on n.oid = c.relnamespace "
        "where n.nspname = 'warden' and c.relname like 'audit\\_event%%' and c.relkind = 'r'"
    )
    if size and size >= ctx.opts.audit_store_size:
        yield Finding(
            "pgwarden.audit_growth",
            Severity.INFO,
            "audit store",
            {"bytes": int(size)},
            f"the audit store holds {human(int(size))}: set retention or archive_after on "
            "the tables that write most",
        )


@check(
    "pgwarden.backup",
    "Backups: age, restore drills, WAL streaming",
    "warden.backups, pg_replication_slots",
    "[backup] max_age (26 hours); a failed or missing drill; WAL not streamed",
)
def _backup(ctx: Ctx) -> Iterator[Finding]:
    if "backup" not in ctx.spec.sections:
        return
    from pgwarden.ops.backup import BackupSection, health

    state = health(ctx.conn)
    max_age = ctx.spec.section("backup", BackupSection).max_age.seconds
    evidence = {
        "backups": state.backups,
        "newest_backup_age_seconds": round(state.newest_backup_age or 0),
        "last_verified_age_seconds": round(state.last_verified_age or 0),
        "wal_lag_bytes": state.wal_lag_bytes or 0,
    }
    for problem in state.problems(max_age):
        # Without a recent restorable backup, a lost disk is lost data: critical.
        critical = state.newest_backup_age is None or "failed" in problem or "old" in problem
        yield Finding(
            "pgwarden.backup",
            Severity.CRITICAL if critical else Severity.WARNING,
            "backups",
            evidence,
            f"{problem}: run pgwarden backup run / verify (or the worker with [backup])",
        )


# Column names that usually hold personal data or secrets (as a word of the name).
_PERSONAL = re.compile(
    r"(^|_)(e_?mail|phone|mobile|ssn|social_security|passport|national_id|tax_id|birth|dob|"
    r"address|street|post_?code|zip_?code|iban|card_number|credit_card|cvv|password|passwd|"
    r"secret|token|api_key)($|_)"
)


@check(
    "pgwarden.audit_personal_data",
    "Audited columns that look like personal data or secrets, recorded in clear",
    "pgwarden.toml audit options (exclude, redact), pg_attribute",
    "a column named like email, phone, birth, address, iban, card, password, token",
)
def _personal(ctx: Ctx) -> Iterator[Finding]:
    for name, declared in sorted(ctx.spec.tables.items()):
        options = declared.features.get("audit")
        if options is None:
            continue
        hidden = set(getattr(options, "exclude", ())) | set(getattr(options, "redact", ()))
        columns = [
            r["attname"]
            for r in ctx.rows(
                "select a.attname from pg_attribute a where a.attrelid = to_regclass(%s) "
                "and a.attnum > 0 and not a.attisdropped order by a.attnum",
                (name.regclass_text,),
            )
        ]
        clear = [c for c in columns if c not in hidden and _PERSONAL.search(c.lower())]
        if clear:
            yield Finding(
                "pgwarden.audit_personal_data",
                Severity.INFO,
                str(name),
                {"columns": len(clear)},
                "every version of these is kept in the audit store in clear: redact them "
                "(a keyed hash: changes still show) or exclude them; pgwarden audit erase "
                "takes one person's out of the history",
                detail=", ".join(clear),
            )
