"""What ``capture = "wal"`` needs on a table besides its capture function: the server's
consent, the marking triggers, old rows in the WAL, and membership of the publication."""

from __future__ import annotations

from psycopg import sql

from pgwarden.catalog import Table
from pgwarden.engine import DesiredObject, Lock, ObjectRef
from pgwarden.errors import FeatureNotApplicable
from pgwarden.features._base import PlanContext, trigger
from pgwarden.features.audit._wal import PUBLICATION

MARK_TRIGGER = "pgwarden_audit_w"
"""The statement trigger sending a transaction's context to the WAL when it changes."""
MARK_FUNCTION = ObjectRef("function", "warden", "audit_wal_statement")
"""Its function, one for every table (made by the store's migrations): runs as the caller."""
KEY_TRIGGER, KEY_END_TRIGGER = "pgwarden_audit_k", "pgwarden_audit_e"
"""The statement triggers bracketing an UPDATE that can change keys."""
TRUNCATE_TRIGGER = "pgwarden_audit_t"


def check_wal(table: Table, ctx: PlanContext) -> None:
    """Refuse, saying why, when this server or role cannot capture from the WAL."""
    server = ctx.catalog.server
    if server.wal_level != "logical":
        raise FeatureNotApplicable(
            str(table.name), "audit",
            f'capture = "wal" needs wal_level = logical (this server has {server.wal_level}):'
            " set it and restart the server, or use capture = \"trigger\"",
        )  # fmt: skip
    if not server.can_replicate:
        raise FeatureNotApplicable(
            str(table.name), "audit",
            f'capture = "wal" reads a replication slot: role {server.user} needs the '
            "REPLICATION attribute (or to be a superuser)",
        )  # fmt: skip


def wal_objects(
    feature: str,
    table: Table,
    parts: list[Table],
    function: ObjectRef,
    key: tuple[str, ...] | None,
) -> list[DesiredObject]:
    """The statement triggers (the context's, and those calling ``function``) and REPLICA
    IDENTITY FULL on ``table`` and each of its partitions (``parts``, the table first), and the
    table's membership of the publication. ``key``: the key columns (None: the whole row is
    the key)."""
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
            (MARK_TRIGGER, mark.format(part.name.ident), MARK_FUNCTION),
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
