"""Connections (usage, idle in transaction, long running, a blocking tree) and replication
(lag, slots holding WAL)."""

from __future__ import annotations

from collections.abc import Iterator

from pgwarden.ops.monitor._checks._common import human, lit
from pgwarden.ops.monitor._engine import Ctx, Row, check
from pgwarden.ops.monitor._model import Finding, Fix, Severity


def sessions(ctx: Ctx) -> list[Row]:
    """Client backends of the server (without this one), with what blocks them."""
    if "sessions" not in ctx.cache:
        ctx.cache["sessions"] = ctx.rows(
            """
            select pid, usename, datname, application_name as app, state,
                   left(query, 200) as query, wait_event_type, wait_event,
                   extract(epoch from now() - query_start)::float8 as query_seconds,
                   extract(epoch from now() - state_change)::float8 as state_seconds,
                   extract(epoch from now() - xact_start)::float8 as xact_seconds,
                   pg_blocking_pids(pid) as blockers
              from pg_stat_activity
             where backend_type = 'client backend' and pid <> pg_backend_pid()
            """
        )
    rows: list[Row] = ctx.cache["sessions"]
    return rows


def _signal(pid: int, terminate: bool) -> Fix:
    fn = "pg_terminate_backend" if terminate else "pg_cancel_backend"
    return Fix((f"SELECT {fn}({pid})",), "none", True,
               "end the session" if terminate else "cancel its current query")  # fmt: skip


@check(
    "connections.usage",
    "Connections used against max_connections",
    "pg_stat_activity, max_connections, superuser_reserved_connections",
    "connections_pct (80 %)",
)
def _usage(ctx: Ctx) -> Iterator[Finding]:
    used = int(
        ctx.value("select count(*) from pg_stat_activity where backend_type = 'client backend'")
    )
    limit = int(ctx.setting("max_connections")) - int(ctx.setting("superuser_reserved_connections"))
    pct = 100.0 * used / max(1, limit)
    if pct >= ctx.opts.connections_pct:
        yield Finding(
            "connections.usage",
            Severity.CRITICAL if pct >= 95 else Severity.WARNING,
            "server",
            {"connections": used, "available": limit, "used_pct": round(pct, 1)},
            "close to refusing connections: put a pool (PgBouncer) in front, or lower the "
            "applications' pool sizes",
        )  # fmt: skip


@check(
    "connections.idle_in_transaction",
    "Sessions idle inside an open transaction",
    "pg_stat_activity.state, state_change",
    "idle_in_transaction (1 min)",
    fixable=True,
)
def _idle_tx(ctx: Ctx) -> Iterator[Finding]:
    if not ctx.monitor_role:
        ctx.note(
            "connections.idle_in_transaction",
            "only this role's sessions are visible (not a pg_monitor member)",
        )
    for s in sessions(ctx):
        if not (s["state"] or "").startswith("idle in transaction"):
            continue
        if (s["state_seconds"] or 0) < ctx.opts.idle_in_transaction.seconds:
            continue
        yield Finding(
            "connections.idle_in_transaction",
            Severity.WARNING,
            f"pid {s['pid']}",
            {"pid": s["pid"], "idle_seconds": round(s["state_seconds"]),
             "xact_seconds": round(s["xact_seconds"] or 0)},
            f"{s['usename']}@{s['datname']} ({s['app'] or 'no application_name'}) holds a "
            "transaction open doing nothing: it keeps locks and blocks vacuum; set "
            "idle_in_transaction_session_timeout",
            _signal(s["pid"], terminate=True),
            detail=s["query"] or "",
        )  # fmt: skip


@check(
    "connections.long_running",
    "Queries running longer than long_running",
    "pg_stat_activity.query_start",
    "long_running (5 min)",
    fixable=True,
)
def _long(ctx: Ctx) -> Iterator[Finding]:
    for s in sessions(ctx):
        if s["state"] != "active" or (s["query_seconds"] or 0) < ctx.opts.long_running.seconds:
            continue
        yield Finding(
            "connections.long_running",
            Severity.WARNING,
            f"pid {s['pid']}",
            {"pid": s["pid"], "seconds": round(s["query_seconds"])},
            f"running for {s['query_seconds'] / 60:.0f} min: check it is expected "
            "(pgwarden top shows it live)",
            _signal(s["pid"], terminate=False),
            detail=s["query"] or "",
        )


def blocking_tree(rows: list[Row]) -> dict[int, list[int]]:
    """Root blocker pid -> every pid waiting on it, directly or through others."""
    blockers = {r["pid"]: list(r["blockers"] or ()) for r in rows}
    roots: dict[int, list[int]] = {}
    for pid, direct in blockers.items():
        if not direct:
            continue
        seen: set[int] = set()
        todo = list(direct)
        while todo:
            b = todo.pop()
            if b in seen:
                continue
            seen.add(b)
            above = blockers.get(b, [])
            if not above:
                roots.setdefault(b, []).append(pid)
            todo.extend(above)
    return roots


