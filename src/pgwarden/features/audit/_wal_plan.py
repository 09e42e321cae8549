"""What ``capture = "wal"`` needs on a table besides its capture function: the server's
consent, the marking triggers, old rows in the WAL, and membership of the publication."""

from __future__ import annotations

import os
from typing import Literal

from psycopg import sql

from pgwarden.catalog import ServerInfo, Table
from pgwarden.engine import DesiredObject, Lock, ObjectRef
from pgwarden.errors import ConfigError, FeatureNotApplicable
from pgwarden.features._base import PlanContext, trigger
from pgwarden.features._extension import (
    C_CAPTURE_FUNCTION,
    C_MARK_FUNCTION,
    CAPTURE_VERSION,
    CONTEXT_VERSION,
    EXTENSION,
    extension,
    in_c,
    wanted_extension,
)
from pgwarden.features.audit._options import AuditOptions
from pgwarden.features.audit._wal import PUBLICATION, Slots

__all__ = [
    "CAPTURE_VERSION",
    "CONTEXT_VERSION",
    "C_CAPTURE_FUNCTION",
    "C_MARK_FUNCTION",
    "EXTENSION",
    "extension",
    "wanted_extension",
]  # fmt: skip

MARK_TRIGGER = "pgwarden_audit_w"
"""The statement trigger sending a transaction's context to the WAL when it changes."""
MARK_FUNCTION = ObjectRef("function", "warden", "audit_wal_statement")
"""Its PL/pgSQL function, one for every table (made by the store's migrations)."""
KEY_TRIGGER, KEY_END_TRIGGER = "pgwarden_audit_k", "pgwarden_audit_e"
"""The statement triggers bracketing an UPDATE that can change keys."""
TRUNCATE_TRIGGER = "pgwarden_audit_t"


WAL_GAIN = (
    "writers kept 0.72-1.07x of their TPS without audit under sustained TPC-B load with the "
    "follower live, ahead of the 2ndQuadrant trigger in each run, against 0.68-0.77x with "
    "trigger capture (docs/benchmarks.md)"
)
"""What the fast path was measured to give, for the plan's reason when it is not taken."""


def wal_blockers(server: ServerInfo, slots: Slots) -> list[str]:
    """What keeps this server and role from capturing from the WAL, each with what would
    unlock it (empty: nothing)."""
    found = []
    if server.wal_level != "logical":
        found.append(
            f"wal_level = logical (this server has {server.wal_level}): set it and restart "
            "the server"
        )
    if not server.can_replicate:
        found.append(
            f"role {server.user} to have REPLICATION (ALTER ROLE {server.user} REPLICATION) "
            "or be a superuser"
        )
    if not slots.exists and slots.free <= 0:
        found.append(
            "a free replication slot (all are in use): raise max_replication_slots and "
            "restart, or drop an unused slot"
        )
    return found


def choose_capture(
    table: Table, options: AuditOptions, ctx: PlanContext, slots: Slots
) -> tuple[Literal["trigger", "wal"], str]:
    """The capture ``table`` gets, and what the plan says of the choice. ``auto`` takes the
    WAL when the server and role allow it, triggers otherwise (saying what would unlock
    the WAL); ``wal`` is refused, saying why, when it cannot be had."""
    if options.capture == "trigger":
        return "trigger", ""
    if options.capture == "wal":
        check_wal(table, ctx)
        return "wal", ""
    forced = auto_override()
    if forced == "trigger":
        return "trigger", ""  # the operator's choice, as if declared
    if forced == "wal":
        check_wal(table, ctx)
        return "wal", f'capture = "auto": the WAL ({AUTO_ENV}=wal)'
    missing = wal_blockers(ctx.catalog.server, slots)
    if missing:
        return "trigger", (
            f'capture = "auto": trigger capture; capture from the WAL ({WAL_GAIN}) needs '
            + "; ".join(missing)
        )
    return "wal", 'capture = "auto": the server and role allow capture from the WAL'


