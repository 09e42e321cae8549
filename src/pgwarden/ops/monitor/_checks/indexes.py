"""Indexes: unused, duplicate, redundant by prefix, invalid, missing on a foreign key,
bloated."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from pgwarden.ops.monitor._checks._common import (
    USER_NS,
    drop_index_fix,
    human,
    indexes,
    key_part,
    measured,
    q,
)
from pgwarden.ops.monitor._engine import Ctx, Row, check
from pgwarden.ops.monitor._model import Finding, Fix, Severity


def _droppable(row: Row) -> bool:
    """An index nothing but performance depends on (no constraint, no uniqueness)."""
    return not (row["unique"] or row["primary"] or row["constraint_backed"])


def _rank(row: Row) -> tuple[int, int]:
    # Of equal indexes keep the one a constraint needs, then a unique one, then the oldest.
    return (0 if row["constraint_backed"] else 1 if row["unique"] else 2, row["oid"])


@check(
    "index.duplicate",
    "Indexes with identical definitions",
    "pg_index (AM, keys, opclasses, collations, order, expressions, predicate)",
    fixable=True,
)
def _duplicate(ctx: Ctx) -> Iterator[Finding]:
    groups: dict[tuple[object, ...], list[Row]] = defaultdict(list)
    for row in indexes(ctx):
        if row["valid"]:
            shape = (row["table_oid"], row["am"], row["keys"], row["opclasses"], row["collations"],
                     row["options"], row["exprs"], row["pred"], row["nkeys"])  # fmt: skip
            groups[shape].append(row)
    for rows in groups.values():
        if len(rows) < 2:
            continue
        keep, *others = sorted(rows, key=_rank)
        for row in others:
            if row["constraint_backed"] or (row["unique"] and not keep["unique"]):
                continue
            name = q(row["schema"], row["name"])
            yield Finding(
                "index.duplicate",
                Severity.WARNING,
                name,
                {"bytes": row["bytes"], "scans": row["scans"]},
                f"same definition as {q(row['schema'], keep['name'])}: drop this one",
                drop_index_fix(name, f"duplicate of {keep['name']}"),
            )


def _covers(short: Row, long: Row) -> bool:
    """``long`` serves every lookup ``short`` serves: a btree whose leading keys are
    ``short``'s keys with the same opclasses, collations and order, same predicate."""
    if short["am"] != "btree" or long["am"] != "btree" or short is long:
        return False
    if short["exprs"] or long["exprs"] or short["pred"] != long["pred"] or not long["valid"]:
        return False
    n = short["nkeys"]
    if n >= long["nkeys"]:
        return False
    mine, theirs = key_part(short), key_part(long)
    if any(a != b[:n] for a, b in zip(mine, theirs, strict=True)):
        return False
    included = set(short["keys"][n:])
    return included <= set(long["keys"])


@check(
    "index.redundant",
    "Indexes whose keys lead a larger btree index",
    "pg_index (keys, opclasses, collations, order, predicate, uniqueness)",
    fixable=True,
)
def _redundant(ctx: Ctx) -> Iterator[Finding]:
    by_table: dict[int, list[Row]] = defaultdict(list)
    for row in indexes(ctx):
        by_table[row["table_oid"]].append(row)
    for rows in by_table.values():
        if len(rows) < 2:
            continue
        for short in rows:
            if not _droppable(short) or not short["valid"]:
                continue
            cover = next((long for long in rows if _covers(short, long)), None)
            if cover is None:
                continue
            name = q(short["schema"], short["name"])
            yield Finding(
                "index.redundant",
                Severity.WARNING,
                name,
                {"bytes": short["bytes"], "scans": short["scans"]},
                f"its keys lead {q(cover['schema'], cover['name'])}, which serves the same "
                "lookups: drop this one",
                drop_index_fix(name, f"covered by {cover['name']}"),
            )


def stats_age(ctx: Ctx) -> float:
    """Seconds since this database's statistics were last reset (or the server started,
    whichever is later: the lower bound of how long the counters have been counting)."""
    seconds = ctx.value(
        "select extract(epoch from now() - greatest(stats_reset, pg_postmaster_start_time()))"
        " from pg_stat_database where datname = current_database()"
    )
    return float(seconds or 0)


