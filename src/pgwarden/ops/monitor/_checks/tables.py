"""Tables: no primary key, bloat with a confidence, dead tuples, vacuum and analyze behind,
sequential-scan heavy, autovacuum disabled."""

from __future__ import annotations

from collections.abc import Iterator

from pgwarden.ops.monitor._checks._common import USER_NS, human, measured, q
from pgwarden.ops.monitor._engine import Ctx, Row, check
from pgwarden.ops.monitor._model import Finding, Fix, Severity


def tables(ctx: Ctx) -> list[Row]:
    """Every user table (plain or partition) with its statistics counters."""
    if "tables" not in ctx.cache:
        ctx.cache["tables"] = ctx.rows(
            f"""
            select c.oid, n.nspname as schema, c.relname as name, c.relkind as kind,
                   c.relispartition as partition, c.reltuples::float8 as reltuples,
                   c.relpages::int8 as relpages,
                   c.relpages::int8 * current_setting('block_size')::int8 as bytes,
                   -- the statistics functions, not pg_stat_all_tables: that view computes
                   -- every counter of every relation of the database, system ones included
                   pg_stat_get_live_tuples(c.oid) as live,
                   pg_stat_get_dead_tuples(c.oid) as dead,
                   pg_stat_get_mod_since_analyze(c.oid) as modified,
                   pg_stat_get_numscans(c.oid) as seq_scan,
                   pg_stat_get_tuples_returned(c.oid) as seq_read,
                   coalesce(ix.scans, 0) as idx_scan,
                   greatest(pg_stat_get_last_vacuum_time(c.oid),
                            pg_stat_get_last_autovacuum_time(c.oid)) as vacuumed,
                   greatest(pg_stat_get_last_analyze_time(c.oid),
                            pg_stat_get_last_autoanalyze_time(c.oid)) as analyzed,
                   coalesce(c.reloptions, '{{}}') as options,
                   pk.conrelid is not null as has_pk,
                   coalesce(ix.unique_not_null, false) as has_unique_not_null
              from pg_class c
              join pg_namespace n on n.oid = c.relnamespace
              left join (select conrelid from pg_constraint where contype = 'p') pk
                     on pk.conrelid = c.oid
              left join (
                  select i.indrelid, sum(pg_stat_get_numscans(i.indexrelid))::int8 as scans,
                         bool_or(i.indisunique and i.indpred is null and i.indexprs is null
                                 and not exists (
                                   select 1 from unnest(i.indkey::int2[]) k
                                     join pg_attribute a on a.attrelid = i.indrelid
                                                        and a.attnum = k
                                    where not a.attnotnull)) as unique_not_null
                    from pg_index i group by i.indrelid) ix on ix.indrelid = c.oid
             where c.relkind in ('r', 'p') and {USER_NS}
            """
        )
    rows: list[Row] = ctx.cache["tables"]
    return rows


@check(
    "table.no_primary_key",
    "Tables without a primary key",
    "pg_constraint, pg_index",
)
def _no_pk(ctx: Ctx) -> Iterator[Finding]:
    for t in tables(ctx):
        if t["has_pk"] or t["partition"]:
            continue
        usable = t["has_unique_not_null"]
        yield Finding(
            "table.no_primary_key",
            Severity.INFO if usable else Severity.WARNING,
            q(t["schema"], t["name"]),
            {"rows": max(0, round(t["reltuples"]))},
            "has a unique index on NOT NULL columns: promote it to the primary key"
            if usable
            else "rows cannot be addressed reliably (replication, audit keys, ORMs): add a "
            "primary key",
        )


def _autovacuum_trigger(ctx: Ctx, t: Row) -> float:
    """Dead tuples at which autovacuum starts on this table (its reloptions first)."""
    opts = dict(o.split("=", 1) for o in t["options"])
    base = float(
        opts.get("autovacuum_vacuum_threshold") or ctx.setting("autovacuum_vacuum_threshold")
    )
    scale = float(
        opts.get("autovacuum_vacuum_scale_factor") or ctx.setting("autovacuum_vacuum_scale_factor")
    )
    return base + scale * max(float(t["reltuples"]), 0.0)  # fmt: skip


def _vacuum_fix(table: str, analyze: bool = True, freeze: bool = False) -> Fix:
    words = ", ".join(w for w, on in (("FREEZE", freeze), ("ANALYZE", analyze)) if on)
    return Fix(
        (f"VACUUM ({words}) {table}",),
        "SHARE UPDATE EXCLUSIVE",
        transactional=False,
        description="vacuum now (reads and writes continue)",
    )


