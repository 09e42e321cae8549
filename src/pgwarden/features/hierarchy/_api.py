"""``warden.hierarchy``: subtrees, ancestors, paths and moves of the trees declared."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from pgwarden._names import QualifiedName
from pgwarden.errors import HierarchyError
from pgwarden.features._base import FeatureAPI
from pgwarden.features.hierarchy._options import HierarchyOptions


class HierarchyAPI(FeatureAPI):
    """Trees kept by the database: ``warden.hierarchy``. Every read is one indexed query
    (the path column is GIN-indexed); every change goes through the table's trigger, so SQL
    written by hand is held to the same rules."""

    def _declared(self, table: str) -> tuple[QualifiedName, HierarchyOptions, str]:
        name = QualifiedName.parse(table)
        declared = self.warden.spec.tables.get(name)
        options = declared.features.get("hierarchy") if declared else None
        if not isinstance(options, HierarchyOptions):
            raise HierarchyError(f"{name} does not declare hierarchy in {self.warden.spec.file}")
        found = self.warden.catalog().get(name)
        if found is None or found.primary_key is None:
            raise HierarchyError(f"{name} has no primary key")
        return name, options, found.primary_key.columns[0]

    def _rows(self, query: sql.Composed, params: tuple[Any, ...]) -> list[dict[str, Any]]:
        with self.warden.connect(autocommit=True) as conn:
            return conn.cursor(row_factory=dict_row).execute(query, params).fetchall()

    def descendants(
        self, table: str, key: Any, *, include_self: bool = False
    ) -> list[dict[str, Any]]:
        """The rows below ``key`` (its whole subtree), by depth then path."""
        name, opts, pk = self._declared(table)
        query = sql.SQL(
            "select * from {t} where {path} @> array[%s::{pk_type}] and ({pk} <> %s or %s)"
            " order by {depth}, {path}"
        ).format(
            t=name.ident,
            path=sql.Identifier(opts.path),
            pk=sql.Identifier(pk),
            depth=sql.Identifier(opts.depth),
            pk_type=sql.SQL(self._key_type(name, pk)),
        )
        return self._rows(query, (key, key, include_self))

    def ancestors(self, table: str, key: Any) -> list[dict[str, Any]]:
        """The rows above ``key``, from the root down to its parent."""
        name, opts, pk = self._declared(table)
        query = sql.SQL(
            "select a.* from {t} n join {t} a on a.{pk} = any(n.{path})"
            " where n.{pk} = %s and a.{pk} <> n.{pk} order by a.{depth}"
        ).format(
            t=name.ident,
            path=sql.Identifier(opts.path),
            pk=sql.Identifier(pk),
            depth=sql.Identifier(opts.depth),
        )
        return self._rows(query, (key,))

    def path(self, table: str, key: Any) -> list[Any]:
        """The keys from the root down to ``key`` (``[]`` when there is no such row)."""
        name, opts, pk = self._declared(table)
        query = sql.SQL("select {path} from {t} where {pk} = %s").format(
            t=name.ident, path=sql.Identifier(opts.path), pk=sql.Identifier(pk)
        )
        with self.warden.connect(autocommit=True) as conn:
            row = conn.execute(query, (key,)).fetchone()
        return list(row[0]) if row and row[0] is not None else []

    def move(self, table: str, key: Any, parent: Any, *, actor: str | None = None) -> int:
        """Move ``key`` and its subtree under ``parent`` (``None``: make it a root), in one
        statement; returns the rows whose path changed. Raises :class:`HierarchyError`
        (nothing changed) when the move would close a cycle or pass ``max_depth``."""
        name, opts, pk = self._declared(table)
        query = sql.SQL("update {t} set {parent} = %s where {pk} = %s").format(
            t=name.ident, parent=sql.Identifier(opts.parent), pk=sql.Identifier(pk)
        )
        try:
            with self.warden.session(actor=actor, reason="move subtree") as db:
                size = db.connection.execute(
                    sql.SQL("select count(*) from {t} where {path} @> array[%s::{ty}]").format(
                        t=name.ident,
                        path=sql.Identifier(opts.path),
                        ty=sql.SQL(self._key_type(name, pk)),
                    ),
                    (key,),
                ).fetchone()
                if db.connection.execute(query, (parent, key)).rowcount != 1:
                    raise HierarchyError(f"{name}: no node {key!r}")
        except (psycopg.errors.CheckViolation, psycopg.errors.ForeignKeyViolation) as exc:
            raise HierarchyError(exc.diag.message_primary or str(exc)) from None
        return int(size[0]) if size else 0

    def _key_type(self, name: QualifiedName, pk: str) -> str:
        from pgwarden.features.hierarchy._plan import KEY_TYPES

        found = self.warden.catalog().get(name)
        column = found.column(pk) if found else None
        if column is None or column.type not in KEY_TYPES:
            raise HierarchyError(f"{name}: key {pk} is not a supported key type")
        return KEY_TYPES[column.type]
