"""Plan and apply: from declared features and the live catalog to ordered, locked changes.

The engine knows no feature. A feature gives it objects (per table, and database-wide),
object kinds of its own (:func:`register_kind`), and a :class:`Stream` (its state migrations
and its defined-once SQL); work a feature does outside apply goes through
:func:`apply_scoped`. See ``docs/architecture.md`` §3.
"""

from pgwarden.engine._apply import APPLYING, ApplyResult, apply_plan
from pgwarden.engine._change import Action, Change, Plan
from pgwarden.engine._ledger import (
    OwnedObject,
    read_ledger,
    schema_version,
    stored_sql,
    stream_version,
)
from pgwarden.engine._objects import (
    KINDS,
    NO_LOCK,
    DesiredObject,
    Kind,
    Lock,
    ObjectRef,
    register_kind,
)
from pgwarden.engine._plan import build_plan
from pgwarden.engine._scoped import apply_scoped, ensure_streams, relation_replaced
from pgwarden.engine._status import OwnedState, Status, read_status
from pgwarden.engine._streams import Migration, Stream

__all__ = [
    "APPLYING",
    "KINDS",
    "NO_LOCK",
    "Action",
    "ApplyResult",
    "Change",
    "DesiredObject",
    "Kind",
    "Lock",
    "Migration",
    "ObjectRef",
    "OwnedObject",
    "OwnedState",
    "Plan",
    "Status",
    "Stream",
    "apply_plan",
    "apply_scoped",
    "build_plan",
    "ensure_streams",
    "read_ledger",
    "read_status",
    "register_kind",
    "relation_replaced",
    "schema_version",
    "stored_sql",
    "stream_version",
]
