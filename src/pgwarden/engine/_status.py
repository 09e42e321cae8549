"""What pgwarden has applied to a database, and whether it still looks that way."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

import psycopg

from pgwarden.catalog import ServerInfo
from pgwarden.engine._change import Change
from pgwarden.engine._ledger import OwnedObject, read_ledger, schema_version
from pgwarden.engine._objects import live_fingerprint
from pgwarden.engine._plan import build_plan
from pgwarden.spec import Spec

if TYPE_CHECKING:
    from pgwarden.features import Feature


@dataclass(frozen=True)
class OwnedState:
    owned: OwnedObject
    state: str
    """``ok``, ``altered`` or ``missing``."""


@dataclass(frozen=True)
class Status:
    server: ServerInfo
    schema_version: int
    objects: tuple[OwnedState, ...]
    pending: tuple[Change, ...]
    last_apply: datetime | None
    notes: tuple[str, ...] = ()
    """What features report about their running state (work waiting, space held)."""

    @property
    def drift(self) -> tuple[OwnedState, ...]:
        return tuple(o for o in self.objects if o.state != "ok")

    def to_json(self) -> dict[str, Any]:
        return {
            "server": {"version": self.server.version, "database": self.server.database},
            "schema_version": self.schema_version,
            "last_apply": self.last_apply.isoformat() if self.last_apply else None,
            "objects": [
                {
                    "object": o.owned.ref.to_json(),
                    "feature": o.owned.feature,
                    "table": str(o.owned.table) if o.owned.table else None,
                    "description": o.owned.description,
                    "state": o.state,
                }
                for o in self.objects
            ],
            "drift": [o.owned.ref.key for o in self.drift],
            "pending": [c.to_json() for c in self.pending],
            "notes": list(self.notes),
        }


STATUS_GROUP = "pgwarden.status"
"""Entry-point group of status lines from modules that are not features (backups...):
``name = "module:function"``, ``function(conn, spec) -> list[str]`` (reads only; nothing to
say: an empty list)."""

StatusProvider = Callable[[psycopg.Connection[Any], Spec], list[str]]


@cache
def status_providers() -> tuple[StatusProvider, ...]:
    """Every installed provider of status lines, in name order."""
    points = sorted(entry_points(group=STATUS_GROUP), key=lambda p: p.name)
    return tuple(point.load() for point in points)


def read_status(
    conn: psycopg.Connection[Any], spec: Spec, features: Mapping[str, Feature]
) -> Status:
    plan = build_plan(conn, spec, features)
    states = []
    for owned in read_ledger(conn).values():
        live = live_fingerprint(conn, owned.ref)
        state = "missing" if live is None else "ok" if live == owned.fingerprint else "altered"
        states.append(OwnedState(owned, state))
    version = schema_version(conn)
    last = None
    if version:
        row = conn.execute("select max(applied_at) from warden.applies").fetchone()
        last = row[0] if row else None
    notes = tuple(note for feature in features.values() for note in feature.health(conn, spec))
    notes += tuple(note for provider in status_providers() for note in provider(conn, spec))
    return Status(plan.server, version, tuple(states), plan.changes, last, notes)
