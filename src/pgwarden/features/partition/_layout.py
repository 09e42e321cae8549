"""What a partitioned table looks like now: its key, its partitions and their bounds.

Bounds are read from ``pg_get_expr(relpartbound)`` under ``DateStyle = ISO`` and
``TimeZone = UTC`` (set for that one transaction), so the text parses the same way
whatever the server's or the role's settings are.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from pgwarden._names import QualifiedName

Bound = Any
"""A bound value (datetime, int or str); ``None`` is MINVALUE/MAXVALUE (unbounded)."""

TIME_TYPES = ("timestamp with time zone", "timestamp without time zone", "date")
INT_TYPES = ("smallint", "integer", "bigint")
_TOKEN = re.compile(r"'(?:[^']|'')*'|[^,\s()]+")
_RANGE = re.compile(r"^FOR VALUES FROM \((.*)\) TO \((.*)\)$", re.S)
_LIST = re.compile(r"^FOR VALUES IN \((.*)\)$", re.S)


@dataclass(frozen=True)
class Part:
    """One partition."""

    name: QualifiedName
    oid: int
    bound: str
    """As PostgreSQL prints it (``FOR VALUES FROM (...) TO (...)``, ``DEFAULT``...)."""
    low: Bound = None
    high: Bound = None
    values: tuple[Bound, ...] = ()
    rows: int = 0
    """Estimated (exact for the default partition)."""
    bytes: int = 0

    @property
    def is_default(self) -> bool:
        return self.bound == "DEFAULT"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": str(self.name),
            "bound": self.bound,
            "low": _json(self.low),
            "high": _json(self.high),
            "values": [_json(v) for v in self.values],
            "rows": self.rows,
            "bytes": self.bytes,
            "default": self.is_default,
        }


@dataclass(frozen=True)
class Layout:
    """A partitioned table: key, type of the key column, owner, and its partitions."""

    parent: QualifiedName
    oid: int
    strategy: str
    """``range``, ``list`` or ``hash``."""
    column: str | None
    """The key column; ``None`` for an expression or a multi-column key."""
    column_type: str | None
    parts: tuple[Part, ...]

    @property
    def default(self) -> Part | None:
        return next((p for p in self.parts if p.is_default), None)

    @property
    def ranges(self) -> list[Part]:
        """Range partitions ordered by lower bound (unbounded first)."""
        ranged = [p for p in self.parts if not p.is_default and p.values == ()]
        return sorted(ranged, key=lambda p: (p.low is not None, _sortable(p.low)))

    @property
    def listed(self) -> set[Any]:
        return {v for p in self.parts for v in p.values}

    def covering(self, low: Any, high: Any) -> list[Part]:
        """Range partitions overlapping ``[low, high)``."""
        return [
            p
            for p in self.ranges
            if (p.low is None or p.low < high) and (p.high is None or p.high > low)
        ]

    def gaps(self) -> list[tuple[Any, Any]]:
        """Holes between consecutive range partitions (rows there go to the default)."""
        found = []
        ordered = self.ranges
        for before, after in itertools.pairwise(ordered):
            if before.high is not None and after.low is not None and before.high < after.low:
                found.append((before.high, after.low))
        return found


def _sortable(value: Bound) -> Any:
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None)
    return value


def _json(value: Bound) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime) else value


def parse_value(token: str, column_type: str | None) -> Bound:
    """One literal of a partition bound, as the column's Python value."""
    if token in ("MINVALUE", "MAXVALUE", "NULL"):
        return None
    text = token[1:-1].replace("''", "'") if token.startswith("'") else token
    if column_type in TIME_TYPES:
        if text in ("infinity", "-infinity"):
            return None
        value = dt.datetime.fromisoformat(text)
        if column_type == "timestamp with time zone" and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value
    if column_type in INT_TYPES:
        return int(text)
    return text


