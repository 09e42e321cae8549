"""Checks of a ``graph`` declaration, the clock table it serializes writers on, and its SQL
reachability functions."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from pgwarden._names import owned_name
from pgwarden.catalog import Table
from pgwarden.engine import DesiredObject, ObjectRef
from pgwarden.errors import FeatureNotApplicable
from pgwarden.features.graph._options import GraphOptions

NAME = "graph"
_KEYS = ("smallint", "integer", "bigint", "uuid", "text", "character varying")


def node_type(table: Table, options: GraphOptions) -> str:
    """The type of the nodes (source and target must agree, and point at the same key)."""
    where = str(table.name)
    source, target = table.column(options.source), table.column(options.target)
    for key, column in (("source", source), ("target", target)):
        if column is None:
            name = getattr(options, key)
            raise FeatureNotApplicable(where, NAME, f"{key}: no column {name!r}")
    assert source is not None and target is not None
    if source.type != target.type or source.type.split("(")[0] not in _KEYS:
        raise FeatureNotApplicable(
            where,
            NAME,
            f"target: {options.source} is {source.type} and {options.target} is {target.type};"
            f" both must be one key type ({', '.join(_KEYS)})",
        )
    refs = {
        fk.columns[0]: (fk.references, fk.referenced_columns)
        for fk in table.foreign_keys
        if len(fk.columns) == 1 and fk.columns[0] in (options.source, options.target)
    }
    if len(refs) == 2 and refs[options.source] != refs[options.target]:
        raise FeatureNotApplicable(
            where, NAME, f"target: {options.source} and {options.target} reference different keys"
        )
    if options.per is not None and table.column(options.per) is None:
        raise FeatureNotApplicable(where, NAME, f"per: no column {options.per!r}")
    return source.type


def acyclic_test(options: GraphOptions) -> sql.Composable:
    """The trigger's test of whether the new edge's graph must stay acyclic: a constant, or
    (``acyclic`` listing relationship types) whether the edge's type is one of them."""
    if not isinstance(options.acyclic, tuple):
        return sql.Literal(options.acyclic)
    assert options.per is not None
    return sql.SQL("(new.{}::text = any({}::text[]))").format(
        sql.Identifier(options.per), sql.Literal(list(options.acyclic))
    )


class Reader:
    """Reads the edges while planning (``Feature.prepare``'s result), so that a plan shows a
    cycle or a self loop the existing rows hold instead of failing in the apply."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def cycle(self, table: Table, options: GraphOptions) -> list[Any] | None:
        same = (
            sql.SQL("true")
            if options.per is None
            # compared as text, as the clock and the walks compare it: a per column of any type
            else sql.SQL("e.{0}::text is not distinct from p.kind").format(
                sql.Identifier(options.per)
            )
        )
        kind = sql.SQL("null::text") if options.per is None else sql.Identifier(options.per)
        kinds = (
            sql.SQL("true")
            if not isinstance(options.acyclic, tuple)
            else sql.SQL("{}::text = any({}::text[])").format(
                kind, sql.Literal(list(options.acyclic))
            )
        )
        query = sql.SQL(
            """with recursive p(start, n, kind, trail) as (
                   select {s}, {t}, {kind}::text, array[{s}::text, {t}::text] from {table}
                    where {kinds}
                   union all
                   select p.start, e.{t}, p.kind, p.trail || e.{t}::text
                     from p join {table} e on e.{s} = p.n and {same}
                    where p.n <> p.start and e.{t}::text <> all(p.trail[2:]))
               select trail from p where p.n = p.start order by trail limit 1"""
        ).format(
            s=sql.Identifier(options.source),
            t=sql.Identifier(options.target),
            kind=kind,
            table=table.name.ident,
            same=same,
            kinds=kinds,
        )
        row = self.conn.execute(query).fetchone()
        return list(row[0]) if row else None


def clock_table(table: Table) -> DesiredObject:
    """One row per graph (per relationship type), locked by each edge write."""
    name = owned_name(table.name.schema, table.name.name, suffix="graph_clock")
    ident = sql.Identifier("warden", name)
    return DesiredObject(
        ref=ObjectRef("table", "warden", name),
        feature=NAME,
        table=table.name,
        create=sql.SQL(
            "CREATE TABLE IF NOT EXISTS {} (kind text PRIMARY KEY, writes bigint NOT NULL)"
        ).format(ident),
        drop=sql.SQL("DROP TABLE IF EXISTS {}").format(ident),
        description=f"table of {table.name}'s graph clocks (edge writers serialize on a row)",
    )


def reach_functions(table: Table, options: GraphOptions, key_type: str) -> list[DesiredObject]:
    """``warden.<t>__reachable(a, b, kind)`` and ``warden.<t>__reachable_from(a, kind)``."""
    same = (
        sql.SQL("true")
        if options.per is None
        else sql.SQL("($K is null or e.{}::text = $K)").format(sql.Identifier(options.per))
    )
    walk = sql.SQL(
        "with recursive r(n) as (select e.{t} from {table} e where e.{s} = $1 and {same}"
        " union select e.{t} from {table} e join r on e.{s} = r.n where {same}) "
    ).format(
        s=sql.Identifier(options.source),
        t=sql.Identifier(options.target),
        table=table.name.ident,
        same=same,
    )
    key = sql.SQL(key_type)  # a type name as the catalog prints it, from _KEYS
    found = []
    for suffix, args, returns, tail, kind_arg in (
        ("reachable", sql.SQL("{0}, {0}, text").format(key), sql.SQL("boolean"),
         "select exists (select from r where r.n = $2)", "$3"),
        ("reachable_from", sql.SQL("{0}, text").format(key), sql.SQL("SETOF {}").format(key),
         "select n from r", "$2"),
    ):  # fmt: skip
        name = owned_name(table.name.schema, table.name.name, suffix=suffix)
        ident = sql.Identifier("warden", name)
        body = (walk + sql.SQL(tail)).as_string(None).replace("$K", kind_arg)
        found.append(
            DesiredObject(
                ref=ObjectRef("function", "warden", name, None, args.as_string(None)),
                feature=NAME,
                table=table.name,
                create=sql.SQL(
                    "CREATE OR REPLACE FUNCTION {}({}) RETURNS {} LANGUAGE sql STABLE AS {}"
                ).format(ident, args, returns, sql.Literal(body)),
                drop=sql.SQL("DROP FUNCTION IF EXISTS {}({})").format(ident, args),
                description=f"function: reachability in the graph of {table.name}",
            )
        )
    return found
