"""``soft_delete``: a DELETE marks the row instead of removing it, for every client alike.

The database itself does it, with triggers, so raw SQL from psql and every ORM get the same
semantics. What a table gets:

- columns ``deleted_at`` / ``deleted_by`` / ``deletion_id`` (names configurable; existing
  ``deleted_at`` / ``deleted_by`` columns are adopted);
- a BEFORE DELETE trigger that turns the DELETE into ``UPDATE ... SET deleted_at = now()``
  (a real DELETE only after the privileged ``warden.allow_hard_delete()``), and a BEFORE
  TRUNCATE trigger that refuses without it;
- a state trigger that fills ``deleted_by`` from ``pgwarden.actor`` and gives each delete a
  number, so setting ``deleted_at`` by hand is a soft delete too, and clearing it a restore;
- a cascade trigger following foreign keys: ON DELETE CASCADE marks soft-deletable children
  with the same deletion number (restore brings back exactly those), RESTRICT / NO ACTION
  refuses while live rows reference the row;
- on each referencing table, a check that a live row never references a deleted one;
- ``<table>__live`` (live rows; DELETE through it reports its row count), partial unique
  indexes among live rows, and optionally row-level security hiding deleted rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import psycopg
from psycopg import sql

from pgwarden._names import owned_name
from pgwarden.catalog import Catalog, Column, Table
from pgwarden.engine import DesiredObject, ObjectRef, OwnedObject, Stream, read_ledger
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
from pgwarden.features.soft_delete import _visibility
from pgwarden.features.soft_delete._api import SoftDeleteAPI
from pgwarden.features.soft_delete._options import SoftDeleteOptions
from pgwarden.features.soft_delete._parts import (
    ACTOR,
    FEATURE,
    Link,
    cascade_statements,
    links,
    match,
    restore_statements,
    restrict_checks,
)
from pgwarden.features.soft_delete._runtime import purge_job
from pgwarden.maintenance import Job
from pgwarden.spec import FeatureOptions

_PACKAGE = "pgwarden.features.soft_delete"
_TIMESTAMPS = ("timestamp with time zone", "timestamp without time zone")
_TEXTS = ("text", "character varying")

if TYPE_CHECKING:
    import typer


def _marks(options: SoftDeleteOptions) -> list[tuple[str, str, tuple[str, ...], int]]:
    """The marking columns: name, type added, types adopted (the first as the catalog names
    the added one), type oid."""
    found: list[tuple[str, str, tuple[str, ...], int]] = [
        (options.column, "timestamptz", _TIMESTAMPS, 1184)
    ]
    if options.by:
        found.append((options.by, "text", _TEXTS, 25))
    found.append((options.deletion, "bigint", ("bigint",), 20))
    return found


# Functions run as their owner (application roles need no privilege on pgwarden's schema or
# on the marking columns) with a fixed search_path (no caller's object can stand in).
_DEFINER = "SECURITY DEFINER SET search_path = pg_catalog, pg_temp"


class SoftDelete(Feature):
    name = FEATURE
    summary = "DELETE marks rows (deleted_at/by); cascades, restore, live view, purge"
    options: ClassVar[type[FeatureOptions]] = SoftDeleteOptions
    api = SoftDeleteAPI
    keeps_history = True

    def commands(self, app: typer.Typer) -> None:
        from pgwarden.features.soft_delete._cli import register  # the CLI loads only when used

        register(app)

    def stream(self) -> Stream:
        """Its state in the ``warden`` schema (``migrations/``), its functions (``functions/``)."""
        return Stream(self.name, "pgwarden.features.soft_delete")

    def advice(self, ctx: PlanContext) -> list[str]:
        """Each ON DELETE CASCADE key into a table the declaration keeps history of (whichever
        feature keeps it): a delete of the referenced row erases that history. The plan says
        so with the command that makes the key RESTRICT online; apply does not change the
        user's keys by itself."""
        from pgwarden.features.soft_delete._foreign_keys import cascading_keys

        return [
            f"foreign key {k.name} of {k.table} is ON DELETE CASCADE from {k.references}:"
            f" a delete there erases rows whose history is kept ({', '.join(k.features)});"
            " make it RESTRICT"
            f" online with `pgwarden foreign-keys restrict {k.table} {k.name}` (or --all)"
            for k in cascading_keys(ctx.catalog, ctx.spec, ctx.features)
        ]

    def prepare(self, conn: psycopg.Connection[Any]) -> dict[str, OwnedObject]:
        """Unique constraints converted earlier, as recorded (the original is gone from the
        catalog; its definition lives on in the ledger)."""
        return {
            key: owned
            for key, owned in read_ledger(conn).items()
            if owned.feature == self.name
            and owned.ref.kind == "index"
            and owned.ref.name.endswith("__live")
        }

    def objects(
        self, table: Table, options: FeatureOptions, ctx: PlanContext
    ) -> list[DesiredObject]:
        assert isinstance(options, SoftDeleteOptions)
        if table.primary_key is None:
            raise FeatureNotApplicable(
                str(table.name),
                self.name,
                "soft delete needs a primary key (deleted rows are restored and purged by key)",
            )
        if options.column in table.primary_key.columns:
            raise FeatureNotApplicable(
                str(table.name), self.name, f"{options.column} is part of the primary key"
            )
        found = [c for c in self._columns(table, options, ctx) if c is not None]
        found += self._triggers(table, options, ctx)
        found += _visibility.deleted_index(table, options)
        if options.live_view:
            shaped = ctx.with_columns_to_come(table)
            found += _visibility.live_view(shaped, options, ctx.catalog.server.major)
        if options.unique == "live":
            found += _visibility.live_uniques(table, options, ctx.state.get(self.name) or {})
        if options.rls:
            found += _visibility.row_security(table, options, ctx)
        return found

    def columns_to_come(self, table: Table, options: FeatureOptions) -> list[Column]:
        assert isinstance(options, SoftDeleteOptions)
        return [new_column(name, accepted[0], oid) for name, _, accepted, oid in _marks(options)]

    def jobs(self, declared: Sequence[tuple[Table, FeatureOptions]], catalog: Catalog) -> list[Job]:
        return [
            purge_job(table, options)
            for table, options in declared
            if isinstance(options, SoftDeleteOptions) and options.purge is not None
        ]

    def _columns(
        self, table: Table, options: SoftDeleteOptions, ctx: PlanContext
    ) -> list[DesiredObject | None]:
        nullable = "ALTER TABLE {0} ALTER COLUMN {1} TYPE %s, ALTER COLUMN {1} DROP NOT NULL"
        return [
            feature_column(
                self.name,
                table,
                column,
                ctx,
                definition=kind,
                accepted=accepted,
                alter=nullable % kind,
            )
            for column, kind, accepted, _ in _marks(options)
        ]

    def _function(
        self, table: Table, suffix: str, template: str, description: str, **parts: sql.Composable
    ) -> tuple[ObjectRef, DesiredObject]:
        ref = ObjectRef(
            "function", "warden", owned_name(table.name.schema, table.name.name, suffix=suffix)
        )
        body = function_body(sql_template(_PACKAGE, template), table=table.name.ident, **parts)
        return ref, trigger_function(
            self.name, table, ref, body, description=description, attributes=_DEFINER
        )

    def _triggers(
        self, table: Table, options: SoftDeleteOptions, ctx: PlanContext
    ) -> list[DesiredObject]:
        at, deletion = sql.Identifier(options.column), sql.Identifier(options.deletion)
        key = table.primary_key.columns  # type: ignore[union-attr]
        found: list[DesiredObject] = []
        by = sql.Identifier(options.by) if options.by else None
        mark, fn = self._function(
            table,
            "soft_delete",
            "mark.sql",
            f"function turning a DELETE on {table.name} into a soft delete",
            deleted_at=at,
            deletion=deletion,
            set_by=sql.SQL(", {} = {}").format(by, sql.SQL(ACTOR)) if by else sql.SQL(""),
            key_match=match("t", key, "old", key),
        )
        found.append(fn)
        state, fn = self._function(
            table,
            "soft_delete_state",
            "state.sql",
            f"function keeping who/which deletion of {table.name} rows",
            deleted_at=at,
            deletion=deletion,
            key_match=match("t", key, "old", key),
            set_by=sql.SQL("NEW.{0} := coalesce(NEW.{0}, {1});").format(by, sql.SQL(ACTOR))
            if by
            else sql.SQL(""),
            clear_by=sql.SQL("NEW.{} := null;").format(by) if by else sql.SQL(""),
            keep_by=sql.SQL("NEW.{0} := OLD.{0};").format(by) if by else sql.SQL(""),
        )
        found.append(fn)
        truncate, fn = self._function(
            table,
            "soft_delete_truncate",
            "truncate.sql",
            f"function refusing TRUNCATE of {table.name} without the hard-delete privilege",
            message=sql.Literal(
                f"TRUNCATE of {table.name} would hard-delete every row (soft_delete is on)"
            ),
        )
        found.append(fn)
        when_state = _state_when(options)
        name = table.name.ident
        timings: list[tuple[str, sql.Composable, ObjectRef]] = [
            (
                "pgwarden_soft_delete",
                sql.SQL("BEFORE DELETE ON {} FOR EACH ROW").format(name),
                mark,
            ),
            (
                "pgwarden_soft_delete_state",
                sql.SQL("BEFORE UPDATE ON {} FOR EACH ROW WHEN ({})").format(name, when_state),
                state,
            ),
            (
                "pgwarden_soft_delete_truncate",
                sql.SQL("BEFORE TRUNCATE ON {} FOR EACH STATEMENT").format(name),
                truncate,
            ),
        ]
        found_links = links(table, ctx.catalog, ctx.spec)
        followed = [
            link for link in found_links if link.cascades or (link.restricts and options.restrict)
        ]
        if followed:
            notes = [n for n in (link.note for link in found_links) if n]
            cascade, fn = self._function(
                table,
                "soft_delete_cascade",
                "cascade.sql",
                f"function following foreign keys into {table.name} on soft delete and restore"
                + (f" ({'; '.join(notes)})" if notes else ""),
                deleted_at=at,
                restrict=restrict_checks(table, followed),
                cascade=cascade_statements(table, options, followed),
                restore=restore_statements(options, followed),
            )
            found.append(fn)
            flipped = sql.SQL("(OLD.{0} IS NULL) <> (NEW.{0} IS NULL)").format(at)
            timings.append(
                (
                    "pgwarden_soft_delete_cascade",
                    sql.SQL("AFTER UPDATE ON {} FOR EACH ROW WHEN ({})").format(name, flipped),
                    cascade,
                )
            )
        for trigger_name, when, function in timings:
            found.append(
                trigger(
                    self.name,
                    table,
                    trigger_name,
                    when,
                    function,
                    description=f"trigger {trigger_name} on {table.name}",
                )
            )
        for link in found_links:
            found += self._live_parent(table, options, link)
        return found

    def _live_parent(
        self, parent: Table, options: SoftDeleteOptions, link: Link
    ) -> list[DesiredObject]:
        """The check on a referencing table that its live rows reference live rows only."""
        child, fk = link.child, link.fk
        child_deleted = (
            sql.SQL("NEW.{} is not null").format(sql.Identifier(link.child_options.column))
            if link.child_options
            else sql.SQL("false")
        )
        ref = ObjectRef(
            "function",
            "warden",
            owned_name(child.name.schema, child.name.name, fk.name, suffix="live_parent"),
        )
        body = function_body(
            sql_template(_PACKAGE, "live_parent.sql"),
            child=child.name.ident,
            parent=parent.name.ident,
            child_deleted=child_deleted,
            any_null=sql.SQL(" or ").join(
                sql.SQL("NEW.{} is null").format(sql.Identifier(c)) for c in fk.columns
            ),
            deleted_at=sql.Identifier(options.column),
            match=match("p", fk.referenced_columns, "new", fk.columns),
            itself=sql.SQL("({})").format(match("new", fk.referenced_columns, "new", fk.columns))
            if child.name == parent.name
            else sql.SQL("false"),
            message=sql.Literal(
                f"a live row of {child.name} cannot reference a deleted row of {parent.name} "
                f"(foreign key {fk.name})"
            ),
        )
        columns = list(fk.columns) + ([link.child_options.column] if link.child_options else [])
        # Only live rows with a complete key are checked (a NULL key column references
        # nothing); the WHEN clause spares the function call for the others.
        checked = [sql.SQL("NEW.{} IS NOT NULL").format(sql.Identifier(c)) for c in fk.columns]
        if link.child_options:
            checked.append(
                sql.SQL("NEW.{} IS NULL").format(sql.Identifier(link.child_options.column))
            )
        when = sql.SQL("BEFORE INSERT OR UPDATE OF {} ON {} FOR EACH ROW WHEN ({})").format(
            sql.SQL(", ").join(map(sql.Identifier, columns)),
            child.name.ident,
            sql.SQL(" AND ").join(checked),
        )
        description = f"check that live rows of {child.name} reference live rows of {parent.name}"
        return [
            trigger_function(
                self.name,
                child,
                ref,
                body,
                description=description,
                attributes=_DEFINER,
                declared=parent,
            ),
            trigger(
                self.name,
                child,
                owned_name("pgwarden", fk.name, suffix="live_parent"),
                when,
                ref,
                description=f"trigger: {description}",
                declared=parent,
            ),
        ]