AUTO_ENV = "PGWARDEN_AUDIT_CAPTURE"
"""Environment variable deciding what ``capture = "auto"`` takes: ``trigger`` or ``wal``
(refused, saying why, where the server cannot), or ``auto`` (the default)."""


def auto_override() -> str:
    value = os.environ.get(AUTO_ENV, "auto").strip() or "auto"
    if value not in ("auto", "trigger", "wal"):
        raise ConfigError(
            f"{AUTO_ENV}={value!r}: expected auto, trigger or wal",
            hint='what tables declaring capture = "auto" (the default) are captured with',
        )
    return value


def check_wal(table: Table, ctx: PlanContext) -> None:
    """Refuse, saying why, when this server or role cannot capture from the WAL."""
    server = ctx.catalog.server
    if server.wal_level != "logical":
        raise FeatureNotApplicable(
            str(table.name), "audit",
            f'capture = "wal" needs wal_level = logical (this server has {server.wal_level}):'
            " set it and restart the server, or use capture = \"trigger\"",
        )  # fmt: skip
    virtual = [c.name for c in table.columns if c.virtual]
    if virtual:
        # PostgreSQL refuses every UPDATE and DELETE of a table whose replica identity (FULL
        # here: the old rows are the images) has a generated column it cannot publish.
        raise FeatureNotApplicable(
            str(table.name), "audit",
            f'capture = "wal" cannot read {table.name}: its virtual generated column '
            f"{', '.join(virtual)} cannot be published, and PostgreSQL then refuses UPDATE and "
            'DELETE under REPLICA IDENTITY FULL; use capture = "trigger"',
        )  # fmt: skip
    if not server.can_replicate:
        raise FeatureNotApplicable(
            str(table.name), "audit",
            f'capture = "wal" reads a replication slot: role {server.user} needs the '
            "REPLICATION attribute (or to be a superuser)",
        )  # fmt: skip


def mark_function(
    table: Table, options: AuditOptions, ctx: PlanContext
) -> tuple[ObjectRef, bool, str]:
    """The function of ``table``'s context trigger, whether it needs the extension pgwarden
    installs (a database-wide object: :func:`extension`), and what the plan says of the
    choice. ``wal_marker = "c"`` is refused, saying why, when it cannot be had."""
    server = ctx.catalog.server
    if options.wal_marker == "plpgsql":
        return MARK_FUNCTION, False, "context trigger in PL/pgSQL"
    in_c = f"context trigger in C, extension {EXTENSION.name}"
    installed = EXTENSION.name in server.extensions
    ours = ctx.owns(EXTENSION)
    if installed and not ours:
        return C_MARK_FUNCTION, False, in_c  # the database owner's: used, never dropped
    if not ours and not (EXTENSION.name in server.available_extensions and server.is_superuser):
        why = (
            f"this server has no extension {EXTENSION.name}: build and install it for PostgreSQL "
            f"{server.version_num // 10000} (make -C ext/pgwarden_wal install PG_CONFIG=...)"
            if EXTENSION.name not in server.available_extensions
            else f"role {server.user} is not a superuser: a role with CREATE on the database "
            f"may run CREATE EXTENSION {EXTENSION.name} (it is trusted) before applying"
        )
        if options.wal_marker == "auto":
            return MARK_FUNCTION, False, f"context trigger in PL/pgSQL ({why})"
        raise FeatureNotApplicable(str(table.name), "audit", f'wal_marker = "c": {why}')
    return C_MARK_FUNCTION, True, in_c


def context_in_c(ctx: PlanContext) -> tuple[bool, bool, str]:
    """Whether trigger capture's functions number and record the transaction's context in
    C (``warden_wal.audit_seq`` / ``audit_record``, extension pgwarden_wal 1.1), whether that
    needs the extension object (:func:`extension`), and what the plan says of it."""
    return in_c(ctx, CONTEXT_VERSION, "context")


