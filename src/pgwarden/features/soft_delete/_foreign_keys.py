"""Foreign-key policy: ON DELETE CASCADE into tables that keep history is a way to lose it.

:func:`cascading_keys` reports those keys; :func:`restrict` converts one to ON DELETE
RESTRICT without blocking writes for longer than ``lock_timeout``: the new key is added
``NOT VALID`` (no scan under the strong lock), validated under a lock that lets writes go
on, and swapped for the old one in a short last transaction. A run stopped midway is
finished by the next one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from pgwarden._names import QualifiedName, owned_name
from pgwarden.catalog import Catalog, ForeignKey
from pgwarden.features._base import Feature
from pgwarden.maintenance import JobContext, in_batch
from pgwarden.spec import Spec


@dataclass(frozen=True)
class CascadeKey:
    """An ON DELETE CASCADE foreign key whose referencing table keeps history."""

    table: QualifiedName
    """The referencing table: deleting a referenced row deletes its rows."""
    name: str
    references: QualifiedName
    columns: tuple[str, ...]
    features: tuple[str, ...]
    """Why its rows are worth keeping: the history features it declares."""

    def to_json(self) -> dict[str, Any]:
        return {
            "table": str(self.table),
            "constraint": self.name,
            "references": str(self.references),
            "columns": list(self.columns),
            "features": list(self.features),
        }


def cascading_keys(
    catalog: Catalog, spec: Spec, features: Mapping[str, Feature]
) -> list[CascadeKey]:
    """ON DELETE CASCADE keys into tables that declare a feature keeping rows' history
    (``Feature.keeps_history``: audit, versioning, soft_delete, archive), in table order."""
    keeping = [name for name, feature in features.items() if feature.keeps_history]
    found = []
    for name in sorted(catalog.tables):
        section = spec.tables.get(name)
        declared = tuple(f for f in keeping if section and f in section.features)
        if not declared:
            continue
        for fk in catalog.tables[name].foreign_keys:
            if fk.on_delete == "CASCADE":
                found.append(CascadeKey(name, fk.name, fk.references, fk.columns, declared))
    return found


def restrict(conn: psycopg.Connection[Any], spec: Spec, fk: ForeignKey) -> None:
    """Make ``fk`` ON DELETE RESTRICT (``conn`` in autocommit), keeping its name, columns,
    ON UPDATE action and deferrability."""
    temporary = owned_name(fk.name, suffix="restrict")
    ctx = JobContext(conn=conn, spec=spec, now=dt.datetime.now(dt.UTC))
    exists = conn.execute(
        "select 1 from pg_constraint where conrelid = to_regclass(%s) and conname = %s",
        (fk.table.regclass_text, temporary),
    ).fetchone()
    if not exists:
        in_batch(ctx, lambda c: c.execute(_add(fk, temporary)))
    in_batch(
        ctx,
        lambda c: c.execute(
            sql.SQL("ALTER TABLE {} VALIDATE CONSTRAINT {}").format(
                fk.table.ident, sql.Identifier(temporary)
            )
        ),
    )

    def swap(c: psycopg.Connection[Any]) -> None:
        c.execute(
            sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                fk.table.ident, sql.Identifier(fk.name)
            )
        )
        c.execute(
            sql.SQL("ALTER TABLE {} RENAME CONSTRAINT {} TO {}").format(
                fk.table.ident, sql.Identifier(temporary), sql.Identifier(fk.name)
            )
        )

    in_batch(ctx, swap)


def _add(fk: ForeignKey, name: str) -> sql.Composed:
    deferrable = " DEFERRABLE" if fk.deferrable else ""
    return sql.SQL(
        "ALTER TABLE {} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({}) "
        "ON DELETE RESTRICT ON UPDATE {}{} NOT VALID"
    ).format(
        fk.table.ident,
        sql.Identifier(name),
        sql.SQL(", ").join(map(sql.Identifier, fk.columns)),
        fk.references.ident,
        sql.SQL(", ").join(map(sql.Identifier, fk.referenced_columns)),
        sql.SQL(_ACTIONS[fk.on_update]),
        sql.SQL(deferrable),
    )


_ACTIONS = {
    "NO ACTION": "NO ACTION",
    "RESTRICT": "RESTRICT",
    "CASCADE": "CASCADE",
    "SET NULL": "SET NULL",
    "SET DEFAULT": "SET DEFAULT",
}
"""ON UPDATE actions as the catalog reads them, mapped to fixed SQL words of ours."""
