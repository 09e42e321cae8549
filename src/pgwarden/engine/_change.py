"""Changes and plans: what ``pgwarden plan`` shows and ``pgwarden apply`` runs."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from pgwarden._names import QualifiedName
from pgwarden.catalog import ServerInfo
from pgwarden.engine._objects import NO_LOCK, DesiredObject, Lock, ObjectRef, Statement
from pgwarden.engine._streams import Stream

Action = Literal["migrate", "create", "replace", "repair", "drop", "forget"]

_FLIP: dict[Action, Action] = {
    "create": "drop", "drop": "create", "replace": "replace", "repair": "repair",
    "migrate": "migrate", "forget": "forget",
}  # fmt: skip
_SYMBOL = {"migrate": "*", "create": "+", "replace": "~", "repair": "!", "drop": "-", "forget": "x"}


@dataclass(frozen=True)
class Change:
    """One step of a plan: its SQL, what it does, the lock it takes, and how to undo it.

    ``desired`` is the object a create/replace/repair leaves behind (recorded in the ledger);
    ``ref`` names the object a drop/forget removes from it.
    """

    action: Action
    feature: str
    description: str
    statements: tuple[Statement, ...]
    table: QualifiedName | None = None
    ref: ObjectRef | None = None
    lock: Lock = NO_LOCK
    transactional: bool = True
    destructive: bool = False
    reason: str | None = None
    """Why a repair or replace is needed (e.g. "dropped by hand")."""
    desired: DesiredObject | None = None
    undo: tuple[Statement, ...] = field(default=(), compare=False)

    @property
    def symbol(self) -> str:
        return _SYMBOL[self.action]

    @property
    def sql(self) -> str:
        return ";\n".join(s.as_string(None) for s in self.statements) + (
            ";" if self.statements else ""
        )

    def reverse(self) -> Change | None:
        """The change that undoes this one, or None when nothing can (a forget, a migration,
        a repair: the broken state is not worth restoring)."""
        if not self.undo:
            return None
        flipped = _FLIP[self.action]
        return replace(
            self,
            action=flipped,
            description=f"undo: {self.description}",
            statements=self.undo,
            undo=self.statements,
            desired=None,
            reason=None,
        )

    def to_json(self) -> dict[str, Any]:
        rev = self.reverse()
        return {
            "action": self.action,
            "feature": self.feature,
            "table": str(self.table) if self.table else None,
            "object": self.ref.to_json() if self.ref else None,
            "description": self.description,
            "reason": self.reason,
            "lock": self.lock.to_json(),
            "transactional": self.transactional,
            "destructive": self.destructive,
            "sql": self.sql,
            "reverse_sql": rev.sql if rev else None,
        }


@dataclass(frozen=True)
class Plan:
    """Ordered changes that bring the database to what the file declares."""

    changes: tuple[Change, ...]
    server: ServerInfo
    declared_tables: int = 0
    streams: tuple[Stream, ...] = ()
    """The version streams its ``migrate`` change brings up to date."""
    notes: tuple[str, ...] = ()
    """The features' advice (``Feature.advice``): not changes, shown beside them."""

    @property
    def empty(self) -> bool:
        return not self.changes

    @property
    def drift(self) -> tuple[Change, ...]:
        """Repairs of owned objects altered or dropped outside pgwarden."""
        return tuple(c for c in self.changes if c.action == "repair")

    @property
    def fingerprint(self) -> str:
        """Identifies these exact changes: ``apply`` refuses to run a plan that moved on."""
        text = json.dumps([c.to_json() for c in self.changes], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def to_json(self) -> dict[str, Any]:
        return {
            "changes": [c.to_json() for c in self.changes],
            "fingerprint": self.fingerprint,
            "server": {"version": self.server.version, "database": self.server.database},
            "notes": list(self.notes),
        }
