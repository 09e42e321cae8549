"""``warden.graph``: reachability in the graphs declared."""

from __future__ import annotations

from typing import Any

from psycopg import sql

from pgwarden._names import QualifiedName, owned_name
from pgwarden.errors import GraphError
from pgwarden.features._base import FeatureAPI


class GraphAPI(FeatureAPI):
    """Edge tables kept acyclic by the database: ``warden.graph``."""

    def _function(self, table: str, suffix: str) -> sql.Identifier:
        name = QualifiedName.parse(table)
        declared = self.warden.spec.tables.get(name)
        if declared is None or "graph" not in declared.features:
            raise GraphError(f"{name} does not declare graph in {self.warden.spec.file}")
        return sql.Identifier("warden", owned_name(name.schema, name.name, suffix=suffix))

    def reachable(self, table: str, source: Any, target: Any, *, kind: str | None = None) -> bool:
        """True when a path of edges leads from ``source`` to ``target`` (of relationship
        type ``kind`` only, when given)."""
        query = sql.SQL("select {}(%s, %s, %s)").format(self._function(table, "reachable"))
        with self.warden.connect(autocommit=True) as conn:
            row = conn.execute(query, (source, target, kind)).fetchone()
        return bool(row and row[0])

    def reachable_from(self, table: str, source: Any, *, kind: str | None = None) -> set[Any]:
        """Every node a path of edges leads to from ``source`` (``source`` itself left out)."""
        query = sql.SQL("select n from {}(%s, %s) n").format(
            self._function(table, "reachable_from")
        )
        with self.warden.connect(autocommit=True) as conn:
            return {r[0] for r in conn.execute(query, (source, kind)).fetchall()}
