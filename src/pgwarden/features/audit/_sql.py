"""The parts of the generated capture functions that depend on the table and its options."""

from __future__ import annotations

from collections.abc import Sequence

from psycopg import sql

from pgwarden.catalog import Table
from pgwarden.errors import FeatureNotApplicable
from pgwarden.features.audit._options import AuditOptions


def choose_key(
    table: Table, options: AuditOptions, registered: tuple[str, ...] | None = None
) -> tuple[tuple[str, ...] | None, str]:
    """How rows of ``table`` are identified, and the reason, shown in the plan.

    Once chosen, a key stays (while its columns exist and no other is declared): history
    is keyed by it, and a primary key moved to other columns must not split every row's
    history in two.
    """
    if options.key:
        return tuple(options.key), f"rows identified by the declared key ({', '.join(options.key)})"
    hidden = set(options.exclude) | set(options.redact)
    if registered and all(table.column(c) for c in registered) and not hidden & set(registered):
        current = tuple(table.primary_key.columns) if table.primary_key else None
        if current != registered:
            switch = (
                f"; declare key = [...] to switch to the primary key ({', '.join(current)})"
                if current
                else ""
            )
            return registered, (
                f"rows identified by ({', '.join(registered)}), the key audit started with" + switch
            )
    if table.primary_key is not None:
        key = table.primary_key.columns
        if hidden & set(key):
            raise FeatureNotApplicable(
                str(table.name), "audit", "primary key columns cannot be excluded or redacted"
            )
        return key, f"rows identified by the primary key ({', '.join(key)})"
    for unique in table.unique_keys:
        columns = [table.column(c) for c in unique.columns]
        if all(c is not None and c.not_null for c in columns) and not hidden & set(unique.columns):
            return unique.columns, (
                f"no primary key: rows identified by unique key {unique.name} "
                f"({', '.join(unique.columns)})"
            )
    return None, (
        "no primary key: rows identified by their whole content, so identical rows share one "
        "history; declare key = [...] to choose columns"
    )


def image_of(
    image: sql.Composable, excluded: sql.Composable | None, redacted: sql.Composable | None
) -> sql.Composable:
    """The recorded image of a row's jsonb ``image``: without the ``excluded`` columns, the
    ``redacted`` ones as keyed hashes (both text[] expressions, or None for none)."""
    if excluded is not None:
        image = sql.SQL("({} - {})").format(image, excluded)
    if redacted is not None:
        image = sql.SQL("warden.audit_redact({}, {})").format(image, redacted)
    return image


def _image(alias: str, options: AuditOptions) -> sql.Composable:
    # The capture functions find the hidden columns' current names once per call (_hidden).
    # alias.* is the whole row even when the table has a column named like the alias.
    return image_of(
        sql.SQL("to_jsonb({}.*)").format(sql.Identifier(alias)),
        sql.SQL("excluded") if options.exclude else None,
        sql.SQL("redacted") if options.redact else None,
    )


def _hidden(table: Table, options: AuditOptions) -> sql.Composable:
    """Names of the excluded and redacted columns as they are now, found once per call by
    attribute number: a renamed column stays excluded (or redacted) under its new name."""
    parts = []
    for variable, names in (("excluded", options.exclude), ("redacted", options.redact)):
        if not names:
            continue
        attnums = [c.position for c in table.columns if c.name in names]
        parts.append(
            sql.SQL(
                "    {} := array(select a.attname::text from pg_catalog.pg_attribute a "
                "where a.attrelid = (select t.relid from warden.audit_tables t "
                "where t.table_id = tid) and a.attnum = any({}::smallint[]) "
                "and not a.attisdropped);\n"
            ).format(sql.SQL(variable), sql.Literal(attnums))
        )
    return sql.Composed(parts)


_TG_RELID = sql.SQL("tg_relid")


def key_expr(
    image: str, key: tuple[str, ...] | None, relid: sql.Composable = _TG_RELID
) -> sql.Composable:
    """The row key read from jsonb ``image`` (a dotted name), by ``key``'s column names."""
    # Key values are read from the jsonb image by name. If a key column is renamed or
    # dropped after this function was generated, the image no longer has that name: the key
    # is then taken from the table's live primary key (slower, until `apply` regenerates
    # this function), so capture stays right and the user's statement never fails.
    img = sql.Identifier(*image.split("."))
    if key is None:
        return img
    parts = [sql.SQL("{} -> {}").format(img, sql.Literal(c)) for c in key]
    return sql.SQL(
        "case when {img} ?& {names} then jsonb_build_array({parts}) "
        "else warden.audit_live_key({relid}, {img}) end"
    ).format(img=img, names=sql.Literal(list(key)), parts=sql.SQL(", ").join(parts), relid=relid)