@check(
    "index.unused",
    "Indexes never scanned since the statistics were reset",
    "pg_stat_all_indexes.idx_scan, pg_stat_database.stats_reset",
    "0 scans; warning once the counters are older than unused_index_min_age (7 days)",
    fixable=True,
)
def _unused(ctx: Ctx) -> Iterator[Finding]:
    age = stats_age(ctx)
    old_enough = age >= ctx.opts.unused_index_min_age.seconds
    for row in indexes(ctx):
        if row["scans"] or not _droppable(row) or not row["valid"]:
            continue
        name = q(row["schema"], row["name"])
        days = age / 86400
        yield Finding(
            "index.unused",
            Severity.WARNING if old_enough else Severity.INFO,
            name,
            {"bytes": row["bytes"], "scans": 0, "stats_age_days": round(days, 2)},
            f"not scanned in {days:.1f} days of statistics; drop it if no rare job needs it"
            if old_enough
            else f"not scanned yet, but the statistics are only {days:.1f} days old",
            drop_index_fix(name, "unused") if old_enough else None,
        )


@check(
    "index.invalid",
    "Invalid indexes (a failed CREATE INDEX CONCURRENTLY)",
    "pg_index.indisvalid, pg_stat_progress_create_index",
    fixable=True,
)
def _invalid(ctx: Ctx) -> Iterator[Finding]:
    rows = ctx.rows(
        f"""
        select n.nspname as schema, ic.relname as name, pg_get_indexdef(i.indexrelid) as def,
               pg_relation_size(i.indexrelid) as bytes
          from pg_index i
          join pg_class ic on ic.oid = i.indexrelid
          join pg_namespace n on n.oid = ic.relnamespace
         where not i.indisvalid and {USER_NS}
           and not exists (select 1 from pg_stat_progress_create_index p
                            where p.index_relid = i.indexrelid or p.relid = i.indrelid)
        """
    )
    for row in rows:
        name = q(row["schema"], row["name"])
        build = str(row["def"]).replace(" INDEX ", " INDEX CONCURRENTLY ", 1)
        yield Finding(
            "index.invalid",
            Severity.WARNING,
            name,
            {"bytes": row["bytes"]},
            "left by a failed concurrent build: it is maintained on every write but never "
            "used; rebuild it (or drop it)",
            Fix(
                (f"DROP INDEX CONCURRENTLY IF EXISTS {name}", build),
                "SHARE UPDATE EXCLUSIVE",
                transactional=False,
                description="drop the invalid index and build it again concurrently",
            ),
            detail=str(row["def"]),
        )


