"""The SQL fragments a table's soft-delete functions are made of, composed from the catalog.

Everything is :mod:`psycopg.sql` (identifiers quoted); the templates beside this module hold
the fixed PL/pgSQL around them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from psycopg import sql

from pgwarden.catalog import Catalog, ForeignKey, Table
from pgwarden.features.soft_delete._options import SoftDeleteOptions
from pgwarden.spec import Spec

FEATURE = "soft_delete"
ACTOR = "coalesce(nullif(current_setting('pgwarden.actor', true), ''), session_user)"
"""Who deletes: the transaction's ``pgwarden.actor``, else the login role."""
_RESTRICTING = ("RESTRICT", "NO ACTION")


@dataclass(frozen=True)
class Link:
    """A foreign key into the soft-deletable table, and what soft delete does along it."""

    fk: ForeignKey
    child: Table
    child_options: SoftDeleteOptions | None
    """The child's own soft-delete options, when it declares the feature."""

    @property
    def cascades(self) -> bool:
        return self.fk.on_delete == "CASCADE" and self.child_options is not None

    @property
    def restricts(self) -> bool:
        return self.fk.on_delete in _RESTRICTING

    @property
    def note(self) -> str | None:
        """What the plan should tell about this link, when soft delete cannot follow it."""
        if self.fk.on_delete == "CASCADE" and self.child_options is None:
            return (
                f"{self.child.name} ({self.fk.name}, ON DELETE CASCADE) has no soft_delete: "
                "its rows stay when a parent is soft-deleted"
            )
        if self.fk.on_delete in ("SET NULL", "SET DEFAULT"):
            return (
                f"{self.child.name} ({self.fk.name}, ON DELETE {self.fk.on_delete}) is left as is"
            )
        return None


def soft_delete_options(spec: Spec, table: Table) -> SoftDeleteOptions | None:
    declared = spec.tables.get(table.name)
    found = declared.features.get(FEATURE) if declared else None
    return found if isinstance(found, SoftDeleteOptions) else None


def links(table: Table, catalog: Catalog, spec: Spec) -> list[Link]:
    """Every foreign key pointing at ``table`` whose child table exists."""
    found = []
    for fk in sorted(table.referenced_by, key=lambda f: (f.table, f.name)):
        child = catalog.get(fk.table)
        if child is not None:
            found.append(Link(fk, child, soft_delete_options(spec, child)))
    return found


def match(
    left: str, left_cols: Sequence[str], right: str, right_cols: Sequence[str]
) -> sql.Composed:
    """``left.a = right.x AND left.b = right.y``."""
    return sql.SQL(" AND ").join(
        sql.SQL("{} = {}").format(sql.Identifier(left, a), sql.Identifier(right, b))
        for a, b in zip(left_cols, right_cols, strict=True)
    )


def cascade_statements(table: Table, options: SoftDeleteOptions, found: list[Link]) -> sql.Composed:
    """Mark the live children of NEW along ON DELETE CASCADE keys with NEW's deletion.

    The children are locked FOR UPDATE first (as a DELETE would), so that a transaction
    attaching a grandchild finishes before, and is cascaded to; the values written are
    consistent, so the children's state trigger does not run."""
    parts = []
    for link in found:
        if not link.cascades:
            continue
        child = link.child_options
        assert child is not None and link.child.primary_key is not None
        by: sql.Composable = sql.SQL("")
        if child.by:
            who = (
                sql.SQL("coalesce(NEW.{}, {})").format(sql.Identifier(options.by), sql.SQL(ACTOR))
                if options.by
                else sql.SQL(ACTOR)
            )
            by = sql.SQL(", {} = {}").format(sql.Identifier(child.by), who)
        key = link.child.primary_key.columns
        parts.append(
            sql.SQL(
                "update {child} c set {c_at} = NEW.{at}{by}, {c_del} = NEW.{deletion} "
                "where ({c_key}) in (select {k_key} from {child} k where {match} "
                "and k.{c_at} is null for update);"
            ).format(
                child=link.child.name.ident,
                c_at=sql.Identifier(child.column),
                at=sql.Identifier(options.column),
                by=by,
                c_del=sql.Identifier(child.deletion),
                deletion=sql.Identifier(options.deletion),
                c_key=sql.SQL(", ").join(sql.Identifier("c", c) for c in key),
                k_key=sql.SQL(", ").join(sql.Identifier("k", c) for c in key),
                match=match("k", link.fk.columns, "new", link.fk.referenced_columns),
            )
        )
    return sql.SQL("\n        ").join(parts)


def restore_statements(options: SoftDeleteOptions, found: list[Link]) -> sql.Composed:
    """Bring back the children OLD's deletion marked, and nothing deleted separately."""
    parts = []
    for link in found:
        if not link.cascades:
            continue
        child = link.child_options
        assert child is not None
        by = sql.SQL(", {} = null").format(sql.Identifier(child.by)) if child.by else sql.SQL("")
        parts.append(
            sql.SQL(
                "update {child} c set {c_at} = null{by}, {c_del} = null "
                "where {match} and c.{c_del} = OLD.{deletion};"
            ).format(
                child=link.child.name.ident,
                c_at=sql.Identifier(child.column),
                by=by,
                c_del=sql.Identifier(child.deletion),
                deletion=sql.Identifier(options.deletion),
                match=match("c", link.fk.columns, "new", link.fk.referenced_columns),
            )
        )
    return sql.SQL("\n        ").join(parts)


def restrict_checks(table: Table, found: list[Link]) -> sql.Composed:
    """Refuse to delete NEW while live rows reference it through RESTRICT / NO ACTION keys
    (the rule the foreign key states, applied to soft deletes)."""
    parts = []
    for link in found:
        if not link.restricts:
            continue
        live = (
            sql.SQL(" and c.{} is null").format(sql.Identifier(link.child_options.column))
            if link.child_options
            else sql.SQL("")
        )
        parts.append(
            sql.SQL(
                "if exists (select 1 from {child} c where {match}{live}) then\n"
                "            raise exception using errcode = 'foreign_key_violation',\n"
                "                message = {message},\n"
                "                hint = {hint};\n"
                "        end if;"
            ).format(
                child=link.child.name.ident,
                match=match("c", link.fk.columns, "new", link.fk.referenced_columns),
                live=live,
                hint=sql.Literal("delete those rows first, or make the key ON DELETE CASCADE"),
                message=sql.Literal(
                    f"cannot delete this row of {table.name}: live rows of {link.child.name} "
                    f"reference it (foreign key {link.fk.name} is ON DELETE {link.fk.on_delete})"
                ),
            )
        )
    return sql.SQL("\n        ").join(parts)
