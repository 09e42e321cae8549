"""``pgwarden partitions``: every partitioned table, its partitions, gaps and default rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg

from pgwarden._names import QualifiedName
from pgwarden.features.partition._layout import Layout, _json, partman_tables, read_layout
from pgwarden.spec import Spec


@dataclass(frozen=True)
class TableReport:
    table: QualifiedName
    declared: bool
    """``partition`` is declared for it in pgwarden.toml."""
    partman: str | None
    """The schema of pg_partman's part_config when pg_partman manages it (left alone)."""
    layout: Layout | None

    @property
    def default_rows(self) -> int:
        default = self.layout.default if self.layout else None
        return default.rows if default else 0

    @property
    def message(self) -> str | None:
        if self.partman is not None:
            return f"managed by pg_partman ({self.partman}.part_config): pgwarden leaves it alone"
        if self.layout is None:
            return "not partitioned yet: pgwarden partitions convert " + str(self.table)
        if self.default_rows:
            default = self.layout.default
            assert default is not None
            return f"{self.default_rows} rows in the default partition {default.name}" + (
                ": pgwarden maintain moves them out" if self.declared else ""
            )
        return None

    def to_json(self) -> dict[str, Any]:
        layout = self.layout
        return {
            "table": str(self.table),
            "declared": self.declared,
            "managed_by_pg_partman": self.partman is not None,
            "strategy": layout.strategy if layout else None,
            "column": layout.column if layout else None,
            "partitions": [p.to_json() for p in layout.parts] if layout else [],
            "gaps": [[_json(a), _json(b)] for a, b in layout.gaps()] if layout else [],
            "default_rows": self.default_rows,
            "rows": sum(p.rows for p in layout.parts) if layout else 0,
            "bytes": sum(p.bytes for p in layout.parts) if layout else 0,
            "message": self.message,
        }


def report(
    conn: psycopg.Connection[Any], spec: Spec, table: QualifiedName | None = None
) -> list[TableReport]:
    """Partitioned tables (top level, outside pgwarden's own schema) and plain tables
    declaring ``partition``; only ``table`` when given."""
    declared = {n for n, t in spec.tables.items() if "partition" in t.features}
    partman = partman_tables(conn)
    rows = conn.execute(
        """select n.nspname, c.relname from pg_class c
           join pg_namespace n on n.oid = c.relnamespace
           where c.relkind = 'p' and not c.relispartition
             and n.nspname not in ('pg_catalog', 'information_schema', 'warden')
           order by 1, 2"""
    ).fetchall()
    names = {QualifiedName(r[0], r[1]) for r in rows} | declared
    if table is not None:
        names = {table}
    found = []
    for name in sorted(names):
        layout = None if name in partman else read_layout(conn, name)
        found.append(TableReport(name, name in declared, partman.get(name), layout))
    return found
