"""What every nodes service shares: typed errors, the retried transaction acting as the
owner's signed tenant (and pgwarden's actor), rows as dicts."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, LiteralString, TypeVar

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql
from psycopg.rows import dict_row

from pgwarden.blueprints._errors import BlueprintError, Rules
from pgwarden.blueprints._errors import Conflict as Conflict
from pgwarden.blueprints._errors import Invalid as Invalid
from pgwarden.blueprints._errors import NotFound as NotFound
from pgwarden.blueprints._errors import translate as by_rules
from pgwarden.db import Session
from pgwarden.warden import Warden

T = TypeVar("T")


NodesError = BlueprintError
"""A rule of the node system was broken (``status``: the HTTP answer, ``code``: a stable
name); :class:`Invalid`, :class:`NotFound` and :class:`Conflict` are its kinds."""


# The database's rules, by constraint name, as the message a client reads.
RULES: Rules = {
    "nodes_name_length": (Invalid, "name: 1 to 255 characters"),
    "nodes_description_length": (Invalid, "description: at most 10,000 characters"),
    "nodes_type_format": (Invalid, "type: lower-case letters, digits and -, e.g. event-storm"),
    "nodes_node_type_format": (Invalid, "node_type: lower-case letters, digits, _ and -"),
    "nodes_metadata_object": (Invalid, "metadata must be a JSON object"),
    "nodes_position_bounds": (Invalid, "position_x and position_y lie within ±10,000"),
    "nodes_owner_type_name_key": (Conflict, "you have a node of this type and name"),
    "relationships_source_fkey": (NotFound, "no such source node"),
    "relationships_target_fkey": (NotFound, "no such target node"),
    "relationships_edge_key": (Conflict, "these nodes are linked by this type already"),
    "relationships_source_target_different": (Invalid, "a node cannot be linked to itself"),
    "relationships_type_format": (Invalid, "relationship_type: lower-case letters, digits, _"),
    "relationships_metadata_object": (Invalid, "metadata must be a JSON object"),
    "node_events_action_format": (Invalid, "action: lower-case letters, digits, _"),
}


def translate(exc: psycopg.Error) -> BlueprintError:
    """The database refused a write: say which rule, in words (else re-raise)."""
    diag = exc.diag
    text = diag.message_primary or str(exc)
    # soft_delete's check that no live row references a deleted one hints "restore".
    if isinstance(exc, pg_errors.ForeignKeyViolation) and "restore" in (diag.message_hint or ""):
        return Conflict("a linked node is deleted: restore it first")
    if isinstance(exc, pg_errors.CheckViolation) and "self loop" in text:
        return Invalid("a node cannot be linked to itself")
    if isinstance(exc, pg_errors.CheckViolation) and "cycle" in text:  # the graph trigger
        return Conflict(text.split(": ", 1)[-1])
    # a key on (owner_id, node_id): another owner's node is no node of this one's
    return by_rules(exc, RULES, foreign_key=(NotFound, "no such node"))


REFUSALS = (pg_errors.IntegrityError, pg_errors.DataError, pg_errors.RaiseException)


def actor_of(owner: uuid.UUID) -> str:
    """pgwarden's actor for a user: the seed's ``changed_by``."""
    return f"user:{owner}"


class Core:
    """The database every service works with."""

    def __init__(self, warden: Warden):
        self.warden = warden

    def run(
        self, owner: uuid.UUID, work: Callable[[Session], T], *, reason: str | None = None
    ) -> T:
        """``work`` in one transaction as ``owner``: the signed tenant the policies compare
        ``owner_id`` with (the seed's ``auth.uid()``) and the actor the audit trail records;
        re-run on serialization failure or deadlock (``Warden.run``). A rule the database
        enforces becomes a :class:`NodesError`, and nothing of the transaction is written."""
        try:
            return self.warden.run(work, actor=actor_of(owner), tenant=str(owner), reason=reason)
        except REFUSALS as exc:
            raise translate(exc) from exc


Row = dict[str, Any]
Params = Sequence[Any] | Mapping[str, Any]
Query = LiteralString | sql.SQL | sql.Composed


def rows(db: Session, query: Query, params: Params = ()) -> list[Row]:
    with db.connection.cursor(row_factory=dict_row) as cur:
        cur.execute(query, params)
        return list(cur.fetchall())


def one(db: Session, query: Query, params: Params = (), missing: str = "not found") -> Row:
    """The one row ``query`` returns; ``NotFound(missing)`` when none."""
    found = rows(db, query, params)
    if not found:
        raise NotFound(missing)
    return found[0]
