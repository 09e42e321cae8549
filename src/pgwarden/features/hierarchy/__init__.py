"""``hierarchy``: a tree by a parent column, kept whole by the database.

Declared as ``hierarchy = { parent = "parent_id", max_depth = 5 }``. pgwarden adds the path
(the keys from the root down to the row, an array of the key's type, GIN-indexed) and the
depth, keeps them with one trigger, refuses cycles, a missing parent, a depth beyond
``max_depth`` and a change of a node's key; moving a row (``UPDATE ... SET parent_id``)
moves its subtree in the same statement. Read with ``warden.hierarchy.descendants`` /
``ancestors`` / ``path`` or ``warden.<schema>_<table>__descendants(key)``. See
``docs/hierarchy.md``.
"""

from __future__ import annotations

import hashlib
from typing import Any, ClassVar

import psycopg
from psycopg import sql

from pgwarden._names import owned_name
from pgwarden.catalog import Column, Table
from pgwarden.engine import DesiredObject, ObjectRef
from pgwarden.errors import FeatureNotApplicable
from pgwarden.features._base import (
    Feature,
    PlanContext,
    feature_column,
    function_body,
    new_column,
    sql_template,
    trigger,
    trigger_function,
)
from pgwarden.features._indexes import concurrent_index, drop_invalid_leftovers, index_name
from pgwarden.features.hierarchy._api import HierarchyAPI
from pgwarden.features.hierarchy._options import HierarchyOptions
from pgwarden.features.hierarchy._plan import KEY_TYPES, NAME, Reader, read_functions, tree_key
from pgwarden.spec import FeatureOptions, Spec

_PACKAGE = "pgwarden.features.hierarchy"


