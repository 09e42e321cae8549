"""The parts of the generated capture functions that depend on the table and its options."""

from __future__ import annotations

from psycopg import sql

from pgwarden.catalog import Table
from pgwarden.errors import FeatureNotApplicable
from pgwarden.features.audit._options import AuditOptions


def choose_key(table: Table, options: AuditOptions) -> tuple[tuple[str, ...] | None, str]:
    """How rows of ``table`` are identified, and the reason, shown in the plan."""
    if options.key:
        return tuple(options.key), f"rows identified by the declared key ({', '.join(options.key)})"
    hidden = set(options.exclude) | set(options.redact)
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


def _image(alias: str, options: AuditOptions) -> sql.Composable:
    # alias.* is the whole row even when the table has a column named like the alias.
    image: sql.Composable = sql.SQL("to_jsonb({}.*)").format(sql.Identifier(alias))
    if options.exclude:
        image = sql.SQL("({} - {}::text[])").format(image, sql.Literal(options.exclude))
    if options.redact:
        image = sql.SQL("warden.audit_redact({}, {}::text[])").format(
            image, sql.Literal(options.redact)
        )
    return image


def _key(image: str, key: tuple[str, ...] | None) -> sql.Composable:
    # Key values are read from the jsonb image by name, as literals: a column renamed or
    # dropped later never makes the user's statement fail (the next plan regenerates this).
    if key is None:
        return sql.Identifier(image)
    parts = [sql.SQL("{} -> {}").format(sql.Identifier(image), sql.Literal(c)) for c in key]
    return sql.SQL("jsonb_build_array({})").format(sql.SQL(", ").join(parts))


def capture_parts(
    table: Table, options: AuditOptions, key: tuple[str, ...] | None
) -> dict[str, sql.Composable]:
    """Placeholders of ``capture.sql`` / ``capture_rows.sql``, composed (never formatted)."""
    truncate_rows: sql.Composable = sql.SQL("")
    if options.truncate == "rows":
        truncate_rows = sql.SQL(
            "        insert into warden.audit_events (statement_id, context_id, table_id, op, at,\n"
            "                                         row_key, old_row)\n"
            "        select sid, ctx, tid, 'D', at_, {}, s.oj\n"
            "          from (select {} as oj from {} o) s;"
        ).format(_key("oj", key), _image("o", options), table.name.ident)
    changed = sql.SQL("a.oj is distinct from b.nj") if options.skip_unchanged else sql.SQL("true")
    changed_row = sql.SQL("oj is distinct from nj") if options.skip_unchanged else sql.SQL("true")
    return {
        # Only for the header comment: printable characters, so no name can end the comment.
        "table": sql.SQL("".join(c if c.isprintable() else "?" for c in str(table.name))),
        "image_of_n": _image("n", options),
        "image_of_o": _image("o", options),
        "key_of_nj": _key("nj", key),
        "key_of_oj": _key("oj", key),
        "old_values": sql.SQL("warden.audit_old_values(a.oj, b.nj)"),
        "old_values_row": sql.SQL("warden.audit_old_values(oj, nj)"),
        "changed": changed,
        "changed_row": changed_row,
        "truncate_rows": truncate_rows,
    }
