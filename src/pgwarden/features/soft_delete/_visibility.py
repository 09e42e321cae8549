"""The parts of soft delete that shape how the table is read: the live view, the deleted-rows
index, unique keys among live rows, and row-level security."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from psycopg import sql

from pgwarden._names import QualifiedName, owned_name
from pgwarden.catalog import Index, Table
from pgwarden.engine import DesiredObject, Lock, ObjectRef, stored_sql
from pgwarden.errors import FeatureNotApplicable
from pgwarden.features._base import PlanContext
from pgwarden.features.soft_delete._options import SoftDeleteOptions
from pgwarden.features.soft_delete._parts import FEATURE, match

LIVE_SUFFIX = "__live"
_INDEX_HEAD = re.compile(r"^CREATE UNIQUE INDEX (\S+) ON ")


def deleted_index(table: Table, options: SoftDeleteOptions) -> list[DesiredObject]:
    """Small indexes of the deleted rows only: purge finds them by time, restore counts a
    deletion's rows, without reading the table."""
    found = []
    for suffix, column in (("deleted", options.column), ("deletion", options.deletion)):
        name = owned_name(table.name.name, suffix=suffix)
        found.append(
            DesiredObject(
                ref=ObjectRef("index", table.name.schema, name),
                feature=FEATURE,
                table=table.name,
                create=sql.SQL("CREATE INDEX {} ON {} ({}) WHERE {} IS NOT NULL").format(
                    sql.Identifier(name),
                    table.name.ident,
                    sql.Identifier(column),
                    sql.Identifier(options.column),
                ),
                drop=sql.SQL("DROP INDEX IF EXISTS {}").format(
                    sql.Identifier(table.name.schema, name)
                ),
                description=f"index {name} of the deleted rows of {table.name}",
                lock=Lock("SHARE", table.name),
            )
        )
    return found


def live_view(table: Table, options: SoftDeleteOptions, major: int) -> list[DesiredObject]:
    """``<table>__live``: the rows not deleted. A DELETE through it soft-deletes and reports
    the rows (an INSTEAD OF trigger answers them), so ORMs mapped to it see true row counts;
    INSERT and UPDATE go through to the table (it is a simple view)."""
    name = table.name.name + LIVE_SUFFIX
    if len(name.encode()) > 63:
        raise FeatureNotApplicable(
            str(table.name), FEATURE, f"the view name {name!r} is longer than 63 bytes"
        )
    view = QualifiedName(table.name.schema, name)
    function = ObjectRef(
        "function", "warden", owned_name(table.name.schema, table.name.name, suffix="live_delete")
    )
    key = table.primary_key.columns  # type: ignore[union-attr]
    # The table's own trigger decides: a soft delete, or a hard one with the privilege.
    body = "begin\n    delete from {table} t where {key_match};\n    return OLD;\nend"
    body_sql = sql.SQL(body).format(table=table.name.ident, key_match=match("t", key, "old", key))
    # The caller's privileges and row security apply to the table (PostgreSQL 15+); older
    # servers check them as the view's owner.
    invoker = sql.SQL(" WITH (security_invoker = true)" if major >= 15 else "")
    # ``table`` has the columns this apply adds (PlanContext.with_columns_to_come).
    shape = hashlib.sha1(",".join(table.column_names).encode()).hexdigest()[:12]
    return [
        DesiredObject(
            ref=function,
            feature=FEATURE,
            table=table.name,
            create=sql.SQL(
                "CREATE OR REPLACE FUNCTION {}() RETURNS trigger LANGUAGE plpgsql "
                "SET search_path = pg_catalog, pg_temp AS {}"
            ).format(
                sql.Identifier(function.schema, function.name),
                sql.Literal(body_sql.as_string(None)),
            ),
            drop=sql.SQL("DROP FUNCTION IF EXISTS {}()").format(
                sql.Identifier(function.schema, function.name)
            ),
            description=f"function deleting through {view}",
        ),
        DesiredObject(
            ref=ObjectRef("view", view.schema, view.name),
            feature=FEATURE,
            table=table.name,
            create=sql.SQL(
                "CREATE VIEW {view}{invoker} AS SELECT * FROM {table} WHERE {at} IS NULL; "
                "CREATE TRIGGER pgwarden_soft_delete INSTEAD OF DELETE ON {view} "
                "FOR EACH ROW EXECUTE FUNCTION {function}(); "
                "COMMENT ON VIEW {view} IS {comment}"
            ).format(
                view=view.ident,
                invoker=invoker,
                table=table.name.ident,
                at=sql.Identifier(options.column),
                function=sql.Identifier(function.schema, function.name),
                comment=sql.Literal(
                    f"Live rows of {table.name} (pgwarden soft_delete; columns {shape})."
                ),
            ),
            drop=sql.SQL("DROP VIEW IF EXISTS {}").format(view.ident),
            description=f"view {view} of the live rows of {table.name}",
            lock=Lock("ACCESS SHARE", table.name),
        ),
    ]


