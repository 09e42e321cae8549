"""The registration of an audited table: its row of ``warden.audit_tables``."""

from __future__ import annotations

from psycopg import sql

from pgwarden.catalog import Table
from pgwarden.engine import DesiredObject, ObjectRef
from pgwarden.features.audit._options import AuditOptions


def registration(
    table: Table,
    table_id: int,
    key: tuple[str, ...] | None,
    why: str,
    hidden: list[str],
    options: AuditOptions,
) -> DesiredObject:
    """The row of ``warden.audit_tables`` that registers ``table`` for capture (its id, key,
    hidden columns, retention, capture mode), and its column names by attribute number;
    dropped, it marks the table no longer captured. ``why``: what the plan says of it."""
    types = [table.column(c).type for c in key] if key else None  # type: ignore[union-attr]
    key_literal = sql.Literal(list(key) if key else None)
    # Shown in the plan and status: how long events stay hot, and stay at all.
    if options.archive_after:
        why += f"; archived after {options.archive_after}"
    if options.retention:
        why += f"; deleted after {options.retention}"
    if options.checkpoint_every is not None:
        every = options.checkpoint_every
        why += "; checkpoint every " + (
            f"{every:,} changes" if isinstance(every, int) else str(every)
        )
    return DesiredObject(
        ref=ObjectRef("registration", "warden", "audit_tables", table.name),
        feature="audit",
        table=table.name,
        create=sql.SQL(
            "INSERT INTO warden.audit_tables (table_id, relid, schema_name, table_name, "
            "key_columns, key_types, key_attnums, hidden_columns, hidden_attnums, retention, "
            "archive_after, capture, excluded, redacted, skip_unchanged) "
            "VALUES ({tid}, {rel}::regclass, {schema}, {name}, {key}::text[], {types}::text[], "
            "(SELECT array_agg(a.attnum ORDER BY u.o) FROM unnest({key}::text[]) "
            "WITH ORDINALITY u(c, o) JOIN pg_attribute a "
            "ON a.attrelid = {rel}::regclass AND a.attname = u.c), {hidden}::text[], "
            "(SELECT coalesce(array_agg(a.attnum), '{{}}') FROM pg_attribute a "
            "WHERE a.attrelid = {rel}::regclass AND a.attname = ANY({hidden}::text[])), "
            "{retention}::interval, {archive_after}::interval, {capture}, {excluded}::text[], "
            "{redacted}::text[], {skip_unchanged}) "
            "ON CONFLICT (relid) DO UPDATE SET schema_name = excluded.schema_name, "
            "table_name = excluded.table_name, key_columns = excluded.key_columns, "
            "key_types = excluded.key_types, key_attnums = excluded.key_attnums, "
            "hidden_columns = excluded.hidden_columns, "
            "hidden_attnums = excluded.hidden_attnums, retention = excluded.retention, "
            "archive_after = excluded.archive_after, capture = excluded.capture, "
            "excluded = excluded.excluded, redacted = excluded.redacted, "
            "skip_unchanged = excluded.skip_unchanged, dropped_at = NULL; "
            # The column names by attribute number, for time travel across renames.
            "SELECT warden.audit_record_columns(ARRAY[{rel}::regclass::oid], '-infinity')"
        ).format(
            tid=sql.Literal(table_id),
            rel=sql.Literal(table.name.regclass_text),
            schema=sql.Literal(table.name.schema),
            name=sql.Literal(table.name.name),
            key=key_literal,
            types=sql.Literal(types),
            hidden=sql.Literal(hidden),
            retention=sql.Literal(options.retention.interval if options.retention else None),
            archive_after=sql.Literal(
                options.archive_after.interval if options.archive_after else None
            ),
            capture=sql.Literal(options.capture),
            excluded=sql.Literal(list(options.exclude)),
            redacted=sql.Literal(list(options.redact)),
            skip_unchanged=sql.Literal(options.skip_unchanged),
        ),
        # Marked as no longer captured; linked still (same table_id if audit comes back)
        # unless the table itself is gone. Found by name: the table may be dropped.
        drop=sql.SQL(
            "UPDATE warden.audit_tables SET dropped_at = now(), relid = CASE WHEN EXISTS "
            "(SELECT 1 FROM pg_class c WHERE c.oid = relid) THEN relid END "
            "WHERE schema_name = {} AND table_name = {} AND dropped_at IS NULL"
        ).format(sql.Literal(table.name.schema), sql.Literal(table.name.name)),
        description=f"audit registration of {table.name} ({why})",
    )