@check(
    "index.fk_missing",
    "Foreign keys without an index on their columns",
    "pg_constraint, pg_index (leading key columns)",
    fixable=True,
)
def _fk_missing(ctx: Ctx) -> Iterator[Finding]:
    rows = ctx.rows(
        f"""
        select c.conname, n.nspname as schema, t.relname as table_name, c.conrelid,
               c.conkey::int2[] as cols, c.confrelid::regclass::text as parent,
               array(select a.attname from unnest(c.conkey) k
                       join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k) as names,
               greatest(t.reltuples, 0)::int8 as rows
          from pg_constraint c
          join pg_class t on t.oid = c.conrelid
          join pg_namespace n on n.oid = t.relnamespace
         where c.contype = 'f' and not t.relispartition and {USER_NS}
        """
    )
    by_table: dict[int, list[Row]] = defaultdict(list)
    for row in indexes(ctx):
        by_table[row["table_oid"]].append(row)
    for fk in rows:
        wanted = set(fk["cols"])
        served = any(
            ix["valid"]
            and ix["pred"] is None
            and ix["am"] != "brin"
            and ix["nkeys"] >= len(wanted)  # INCLUDE columns serve no lookup
            and set(ix["keys"][: len(wanted)]) == wanted
            for ix in by_table.get(fk["conrelid"], [])
        )
        if served:
            continue
        table = q(fk["schema"], fk["table_name"])
        index = _index_name(fk["table_name"], fk["names"])
        cols = ", ".join(q(c) for c in fk["names"])
        yield Finding(
            "index.fk_missing",
            Severity.WARNING,
            f"{table}.{fk['conname']}",
            {"rows": fk["rows"], "columns": len(wanted)},
            f"no index leads with ({', '.join(fk['names'])}): every delete or key update on "
            f"{fk['parent']} scans {table}",
            Fix(
                (f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {q(index)} ON {table} ({cols})",),
                "SHARE UPDATE EXCLUSIVE",
                transactional=False,
                description="index the foreign key's columns",
            ),
        )


def _index_name(table: str, cols: list[str]) -> str:
    name = f"{table}_{'_'.join(cols)}_idx"
    if len(name) > 63:
        import hashlib

        digest = hashlib.sha1(name.encode()).hexdigest()[:8]
        name = f"{name[:50]}_{digest}_idx"
    return name


@check(
    "index.bloat",
    "Bloated btree indexes",
    "pgstattuple.pgstatindex when installed, else pg_class and pg_stats",
    "bloat_pct (40 %) of an index over min_bloat_size (10 MB)",
    fixable=True,
)
def _bloat(ctx: Ctx) -> Iterator[Finding]:
    big = measured(
        ctx,
        indexes(ctx),
        lambda r: (
            r["am"] == "btree"
            and r["valid"]
            and not r["exprs"]
            and r["bytes"] >= ctx.opts.min_bloat_size / 2
        ),
    )
    if not big:
        return
    exact = ctx.value("select 1 from pg_extension where extname = 'pgstattuple'") is not None
    estimates = {} if exact else _estimates(ctx, [r["oid"] for r in big])
    for row in big:
        if exact:
            density = ctx.value(
                "select avg_leaf_density from pgstatindex(%s::regclass)", (row["oid"],)
            )
            if density is None or density != density:  # NaN: an empty index
                continue
            bloat = max(0.0, 1 - float(density) / 90.0)
            confidence = "high"
        else:
            expected = estimates.get(row["oid"])
            if expected is None:
                continue
            bloat = max(0.0, 1 - expected / row["bytes"])
            confidence = "medium"
        if bloat * 100 < ctx.opts.bloat_pct:
            continue
        name = q(row["schema"], row["name"])
        yield Finding(
            "index.bloat",
            Severity.WARNING,
            name,
            {"bytes": row["bytes"], "bloat_pct": round(bloat * 100, 1),
             "wasted_bytes": round(row["bytes"] * bloat)},
            f"about {bloat:.0%} of its {human(row['bytes'])} is free space "
            f"({confidence} confidence): rebuild it concurrently",
            Fix(
                (f"REINDEX INDEX CONCURRENTLY {name}",),
                "SHARE UPDATE EXCLUSIVE",
                transactional=False,
                description="rebuild the index without blocking writes",
            ),
        )  # fmt: skip


def _estimates(ctx: Ctx, oids: list[int]) -> dict[int, float]:
    """Expected size of each btree index when packed at its fillfactor (90 %), from the
    table's row estimate and the key columns' average widths in pg_stats. Indexes whose
    columns have no visible statistics (no privilege, never analyzed) get no estimate."""
    rows = ctx.rows(
        """
        select i.indexrelid as oid, t.reltuples::float8 as tuples,
               count(*) as cols, count(s.avg_width) as seen, sum(s.avg_width) as width
          from pg_index i
          join pg_class t on t.oid = i.indrelid
          join pg_namespace n on n.oid = t.relnamespace
          cross join lateral unnest(i.indkey::int2[]) k(attnum)
          join pg_attribute a on a.attrelid = i.indrelid and a.attnum = k.attnum
          left join pg_stats s on s.schemaname = n.nspname and s.tablename = t.relname
                              and s.attname = a.attname
         where i.indexrelid = any(%s) and k.attnum > 0
         group by i.indexrelid, t.reltuples
        """,
        (oids,),
    )
    found: dict[int, float] = {}
    for r in rows:
        if r["seen"] < r["cols"] or r["tuples"] <= 0:
            continue
        per_tuple = 8 + 4 + ((int(r["width"]) + 7) // 8) * 8  # header + pointer, aligned
        pages = r["tuples"] * per_tuple / (8192 * 0.9 - 24) + 1  # + metapage
        found[r["oid"]] = pages * 8192
    return found