def _parse_bound(bound: str, column_type: str | None) -> tuple[Bound, Bound, tuple[Bound, ...]]:
    ranged = _RANGE.match(bound)
    if ranged:
        low = _TOKEN.findall(ranged.group(1))
        high = _TOKEN.findall(ranged.group(2))
        if len(low) == 1 and len(high) == 1:
            return parse_value(low[0], column_type), parse_value(high[0], column_type), ()
        return None, None, ()
    listed = _LIST.match(bound)
    if listed:
        return None, None, tuple(parse_value(t, column_type) for t in _TOKEN.findall(listed[1]))
    return None, None, ()


def read_layout(
    conn: psycopg.Connection[Any], table: QualifiedName, *, exact_default: bool = True
) -> Layout | None:
    """The table's partitioning, or ``None`` when it is not a partitioned table. Rows are
    estimates, except the default partition's with ``exact_default`` (one count)."""
    with conn.transaction():
        conn.execute("SET LOCAL DateStyle = ISO")
        conn.execute("SET LOCAL TimeZone = 'UTC'")
        head = conn.execute(
            """select c.oid, p.partstrat, a.attname, format_type(a.atttypid, a.atttypmod)
               from pg_class c join pg_partitioned_table p on p.partrelid = c.oid
               left join pg_attribute a on p.partnatts = 1 and a.attrelid = c.oid
                    and a.attnum = p.partattrs[0]
               where c.oid = to_regclass(%s)""",
            (table.regclass_text,),
        ).fetchone()
        if head is None:
            return None
        oid, strat, column, column_type = head
        rows = conn.execute(
            """select n.nspname, c.relname, c.oid, pg_get_expr(c.relpartbound, c.oid),
                      greatest(c.reltuples::bigint, coalesce(s.n_live_tup, 0)),
                      pg_total_relation_size(c.oid)
               from pg_inherits i join pg_class c on c.oid = i.inhrelid
               join pg_namespace n on n.oid = c.relnamespace
               left join pg_stat_user_tables s on s.relid = c.oid
               where i.inhparent = %s""",
            (oid,),
        ).fetchall()
    parts = []
    for schema, name, part_oid, bound, estimate, size in rows:
        low, high, values = _parse_bound(bound, column_type)
        parts.append(
            Part(QualifiedName(schema, name), part_oid, bound, low, high, values, estimate, size)
        )
    layout = Layout(
        table,
        oid,
        {"r": "range", "l": "list", "h": "hash"}[strat],
        column,
        column_type,
        tuple(sorted(parts, key=lambda p: p.name)),
    )
    default = layout.default
    if default is not None and exact_default:
        exact = conn.execute(sql.SQL("select count(*) from {}").format(default.name.ident))
        count = exact.fetchone()
        parts = [
            Part(p.name, p.oid, p.bound, rows=int(count[0]) if count else 0, bytes=p.bytes)
            if p.is_default
            else p
            for p in layout.parts
        ]
        layout = Layout(table, oid, layout.strategy, column, column_type, tuple(parts))
    return layout


def partman_tables(conn: psycopg.Connection[Any]) -> dict[QualifiedName, str]:
    """Tables pg_partman manages (its ``part_config``, in whichever schema it lives), with
    that schema: pgwarden leaves them alone."""
    found: dict[QualifiedName, str] = {}
    schemas = conn.execute(
        """select n.nspname from pg_class c join pg_namespace n on n.oid = c.relnamespace
           where c.relname = 'part_config' and c.relkind in ('r', 'p')
             and exists (select 1 from pg_attribute a where a.attrelid = c.oid
                         and a.attname = 'parent_table' and not a.attisdropped)"""
    ).fetchall()
    for (schema,) in schemas:
        rows = conn.execute(
            sql.SQL("select parent_table from {}").format(sql.Identifier(schema, "part_config"))
        ).fetchall()
        for (parent,) in rows:
            try:
                found[QualifiedName.parse(parent)] = schema
            except ValueError:
                continue
    return found
