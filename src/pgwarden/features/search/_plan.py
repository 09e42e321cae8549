"""The objects ``search`` keeps on one table: vector column, trigger, fill, indexes, query."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from psycopg import sql

from pgwarden._names import owned_name
from pgwarden.catalog import Column, Table
from pgwarden.engine import DesiredObject, ObjectRef
from pgwarden.errors import FeatureNotApplicable
from pgwarden.features._base import function_body, sql_template
from pgwarden.features.search._options import SearchOptions

NAME = "search"
_PACKAGE = "pgwarden.features.search"
_TEXT = ("text", "character varying", "character", "citext", "name")
_JSON = ("json", "jsonb")
WEIGHT_ORDER = "ABCD"


@dataclass(frozen=True)
class Extensions:
    """Where the extensions search uses live (installed by the user, or by pgwarden)."""

    trgm: str | None
    unaccent: str | None


def function_ref(table: Table, suffix: str, args: str = "") -> ObjectRef:
    return ObjectRef(
        "function", "warden", owned_name(table.name.schema, table.name.name, suffix=suffix), None,
        args,
    )  # fmt: skip


def query_function(schema: str, name: str) -> ObjectRef:
    """The SQL search function of a table: ``warden.<schema>_<table>__search(text, int, int)``."""
    return ObjectRef(
        "function", "warden", owned_name(schema, name, suffix=NAME), None,
        "text, integer, integer",
    )  # fmt: skip


def _base_type(column: Column) -> str:
    return column.type.split("(")[0].removesuffix("[]").strip()


def text_of(table: Table, options: SearchOptions, row: sql.Composable) -> list[sql.Composable]:
    """Each searched column of ``row`` as text, by weight (refusing what is not text)."""
    parts: list[sql.Composable] = []
    for name, _ in sorted(options.columns.items(), key=lambda c: WEIGHT_ORDER.index(c[1])):
        column = table.column(name)
        if column is None:
            raise FeatureNotApplicable(
                str(table.name), NAME, f"columns: no column {name!r} in {table.name}"
            )
        value = sql.SQL("{}.{}").format(row, sql.Identifier(name))
        base, array = _base_type(column), column.type.endswith("[]")
        if base in _TEXT and array:
            parts.append(sql.SQL("array_to_string({}, ' ')").format(value))
        elif base in _TEXT:
            parts.append(sql.SQL("{}::text").format(value))
        elif base in _JSON and not array:
            # The document's string values (not its keys), as a JSON array's text.
            strings = "'strict $.** ? (@.type() == \"string\")'"
            parts.append(
                sql.SQL("jsonb_path_query_array({}::jsonb, " + strings + ")::text").format(value)
            )
        else:
            raise FeatureNotApplicable(
                str(table.name), NAME,
                f"columns: {name} is {column.type}, which cannot be turned into searchable "
                "text (search text, varchar, json/jsonb or text[] columns)",
            )  # fmt: skip
    return parts


def vector_expression(
    table: Table, options: SearchOptions, row: sql.Composable, ext: Extensions
) -> sql.Composable:
    config = sql.Literal(options.language)
    pieces = []
    ordered = sorted(options.columns.items(), key=lambda c: WEIGHT_ORDER.index(c[1]))
    for (_, weight), text in zip(ordered, text_of(table, options, row), strict=True):
        folded = _fold(sql.SQL("coalesce({}, '')").format(text), options, ext)
        pieces.append(
            sql.SQL("setweight(to_tsvector({}::regconfig, {}), {})").format(
                config, folded, sql.Literal(weight)
            )
        )
    return sql.SQL(" || ").join(pieces)


def _fold(text: sql.Composable, options: SearchOptions, ext: Extensions) -> sql.Composable:
    if not options.unaccent or ext.unaccent is None:
        return text
    return sql.SQL("{}({}::regdictionary, {})").format(
        sql.Identifier(ext.unaccent, "unaccent"),
        sql.Literal(sql.Identifier(ext.unaccent, "unaccent").as_string(None)),
        text,
    )


def definition_hash(expression: sql.Composable, options: SearchOptions) -> str:
    text = expression.as_string(None) + "|" + options.column
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def fill_objects(table: Table, options: SearchOptions, definition: str) -> list[DesiredObject]:
    """The batch-filling procedure, and its run (a marker function it leaves behind)."""
    fill = function_ref(table, "search_fill", "integer, text")
    marker = function_ref(table, "search_filled")
    marker_text = sql.Literal(sql.Identifier(marker.schema, marker.name).as_string(None))
    body = function_body(
        sql_template(_PACKAGE, "fill.sql"),
        table=table.name.ident,
        table_text=sql.Literal(table.name.regclass_text),
        vector_text=sql.Literal(options.column),
        marker_text=marker_text,
    )
    fill_ident = sql.Identifier(fill.schema, fill.name)
    marker_ident = sql.Identifier(marker.schema, marker.name)
    return [
        DesiredObject(
            ref=fill,
            feature=NAME,
            table=table.name,
            create=sql.SQL(
                "CREATE OR REPLACE PROCEDURE {}(batch integer, definition text) "
                "LANGUAGE plpgsql AS {}"
            ).format(fill_ident, body),
            drop=sql.SQL("DROP PROCEDURE IF EXISTS {}(integer, text)").format(fill_ident),
            description=f"procedure filling the search vectors of {table.name} in batches",
        ),
        DesiredObject(
            ref=marker,
            feature=NAME,
            table=table.name,
            create=sql.SQL("CALL {}({}, {})").format(
                fill_ident, sql.Literal(options.batch), sql.Literal(definition)
            ),
            drop=sql.SQL("DROP FUNCTION IF EXISTS {}()").format(marker_ident),
            description=(
                f"fill the search vectors of {table.name}'s rows, {options.batch} per committed "
                "batch, outside the apply transaction (no table rewrite, no long lock; all rows "
                "when the definition changed), before the indexes are built"
            ),
            transactional=False,
        ),
    ]
