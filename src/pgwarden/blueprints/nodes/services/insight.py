"""Reading back what pgwarden keeps for the node system: search, a node's history from the
audit trail (the seed's node_versions), the node as of a time, revert, and the analytics
rollups of node_events (the seed's usage tables)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any, LiteralString

from psycopg import sql
from psycopg.types.json import Jsonb

from pgwarden.blueprints.nodes import NODES, RELATIONSHIPS
from pgwarden.blueprints.nodes.services._core import (
    Core,
    Invalid,
    NotFound,
    Row,
    actor_of,
    one,
    rows,
)
from pgwarden.blueprints.nodes.services.graph import EDITABLE
from pgwarden.db import Session
from pgwarden.features.audit import _runtime as audit_reads

_SETS = sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(k)) for k in EDITABLE)
_TABLES = {"node": NODES, "relationship": RELATIONSHIPS}
# Materialized views have no row-level security: every read names the owner.
_VIEWS: Mapping[str, LiteralString] = {
    "usage": "select node_id, usage_type, usage_count, first_used, last_used"
    " from nodes.node_usage where owner_id = %s order by usage_count desc, node_id limit %s",
    "features": "select feature, action, day, actions from nodes.feature_usage_daily"
    " where owner_id = %s order by day desc, actions desc limit %s",
    "cross-feature": "select source_feature, target_feature, relationship_type,"
    " relationships, first_linked, last_linked from nodes.cross_feature where owner_id = %s"
    " order by relationships desc limit %s",
}


def _version(v: audit_reads.Version) -> Row:
    return {"version": v.version, "op": v.op, "valid_from": v.valid_from,
            "valid_to": v.valid_to, "actor": v.actor, "reason": v.reason,
            "changed": v.changed, "row": v.row}  # fmt: skip


class Insight:
    """Search, history, time travel, analytics: for one owner at a time."""

    def __init__(self, core: Core):
        self.core = core

    def search(self, owner: uuid.UUID, text: str, *, limit: int = 10) -> list[Row]:
        """The owner's live nodes matching ``text`` (web-search syntax), best first, with a
        highlighted snippet; a query matching nothing falls back to names most like it
        (typos: ``fuzzy``)."""
        if not text.strip():
            raise Invalid("q: say what to search for")
        hits = self.core.warden.search.query(  # type: ignore[attr-defined]
            NODES, text, limit=limit, tenant=str(owner), actor=actor_of(owner)
        )
        return [{**h.row, "rank": h.rank, "headline": h.headline, "fuzzy": h.fuzzy} for h in hits]

    def history(self, owner: uuid.UUID, kind: str, key: uuid.UUID) -> list[Row]:
        """Every version of a node or relationship of the owner's, oldest first: values,
        operation, who and why (the audit store's row-level security shows a tenant only
        its own rows' events)."""
        table = _TABLES[kind]

        def read(db: Session) -> list[Row]:
            versions = audit_reads.history(db.connection, table, key)
            if not versions:
                raise NotFound(f"no {kind} {key}")
            return [_version(v) for v in versions]

        return self.core.run(owner, read)

    def as_of(self, owner: uuid.UUID, kind: str, key: uuid.UUID, at: dt.datetime) -> Row:
        """The node or relationship as it was at ``at`` (404: it did not exist then)."""
        for v in self.history(owner, kind, key):
            starts, ends = v["valid_from"], v["valid_to"]
            if (starts is None or starts <= at) and (ends is None or at < ends) and v["row"]:
                return {"version": v["version"], **v["row"]}
        raise NotFound(f"{kind} {key} did not exist at {at.isoformat()}")

    def revert(self, owner: uuid.UUID, node_id: uuid.UUID, version: int) -> Row:
        """Put a live node's fields back as they were in ``version`` of its history. An
        UPDATE by the owner under the policies (the app role holds no privilege on the audit
        store's revert), recorded as a new version with reason "revert to version N"."""

        def work(db: Session) -> Row:
            found = {v.version: v for v in audit_reads.history(db.connection, NODES, node_id)}
            if not found:
                raise NotFound(f"no node {node_id}")
            if version not in found:
                raise NotFound(f"node {node_id} has no version {version}")
            old = found[version].row
            if old is None:
                raise Invalid(f"version {version} is the node's deletion: delete it instead")
            query = sql.SQL(
                "update nodes.nodes set {} where node_id = %s and deleted_at is null"
                " returning node_id"
            ).format(_SETS)
            values = [Jsonb(old[k]) if k == "metadata" else old[k] for k in EDITABLE]
            one(db, query, [*values, node_id], f"node {node_id} is deleted: restore it first")
            return found[version].row or {}

        return self.core.run(owner, work, reason=f"revert to version {version}")

    def record(
        self,
        owner: uuid.UUID,
        feature: str,
        action: str,
        *,
        node_id: uuid.UUID | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Row:
        """One usage event (the seed's feature_usage_analytics row)."""
        query = sql.SQL(
            "insert into nodes.node_events (owner_id, node_id, feature, action, metadata)"
            " values (%s, %s, %s, %s, %s) returning event_id, node_id, feature, action, at"
        )
        values = (owner, node_id, feature, action, Jsonb(dict(metadata or {})))
        return self.core.run(owner, lambda db: one(db, query, values))

    def analytics(self, owner: uuid.UUID, view: str, *, limit: int = 50) -> list[Row]:
        """A rollup (``usage``, ``features``, ``cross-feature``) of the owner's, as of the
        view's last refresh (``pgwarden views refresh`` / the worker, every 5 minutes)."""
        query = _VIEWS.get(view)
        if query is None:
            raise NotFound(f"no analytics {view!r}: one of {', '.join(_VIEWS)}")
        return self.core.run(owner, lambda db: rows(db, query, (owner, limit)))
