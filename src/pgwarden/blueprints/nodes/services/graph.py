"""Nodes and relationships: create, read with neighbours, update, link, unlink, traverse,
delete (soft, cascading to relationships) and restore. Every statement runs as the owner's
tenant: row-level security, not a ``where owner_id =`` the code could forget, keeps owners
apart."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, LiteralString

from psycopg import sql
from psycopg.types.json import Jsonb

from pgwarden.blueprints.nodes.services._core import Core, Invalid, NotFound, Row, one, rows
from pgwarden.db import Session

NODE_COLUMNS: LiteralString = (
    "node_id, owner_id, type, node_type, name, description, metadata, position_x, "
    "position_y, created_at, updated_at, deleted_at"
)
EDGE_COLUMNS: LiteralString = (
    "relationship_id, owner_id, source_node_id, target_node_id, relationship_type, metadata, "
    "created_at, updated_at, deleted_at"
)
EDITABLE = ("type", "node_type", "name", "description", "metadata", "position_x", "position_y")


def _cols(text: LiteralString) -> sql.Composed:
    """A statement naming the node columns as ``{node}``, the relationship's as ``{edge}``."""
    return sql.SQL(text).format(node=sql.SQL(NODE_COLUMNS), edge=sql.SQL(EDGE_COLUMNS))


_NODE = _cols("select {node} from nodes.nodes where node_id = %s")
# A node's live relationships, both ways, with the node at the other end. A live edge has
# live ends (soft delete refuses a live row under a deleted one), so no filter on them.
_NEIGHBOURS = sql.SQL(
    "select r.relationship_id, r.relationship_type, 'out' as direction, n.node_id, n.type,"
    " n.name from nodes.node_relationships r join nodes.nodes n"
    " on n.node_id = r.target_node_id where r.source_node_id = %(id)s and r.deleted_at is null"
    " union all"
    " select r.relationship_id, r.relationship_type, 'in', n.node_id, n.type, n.name"
    " from nodes.node_relationships r join nodes.nodes n on n.node_id = r.source_node_id"
    " where r.target_node_id = %(id)s and r.deleted_at is null"
)
# Nodes reachable along outgoing live edges (of one type, when given), each at its
# shortest depth; the path array stops walks at a cycle (related edges may form one).
_TRAVERSE = sql.SQL(
    "with recursive walk(node_id, depth, path) as ("
    " select %(id)s::uuid, 0, array[%(id)s::uuid]"
    " union all"
    " select r.target_node_id, w.depth + 1, w.path || r.target_node_id"
    " from walk w join nodes.node_relationships r on r.source_node_id = w.node_id"
    " and r.deleted_at is null"
    " and (%(type)s::text is null or r.relationship_type = %(type)s::text)"
    " where w.depth < %(depth)s and r.target_node_id <> all(w.path))"
    " select n.node_id, n.type, n.name, min(w.depth) as depth"
    " from walk w join nodes.nodes n on n.node_id = w.node_id where w.depth > 0"
    " group by n.node_id, n.type, n.name order by depth, n.name"
)


def _json(value: Any) -> Any:
    return Jsonb(value) if isinstance(value, dict | list) else value