class Hierarchy(Feature):
    name = NAME
    summary = "a tree by a parent column: no cycles, depth and path kept, subtree moves"
    options: ClassVar[type[FeatureOptions]] = HierarchyOptions
    api = HierarchyAPI

    def prepare(self, conn: psycopg.Connection[Any]) -> Reader:
        return Reader(conn)

    def objects(
        self, table: Table, options: FeatureOptions, ctx: PlanContext
    ) -> list[DesiredObject]:
        assert isinstance(options, HierarchyOptions)
        key, key_type = tree_key(table, options.parent)
        if options.scope and table.column(options.scope) is None:
            raise FeatureNotApplicable(str(table.name), NAME, f"scope: no column {options.scope!r}")
        path_ref = ObjectRef("column", table.name.schema, options.path, table.name)
        reader = ctx.state.get(NAME)
        if isinstance(reader, Reader) and not ctx.owns(path_ref):
            cycle = reader.tree_cycle(table, key, options.parent)
            if cycle:
                raise FeatureNotApplicable(
                    str(table.name),
                    NAME,
                    "parent: the rows already hold a cycle (row -> its parent): "
                    + " -> ".join(map(str, cycle)),
                )
        found: list[DesiredObject] = []
        depth_type = _depth_type(table, options)
        for column, definition, accepted in (
            (options.path, f"{key_type}[]", (f"{key_type}[]",)),
            (options.depth, depth_type, ("smallint", "integer", "bigint")),
        ):
            obj = feature_column(
                NAME,
                table,
                column,
                ctx,
                definition=definition,
                accepted=accepted,
                alter="ALTER TABLE {0} ALTER COLUMN {1} TYPE " + definition + " USING NULL",
            )
            if obj is not None:
                found.append(obj)
        scope = sql.Identifier(options.scope) if options.scope else None
        constraint = table.name.name + "_"
        parts: dict[str, sql.Composable] = {
            "table": table.name.ident,
            "table_text": sql.Literal(str(table.name)),
            "key": sql.Identifier(key),
            "parent": sql.Identifier(options.parent),
            "path": sql.Identifier(options.path),
            "depth": sql.Identifier(options.depth),
            "top": sql.Literal(options.top),
        }
        node_parts: dict[str, sql.Composable] = {
            "own_scope": sql.SQL("new.{}::text").format(scope) if scope else sql.SQL("null"),
            "parent_scope": sql.SQL("t.{}::text").format(scope) if scope else sql.SQL("null"),
            "scope_unchanged": sql.SQL("new.{0} is not distinct from old.{0}").format(scope)
            if scope
            else sql.SQL("true"),
            "scope_name": sql.Literal(options.scope or ""),
            "no_cycle": sql.Literal(constraint + "no_cycle"),
            "not_own_parent": sql.Literal(constraint + "not_own_parent"),
            "depth_limit": sql.Literal(constraint + "depth_limit"),
            "key_fixed": sql.Literal(constraint + "key_fixed"),
            "same_scope": sql.Literal(
                constraint + "same_" + (options.scope or "").removesuffix("_id")
            ),
        }
        function = ObjectRef(
            "function", "warden", owned_name(table.name.schema, table.name.name, suffix=NAME)
        )
        body = function_body(
            sql_template(_PACKAGE, "node.sql"),
            path_type=sql.SQL(f"{KEY_TYPES[key_type]}[]"),
            max_depth=sql.Literal(
                options.max_depth if options.max_depth is not None else 2**31 - 1
            ),
            **parts,
            **node_parts,
        )
        watched = [options.parent, key, options.path, options.depth]
        watched += [options.scope] if options.scope else []
        columns = [sql.Identifier(c) for c in watched]
        timing = sql.SQL("BEFORE INSERT OR UPDATE OF {} ON {} FOR EACH ROW").format(
            sql.SQL(", ").join(columns), table.name.ident
        )
        found += [
            trigger_function(
                NAME,
                table,
                function,
                body,
                description=f"function keeping the tree of {table.name}",
            ),
            trigger(
                NAME,
                table,
                "pgwarden_hierarchy",
                timing,
                function,
                description=f"trigger keeping paths and depths of {table.name}",
            ),
            *self._move_lock(table, options),
            *self._fill(table, options, parts, body.as_string(None)),
            *read_functions(table, key, key_type, options.path, options.depth),
        ]
        name, leftover = index_name(NAME, table, "tree", ctx)
        found.append(
            concurrent_index(
                NAME,
                table,
                name,
                sql.SQL("gin ({})").format(sql.Identifier(options.path)),
                f"GIN index on {table.name}.{options.path} (subtrees)",
                leftover,
                ctx,
            )
        )
        return found

    def _move_lock(self, table: Table, options: HierarchyOptions) -> list[DesiredObject]:
        ref = ObjectRef(
            "function",
            "warden",
            owned_name(table.name.schema, table.name.name, suffix="tree_lock"),
        )
        digest = hashlib.sha256(f"pgwarden hierarchy {table.name}".encode()).digest()
        body = function_body(
            sql_template(_PACKAGE, "lock.sql"),
            lock_key=sql.Literal(int.from_bytes(digest[:8], "big", signed=True)),
        )
        watched = [options.parent, *([options.scope] if options.scope else [])]
        timing = sql.SQL("BEFORE UPDATE OF {} ON {} FOR EACH STATEMENT").format(
            sql.SQL(", ").join(sql.Identifier(c) for c in watched), table.name.ident
        )
        return [
            trigger_function(
                NAME, table, ref, body, description=f"function queueing moves in {table.name}"
            ),
            trigger(
                NAME,
                table,
                "pgwarden_hierarchy_moves",
                timing,
                ref,
                description=f"trigger queueing moves in {table.name}",
            ),
        ]

    def _fill(
        self, table: Table, options: HierarchyOptions, parts: dict[str, sql.Composable], node: str
    ) -> list[DesiredObject]:
        fill = ObjectRef(
            "function",
            "warden",
            owned_name(table.name.schema, table.name.name, suffix="tree_fill"),
            None,
            "text",
        )
        marker = ObjectRef(
            "function",
            "warden",
            owned_name(table.name.schema, table.name.name, suffix="tree_filled"),
        )
        marker_ident = sql.Identifier(marker.schema, marker.name)
        body = function_body(
            sql_template(_PACKAGE, "fill.sql"),
            marker_text=sql.Literal(marker_ident.as_string(None)),
            **parts,
        )
        fill_ident = sql.Identifier(fill.schema, fill.name)
        definition = hashlib.sha256(node.encode()).hexdigest()[:16]
        return [
            DesiredObject(
                ref=fill,
                feature=NAME,
                table=table.name,
                create=sql.SQL(
                    "CREATE OR REPLACE PROCEDURE {}(definition text) LANGUAGE plpgsql AS {}"
                ).format(fill_ident, body),
                drop=sql.SQL("DROP PROCEDURE IF EXISTS {}(text)").format(fill_ident),
                description=f"procedure filling paths and depths of {table.name}, level by level",
            ),
            DesiredObject(
                ref=marker,
                feature=NAME,
                table=table.name,
                create=sql.SQL("CALL {}({})").format(fill_ident, sql.Literal(definition)),
                drop=sql.SQL("DROP FUNCTION IF EXISTS {}()").format(marker_ident),
                description=(
                    f"fill the paths and depths of {table.name}'s rows, one committed tree level "
                    "at a time, outside the apply transaction (no table rewrite), before the "
                    "index is built"
                ),
                transactional=False,
            ),
        ]

    def columns_to_come(self, table: Table, options: FeatureOptions) -> list[Column]:
        assert isinstance(options, HierarchyOptions)
        pk = table.primary_key
        key = table.column(pk.columns[0]) if pk else None
        if key is None or key.type not in KEY_TYPES:
            return []
        return [
            new_column(options.path, f"{key.type}[]", 0),
            new_column(options.depth, "integer", 23),
        ]

    def before_apply(self, conn: psycopg.Connection[Any], spec: Spec) -> None:
        for declared in spec.tables.values():
            if NAME in declared.features:
                drop_invalid_leftovers(conn, declared.name, ("tree",))


__all__ = ["Hierarchy", "HierarchyAPI", "HierarchyOptions"]


def _depth_type(table: Table, options: HierarchyOptions) -> str:
    existing = table.column(options.depth)
    return existing.type if existing is not None else "integer"
