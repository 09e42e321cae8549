"""Configuration that the checks and pgwarden's features need."""

from __future__ import annotations

from collections.abc import Iterator

from pgwarden.ops.monitor._checks._common import lit
from pgwarden.ops.monitor._engine import Ctx, check, statements_unavailable
from pgwarden.ops.monitor._model import Finding, Fix, Severity


@check(
    "config.pg_stat_statements",
    "pg_stat_statements loaded and created",
    "shared_preload_libraries, pg_extension",
)
def _statements(ctx: Ctx) -> Iterator[Finding]:
    reason = statements_unavailable(ctx)
    if reason:
        yield Finding(
            "config.pg_stat_statements",
            Severity.WARNING,
            "extension pg_stat_statements",
            {},
            "the query checks and query history need pg_stat_statements: " + reason,
        )


def _setting_fix(name: str, value: str, why: str) -> Fix:
    return Fix(
        (f"ALTER SYSTEM SET {name} = {lit(value)}", "SELECT pg_reload_conf()"),
        "none",
        transactional=False,
        description=why,
    )


@check("config.track_io_timing", "track_io_timing on", "track_io_timing", fixable=True)
def _io_timing(ctx: Ctx) -> Iterator[Finding]:
    if ctx.setting("track_io_timing") != "on":
        yield Finding(
            "config.track_io_timing",
            Severity.INFO,
            "setting track_io_timing",
            {},
            "turn it on: query statistics then tell reading from disk apart from CPU "
            "(its cost is negligible on modern clocks)",
            _setting_fix("track_io_timing", "on", "time block reads and writes"),
        )


@check(
    "config.wal_level",
    'wal_level = logical for fast audit capture (capture = "wal")',
    "wal_level, pgwarden.toml audit options",
)
def _wal_level(ctx: Ctx) -> Iterator[Finding]:
    from pgwarden.features.audit import wal_possible, wal_required

    level = ctx.setting("wal_level")
    if level == "logical":
        return
    declared = wal_required(ctx.spec)
    yield Finding(
        "config.wal_level",
        Severity.CRITICAL if declared else Severity.INFO,
        "setting wal_level",
        {},
        f"wal_level is {level}: "
        + ("tables declare capture = \"wal\", which cannot work" if declared
           else "audited tables fall back to trigger capture (capture = \"auto\")"
           if wal_possible(ctx.spec)
           else "audit capture from the WAL (the fastest) needs logical")
        + "; set wal_level = logical and restart",
    )  # fmt: skip


@check("config.autovacuum", "autovacuum and track_counts on", "autovacuum, track_counts")
def _autovacuum(ctx: Ctx) -> Iterator[Finding]:
    for name in ("autovacuum", "track_counts"):
        if ctx.setting(name) != "on":
            yield Finding(
                "config.autovacuum",
                Severity.CRITICAL,
                f"setting {name}",
                {},
                f"{name} is off: dead rows and transaction ids accumulate until wraparound "
                "stops writes; turn it on",
            )


@check(
    "config.checkpoints",
    "Checkpoints forced by WAL volume rather than time",
    "pg_stat_checkpointer (17+) or pg_stat_bgwriter",
    "requested > timed, over at least 10 checkpoints",
)
def _checkpoints(ctx: Ctx) -> Iterator[Finding]:
    if ctx.major >= 17:
        row = ctx.rows("select num_timed as timed, num_requested as requested "
                       "from pg_stat_checkpointer")[0]  # fmt: skip
    else:
        row = ctx.rows("select checkpoints_timed as timed, checkpoints_req as requested "
                       "from pg_stat_bgwriter")[0]  # fmt: skip
    timed, requested = int(row["timed"]), int(row["requested"])
    if timed + requested >= 10 and requested > timed:
        yield Finding(
            "config.checkpoints",
            Severity.WARNING,
            "setting max_wal_size",
            {"timed": timed, "requested": requested},
            f"{requested} of {timed + requested} checkpoints were forced by WAL volume: raise "
            f"max_wal_size (now {ctx.setting('max_wal_size')})",
        )


@check(
    "config.idle_timeout",
    "idle_in_transaction_session_timeout set",
    "idle_in_transaction_session_timeout",
)
def _idle_timeout(ctx: Ctx) -> Iterator[Finding]:
    if ctx.setting("idle_in_transaction_session_timeout") in ("0", "0ms"):
        yield Finding(
            "config.idle_timeout",
            Severity.INFO,
            "setting idle_in_transaction_session_timeout",
            {},
            "no limit: a client that forgets a transaction holds locks and blocks vacuum "
            "forever; set it (e.g. 10min) for application roles",
        )


@check(
    "database.cache_hit",
    "Shared-buffer cache hit ratio of this database",
    "pg_stat_database.blks_hit / blks_read",
    "cache_hit_pct (90 %), after at least min_blocks (10,000) blocks",
)
def _cache_hit(ctx: Ctx) -> Iterator[Finding]:
    row = ctx.rows("select blks_hit::int8 as hit, blks_read::int8 as read from pg_stat_database "
                   "where datname = current_database()")[0]  # fmt: skip
    total = row["hit"] + row["read"]
    if total < ctx.opts.min_blocks:
        return
    pct = 100.0 * row["hit"] / total
    if pct < ctx.opts.cache_hit_pct:
        yield Finding(
            "database.cache_hit",
            Severity.WARNING,
            "database " + str(ctx.value("select current_database()")),
            {"hit_pct": round(pct, 2), "blocks_read": row["read"]},
            "most reads miss shared_buffers: raise shared_buffers (now "
            f"{ctx.setting('shared_buffers')}) or find the scans (query.slow_total)",
        )


@check(
    "database.deadlocks",
    "Deadlocks in this database",
    "pg_stat_database.deadlocks",
    "any deadlock since the statistics were reset",
)
def _deadlocks(ctx: Ctx) -> Iterator[Finding]:
    row = ctx.rows("select deadlocks::int8 as deadlocks, "
                   "current_database() as db from pg_stat_database "
                   "where datname = current_database()")[0]  # fmt: skip
    if row["deadlocks"]:
        yield Finding(
            "database.deadlocks",
            Severity.WARNING,
            f"database {row['db']}",
            {"deadlocks": row["deadlocks"]},
            "transactions lock the same rows in different orders: the server log names them; "
            "lock in a fixed order or retry (warden.run retries deadlocks)",
        )
