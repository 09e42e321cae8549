"""Indexes a feature builds ``CONCURRENTLY``, on the engine's non-transactional path, with
the leftover of an interrupted build (an INVALID index) replaced on the next apply."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from pgwarden._names import MAX_IDENTIFIER, QualifiedName, owned_name
from pgwarden.catalog import Table
from pgwarden.engine import DesiredObject, Lock, ObjectRef
from pgwarden.errors import FeatureNotApplicable
from pgwarden.features._base import PlanContext


def index_name(feature: str, table: Table, suffix: str, ctx: PlanContext) -> tuple[str, str | None]:
    """The name for one of search's indexes, and the INVALID leftover it replaces, if any.

    An interrupted ``CREATE INDEX CONCURRENTLY`` leaves an INVALID index of that name. The
    index is then built under its second name (``..._b``) while ``before_apply`` drops the
    leftover, so a retried apply succeeds with no manual step; the names alternate."""
    if table.is_partitioned:
        raise FeatureNotApplicable(
            str(table.name),
            feature,
            "it is partitioned: its indexes cannot be built CONCURRENTLY (not supported yet)",
        )
    first = owned_name(table.name.schema, table.name.name, suffix=suffix)
    second = first[: MAX_IDENTIFIER - 2] + "_b"
    found = {i.name: i for i in table.indexes}
    for name in (first, second):
        ref = ObjectRef("index", table.name.schema, name)
        if ctx.owns(ref) and (name not in found or found[name].valid):
            return name, None
    for name, other in ((first, second), (second, first)):
        if name not in found:
            left = found.get(other)
            return name, other if left is not None and not left.valid else None
    raise FeatureNotApplicable(
        str(table.name), feature, f"indexes {first} and {second} exist and are not pgwarden's"
    )


def leftover_names(schema: str, name: str, suffixes: tuple[str, ...]) -> list[str]:
    names = []
    for suffix in suffixes:
        first = owned_name(schema, name, suffix=suffix)
        names += [first, first[: MAX_IDENTIFIER - 2] + "_b"]
    return names


def concurrent_index(
    feature: str,
    table: Table,
    name: str,
    using: sql.Composable,
    description: str,
    replaces: str | None,
) -> DesiredObject:
    ident = sql.Identifier(table.name.schema, name)
    why = (
        f"; replaces the INVALID index {replaces} an interrupted build left (dropped first)"
        if replaces
        else ""
    )
    return DesiredObject(
        ref=ObjectRef("index", table.name.schema, name),
        feature=feature,
        table=table.name,
        create=sql.SQL("CREATE INDEX CONCURRENTLY {} ON {} USING {}").format(
            sql.Identifier(name), table.name.ident, using
        ),
        drop=sql.SQL("DROP INDEX IF EXISTS {}").format(ident),
        description=(
            f"{description}, built CONCURRENTLY outside the apply transaction (writes go on "
            f"while it builds){why}"
        ),
        lock=Lock("SHARE UPDATE EXCLUSIVE", table.name),
        transactional=False,
    )


def drop_invalid_leftovers(
    conn: psycopg.Connection[Any], table: QualifiedName, suffixes: tuple[str, ...]
) -> None:
    """Drop (concurrently) the INVALID indexes an interrupted build left under the names of
    ``table``'s indexes with these suffixes: the plan builds under the other name. For a
    feature's ``before_apply``."""
    names = leftover_names(table.schema, table.name, suffixes)
    rows = conn.execute(
        """select c.relname::text from pg_index i join pg_class c on c.oid = i.indexrelid
           where i.indrelid = to_regclass(%s) and not i.indisvalid and c.relname = any(%s)""",
        (table.regclass_text, names),
    ).fetchall()
    for (name,) in rows:
        conn.execute(
            sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(
                sql.Identifier(table.schema, name)
            )
        )