@check(
    "connections.blocked",
    "Sessions waiting on locks, grouped by the session at the root of the chain",
    "pg_stat_activity, pg_blocking_pids()",
    "lock_wait (5 s)",
    fixable=True,
)
def _blocked(ctx: Ctx) -> Iterator[Finding]:
    rows = sessions(ctx)
    by_pid = {r["pid"]: r for r in rows}
    for root, waiting in blocking_tree(rows).items():
        waits = [by_pid[p]["query_seconds"] or 0 for p in waiting if p in by_pid]
        longest = max(waits, default=0)
        if longest < ctx.opts.lock_wait.seconds:
            continue
        head = by_pid.get(root)
        state = head["state"] if head else "unknown"
        yield Finding(
            "connections.blocked",
            Severity.CRITICAL if longest > ctx.opts.long_running.seconds else Severity.WARNING,
            f"pid {root}",
            {"pid": root, "waiting": len(waiting), "longest_wait_seconds": round(longest)},
            f"{len(waiting)} session(s) wait on pid {root} ({state}): finish or end it",
            _signal(root, terminate=True),
            detail=(head["query"] or "") if head else "",
        )


@check(
    "replication.lag",
    "Standbys behind the primary",
    "pg_stat_replication (sent_lsn, replay_lsn, replay_lag)",
    "replication_lag (1 GB) of WAL",
)
def _lag(ctx: Ctx) -> Iterator[Finding]:
    rows = ctx.rows(
        """
        select application_name as name, client_addr::text as addr, state,
               -- a WAL receiver (pg_receivewal) replays nothing: its flush position counts
               pg_wal_lsn_diff(pg_current_wal_lsn(), coalesce(replay_lsn, flush_lsn))::int8
                   as lag_bytes,
               extract(epoch from replay_lag)::float8 as lag_seconds
          from pg_stat_replication
        """
    ) if not ctx.value("select pg_is_in_recovery()") else []  # fmt: skip
    for r in rows:
        if r["lag_bytes"] is None or r["lag_bytes"] < ctx.opts.replication_lag:
            continue
        yield Finding(
            "replication.lag",
            Severity.WARNING,
            f"standby {r['name'] or r['addr']}",
            {"lag_bytes": r["lag_bytes"], "lag_seconds": round(r["lag_seconds"] or 0, 1)},
            f"{human(r['lag_bytes'])} of WAL not replayed yet: reads from it are stale",
        )


def slots(ctx: Ctx) -> list[Row]:
    if ctx.value("select pg_is_in_recovery()"):
        lsn = "pg_last_wal_receive_lsn()"
    else:
        lsn = "pg_current_wal_lsn()"
    return ctx.rows(
        f"""
        select slot_name as name, slot_type as type, database, active,
               coalesce(wal_status, '') as wal_status,
               pg_wal_lsn_diff({lsn}, restart_lsn)::int8 as retained,
               pg_wal_lsn_diff({lsn}, confirmed_flush_lsn)::int8 as unconfirmed
          from pg_replication_slots
        """
    )


@check(
    "replication.inactive_slot",
    "Inactive replication slots holding WAL",
    "pg_replication_slots (active, restart_lsn, wal_status)",
    "inactive and retaining any WAL; critical over slot_retained (1 GB) or lost",
    fixable=True,
)
def _inactive(ctx: Ctx) -> Iterator[Finding]:
    for s in slots(ctx):
        if s["active"] or (s["retained"] is None and s["wal_status"] != "lost"):
            continue
        retained = s["retained"] or 0
        big = retained >= ctx.opts.slot_retained or s["wal_status"] == "lost"
        yield Finding(
            "replication.inactive_slot",
            Severity.CRITICAL if big else Severity.WARNING,
            f"slot {s['name']}",
            {"retained_bytes": retained},
            f"no consumer, and it keeps {human(retained)} of WAL on disk (growing): drop it "
            "if its consumer is gone",
            Fix((f"SELECT pg_drop_replication_slot({lit(s['name'])})",), "none", True,
                "drop the slot (its consumer must start over)"),
        )  # fmt: skip


@check(
    "replication.slot_retention",
    "Active slots whose consumer falls behind",
    "pg_replication_slots (restart_lsn, wal_status)",
    "slot_retained (1 GB), or wal_status extended / unreserved",
)
def _retention(ctx: Ctx) -> Iterator[Finding]:
    for s in slots(ctx):
        if not s["active"]:
            continue
        retained = s["retained"] or 0
        if retained < ctx.opts.slot_retained and s["wal_status"] not in ("extended", "unreserved"):
            continue
        yield Finding(
            "replication.slot_retention",
            Severity.CRITICAL if s["wal_status"] == "unreserved" else Severity.WARNING,
            f"slot {s['name']}",
            {"retained_bytes": retained},
            f"its consumer is {human(retained)} behind ({s['wal_status']})",
        )
