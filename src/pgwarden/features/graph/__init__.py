"""``graph``: an edge table kept a graph with rules: no self loops, a duplicate policy,
and no cycles, race-free under concurrent writers.

Declared as ``graph = { source = "from_id", target = "to_id", per = "kind" }``. One trigger
checks each new or changed edge; writers of one graph (of one relationship type, with
``per``) serialize on a row of pgwarden's clock table, so that two concurrent edges that
together would close a cycle cannot both commit, at any isolation level. Read with
``warden.graph.reachable(...)`` or ``warden.<schema>_<table>__reachable(a, b, kind)``. See
``docs/hierarchy.md``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import psycopg
from psycopg import sql

from pgwarden._names import owned_name
from pgwarden.catalog import Table
from pgwarden.engine import DesiredObject, ObjectRef
from pgwarden.errors import FeatureNotApplicable
from pgwarden.features._base import (
    Feature,
    PlanContext,
    function_body,
    sql_template,
    trigger,
    trigger_function,
)
from pgwarden.features._indexes import concurrent_index, drop_invalid_leftovers, index_name
from pgwarden.features.graph._api import GraphAPI
from pgwarden.features.graph._options import GraphOptions
from pgwarden.features.graph._plan import (
    NAME,
    Reader,
    acyclic_test,
    clock_table,
    node_type,
    reach_functions,
)
from pgwarden.spec import FeatureOptions, Spec

_PACKAGE = "pgwarden.features.graph"


class Graph(Feature):
    name = NAME
    summary = "an edge table with no self loops, no duplicates, no cycles (race-free)"
    options: ClassVar[type[FeatureOptions]] = GraphOptions
    api = GraphAPI

    def prepare(self, conn: psycopg.Connection[Any]) -> Reader:
        return Reader(conn)

    def objects(
        self, table: Table, options: FeatureOptions, ctx: PlanContext
    ) -> list[DesiredObject]:
        assert isinstance(options, GraphOptions)
        key_type = node_type(table, options)
        function = ObjectRef(
            "function", "warden", owned_name(table.name.schema, table.name.name, suffix=NAME)
        )
        reader = ctx.state.get(NAME)
        if isinstance(reader, Reader) and not ctx.owns(function):
            self._check_rows(table, options, reader)
        clock = clock_table(table)
        per = options.per
        body = function_body(
            sql_template(_PACKAGE, "edge.sql"),
            table=table.name.ident,
            table_text=sql.Literal(str(table.name)),
            source=sql.Identifier(options.source),
            target=sql.Identifier(options.target),
            kind_column=sql.Identifier(per or options.source),
            per_graph=sql.SQL("true" if per is None else "false"),
            kind=sql.SQL("''")
            if per is None
            else sql.SQL("coalesce(new.{}::text, '')").format(sql.Identifier(per)),
            clock=sql.Identifier(clock.ref.schema, clock.ref.name),
            no_self_loops=sql.Literal(options.no_self_loops),
            duplicates=sql.Literal(options.duplicates),
            acyclic=acyclic_test(options),
        )
        watched = [options.source, options.target, *([per] if per else [])]
        timing = sql.SQL("BEFORE INSERT OR UPDATE OF {} ON {} FOR EACH ROW").format(
            sql.SQL(", ").join(sql.Identifier(c) for c in watched), table.name.ident
        )
        columns = [options.source, options.target, *([per] if per else [])]
        name, leftover = index_name(NAME, table, "edges", ctx)
        return [
            clock,
            # SECURITY DEFINER: the check must see every edge (row-level security aside) and
            # write the clock table, which the application's role is not granted.
            trigger_function(
                NAME,
                table,
                function,
                body,
                description=f"function checking the edges of {table.name}",
                attributes="SECURITY DEFINER SET search_path = pg_catalog, pg_temp",
            ),
            trigger(
                NAME,
                table,
                "pgwarden_graph",
                timing,
                function,
                description=f"trigger checking the edges of {table.name}",
            ),
            *reach_functions(table, options, key_type),
            concurrent_index(
                NAME,
                table,
                name,
                sql.SQL("btree ({})").format(
                    sql.SQL(", ").join(sql.Identifier(c) for c in columns)
                ),
                f"index on {table.name} ({', '.join(columns)}) for the walks",
                leftover,
                ctx,
            ),
        ]

    def _check_rows(self, table: Table, options: GraphOptions, reader: Reader) -> None:
        if options.no_self_loops:
            row = reader.conn.execute(
                sql.SQL("select {s}::text from {t} where {s} = {g} limit 1").format(
                    s=sql.Identifier(options.source),
                    g=sql.Identifier(options.target),
                    t=table.name.ident,
                )
            ).fetchone()
            if row:
                raise FeatureNotApplicable(
                    str(table.name), NAME, f"no_self_loops: the rows hold a self loop at {row[0]}"
                )
        if options.acyclic:
            cycle = reader.cycle(table, options)
            if cycle:
                raise FeatureNotApplicable(
                    str(table.name),
                    NAME,
                    f"acyclic: the rows already hold a cycle: {' -> '.join(cycle)}",
                )

    def before_apply(self, conn: psycopg.Connection[Any], spec: Spec) -> None:
        for declared in spec.tables.values():
            if NAME in declared.features:
                drop_invalid_leftovers(conn, declared.name, ("edges",))


__all__ = ["Graph", "GraphAPI", "GraphOptions"]