@check(
    "table.dead_tuples",
    "Tables with a large share of dead tuples",
    "pg_stat_all_tables.n_dead_tup / n_live_tup",
    "dead_tuples_pct (20 %) on tables over min_rows (1,000) rows",
    fixable=True,
)
def _dead(ctx: Ctx) -> Iterator[Finding]:
    for t in tables(ctx):
        total = t["live"] + t["dead"]
        if t["kind"] != "r" or total < ctx.opts.min_rows or not t["dead"]:
            continue
        pct = 100.0 * t["dead"] / total
        if pct < ctx.opts.dead_tuples_pct:
            continue
        name = q(t["schema"], t["name"])
        yield Finding(
            "table.dead_tuples",
            Severity.WARNING,
            name,
            {"dead": t["dead"], "live": t["live"], "dead_pct": round(pct, 1)},
            f"{pct:.0f} % of its rows are dead: vacuum it, and check what holds autovacuum "
            "back (long transactions, table.vacuum_overdue)",
            _vacuum_fix(name),
        )


@check(
    "table.vacuum_overdue",
    "Autovacuum behind: dead tuples well past the autovacuum trigger",
    "pg_stat_all_tables, autovacuum settings and reloptions",
    "dead tuples over twice the table's autovacuum trigger",
    fixable=True,
)
def _vacuum_behind(ctx: Ctx) -> Iterator[Finding]:
    for t in tables(ctx):
        if t["kind"] != "r" or not t["dead"]:
            continue
        trigger = _autovacuum_trigger(ctx, t)
        if t["dead"] < 2 * trigger:
            continue
        name = q(t["schema"], t["name"])
        yield Finding(
            "table.vacuum_overdue",
            Severity.WARNING,
            name,
            {"dead": t["dead"], "autovacuum_trigger": round(trigger)},
            "autovacuum has not kept up (busy workers, long transactions, or disabled): "
            "vacuum it and tune autovacuum_vacuum_scale_factor for this table",
            _vacuum_fix(name),
        )


@check(
    "table.never_analyzed",
    "Tables with rows that were never analyzed",
    "pg_stat_all_tables.last_analyze / last_autoanalyze",
    fixable=True,
)
def _never_analyzed(ctx: Ctx) -> Iterator[Finding]:
    for t in tables(ctx):
        if t["analyzed"] is not None or t["live"] + t["modified"] == 0 or t["kind"] != "r":
            continue
        name = q(t["schema"], t["name"])
        yield Finding(
            "table.never_analyzed",
            Severity.WARNING,
            name,
            {"live": t["live"], "modified": t["modified"]},
            "the planner has no statistics for it: analyze it",
            Fix((f"ANALYZE {name}",), "SHARE UPDATE EXCLUSIVE", transactional=True,
                description="collect planner statistics"),
        )  # fmt: skip


@check(
    "table.analyze_overdue",
    "Tables changed a lot since their last analyze",
    "pg_stat_all_tables.n_mod_since_analyze",
    "changes over 50 % of the rows, on tables over min_rows",
    fixable=True,
)
def _analyze_overdue(ctx: Ctx) -> Iterator[Finding]:
    for t in tables(ctx):
        rows = max(t["reltuples"], 0)
        if t["analyzed"] is None or t["kind"] != "r" or rows < ctx.opts.min_rows:
            continue
        if t["modified"] < 0.5 * rows:
            continue
        name = q(t["schema"], t["name"])
        yield Finding(
            "table.analyze_overdue",
            Severity.INFO,
            name,
            {"modified": t["modified"], "rows": round(rows)},
            "statistics are stale: analyze it",
            Fix((f"ANALYZE {name}",), "SHARE UPDATE EXCLUSIVE", transactional=True,
                description="collect planner statistics"),
        )  # fmt: skip