def live_uniques(
    table: Table, options: SoftDeleteOptions, recorded: dict[str, Any]
) -> list[DesiredObject]:
    """Unique keys hold among live rows only: each unique constraint or index becomes a
    partial unique index ``WHERE deleted_at IS NULL``. Ones converted earlier are kept as
    the ledger recorded them (their original is gone from the catalog)."""
    found = [
        DesiredObject(
            ref=owned.ref,
            feature=FEATURE,
            table=table.name,
            create=stored_sql(owned.create_sql),
            drop=stored_sql(owned.drop_sql),
            description=owned.description,
            lock=Lock("ACCESS EXCLUSIVE", table.name),
        )
        for owned in recorded.values()
        if owned.table == table.name
    ]
    taken = {obj.ref.key for obj in found}
    constraints = {k.name: k for k in table.unique_keys}
    referenced = {frozenset(fk.referenced_columns) for fk in table.referenced_by}
    for index in table.indexes:
        if not _convertible(index, table, options) or frozenset(index.columns) in referenced:
            continue  # kept table-wide: a foreign key needs a full unique key
        constraint = constraints.get(index.name)
        if constraint is not None and constraint.deferrable:
            continue  # an index cannot be deferred
        new = owned_name(index.name, suffix="live")
        ref = ObjectRef("index", table.name.schema, new)
        if ref.key in taken:
            continue
        found.append(_conversion(table, options, index, new, ref, constraint is not None))
    return found


def _convertible(index: Index, table: Table, options: SoftDeleteOptions) -> bool:
    return (
        index.unique
        and not index.primary
        and not index.partial
        and index.valid
        and options.column not in index.columns
        and all(table.column(c) is not None for c in index.columns)  # no expressions
        and _INDEX_HEAD.match(index.definition) is not None
    )


def _conversion(
    table: Table,
    options: SoftDeleteOptions,
    index: Index,
    new: str,
    ref: ObjectRef,
    is_constraint: bool,
) -> DesiredObject:
    at = options.column
    # The server's own definition (opclasses, INCLUDE, NULLS NOT DISTINCT kept), renamed and
    # limited to live rows. Catalog text, quoted by the server, not user input.
    head = sql.SQL("CREATE UNIQUE INDEX {} ON ").format(sql.Identifier(new)).as_string(None)
    partial = _INDEX_HEAD.sub(lambda _: head, index.definition, count=1)
    partial += sql.SQL(" WHERE ({} IS NULL)").format(sql.Identifier(at)).as_string(None)
    old_index = sql.Identifier(table.name.schema, index.name)
    new_index = sql.Identifier(table.name.schema, new)
    columns = sql.SQL(", ").join(map(sql.Identifier, index.columns))
    retire: sql.Composable
    restore: sql.Composable
    if is_constraint:
        retire = sql.SQL("ALTER TABLE {} DROP CONSTRAINT IF EXISTS {}").format(
            table.name.ident, sql.Identifier(index.name)
        )
        restore = sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} UNIQUE{} ({})").format(
            table.name.ident,
            sql.Identifier(index.name),
            sql.SQL(" NULLS NOT DISTINCT" if index.nulls_not_distinct else ""),
            columns,
        )
    else:
        retire = sql.SQL("DROP INDEX IF EXISTS {}").format(old_index)
        restore = sql.SQL(index.definition)
    cols = ", ".join(index.columns)
    return DesiredObject(
        ref=ref,
        feature=FEATURE,
        table=table.name,
        # Built before the old key goes, in one transaction: never a moment without it.
        create=sql.SQL("{}; {}").format(sql.SQL(partial), retire),
        drop=sql.SQL("{}; DROP INDEX IF EXISTS {}").format(restore, new_index),
        description=(
            f"unique {index.name} ({cols}) of {table.name} among live rows only: "
            f"partial unique index {new} WHERE {at} IS NULL (upserts must say "
            f"ON CONFLICT ({cols}) WHERE {at} IS NULL)"
        ),
        lock=Lock("ACCESS EXCLUSIVE", table.name),
    )


def row_security(table: Table, options: SoftDeleteOptions, ctx: PlanContext) -> list[DesiredObject]:
    """Deleted rows invisible to every role but the owner (and BYPASSRLS roles).

    When pgwarden turns row security on, it adds a permissive policy letting every row
    through, so that nothing but the restrictive live-rows policy changes; when the table
    already had row security, its own permissive policies keep deciding and only the
    restrictive one is added."""
    rls = ObjectRef("row_security", table.name.schema, table.name.name)
    found: list[DesiredObject] = []

    def policy(name: str, words: str) -> DesiredObject:
        return DesiredObject(
            ref=ObjectRef("policy", table.name.schema, name, table.name),
            feature=FEATURE,
            table=table.name,
            create=sql.SQL("CREATE POLICY {} ON {} " + words).format(
                sql.Identifier(name), table.name.ident, sql.Identifier(options.column)
            ),
            drop=sql.SQL("DROP POLICY IF EXISTS {} ON {}").format(
                sql.Identifier(name), table.name.ident
            ),
            description=f"policy {name} on {table.name}",
            lock=Lock("ACCESS EXCLUSIVE", table.name),
        )

    if not table.rls_enabled or ctx.owns(rls):
        found.append(
            DesiredObject(
                ref=rls,
                feature=FEATURE,
                table=table.name,
                create=sql.SQL("ALTER TABLE {} ENABLE ROW LEVEL SECURITY").format(table.name.ident),
                drop=sql.SQL("ALTER TABLE {} DISABLE ROW LEVEL SECURITY").format(table.name.ident),
                description=f"row-level security on {table.name}",
                lock=Lock("ACCESS EXCLUSIVE", table.name),
            )
        )
        found.append(
            policy(
                "pgwarden_soft_delete_rows", "AS PERMISSIVE FOR ALL USING (true) WITH CHECK (true)"
            )
        )
    found.append(
        policy(
            "pgwarden_soft_delete_live",
            "AS RESTRICTIVE FOR ALL USING ({} IS NULL) WITH CHECK (true)",
        )
    )
    return found
