"""Indexes a feature builds ``CONCURRENTLY``, on the engine's non-transactional path, with
the leftover of an interrupted build (an INVALID index) replaced on the next apply.

A partitioned table has no ``CREATE INDEX CONCURRENTLY``: its index is made ``ON ONLY`` the
parent (INVALID, instant), then built concurrently on each partition and attached; the parent
index turns valid when the last partition's is attached, and partitions made later get theirs
from PostgreSQL. Every step is idempotent, so an interrupted build resumes on the next apply."""

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
    leftover, so a retried apply succeeds with no manual step; the names alternate. A
    partitioned table's index keeps its first name: an interrupted build is resumed."""
    first = owned_name(table.name.schema, table.name.name, suffix=suffix)
    if table.is_partitioned:
        for part in partitions(table, ctx):
            if part.is_partitioned:
                raise FeatureNotApplicable(
                    str(table.name), feature,
                    f"its partition {part.name} is itself partitioned: indexes are built on "
                    "one level of partitions only",
                )  # fmt: skip
        return first, None
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


def partitions(table: Table, ctx: PlanContext) -> list[Table]:
    """The partitions of ``table`` now, and those this apply makes before the index."""
    found = [t for t in ctx.catalog.tables.values() if t.partition_of == table.name]
    return sorted(found + ctx.partitions_to_come(table), key=lambda t: str(t.name))


def concurrent_index(
    feature: str,
    table: Table,
    name: str,
    using: sql.Composable,
    description: str,
    replaces: str | None,
    ctx: PlanContext,
) -> DesiredObject:
    ident = sql.Identifier(table.name.schema, name)
    if table.is_partitioned:
        return _partitioned_index(feature, table, name, using, description, ctx)
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


def _partitioned_index(
    feature: str,
    table: Table,
    name: str,
    using: sql.Composable,
    description: str,
    ctx: PlanContext,
) -> DesiredObject:
    ident = sql.Identifier(table.name.schema, name)
    suffix = name.rsplit("__", 1)[-1]
    steps: list[sql.Composed] = []
    for part in partitions(table, ctx):
        own = owned_name(part.name.schema, part.name.name, suffix=suffix)
        steps += [
            sql.SQL("CREATE INDEX CONCURRENTLY IF NOT EXISTS {} ON {} USING {}").format(
                sql.Identifier(own), part.name.ident, using
            ),
            sql.SQL("ALTER INDEX {} ATTACH PARTITION {}").format(
                ident, sql.Identifier(part.name.schema, own)
            ),
        ]
    return DesiredObject(
        ref=ObjectRef("index", table.name.schema, name),
        feature=feature,
        table=table.name,
        create=sql.SQL("CREATE INDEX IF NOT EXISTS {} ON ONLY {} USING {}").format(
            sql.Identifier(name), table.name.ident, using
        ),
        steps=tuple(steps),
        drop=sql.SQL("DROP INDEX IF EXISTS {}").format(ident),
        description=(
            f"{description}: partitioned, so made ON ONLY the parent (an instant SHARE lock of "
            "the parent alone), then built CONCURRENTLY on each partition and attached, outside "
            "the apply transaction (writes go on; partitions made later get it from PostgreSQL)"
        ),
        lock=Lock("SHARE", table.name),
        transactional=False,
        # an interrupted build left the parent INVALID under this name: the steps resume it
        adopt=True,
    )


def drop_invalid_leftovers(
    conn: psycopg.Connection[Any], table: QualifiedName, suffixes: tuple[str, ...]
) -> None:
    """Drop (concurrently) the INVALID indexes an interrupted build left under the names of
    ``table``'s indexes with these suffixes: the plan builds under the other name. For a
    feature's ``before_apply``. On a partitioned table, the INVALID indexes of its partitions
    (a concurrent build interrupted there); the parent's INVALID index is resumed, not dropped."""
    rows = conn.execute(
        """select n.nspname::text, c.relname::text, t.relname::text
             from pg_index i join pg_class c on c.oid = i.indexrelid
             join pg_class t on t.oid = i.indrelid join pg_namespace n on n.oid = t.relnamespace
            where not i.indisvalid and c.relkind = 'i'
              and (i.indrelid = to_regclass(%s) or i.indrelid in (
                   select inhrelid from pg_inherits where inhparent = to_regclass(%s)))""",
        (table.regclass_text, table.regclass_text),
    ).fetchall()
    for schema, name, owner in rows:
        if name in leftover_names(schema, owner, suffixes):
            conn.execute(
                sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}").format(sql.Identifier(schema, name))
            )