@check(
    "table.seq_scan_heavy",
    "Large tables read mostly by sequential scans",
    "pg_stat_all_tables.seq_scan, seq_tup_read, idx_scan",
    "seq_scan_pct (50 %) of scans on tables over 10 x min_rows rows",
)
def _seq_heavy(ctx: Ctx) -> Iterator[Finding]:
    for t in tables(ctx):
        if t["kind"] != "r" or t["live"] < 10 * ctx.opts.min_rows or t["seq_scan"] < 10:
            continue
        pct = 100.0 * t["seq_scan"] / (t["seq_scan"] + t["idx_scan"])
        if pct < ctx.opts.seq_scan_pct:
            continue
        yield Finding(
            "table.seq_scan_heavy",
            Severity.INFO,
            q(t["schema"], t["name"]),
            {"seq_scan": t["seq_scan"], "idx_scan": t["idx_scan"], "seq_pct": round(pct, 1),
             "rows_per_seq_scan": round(t["seq_read"] / t["seq_scan"])},
            "most reads scan the whole table: see index.suggested for the queries doing it",
        )  # fmt: skip


@check(
    "table.autovacuum_disabled",
    "Tables with autovacuum turned off",
    "pg_class.reloptions",
    fixable=True,
)
def _autovacuum_off(ctx: Ctx) -> Iterator[Finding]:
    for t in tables(ctx):
        if "autovacuum_enabled=false" not in t["options"]:
            continue
        name = q(t["schema"], t["name"])
        yield Finding(
            "table.autovacuum_disabled",
            Severity.WARNING,
            name,
            {"dead": t["dead"]},
            "dead rows and transaction ids pile up until an emergency vacuum: turn it back on",
            Fix((f"ALTER TABLE {name} RESET (autovacuum_enabled)",), "SHARE UPDATE EXCLUSIVE",
                transactional=True, description="re-enable autovacuum"),
        )  # fmt: skip


@check(
    "table.bloat",
    "Bloated tables (free space inside the heap), with a confidence",
    "pgstattuple_approx when installed (high confidence), else pg_class and pg_stats",
    "bloat_pct (40 %) of a table over min_bloat_size (10 MB)",
    fixable=False,
)
def _bloat(ctx: Ctx) -> Iterator[Finding]:
    big = measured(
        ctx,
        tables(ctx),
        lambda t: t["kind"] == "r" and t["bytes"] >= ctx.opts.min_bloat_size / 2,
    )
    if not big:
        return
    exact = ctx.value("select 1 from pg_extension where extname = 'pgstattuple'") is not None
    widths = {} if exact else _row_widths(ctx, [t["oid"] for t in big])
    blind = 0
    for t in big:
        if exact:
            free = ctx.value(
                "select approx_free_percent + dead_tuple_percent from pgstattuple_approx(%s)",
                (t["oid"],),
            )
            bloat, confidence = float(free) / 100, "high"
        else:
            width = widths.get(t["oid"])
            stale = t["analyzed"] is None or t["modified"] > 0.2 * max(t["reltuples"], 1)
            if width is None or stale:
                blind += 1  # no guess: stale or invisible statistics read as bloat
                continue
            per_row = 24 + 4 + ((width + 7) // 8) * 8  # tuple header + line pointer, aligned
            expected = max(t["reltuples"], 0) * per_row / (8192 - 24) * 8192
            bloat, confidence = max(0.0, 1 - expected / t["bytes"]), "medium"
        if bloat * 100 < ctx.opts.bloat_pct:
            continue
        name = q(t["schema"], t["name"])
        yield Finding(
            "table.bloat",
            Severity.WARNING,
            name,
            {"bytes": t["bytes"], "bloat_pct": round(bloat * 100, 1),
             "wasted_bytes": round(t["bytes"] * bloat),
             "confidence": 2 if confidence == "high" else 1},
            f"about {bloat:.0%} of its {human(t['bytes'])} is free space ({confidence} "
            "confidence): VACUUM makes it reusable; only a rewrite (pg_repack, VACUUM FULL "
            "in a window) returns it to the system",
        )  # fmt: skip
    if blind:
        ctx.note(
            "table.bloat",
            f"{blind} large table(s) not judged: their statistics are stale or not visible "
            "to this role (install pgstattuple, or analyze)",
        )


def _row_widths(ctx: Ctx, oids: list[int]) -> dict[int, int]:
    """Average row width from pg_stats, for tables whose every column has statistics."""
    rows = ctx.rows(
        """
        select c.oid, count(*) as cols, count(s.avg_width) as seen,
               coalesce(sum(s.avg_width), 0) as width
          from pg_class c
          join pg_namespace n on n.oid = c.relnamespace
          join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
          left join pg_stats s on s.schemaname = n.nspname and s.tablename = c.relname
                              and s.attname = a.attname
         where c.oid = any(%s)
         group by c.oid
        """,
        (oids,),
    )
    return {r["oid"]: int(r["width"]) for r in rows if r["seen"] == r["cols"]}
