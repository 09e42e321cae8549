"""The SQL search function of a table (``warden.<schema>_<table>__search``)."""

from __future__ import annotations

from psycopg import sql

from pgwarden.catalog import Table
from pgwarden.engine import DesiredObject
from pgwarden.features._base import function_body, sql_template
from pgwarden.features.search._options import SearchOptions
from pgwarden.features.search._plan import (
    _PACKAGE,
    NAME,
    WEIGHT_ORDER,
    Extensions,
    _fold,
    query_function,
    text_of,
)
from pgwarden.features.search._top import Kept, query_part


def _headline(table: Table, options: SearchOptions, row: sql.Composable) -> sql.Composable:
    # The text columns (jsonb is no fit for a snippet), most weighted first.
    texts = [
        text
        for (name, _), text in zip(
            sorted(options.columns.items(), key=lambda c: WEIGHT_ORDER.index(c[1])),
            text_of(table, options, row),
            strict=True,
        )
        if (c := table.column(name)) is not None and "json" not in c.type
    ] or text_of(table, options, row)[:1]
    return sql.SQL("concat_ws(' … ', {})").format(sql.SQL(", ").join(texts))


def _order_key(table: Table, alias: str) -> sql.Composable:
    columns = table.primary_key.columns if table.primary_key else ("ctid",)
    return sql.SQL(", ").join(sql.Identifier(alias, c) for c in columns)


def _live(alias: str, deleted: str | None) -> sql.Composable:
    if deleted is None:
        return sql.SQL("")
    return sql.SQL(" and {} is null").format(sql.Identifier(alias, deleted))


def query_object(
    table: Table, options: SearchOptions, ext: Extensions, deleted: str | None, kept: Kept | None
) -> DesiredObject:
    """``deleted``: soft delete's column when the table has it (deleted rows never match);
    ``kept``: the best rows of the common words, when they are kept."""
    ref = query_function(table.name.schema, table.name.name)
    vector = sql.Identifier(options.column)
    fallback: sql.Composable = sql.SQL("")
    if options.fuzzy and ext.trgm is not None:
        similar = sql.Identifier(ext.trgm, "word_similarity")
        op = sql.SQL("OPERATOR({}.<%)").format(sql.Identifier(ext.trgm))
        fallback = sql.SQL(sql_template(_PACKAGE, "fallback.sql")).format(
            headline=_headline(table, options, sql.SQL("(f.item)")),
            similarities=sql.SQL(", ").join(
                sql.SQL("{}($1, t.{})").format(similar, sql.Identifier(c)) for c in options.fuzzy
            ),
            matches=sql.SQL(" or ").join(
                sql.SQL("$1 {} t.{}").format(op, sql.Identifier(c)) for c in options.fuzzy
            ),
            table=table.name.ident,
            vector=vector,
            live=_live("t", deleted),
            live_m=_live("m", deleted),
            order_key=_order_key(table, "t"),
        )
    body = function_body(
        sql_template(_PACKAGE, "query.sql"),
        config=sql.SQL("{}::regconfig").format(sql.Literal(options.language)),
        query_text=_fold(sql.SQL("$1"), options, ext),
        table=table.name.ident,
        vector=vector,
        live=_live("t", deleted),
        order_key=_order_key(table, "t"),
        headline=_headline(table, options, sql.SQL("(h.item)")),
        fallback=fallback,
        kept=query_part(kept, options.column, _live("t", deleted), _order_key(table, "t")),
        kept_hits=sql.SQL(
            "select k.item, k.rank, q.tsq from kept k, q where (select yes from exact)\n"
            "    union all\n    "
            if kept
            else ""
        ),
        full=sql.SQL("not (select yes from exact) and " if kept else ""),
        tie=sql.SQL("").join(
            sql.SQL(", (s.item).{}").format(sql.Identifier(c)) for c in table.primary_key.columns
        )
        if table.primary_key
        else sql.SQL(""),
    )
    ident = sql.Identifier(ref.schema, ref.name)
    settings: sql.Composable = sql.SQL("SET search_path = pg_catalog, pg_temp")
    if options.fuzzy and ext.trgm is not None:
        settings = sql.SQL("{} SET pg_trgm.word_similarity_threshold = {}").format(
            settings, sql.Literal(str(options.fuzzy_threshold))
        )
    return DesiredObject(
        ref=ref,
        feature=NAME,
        table=table.name,
        create=sql.SQL(
            "CREATE OR REPLACE FUNCTION {}(text, integer DEFAULT 10, integer DEFAULT 0) "
            "RETURNS TABLE (item {}, rank real, headline text, fuzzy boolean) "
            "LANGUAGE sql STABLE {} AS {}"
        ).format(ident, table.name.ident, settings, body),
        drop=sql.SQL("DROP FUNCTION IF EXISTS {}(text, integer, integer)").format(ident),
        description=f"function searching {table.name} (rank, highlights, typo fallback)",
    )