def capture_in_c(ctx: PlanContext) -> tuple[bool, bool, str]:
    """Whether trigger capture's INSERT, UPDATE and DELETE triggers of tables that are not
    partitioned call ``warden_wal.audit_capture()`` (extension pgwarden_wal 1.2), whether
    that needs the extension object, and what the plan says of it."""
    return in_c(ctx, CAPTURE_VERSION, "statement capture")


def wal_objects(
    feature: str,
    table: Table,
    parts: list[Table],
    function: ObjectRef,
    key: tuple[str, ...] | None,
    marker: ObjectRef = MARK_FUNCTION,
) -> list[DesiredObject]:
    """The statement triggers (the context's, calling ``marker``, and those calling
    ``function``) and REPLICA IDENTITY FULL on ``table`` and each of its partitions
    (``parts``, the table first), and the table's membership of the publication. ``key``: the
    key columns (None: the whole row is the key)."""
    found = []
    # No WHEN clause: PostgreSQL rebuilds a trigger's WHEN expression for every statement
    # (measured: dearer than calling the function, which tests the same flag first).
    mark = sql.SQL("BEFORE INSERT OR UPDATE OR DELETE ON {} FOR EACH STATEMENT")
    columns = sql.SQL(", ").join(map(sql.Identifier, key or ()))
    of_key = sql.SQL(" OF {}").format(columns) if key else sql.SQL("")
    key_begin = sql.SQL("BEFORE UPDATE{} ON {} FOR EACH STATEMENT")
    key_end = sql.SQL("AFTER UPDATE{} ON {} FOR EACH STATEMENT")
    truncate = sql.SQL("BEFORE TRUNCATE ON {} FOR EACH STATEMENT")
    for part in parts:
        where = f"partition {part.name}" if part is not table else str(table.name)
        for name, timing, calls in (
            (MARK_TRIGGER, mark.format(part.name.ident), marker),
            (KEY_TRIGGER, key_begin.format(of_key, part.name.ident), function),
            (KEY_END_TRIGGER, key_end.format(of_key, part.name.ident), function),
            (TRUNCATE_TRIGGER, truncate.format(part.name.ident), function),
        ):
            found.append(
                trigger(
                    feature, part, name, timing, calls,
                    description=f"trigger {name} on {where}", declared=table,
                )
            )  # fmt: skip
        found.append(
            DesiredObject(
                ref=ObjectRef("replica_identity", part.name.schema, "full", part.name),
                feature=feature,
                table=table.name,
                create=sql.SQL("ALTER TABLE {} REPLICA IDENTITY FULL").format(part.name.ident),
                drop=sql.SQL("ALTER TABLE IF EXISTS {} REPLICA IDENTITY DEFAULT").format(
                    part.name.ident
                ),
                description=f"REPLICA IDENTITY FULL on {where} (old rows in the WAL)",
                lock=Lock("ACCESS EXCLUSIVE", part.name),
            )
        )
    publication = sql.Identifier(PUBLICATION)
    found.append(
        DesiredObject(
            ref=ObjectRef("publication_table", table.name.schema, PUBLICATION, table.name),
            feature=feature,
            table=table.name,
            # Already a member when repaired after the slot was dropped by hand.
            create=sql.SQL(
                "DO $$ BEGIN ALTER PUBLICATION {} ADD TABLE {}; "
                "EXCEPTION WHEN duplicate_object THEN NULL; END $$"
            ).format(publication, table.name.ident),
            drop=sql.SQL(
                "DO $$ BEGIN ALTER PUBLICATION {} DROP TABLE {}; "
                "EXCEPTION WHEN undefined_object OR undefined_table THEN NULL; END $$"
            ).format(publication, table.name.ident),
            description=f"{table.name} in publication {PUBLICATION} (read by the audit "
            "ingester through this database's slot)",
            lock=Lock("SHARE UPDATE EXCLUSIVE", table.name),
        )
    )
    return found
