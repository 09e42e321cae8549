"""``search``: full-text search kept by the database, per table.

Declared as::

    [tables."public.documents"]
    search = { columns = { title = "A", body = "B", metadata = "C" }, fuzzy = ["title"] }

pgwarden adds a ``tsvector`` column kept by a trigger (not a stored generated column: adding
one rewrites the whole table under an ACCESS EXCLUSIVE lock, and its expression could not
fold accents, ``unaccent`` being only STABLE), fills it for existing rows in committed
batches outside the apply transaction, then builds the GIN index and the trigram indexes
``CONCURRENTLY``. Read with ``warden.search.query(table, text)`` or the SQL function
``warden.<schema>_<table>__search(text, limit, offset)``. See ``docs/search.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import psycopg
import typer
from psycopg import sql

from pgwarden._names import QualifiedName
from pgwarden.catalog import Catalog, Column, Table
from pgwarden.engine import DesiredObject, ObjectRef
from pgwarden.errors import FeatureNotApplicable
from pgwarden.features._base import (
    Feature,
    PlanContext,
    feature_column,
    function_body,
    new_column,
    sql_template,
    trigger,
    trigger_function,
)
from pgwarden.features._indexes import concurrent_index, drop_invalid_leftovers, index_name
from pgwarden.features.search._api import SearchAPI, SearchHit
from pgwarden.features.search._options import SearchOptions
from pgwarden.features.search._plan import (
    _PACKAGE,
    NAME,
    Extensions,
    definition_hash,
    fill_objects,
    function_ref,
    vector_expression,
)
from pgwarden.features.search._query import query_object
from pgwarden.features.search._top import kept_for, kept_objects, kept_trigger, refresh_job
from pgwarden.maintenance import Job
from pgwarden.spec import FeatureOptions, Spec

_INDEXES = ("search", "search_trgm")  # suffixes of the GIN and the first trigram index


class Search(Feature):
    name = NAME
    summary = "weighted full-text search kept by the database: GIN, trigram typo fallback"
    options: ClassVar[type[FeatureOptions]] = SearchOptions
    api = SearchAPI

    def prepare(self, conn: psycopg.Connection[Any]) -> dict[str, Any]:
        extensions = dict(
            conn.execute(
                "select e.extname::text, n.nspname::text from pg_extension e"
                " join pg_namespace n on n.oid = e.extnamespace"
            ).fetchall()
        )
        configs = {r[0] for r in conn.execute("select cfgname::text from pg_ts_config")}
        return {"extensions": extensions, "configs": configs}

    def objects(
        self, table: Table, options: FeatureOptions, ctx: PlanContext
    ) -> list[DesiredObject]:
        assert isinstance(options, SearchOptions)
        state = ctx.state.get(NAME) or {"extensions": {}, "configs": {options.language}}
        where = str(table.name)
        if options.language not in state["configs"]:
            raise FeatureNotApplicable(
                where, NAME, f"language: no text search configuration {options.language!r}"
            )
        for name in options.fuzzy:
            column = table.column(name)
            if column is None or column.type.split("(")[0] not in (
                "text", "character varying", "character", "citext",
            ):  # fmt: skip
                raise FeatureNotApplicable(
                    where, NAME, f"fuzzy: {name} is not a text column of {table.name}"
                )
        found: list[DesiredObject] = []
        ext = Extensions(
            trgm=self._extension("pg_trgm", table, options, ctx, state),
            unaccent=self._extension("unaccent", table, options, ctx, state),
        )
        vector = vector_expression(table, options, sql.SQL("new"), ext)
        owned_column = feature_column(
            NAME, table, options.column, ctx,
            definition="tsvector", accepted=("tsvector",),
            alter="ALTER TABLE {0} ALTER COLUMN {1} TYPE tsvector USING NULL",
        )  # fmt: skip
        if owned_column is not None:
            found.append(owned_column)
        function = function_ref(table, "search_vector")
        kept = kept_for(table, options)
        # The key too when rows are kept: a row's kept entries name it.
        watched = sorted(set(options.columns) | set(kept.keys if kept else ()))
        searched = [sql.Identifier(c) for c in watched]
        body = function_body(
            sql_template(_PACKAGE, "trigger.sql"),
            vector=sql.Identifier(options.column),
            expression=vector,
            old_columns=sql.SQL("row({})").format(
                sql.SQL(", ").join(sql.SQL("old.{}").format(c) for c in searched)
            ),
            new_columns=sql.SQL("row({})").format(
                sql.SQL(", ").join(sql.SQL("new.{}").format(c) for c in searched)
            ),
        )
        timing = sql.SQL("BEFORE INSERT OR UPDATE OF {} ON {} FOR EACH ROW").format(
            sql.SQL(", ").join([*searched, sql.Identifier(options.column)]), table.name.ident
        )
        found += [
            trigger_function(
                NAME, table, function, body,
                description=f"function computing the search vector of {table.name}",
            ),
            trigger(
                NAME, table, "pgwarden_search", timing, function,
                description=f"trigger keeping {options.column} of {table.name}",
            ),
            *fill_objects(table, options, definition_hash(vector, options)),
            query_object(table, options, ext, _soft_deleted_column(table, ctx), kept),
        ]  # fmt: skip
        name, leftover = index_name(NAME, table, _INDEXES[0], ctx)
        found.append(
            concurrent_index(
                NAME, table, name, sql.SQL("gin ({})").format(sql.Identifier(options.column)),
                f"GIN index on {table.name}.{options.column}", leftover, ctx,
            )
        )  # fmt: skip
        for i, col in enumerate(options.fuzzy):
            suffix = _INDEXES[1] + (str(i + 1) if i else "")
            name, leftover = index_name(NAME, table, suffix, ctx)
            opclass = sql.Identifier(ext.trgm or "public", "gin_trgm_ops")
            found.append(
                concurrent_index(
                    NAME, table, name, sql.SQL("gin ({} {})").format(sql.Identifier(col), opclass),
                    f"trigram index on {table.name}.{col} (typo fallback)", leftover, ctx,
                )
            )  # fmt: skip
        if kept is not None:
            found += kept_trigger(kept, options, searched)
            found += kept_objects(kept, options, definition_hash(vector, options))
        return found

    def _extension(
        self,
        extension: str,
        table: Table,
        options: SearchOptions,
        ctx: PlanContext,
        state: dict[str, Any],
    ) -> str | None:
        """The schema of ``extension`` when this table needs it: the user's, or ``warden``
        where :meth:`database_objects` installs it."""
        wanted = bool(options.fuzzy) if extension == "pg_trgm" else options.unaccent
        if not wanted:
            return None
        ref = ObjectRef("extension", "warden", extension)
        installed: dict[str, str] = state["extensions"]
        if extension in installed and not ctx.owns(ref):
            return installed[extension]
        if extension not in ctx.catalog.server.available_extensions and not ctx.owns(ref):
            key = "fuzzy" if extension == "pg_trgm" else "unaccent"
            raise FeatureNotApplicable(
                str(table.name), NAME,
                f"{key}: needs the {extension} extension, which this server does not have",
            )  # fmt: skip
        return "warden"

    def database_objects(self, ctx: PlanContext) -> list[DesiredObject]:
        """The extensions declared tables need and the database lacks, installed into
        ``warden`` once for the whole database (removed with the last table needing them)."""
        state = ctx.state.get(NAME) or {"extensions": {}}
        found = []
        for extension in ("pg_trgm", "unaccent"):
            wanted = any(
                isinstance(o := t.features.get(NAME), SearchOptions)
                and (bool(o.fuzzy) if extension == "pg_trgm" else o.unaccent)
                for t in ctx.spec.tables.values()
            )
            ref = ObjectRef("extension", "warden", extension)
            if not wanted or (extension in state["extensions"] and not ctx.owns(ref)):
                continue  # not needed, or the user's own
            found.append(
                DesiredObject(
                    ref=ref,
                    feature=NAME,
                    table=None,
                    create=sql.SQL("CREATE EXTENSION IF NOT EXISTS {} WITH SCHEMA warden").format(
                        sql.Identifier(extension)
                    ),
                    drop=sql.SQL("DROP EXTENSION IF EXISTS {}").format(sql.Identifier(extension)),
                    description=f"extension {extension} (for search), in schema warden",
                )
            )
        return found

    def columns_to_come(self, table: Table, options: FeatureOptions) -> list[Column]:
        assert isinstance(options, SearchOptions)
        return [new_column(options.column, "tsvector", 3614)]

    def before_apply(self, conn: psycopg.Connection[Any], spec: Spec) -> None:
        # INVALID indexes an interrupted CREATE INDEX CONCURRENTLY left under search's names:
        # the plan builds under the other name; drop the leftover (concurrently) first.
        for declared in spec.tables.values():
            if NAME in declared.features:
                drop_invalid_leftovers(
                    conn, declared.name, _fuzzy_suffixes(declared.features[NAME])
                )

    def health(self, conn: psycopg.Connection[Any], spec: Spec) -> list[str]:
        lines = []
        for declared in spec.tables.values():
            options = declared.features.get(NAME)
            if not isinstance(options, SearchOptions):
                continue
            row = conn.execute(
                sql.SQL(
                    "select count(*) from (select from {} where {} is null limit 1000000) s"
                ).format(declared.name.ident, sql.Identifier(options.column))
            ).fetchone()
            if row and row[0]:
                lines.append(f"search: {declared.name}: {row[0]} row(s) without a search vector")
        return lines

    def jobs(self, declared: Sequence[tuple[Table, FeatureOptions]], catalog: Catalog) -> list[Job]:
        return [
            refresh_job(table, options)
            for table, options in declared
            if isinstance(options, SearchOptions) and kept_for(table, options) is not None
        ]

    def commands(self, app: typer.Typer) -> None:
        from pgwarden.features.search._cli import search_app

        app.add_typer(search_app, name="search")


def _fuzzy_suffixes(options: FeatureOptions) -> tuple[str, ...]:
    fuzzy = options.fuzzy if isinstance(options, SearchOptions) else ()
    return (_INDEXES[0], *(_INDEXES[1] + (str(i + 1) if i else "") for i in range(len(fuzzy))))


def _soft_deleted_column(table: Table, ctx: PlanContext) -> str | None:
    """Soft delete's column when the table declares it: deleted rows are never found."""
    declared = ctx.spec.tables.get(table.name)
    options = declared.features.get("soft_delete") if declared else None
    if options is None or "soft_delete" not in ctx.features:
        return None
    column = getattr(options, "column", None)
    return column if isinstance(column, str) else None


__all__ = ["QualifiedName", "Search", "SearchAPI", "SearchHit", "SearchOptions"]