class Graph:
    """The node system's writes and reads, for one owner at a time."""

    def __init__(self, core: Core):
        self.core = core

    # -- nodes ---------------------------------------------------------------------------

    def create_node(self, owner: uuid.UUID, fields: Mapping[str, Any]) -> Row:
        """A new node of ``owner`` (``type`` and ``name`` required)."""
        unknown = set(fields) - set(EDITABLE)
        if unknown:
            raise Invalid(f"unknown field(s): {', '.join(sorted(unknown))}")
        names = ["owner_id", *fields]
        query = sql.SQL("insert into nodes.nodes ({}) values ({}) returning {}").format(
            sql.SQL(", ").join(map(sql.Identifier, names)),
            sql.SQL(", ").join(sql.Placeholder() * len(names)),
            sql.SQL(NODE_COLUMNS),
        )
        values = [owner, *(_json(v) for v in fields.values())]
        return self.core.run(owner, lambda db: one(db, query, values))

    def node(self, owner: uuid.UUID, node_id: uuid.UUID, *, neighbours: bool = True) -> Row:
        """The node with its live relationships both ways (``neighbours``); 404 when it is
        not the owner's or is deleted."""

        def read(db: Session) -> Row:
            found = one(db, _NODE, (node_id,), f"no node {node_id}")
            if found["deleted_at"] is not None:
                raise NotFound(f"node {node_id} is deleted")
            if neighbours:
                found["neighbours"] = rows(db, _NEIGHBOURS, {"id": node_id})
            return found

        return self.core.run(owner, read)

    def nodes(self, owner: uuid.UUID, *, type: str | None = None, limit: int = 50) -> list[Row]:
        """The owner's live nodes (of one feature ``type``), newest first."""
        query = _cols(
            "select {node} from nodes.nodes where deleted_at is null"
            " and (%(type)s::text is null or type = %(type)s::text)"
            " order by created_at desc limit %(limit)s"
        )
        return self.core.run(owner, lambda db: rows(db, query, {"type": type, "limit": limit}))

    def update_node(self, owner: uuid.UUID, node_id: uuid.UUID, fields: Mapping[str, Any]) -> Row:
        """Change the given fields of a live node."""
        unknown = set(fields) - set(EDITABLE)
        if unknown or not fields:
            raise Invalid(f"nothing to change, or unknown field(s): {', '.join(sorted(unknown))}")
        query = sql.SQL(
            "update nodes.nodes set {} where node_id = %s and deleted_at is null returning {}"
        ).format(
            sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(k)) for k in fields),
            sql.SQL(NODE_COLUMNS),
        )
        values = [*(_json(v) for v in fields.values()), node_id]
        return self.core.run(owner, lambda db: one(db, query, values, f"no node {node_id}"))

    def delete_node(self, owner: uuid.UUID, node_id: uuid.UUID) -> int:
        """Soft-delete the node; its live relationships are deleted with it (one deletion,
        restored together). Returns how many relationships went with it."""

        def delete(db: Session) -> int:
            # Through the live view: it answers the rows it deleted (the table says DELETE 0).
            one(
                db,
                "delete from nodes.nodes__live where node_id = %s returning node_id",
                (node_id,),
                f"no node {node_id}",
            )
            found = one(
                db,
                "select count(*) as n from nodes.node_relationships where deletion_id ="
                " (select deletion_id from nodes.nodes where node_id = %s)",
                (node_id,),
            )
            return int(found["n"])

        return self.core.run(owner, delete, reason="delete node")

    def restore_node(self, owner: uuid.UUID, node_id: uuid.UUID) -> Row:
        """Bring a deleted node back, with exactly the relationships its delete took."""

        def restore(db: Session) -> Row:
            # What the node's delete took with it (restore brings back exactly these).
            took = one(
                db,
                "select count(*) as n from nodes.node_relationships r join nodes.nodes n"
                " on n.deletion_id = r.deletion_id and r.deleted_at is not null"
                " where n.node_id = %s and n.deleted_at is not null",
                (node_id,),
            )["n"]
            node = one(
                db,
                _cols(
                    "update nodes.nodes set deleted_at = null where node_id = %s"
                    " and deleted_at is not null returning {node}"
                ),
                (node_id,),
                f"no deleted node {node_id}",
            )
            return {**node, "relationships_restored": int(took)}

        return self.core.run(owner, restore, reason="restore node")

    # -- relationships -------------------------------------------------------------------

    def link(
        self,
        owner: uuid.UUID,
        source: uuid.UUID,
        target: uuid.UUID,
        relationship_type: str,
        metadata: Mapping[str, Any] | None = None,
    ) -> Row:
        """A relationship between two of the owner's live nodes. Refused: a self link, a
        cycle of an acyclic type (parent, depends_on), a live duplicate, a deleted end."""
        query = _cols(
            "insert into nodes.node_relationships (owner_id, source_node_id, target_node_id,"
            " relationship_type, metadata) values (%s, %s, %s, %s, %s) returning {edge}"
        )
        values = (owner, source, target, relationship_type, Jsonb(dict(metadata or {})))
        return self.core.run(owner, lambda db: one(db, query, values), reason="link")

    def unlink(self, owner: uuid.UUID, relationship_id: uuid.UUID) -> None:
        """Soft-delete one relationship (its history stays; restorable)."""
        query = sql.SQL(
            "delete from nodes.node_relationships__live where relationship_id = %s"
            " returning relationship_id"
        )
        missing = f"no relationship {relationship_id}"
        self.core.run(owner, lambda db: one(db, query, (relationship_id,), missing))

    def restore_relationship(self, owner: uuid.UUID, relationship_id: uuid.UUID) -> Row:
        """Bring an unlinked relationship back (refused while an end is deleted)."""
        query = _cols(
            "update nodes.node_relationships set deleted_at = null where relationship_id = %s"
            " and deleted_at is not null returning {edge}"
        )
        missing = f"no deleted relationship {relationship_id}"
        return self.core.run(owner, lambda db: one(db, query, (relationship_id,), missing))

    def traverse(
        self,
        owner: uuid.UUID,
        node_id: uuid.UUID,
        *,
        depth: int = 2,
        relationship_type: str | None = None,
    ) -> list[Row]:
        """Nodes reachable from ``node_id`` along outgoing live edges within ``depth`` hops,
        each with its shortest distance."""
        if not 1 <= depth <= 6:
            raise Invalid("depth: 1 to 6")
        params = {"id": node_id, "depth": depth, "type": relationship_type}
        return self.core.run(owner, lambda db: rows(db, _TRAVERSE, params))
