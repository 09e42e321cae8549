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


# Word-similarity thresholds the typo fallback tries, highest first, before the declared
# ``fuzzy_threshold``: the trigram index returns fewer candidates the higher it is (a row must
# share more of the text's trigrams), and a page that fills at a tier is exact. Measured in
# docs/benchmarks.md ("Typo fallback").
TIERS = (0.6, 0.45)
_HEADLINE_OPTIONS = "MaxFragments=2, MinWords=5, MaxWords=18, StartSel=<b>, StopSel=</b>"


def _statement(composed: sql.Composable) -> sql.Literal:
    """A statement the function EXECUTEs, as a string constant of its body."""
    return sql.Literal(composed.as_string(None))


def query_object(
    table: Table, options: SearchOptions, ext: Extensions, deleted: str | None, kept: Kept | None
) -> DesiredObject:
    """``deleted``: soft delete's column when the table has it (deleted rows never match);
    ``kept``: the best rows of the common words, when they are kept."""
    ref = query_function(table.name.schema, table.name.name)
    vector = sql.Identifier(options.column)
    config = sql.SQL("{}::regconfig").format(sql.Literal(options.language))
    live = _live("t", deleted)
    order_key = _order_key(table, "t")
    tie = sql.SQL("").join(
        sql.SQL(", (h.item).{}").format(sql.Identifier(c))
        for c in (table.primary_key.columns if table.primary_key else ())
    )

    def page(ranked: sql.Composable, where: sql.Composable) -> sql.Composable:
        # The headlines of the returned page only: ts_headline reads and parses the text.
        return sql.SQL(
            "select h.item, h.rank, ts_headline({config}, {headline}, $1, {options}), false"
            " from ({ranked}) h{where} order by h.rank desc{tie}"
        ).format(
            config=config, headline=_headline(table, options, sql.SQL("(h.item)")),
            options=sql.Literal(_HEADLINE_OPTIONS), ranked=ranked, where=where, tie=tie,
        )  # fmt: skip

    full = page(
        sql.SQL(
            "select t as item, ts_rank(t.{v}, $1) as rank from {table} t"
            " where t.{v} @@ $1{live} order by 2 desc, {order_key} limit $2 offset $3"
        ).format(v=vector, table=table.name.ident, live=live, order_key=order_key),
        sql.SQL(""),
    )
    fallback: sql.Composable = sql.SQL("")
    if options.fuzzy and ext.trgm is not None:
        fallback = _fallback(table, options, ext, deleted, tie)
    body = function_body(
        sql_template(_PACKAGE, "query.sql"),
        config=config,
        query_text=_fold(sql.SQL("$1"), options, ext),
        kept=query_part(kept, options.column, live, page),
        full=_statement(full),
        fallback=fallback,
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
            "LANGUAGE plpgsql STABLE {} AS {}"
        ).format(ident, table.name.ident, settings, body),
        drop=sql.SQL("DROP FUNCTION IF EXISTS {}(text, integer, integer)").format(ident),
        description=f"function searching {table.name} (rank, highlights, typo fallback)",
    )


def _fallback(
    table: Table, options: SearchOptions, ext: Extensions, deleted: str | None, tie: sql.Composable
) -> sql.Composable:
    """The function's last step: when the text search matches no row, the rows whose fuzzy
    columns hold a word most like the text, by tiers of similarity (see :data:`TIERS`)."""
    assert ext.trgm is not None
    similar = sql.Identifier(ext.trgm, "word_similarity")
    op = sql.SQL("OPERATOR({}.<%)").format(sql.Identifier(ext.trgm))
    live = _live("t", deleted)
    any_match = sql.SQL("select exists (select from {table} t where t.{v} @@ $1{live})").format(
        table=table.name.ident, v=sql.Identifier(options.column), live=live
    )
    # $4: the last tier, which answers with whatever it finds
    similar_rows = sql.SQL(
        "select h.item, h.rank, left({headline}, 200), true from ("
        "select t as item, greatest({similarities})::real as rank, count(*) over () as n"
        " from {table} t where ({matches}){live} order by 2 desc, {order_key}"
        " limit $2 offset $3) h where $4 or h.n >= $2::bigint + $3 order by h.rank desc{tie}"
    ).format(
        headline=_headline(table, options, sql.SQL("(h.item)")),
        similarities=sql.SQL(", ").join(
            sql.SQL("{}($1, t.{})").format(similar, sql.Identifier(c)) for c in options.fuzzy
        ),
        table=table.name.ident,
        matches=sql.SQL(" or ").join(
            sql.SQL("$1 {} t.{}").format(op, sql.Identifier(c)) for c in options.fuzzy
        ),
        live=live,
        order_key=_order_key(table, "t"),
        tie=tie,
    )
    tiers = [t for t in TIERS if t > options.fuzzy_threshold] + [options.fuzzy_threshold]
    return sql.SQL(
        """
    if found then
        return;
    end if;
    -- Nothing on this page. The typo fallback answers only when the text search matches no
    -- row at all: a page past the last match stays empty.
    if $3 > 0 then
        execute {any_match} into matched using tsq;
        if matched then
            return;
        end if;
    end if;
    -- The rows whose fuzzy columns hold a word most like the text. The trigram index finds
    -- the rows at least `th` alike (pg_trgm.word_similarity_threshold), fewer the higher it
    -- is; from the highest tier down, the first whose rows fill the page answers, exactly
    -- (every row outside a tier is less alike than all of its rows); the last one is
    -- fuzzy_threshold and answers with what it finds. SET LOCAL ends with the function.
    foreach th in array {tiers} loop
        perform set_config('pg_trgm.word_similarity_threshold', th::text, true);
        return query execute {similar_rows} using $1, $2, $3, th <= {floor};
        exit when found;
    end loop;"""
    ).format(
        any_match=_statement(any_match),
        tiers=sql.SQL("array[{}]::float8[]").format(
            sql.SQL(", ").join(sql.Literal(t) for t in tiers)
        ),
        similar_rows=_statement(similar_rows),
        floor=sql.Literal(options.fuzzy_threshold),
    )
