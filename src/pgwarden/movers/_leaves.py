"""Where a table's rows really are: its leaf partitions (or itself), with their sizes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import psycopg

from pgwarden._names import QualifiedName


@dataclass(frozen=True)
class Leaf:
    """One partition holding rows (or the table itself when it is not partitioned)."""

    name: QualifiedName
    bounds: str | None
    """``FOR VALUES ...`` / ``DEFAULT`` as the server renders it; None for a plain table."""
    parent: QualifiedName | None
    pages: int


def leaves(conn: psycopg.Connection[Any], table: QualifiedName) -> list[Leaf]:
    """The tables that really hold ``table``'s rows, at any depth, in name order."""
    rows = conn.execute(
        """with recursive tree(oid) as (
               select %s::regclass::oid
               union all select i.inhrelid from pg_inherits i join tree on i.inhparent = tree.oid)
           select n.nspname, c.relname,
                  case when c.relispartition then pg_get_expr(c.relpartbound, c.oid) end,
                  pn.nspname, pc.relname,
                  pg_relation_size(c.oid) / current_setting('block_size')::int
           from tree join pg_class c on c.oid = tree.oid
           join pg_namespace n on n.oid = c.relnamespace
           left join pg_inherits i on i.inhrelid = c.oid
           left join pg_class pc on pc.oid = i.inhparent
           left join pg_namespace pn on pn.oid = pc.relnamespace
           where c.relkind = 'r' order by 1, 2""",
        (table.regclass_text,),
    ).fetchall()
    return [
        Leaf(QualifiedName(r[0], r[1]), r[2], QualifiedName(r[3], r[4]) if r[3] else None, r[5])
        for r in rows
    ]


_UPPER = re.compile(r"^FOR VALUES FROM \((.+)\) TO \((.+)\)$", re.S)


def range_upper(bounds: str | None) -> str | None:
    """The upper bound literal of a one-column range partition (None: not such a partition,
    or unbounded). The text is the server's own rendering of the bound (a quoted literal)."""
    match = _UPPER.match(bounds or "")
    if match is None:
        return None
    upper = match.group(2)
    if upper in ("MAXVALUE", "MINVALUE"):
        return None
    return upper


def relkind(conn: psycopg.Connection[Any], name: QualifiedName) -> str | None:
    row = conn.execute(
        "select relkind::text from pg_class where oid = to_regclass(%s)", (name.regclass_text,)
    ).fetchone()
    return None if row is None else str(row[0])