def _update_query(
    options: AuditOptions, key: tuple[str, ...] | None, changed: sql.Composable
) -> sql.Composed:
    """The UPDATE capture query: pairs old and new rows by their position."""
    return sql.SQL(
        "insert into warden.audit_events (statement_id, txid, context_seq, table_id, op, at, "
        "row_key, old_key, old_row, new_row) "
        "select sid, txv, seq, tid, 'U', at_, k.nk, nullif(k.ok, k.nk), "
        "a.oj, b.nj "
        "from (select row_number() over () as i, {image_o} as oj from old_rows o) a "
        "join (select row_number() over () as i, {image_n} as nj from new_rows n) b "
        "on a.i = b.i "
        "cross join lateral (select {key_o} as ok, {key_n} as nk) k "
        "where {changed}"
    ).format(
        image_o=_image("o", options),
        image_n=_image("n", options),
        key_o=key_expr("oj", key),
        key_n=key_expr("nj", key),
        changed=changed,
    )


def _comment_name(table: Table) -> sql.Composable:
    # Only for a header comment: printable characters, so no name can end the comment.
    return sql.SQL("".join(c if c.isprintable() else "?" for c in str(table.name)))


def capture_parts(
    table: Table, options: AuditOptions, key: tuple[str, ...] | None
) -> dict[str, sql.Composable]:
    """Placeholders of ``capture.sql`` / ``capture_rows.sql``, composed (never formatted)."""
    removed = sql.SQL(
        "        insert into warden.audit_events (statement_id, txid, context_seq, table_id,\n"
        "                                         op, at, row_key, old_row)\n"
        "        select sid, txv, seq, tid, 'D', at_, {key}, s.oj\n"
        "          from (select {image} as oj from {table} o{where}) s;"
    )
    truncate_rows: sql.Composable = sql.SQL("")
    truncate_partition: sql.Composable = sql.SQL("        null;")
    if options.truncate == "rows":
        common = {
            "key": key_expr("oj", key),
            "image": _image("o", options),
            "table": table.name.ident,
        }
        truncate_rows = removed.format(where=sql.SQL(""), **common)
        truncate_partition = removed.format(
            where=sql.SQL(
                " where o.tableoid in (select p.relid from "
                "pg_catalog.pg_partition_tree(tg_relid) p where p.isleaf)"
            ),
            **common,
        )
    changed = sql.SQL("a.oj is distinct from b.nj") if options.skip_unchanged else sql.SQL("true")
    update = _update_query(options, key, changed)
    changed_row = sql.SQL("oj is distinct from nj") if options.skip_unchanged else sql.SQL("true")
    return {
        "table": _comment_name(table),
        "image_of_n": _image("n", options),
        "image_of_o": _image("o", options),
        "key_of_nj": key_expr("nj", key),
        "key_of_oj": key_expr("oj", key),
        "update_static": update,
        "changed_row": changed_row,
        "truncate_rows": truncate_rows,
        "truncate_partition": truncate_partition,
        "hidden": _hidden(table, options),
    }


def wal_parts(table: Table, options: AuditOptions) -> dict[str, sql.Composable]:
    """Placeholders of ``capture_wal.sql``: a TRUNCATE's rows sent as messages (images made
    here, so the ingester only keys them)."""
    truncate_rows: sql.Composable = sql.SQL("")
    if options.truncate == "rows":
        truncate_rows = sql.SQL(
            "{hidden}"
            "        select count(pg_logical_emit_message(true, 'pgwarden.audit', "
            "warden.audit_wal_signed('R' || ({image})::text))) into written\n"
            # A plain table has no partition tree: it is its own only leaf.
            "          from {table} o where o.tableoid = tg_relid or o.tableoid in "
            "(select p.relid from pg_catalog.pg_partition_tree(tg_relid) p where p.isleaf);"
        ).format(hidden=_hidden(table, options), image=_image("o", options),
                 table=table.name.ident)  # fmt: skip
    return {
        "table": _comment_name(table),
        "truncate_rows": truncate_rows,
    }


def capture_args(
    table_id: int, options: AuditOptions, table: Table, key: tuple[str, ...] | None
) -> tuple[str, ...]:
    """The arguments of ``warden_wal.audit_capture()``'s triggers: the table id, whether
    unchanged rows are skipped, the attribute numbers of the excluded and of the redacted
    columns (their current names are found from these, as ``_sql._hidden`` does), then the
    key columns' names (none: the whole row is the key)."""

    def attnums(names: Sequence[str]) -> str:
        return "{" + ",".join(str(c.position) for c in table.columns if c.name in names) + "}"

    return (
        str(table_id),
        "skip" if options.skip_unchanged else "all",
        attnums(options.exclude),
        attnums(options.redact),
        *(key or ()),
    )
