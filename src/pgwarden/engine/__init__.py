"""Plan and apply: from declared features and the live catalog to ordered, locked changes."""

from pgwarden.engine._apply import ApplyResult, apply_plan
from pgwarden.engine._change import Action, Change, Plan
from pgwarden.engine._ledger import OwnedObject, migrations, read_ledger, schema_version
from pgwarden.engine._objects import KINDS, NO_LOCK, DesiredObject, Lock, ObjectRef
from pgwarden.engine._plan import build_plan
from pgwarden.engine._status import OwnedState, Status, read_status

__all__ = [
    "KINDS",
    "NO_LOCK",
    "Action",
    "ApplyResult",
    "Change",
    "DesiredObject",
    "Lock",
    "ObjectRef",
    "OwnedObject",
    "OwnedState",
    "Plan",
    "Status",
    "apply_plan",
    "build_plan",
    "migrations",
    "read_ledger",
    "read_status",
    "schema_version",
]
