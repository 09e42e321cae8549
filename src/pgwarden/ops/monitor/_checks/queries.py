"""Queries (from pg_stat_statements): slow by mean and by total, temp spills, cache misses,
regressions against history."""

from __future__ import annotations

from collections.abc import Iterator

from pgwarden.ops.monitor._checks._common import human
from pgwarden.ops.monitor._engine import CannotCheck, Ctx, Row, check
from pgwarden.ops.monitor._model import Finding, Severity
from pgwarden.ops.monitor._statements import read_counters, texts


def statements(ctx: Ctx) -> list[Row]:
    """This database's statement counters (cached for the run); CannotCheck without the
    extension."""
    ctx.need_statements()
    if "statements" not in ctx.cache:
        read = read_counters(ctx.conn)
        for r in read:
            r["mean_ms"] = r["total_ms"] / r["calls"] if r["calls"] else 0.0
        ctx.cache["statements"] = read
    rows: list[Row] = ctx.cache["statements"]
    return rows


def _shown(ctx: Ctx, rows: list[Row]) -> dict[int, str]:
    return texts(ctx.conn, [r["queryid"] for r in rows]) if rows else {}


def _short(text: str | None) -> str:
    return " ".join((text or "").split())[:500]


@check(
    "query.slow_mean",
    "Statements slow on average",
    "pg_stat_statements(false): mean of total_exec_time / calls",
    "slow_query (1 s) mean, at least min_calls (10) calls",
)
def _slow_mean(ctx: Ctx) -> Iterator[Finding]:
    limit = ctx.opts.slow_query.seconds * 1000
    slow = [r for r in statements(ctx) if r["calls"] >= ctx.opts.min_calls and r["mean_ms"] > limit]
    text = _shown(ctx, slow)
    for r in slow:
        yield Finding(
            "query.slow_mean",
            Severity.WARNING,
            f"query {r['queryid']}",
            {"calls": r["calls"], "mean_ms": round(r["mean_ms"], 2),
             "total_ms": round(r["total_ms"], 1), "rows": r["rows"]},
            f"{r['mean_ms'] / 1000:.2f} s per call over {r['calls']} calls: see its plan "
            "(index.suggested may have an index for it)",
            detail=_short(text.get(r["queryid"])),
        )  # fmt: skip


@check(
    "query.slow_total",
    "Statements taking the largest share of all statement time",
    "pg_stat_statements(false): total_exec_time",
    "slow_total_pct (20 %) of the total, and at least slow_query (1 s) in all",
)
def _slow_total(ctx: Ctx) -> Iterator[Finding]:
    rows = statements(ctx)
    everything = sum(r["total_ms"] for r in rows)
    floor = ctx.opts.slow_query.seconds * 1000
    heavy = [
        r
        for r in rows
        if everything
        and r["total_ms"] >= floor
        and 100 * r["total_ms"] / everything >= ctx.opts.slow_total_pct
    ]
    text = _shown(ctx, heavy)
    for r in heavy:
        share = 100 * r["total_ms"] / everything
        yield Finding(
            "query.slow_total",
            Severity.WARNING,
            f"query {r['queryid']}",
            {"share_pct": round(share, 1), "total_ms": round(r["total_ms"], 1),
             "calls": r["calls"], "mean_ms": round(r["mean_ms"], 3)},
            f"{share:.0f} % of all statement time: the first place to optimize",
            detail=_short(text.get(r["queryid"])),
        )  # fmt: skip


@check(
    "query.temp_spill",
    "Statements spilling to temporary files",
    "pg_stat_statements(false): temp_blks_written",
    "temp_spill (100 MB) written in all",
)
def _temp(ctx: Ctx) -> Iterator[Finding]:
    spill = [r for r in statements(ctx) if r["temp_written"] * 8192 >= ctx.opts.temp_spill]
    text = _shown(ctx, spill)
    for r in spill:
        written = r["temp_written"] * 8192
        yield Finding(
            "query.temp_spill",
            Severity.WARNING,
            f"query {r['queryid']}",
            {"temp_bytes": written, "calls": r["calls"],
             "temp_bytes_per_call": round(written / max(1, r["calls"]))},
            f"wrote {human(written)} of temporary files: sorts or hashes exceed work_mem "
            f"({ctx.setting('work_mem')}); raise it for this query or make it read less",
            detail=_short(text.get(r["queryid"])),
        )  # fmt: skip


@check(
    "query.cache_hit",
    "Statements reading mostly from outside shared buffers",
    "pg_stat_statements(false): shared_blks_hit / shared_blks_read",
    "cache_hit_pct (90 %), over at least min_blocks (10,000) blocks",
)
def _cache(ctx: Ctx) -> Iterator[Finding]:
    low = []
    for r in statements(ctx):
        blocks = r["hit"] + r["read"]
        if blocks >= ctx.opts.min_blocks and 100 * r["hit"] / blocks < ctx.opts.cache_hit_pct:
            low.append(r)
    text = _shown(ctx, low)
    for r in low:
        pct = 100 * r["hit"] / (r["hit"] + r["read"])
        yield Finding(
            "query.cache_hit",
            Severity.INFO,
            f"query {r['queryid']}",
            {"hit_pct": round(pct, 1), "blocks_read": r["read"],
             "read_ms": round(r["read_ms"] or 0, 1)},
            f"only {pct:.0f} % of its blocks come from shared buffers: it reads more than "
            "fits in memory (an index, or less data per call)",
            detail=_short(text.get(r["queryid"])),
        )  # fmt: skip


@check(
    "query.regression",
    "Statements slower than their own history",
    "warden.monitor_statements (snapshots)",
    "mean time of the last hour over regression_pct (50 %) above the 7 days before",
)
def _regression(ctx: Ctx) -> Iterator[Finding]:
    from pgwarden.ops.monitor._history import regressions

    ctx.need_statements()
    found = regressions(ctx.conn, ctx.opts)
    if found is None:
        raise CannotCheck("no history yet: the monitor-snapshot job stores it")
    text = _shown(ctx, found)
    for r in found:
        yield Finding(
            "query.regression",
            Severity.WARNING,
            f"query {r['queryid']}",
            {"mean_ms": round(r["mean_ms"], 3), "before_mean_ms": round(r["before_ms"], 3),
             "change_pct": round(100 * (r["mean_ms"] / r["before_ms"] - 1), 1),
             "calls": r["calls"]},
            f"{r['mean_ms'] / r['before_ms']:.1f}x slower per call than the week before: a "
            "plan change, more data, or contention",
            detail=_short(text.get(r["queryid"])),
        )  # fmt: skip
