"""The audit feature's database-wide event triggers: column renames recorded at once, and
partitions made by hand given their capture at once. A superuser creates them; pgwarden keeps
them once it owns them."""

from __future__ import annotations

from typing import LiteralString

from psycopg import sql

from pgwarden.engine import DesiredObject, ObjectRef
from pgwarden.features._base import PlanContext

EVENT_TRIGGER = ObjectRef("event_trigger", "warden", "pgwarden_audit_columns")
"""Records renamed, dropped and added columns of audited tables after each ALTER TABLE."""

PARTITIONS_TRIGGER = ObjectRef("event_trigger", "warden", "pgwarden_audit_partitions")
"""Gives a partition made or attached by hand under an audited table its capture at once."""


# Each database-wide event trigger: the command tags it fires after, its function, and what
# it is for. Fixed words of ours, never user input.
_EVENT_TRIGGERS: dict[ObjectRef, tuple[LiteralString, LiteralString, str]] = {
    EVENT_TRIGGER: (
        "'ALTER TABLE'",
        "warden.audit_track_columns()",
        "event trigger recording column renames of audited tables (time travel and revert "
        "across RENAME COLUMN)",
    ),
    PARTITIONS_TRIGGER: (
        "'CREATE TABLE', 'ALTER TABLE'",
        "warden.audit_adopt_partitions()",
        "event trigger giving partitions made or attached by hand under an audited table "
        "their statement triggers and REPLICA IDENTITY at once",
    ),
}


def event_triggers(ctx: PlanContext) -> list[DesiredObject]:
    """The event triggers a superuser can create (and pgwarden keeps once it owns them)."""
    found = []
    for ref, (tags, function, description) in _EVENT_TRIGGERS.items():
        if not (ctx.catalog.server.is_superuser or ctx.owns(ref)):
            continue
        name = sql.Identifier(ref.name)
        found.append(
            DesiredObject(
                ref=ref,
                feature="audit",
                table=None,
                # No CREATE OR REPLACE for event triggers: drop first (one transaction).
                create=sql.SQL(
                    "DROP EVENT TRIGGER IF EXISTS {0}; CREATE EVENT TRIGGER {0} ON "
                    "ddl_command_end WHEN TAG IN (" + tags + ") EXECUTE FUNCTION " + function
                ).format(name),
                drop=sql.SQL("DROP EVENT TRIGGER IF EXISTS {}").format(name),
                description=description,
            )
        )
    return found
