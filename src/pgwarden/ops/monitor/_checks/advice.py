"""``index.suggested``: indexes for the statements that scan whole tables, proven by plans.

For the heaviest statements reading many blocks per call, the generic plan is asked for
(``EXPLAIN (GENERIC_PLAN)`` on 16+, a prepared statement forced to its generic plan before);
a sequential scan of a large table filtered by equality or range comparisons on plain columns
gives a candidate btree index. No candidate is offered when any existing index (btree, GiST,
GIN, ltree's...) already has that column first, or when the filter uses operators a btree
does not serve (``@>``, ``<@``, ``&&``, ``~~``...). With ``hypopg`` installed the plan after
is shown too, and the candidate is kept only if the planner uses it at a lower cost.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import psycopg
from psycopg import sql

from pgwarden.ops.monitor._checks._common import indexes, q
from pgwarden.ops.monitor._checks.queries import statements
from pgwarden.ops.monitor._engine import Ctx, Row, check
from pgwarden.ops.monitor._model import Finding, Fix, Severity
from pgwarden.ops.monitor._statements import texts

_CANDIDATES = 20  # statements explained per run (the heaviest by total time)
_MIN_BLOCKS_PER_CALL = 100
# `(col = $1)`, `((col)::text = 'x'::text)`, `(col >= $2)`: a plain column against a value.
_COMPARISON = re.compile(
    r"\(*\s*(?P<col>\"(?:[^\"]|\"\")+\"|[a-z_][a-z0-9_$]*)\s*\)?(?:::[\w ]+)?\)?\s*"
    r"(?P<op>=|<=|>=|<|>)\s*(?:\$\d+|'[^']*'|[\d.]+|\(\$\d+\))"
)
_NOT_BTREE = re.compile(r"@>|<@|&&|~~|!~~|~\*|@@|\s~\s|<->|\?\||\?&|@\?|\s\?\s|\|\|")


def _plan(conn: psycopg.Connection[Any], text: str, major: int) -> dict[str, Any] | None:
    """The generic plan of ``text`` as JSON (None when it cannot be planned here)."""
    params = len(set(re.findall(r"\$(\d+)", text)))
    try:
        with conn.transaction(force_rollback=True):
            conn.execute("set local statement_timeout = '2s'")
            if major >= 16:
                query = sql.SQL("EXPLAIN (FORMAT JSON, GENERIC_PLAN) {}").format(sql.SQL(text))
                row = conn.execute(query).fetchone()
            else:
                conn.execute("set local plan_cache_mode = force_generic_plan")
                conn.execute(sql.SQL("PREPARE pgwarden_advice AS {}").format(sql.SQL(text)))
                nulls = sql.SQL(", ").join([sql.NULL] * params)
                execute: sql.Composed = sql.Composed([]) + sql.SQL(
                    "EXPLAIN (FORMAT JSON) EXECUTE pgwarden_advice"
                )
                if params:
                    execute = execute + sql.SQL("({})").format(nulls)
                row = conn.execute(execute).fetchone()
                conn.execute("DEALLOCATE pgwarden_advice")
    except psycopg.Error:
        return None  # not plannable here (another search_path, a utility statement, rights)
    if row is None:
        return None
    doc = row[0] if not isinstance(row[0], str) else json.loads(row[0])
    plan: dict[str, Any] = doc[0]["Plan"]
    return plan


def _seq_scans(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if plan.get("Node Type") == "Seq Scan" and plan.get("Filter"):
        yield plan
    for child in plan.get("Plans", []):
        yield from _seq_scans(child)


def _columns(condition: str) -> list[str] | None:
    """Index columns for a filter: equality columns first, then one range column; None when
    the filter needs operators a btree cannot serve."""
    if _NOT_BTREE.search(condition):
        return None
    eq: list[str] = []
    ranged: list[str] = []
    for m in _COMPARISON.finditer(condition):
        col = m.group("col").strip('"').replace('""', '"')
        target = eq if m.group("op") == "=" else ranged
        if col not in eq and col not in target:
            target.append(col)
    cols = eq + ranged[:1]
    return cols or None


def _served(ctx: Ctx, table_oid: int, column: int) -> bool:
    """Some valid index already has ``column`` (attnum) as its first key, or a GiST / GIN /
    other non-btree index has it anywhere."""
    for ix in indexes(ctx):
        if ix["table_oid"] != table_oid or not ix["valid"]:
            continue
        keys = ix["keys"][: ix["nkeys"]]
        if (keys and keys[0] == column) or (ix["am"] not in ("btree", "hash") and column in keys):
            return True
    return False


@check(
    "index.suggested",
    "Indexes that would serve statements scanning whole tables (plans shown)",
    "pg_stat_statements(false), EXPLAIN of the generic plan, pg_index; hypopg if installed",
    "statements reading over 100 blocks per call, min_calls (10) calls, tables over min_rows",
    fixable=True,
)
def _suggested(ctx: Ctx) -> Iterator[Finding]:
    rows = [
        r
        for r in statements(ctx)
        if r["calls"] >= ctx.opts.min_calls
        and (r["hit"] + r["read"]) / r["calls"] >= _MIN_BLOCKS_PER_CALL
    ]
    rows.sort(key=lambda r: -r["total_ms"])
    rows = rows[:_CANDIDATES]
    text = texts(ctx.conn, [r["queryid"] for r in rows])
    hypopg = ctx.value("select 1 from pg_extension where extname = 'hypopg'") is not None
    offered: set[tuple[int, tuple[str, ...]]] = set()
    for r in rows:
        query = text.get(r["queryid"])
        if not query or not re.match(r"\s*(select|with)\b", query, re.IGNORECASE):
            continue
        plan = _plan(ctx.conn, query, ctx.major)
        if plan is None:
            continue
        for scan in _seq_scans(plan):
            found = _candidate(ctx, scan)
            if found is None:
                continue
            table, oid, cols = found
            if (oid, tuple(cols)) in offered:
                continue
            after = _hypothetical(ctx, query, table, cols) if hypopg else None
            if hypopg and (after is None or after["Total Cost"] >= plan["Total Cost"]):
                continue
            offered.add((oid, tuple(cols)))
            yield _finding(r, query, plan, after, table, cols)


def _candidate(ctx: Ctx, scan: dict[str, Any]) -> tuple[str, int, list[str]] | None:
    cols = _columns(str(scan["Filter"]))
    if not cols:
        return None
    schema, name = scan.get("Schema", "public"), scan["Relation Name"]
    info = ctx.rows(
        "select c.oid, c.reltuples::float8 as tuples, a.attnum from pg_class c "
        "join pg_namespace n on n.oid = c.relnamespace "
        "join pg_attribute a on a.attrelid = c.oid and a.attname = %s "
        "where n.nspname = %s and c.relname = %s",
        (cols[0], schema, name),
    )
    if not info or info[0]["tuples"] < ctx.opts.min_rows:
        return None
    if _served(ctx, info[0]["oid"], info[0]["attnum"]):
        return None  # an index exists; the planner chose the scan for a reason
    return q(schema, name), info[0]["oid"], cols


def _hypothetical(ctx: Ctx, query: str, table: str, cols: list[str]) -> dict[str, Any] | None:
    create = f"CREATE INDEX ON {table} ({', '.join(q(c) for c in cols)})"
    try:
        ctx.conn.execute("select hypopg_create_index(%s)", (create,))
        return _plan(ctx.conn, query, ctx.major)
    finally:
        ctx.conn.execute("select hypopg_reset()")


def _outline(plan: dict[str, Any], depth: int = 0) -> str:
    line = "  " * depth + f"{plan['Node Type']}"
    if plan.get("Relation Name"):
        line += f" on {plan['Relation Name']}"
    if plan.get("Index Name"):
        line += f" using {plan['Index Name']}"
    line += f"  (cost={plan['Total Cost']:.0f} rows={plan['Plan Rows']:.0f})"
    if plan.get("Filter"):
        line += f"  filter: {plan['Filter']}"
    children = [_outline(c, depth + 1) for c in plan.get("Plans", [])]
    return "\n".join([line, *children])


def _finding(
    r: Row,
    query: str,
    before: dict[str, Any],
    after: dict[str, Any] | None,
    table: str,
    cols: list[str],
) -> Finding:
    name = f"{table.split('.')[-1].strip(chr(34))}_{'_'.join(cols)}_idx"[:63]
    detail = f"query: {' '.join(query.split())[:500]}\nplan before:\n{_outline(before)}"
    if after is not None:
        detail += f"\nplan with the index (hypopg):\n{_outline(after)}"
    evidence: dict[str, float] = {
        "calls": r["calls"],
        "mean_ms": round(r["mean_ms"], 3),
        "blocks_per_call": round((r["hit"] + r["read"]) / r["calls"]),
        "cost_before": round(before["Total Cost"], 1),
    }
    if after is not None:
        evidence["cost_after"] = round(after["Total Cost"], 1)
    return Finding(
        "index.suggested",
        Severity.INFO,
        f"{table} ({', '.join(cols)})",
        evidence,
        f"query {r['queryid']} scans {table} whole on every call: an index on "
        f"({', '.join(cols)}) would serve its filter",
        Fix(
            (f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {q(name)} ON {table} "
             f"({', '.join(q(c) for c in cols)})",),
            "SHARE UPDATE EXCLUSIVE",
            transactional=False,
            description="build the suggested index without blocking writes",
        ),
        detail=detail,
    )  # fmt: skip
