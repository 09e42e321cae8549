"""Checks of a ``hierarchy`` declaration against the table, and its SQL read functions."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from pgwarden._names import owned_name
from pgwarden.catalog import Table
from pgwarden.engine import DesiredObject, ObjectRef
from pgwarden.errors import FeatureNotApplicable

NAME = "hierarchy"
KEY_TYPES = {t: t for t in ("smallint", "integer", "bigint", "uuid", "text")}
"""Key types a tree may use (its path is an array of them)."""


def tree_key(table: Table, parent: str, feature: str = NAME) -> tuple[str, str]:
    """The table's key column and type, checked against the parent column (same type, and a
    foreign key from it to the key, so orphans are refused or cascaded as the key says)."""
    where = str(table.name)
    pk = table.primary_key
    if pk is None or len(pk.columns) != 1:
        raise FeatureNotApplicable(where, feature, "it needs a single-column primary key")
    key = table.column(pk.columns[0])
    assert key is not None
    if key.type not in KEY_TYPES:
        raise FeatureNotApplicable(
            where,
            feature,
            f"key {key.name} is {key.type}; supported: {', '.join(sorted(KEY_TYPES))}",
        )
    column = table.column(parent)
    if column is None:
        raise FeatureNotApplicable(where, feature, f"parent: no column {parent!r}")
    if column.type != key.type:
        raise FeatureNotApplicable(
            where,
            feature,
            f"parent: {parent} is {column.type}, the key {key.name} is {key.type}",
        )
    if not any(
        fk.columns == (parent,)
        and fk.references == table.name
        and fk.referenced_columns == (key.name,)
        for fk in table.foreign_keys
    ):
        raise FeatureNotApplicable(
            where,
            feature,
            f"parent: {parent} is not a foreign key to {key.name}; declare one (ON DELETE "
            "CASCADE, SET NULL or RESTRICT) so that orphans are cascaded or refused",
        )
    return key.name, KEY_TYPES[key.type]


class Reader:
    """Reads the data while planning (``Feature.prepare``'s result): a plan shows a cycle
    the existing rows already hold rather than failing halfway through an apply."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def tree_cycle(self, table: Table, key: str, parent: str) -> list[Any] | None:
        query = sql.SQL(
            """with recursive up(start, node, seen) as (
                   select {key}, {parent}, array[{key}] from {t} where {parent} is not null
                   union all
                   select up.start, p.{parent}, up.seen || p.{key}
                     from up join {t} p on p.{key} = up.node
                    where p.{key} <> all(up.seen) and p.{parent} is not null)
               select seen || node from up where node = start order by start limit 1"""
        ).format(key=sql.Identifier(key), parent=sql.Identifier(parent), t=table.name.ident)
        row = self.conn.execute(query).fetchone()
        return list(row[0]) if row else None


def read_functions(
    table: Table, key: str, key_type: str, path: str, depth: str
) -> list[DesiredObject]:
    """``warden.<t>__descendants(key)`` and ``warden.<t>__ancestors(key)``: rows of the table."""
    found = []
    bodies = {
        "descendants": "select t.* from {t} t where t.{path} @> array[$1] and t.{key} <> $1"
        " order by t.{depth}, t.{path}",
        "ancestors": "select a.* from {t} n join {t} a on a.{key} = any(n.{path})"
        " where n.{key} = $1 and a.{key} <> $1 order by a.{depth}",
    }
    for suffix, body in bodies.items():
        name = owned_name(table.name.schema, table.name.name, suffix=suffix)
        ref = ObjectRef("function", "warden", name, None, key_type)
        ident = sql.Identifier("warden", name)
        text = sql.SQL(body).format(
            t=table.name.ident,
            path=sql.Identifier(path),
            key=sql.Identifier(key),
            depth=sql.Identifier(depth),
        )
        found.append(
            DesiredObject(
                ref=ref,
                feature=NAME,
                table=table.name,
                create=sql.SQL(
                    "CREATE OR REPLACE FUNCTION {}({}) RETURNS SETOF {} LANGUAGE sql STABLE AS {}"
                ).format(
                    ident, sql.SQL(key_type), table.name.ident, sql.Literal(text.as_string(None))
                ),
                drop=sql.SQL("DROP FUNCTION IF EXISTS {}({})").format(ident, sql.SQL(key_type)),
                description=f"function listing the {suffix} of a node of {table.name}",
            )
        )
    return found