def _state_when(options: SoftDeleteOptions) -> sql.Composed:
    """When the state trigger must run: the marking columns changed and are not consistent
    as written (pgwarden's own triggers write consistent rows, and skip it)."""
    at, deletion = sql.Identifier(options.column), sql.Identifier(options.deletion)
    columns = [at, deletion] + ([sql.Identifier(options.by)] if options.by else [])
    changed = sql.SQL(" OR ").join(
        sql.SQL("OLD.{0} IS DISTINCT FROM NEW.{0}").format(c) for c in columns
    )
    clean = sql.SQL(" AND ").join(sql.SQL("NEW.{} IS NULL").format(c) for c in columns)
    filled = sql.SQL(" AND ").join(sql.SQL("NEW.{} IS NOT NULL").format(c) for c in columns)
    kept = sql.SQL(" AND ").join(
        sql.SQL("NEW.{0} IS NOT DISTINCT FROM OLD.{0}").format(c) for c in columns[1:]
    )
    return sql.SQL(
        "({changed}) AND NOT ({clean}) AND NOT (OLD.{at} IS NULL AND {filled}) "
        "AND NOT (OLD.{at} IS NOT NULL AND NEW.{at} IS NOT NULL AND {kept})"
    ).format(changed=changed, clean=clean, filled=filled, kept=kept, at=at)
