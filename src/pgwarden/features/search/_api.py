"""``warden.search``: ranked, highlighted full-text search of the tables declaring it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg import sql

from pgwarden._names import QualifiedName
from pgwarden.errors import SearchError
from pgwarden.features._base import FeatureAPI


@dataclass(frozen=True)
class SearchHit:
    """One row found by a search."""

    row: dict[str, Any]
    """The row's columns (the search vector left out)."""
    rank: float
    """``ts_rank`` over the weighted vector; for a fuzzy hit, the word similarity (0..1)."""
    headline: str
    """The matching text with the query's words in ``<b>...</b>`` (``ts_headline``); for a
    fuzzy hit, the start of the row's text."""
    fuzzy: bool
    """Found by the typo fallback (the text search matched no row)."""


class SearchAPI(FeatureAPI):
    """Full-text search of a :class:`~pgwarden.Warden`'s database: ``warden.search``."""

    def query(
        self,
        table: str,
        text: str,
        *,
        limit: int = 10,
        offset: int = 0,
        tenant: str | None = None,
        actor: str | None = None,
    ) -> list[SearchHit]:
        """The rows of ``table`` matching ``text``, best first.

        ``text`` is in web-search syntax: words (all must match, stemmed), ``"a phrase"``,
        ``or``, ``-excluded``. When it matches nothing and the table declares ``fuzzy``
        columns, the rows whose fuzzy columns hold a word most like it come back instead
        (``SearchHit.fuzzy``). Soft-deleted rows never match; row-level security policies
        apply (``tenant`` sets ``pgwarden.tenant`` for them). Runs the table's SQL function
        ``warden.<schema>_<table>__search(text, limit, offset)``.
        """
        name = QualifiedName.parse(table)
        declared = self.warden.spec.tables.get(name)
        options = declared.features.get("search") if declared else None
        if options is None:
            raise SearchError(f"{name} does not declare search in {self.warden.spec.file}")
        if limit < 1 or offset < 0:
            raise SearchError("limit must be at least 1 and offset at least 0")
        from pgwarden.features.search._plan import query_function

        ref = query_function(name.schema, name.name)
        vector = getattr(options, "column", "search_vector")
        query = sql.SQL(
            "select (s.item).*, s.rank, s.headline, s.fuzzy from {}(%s, %s, %s) s"
        ).format(sql.Identifier(ref.schema, ref.name))
        with self.warden.session(tenant=tenant, actor=actor) as db:
            cur = db.connection.execute(query, (text, limit, offset))
            names = [d.name for d in cur.description or ()]
            hits = []
            for values in cur.fetchall():
                row = dict(zip(names[:-3], values[:-3], strict=True))
                row.pop(vector, None)
                hits.append(SearchHit(row, float(values[-3]), str(values[-2]), bool(values[-1])))
        return hits
