"""What several checks share: the schemas they skip, object names, fixes, sizes."""

from __future__ import annotations

from typing import Any

from psycopg import sql

from pgwarden.ops.monitor._engine import Ctx, Row
from pgwarden.ops.monitor._model import Fix

# Schemas the checks never judge: the system's and pgwarden's own store.
SKIP_SCHEMAS = "('pg_catalog', 'information_schema', 'warden')"
USER_NS = f"n.nspname not in {SKIP_SCHEMAS} and n.nspname !~ '^pg_(toast|temp_|toast_temp_)'"


# Keywords that cannot be bare identifiers (pg_get_keywords() catcode R, T, C; PostgreSQL 18).
_WORDS = """
    all analyse analyze and any array as asc asymmetric authorization between bigint
    binary bit boolean both case cast char character check coalesce collate collation
    column concurrently constraint create cross current_catalog current_date
    current_role current_schema current_time current_timestamp current_user dec decimal
    default deferrable desc distinct do else end except exists extract false fetch float
    for foreign freeze from full grant greatest group grouping having ilike in initially
    inner inout int integer intersect interval into is isnull join lateral leading least
    left like limit localtime localtimestamp national natural nchar none normalize not
    notnull null nullif numeric offset on only or order out outer overlaps overlay
    placing position precision primary real references returning right row select
    session_user setof similar smallint some substring symmetric table tablesample then
    time timestamp to trailing treat trim true union unique user using values varchar
    variadic verbose when where window with xmlattributes xmlconcat xmlelement xmlexists
    xmlforest xmlnamespaces xmlparse xmlpi xmlroot xmlserialize xmltable
"""
_KEYWORDS = frozenset(_WORDS.split())


def _part(name: str) -> str:
    plain = name.replace("_", "a").isalnum() and name.isascii() and name == name.lower()
    if plain and not name[0].isdigit() and name not in _KEYWORDS:
        return name
    return '"' + name.replace('"', '""') + '"'


def q(*parts: str) -> str:
    """``schema.name`` as SQL needs it (quoted only where it must be), also the finding's
    object: ``public.orders``, ``public."Order"``."""
    return ".".join(_part(p) for p in parts)


def drop_index_fix(index: str, why: str) -> Fix:
    return Fix(
        (f"DROP INDEX CONCURRENTLY IF EXISTS {index}",),
        "SHARE UPDATE EXCLUSIVE",
        transactional=False,
        description=why,
    )


def human(size: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if abs(size) < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"


def indexes(ctx: Ctx) -> list[Row]:
    """Every index of the user's tables (not index partitions) with its shape and use."""
    if "indexes" not in ctx.cache:
        ctx.cache["indexes"] = ctx.rows(
            f"""
            select i.indexrelid as oid, i.indrelid as table_oid,
                   n.nspname as schema, ic.relname as name, t.relname as table_name,
                   am.amname as am, i.indisunique as unique, i.indisprimary as primary,
                   i.indisvalid as valid, i.indnkeyatts as nkeys,
                   i.indkey::int2[] as keys, i.indclass::oid[] as opclasses,
                   i.indcollation::oid[] as collations, i.indoption::int2[] as options,
                   pg_get_expr(i.indexprs, i.indrelid) as exprs,
                   pg_get_expr(i.indpred, i.indrelid) as pred,
                   k.conindid is not null as constraint_backed,
                   -- pages as of the last VACUUM / ANALYZE / build: no file access for
                   -- thousands of indexes (index.bloat measures its candidates exactly)
                   ic.relpages::int8 * current_setting('block_size')::int8 as bytes,
                   pg_stat_get_numscans(i.indexrelid) as scans,
                   t.reltuples::float8 as reltuples,
                   ic.relpages::int8 as relpages, t.relkind as table_kind
              from pg_index i
              join pg_class ic on ic.oid = i.indexrelid
              join pg_class t on t.oid = i.indrelid
              join pg_namespace n on n.oid = t.relnamespace
              join pg_am am on am.oid = ic.relam
              -- pg_constraint has no index on conindid: one pass, not one scan per index
              left join (select distinct conindid from pg_constraint
                          where contype in ('p', 'u', 'x')) k on k.conindid = i.indexrelid
             where {USER_NS} and not ic.relispartition and t.relkind in ('r', 'p', 'm')
             order by n.nspname, ic.relname
            """
        )
        for row in ctx.cache["indexes"]:
            for key in ("keys", "opclasses", "collations", "options"):
                row[key] = tuple(row[key])
    rows: list[Row] = ctx.cache["indexes"]
    return rows


def key_part(row: Row) -> tuple[Any, ...]:
    n = row["nkeys"]
    return (row["keys"][:n], row["opclasses"][:n], row["collations"][:n], row["options"][:n])


def lit(value: object) -> str:
    """A value quoted as an SQL literal (for the text of a fix)."""
    return sql.Literal(value).as_string(None)


def measured(ctx: Ctx, rows: list[Row], screen: Any) -> list[Row]:
    """``rows`` (relations with ``oid`` and ``bytes``) at least ``min_bloat_size`` by their
    real size: ``screen(row)`` first picks the candidates by ``pg_class.relpages`` (as of the
    last VACUUM / ANALYZE, half the threshold), whose sizes are then read in one query."""
    screened = [r["oid"] for r in rows if screen(r)]
    if not screened:
        return []
    sizes = dict(
        ctx.conn.execute(
            "select oid, pg_relation_size(oid) from unnest(%s::oid[]) oid", (screened,)
        ).fetchall()
    )
    return [
        {**r, "bytes": sizes[r["oid"]]}
        for r in rows
        if sizes.get(r["oid"], 0) >= ctx.opts.min_bloat_size
    ]
