"""``pgwarden search``: full-text search from the command line."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table as RichTable

from pgwarden.cli._common import AsJson, console, fail, options, print_json
from pgwarden.errors import PgwardenError
from pgwarden.features.search._api import SearchAPI

search_app = typer.Typer(
    help="Full-text search of the tables declaring `search` (rank, highlights, typos).",
    no_args_is_help=True,
)


@search_app.command("query")
def query(
    ctx: typer.Context,
    table: Annotated[str, typer.Argument(help="The searched table, e.g. public.documents.")],
    text: Annotated[str, typer.Argument(help='Web-search syntax: words, "a phrase", or, -not.')],
    limit: Annotated[int, typer.Option(help="Rows to show.", min=1)] = 10,
    offset: Annotated[int, typer.Option(help="Rows to skip (paging).", min=0)] = 0,
    as_json: AsJson = False,
) -> None:
    """Search TABLE for TEXT: the best rows first, with highlighted snippets.

    Exit 0 with the rows found (none is not an error); 1 when TABLE does not declare search.
    """
    try:
        api = options(ctx).warden().api(SearchAPI)
        hits = api.query(table, text, limit=limit, offset=offset)
    except PgwardenError as exc:
        fail(exc)
    if as_json:
        print_json(
            [{"row": h.row, "rank": h.rank, "headline": h.headline, "fuzzy": h.fuzzy} for h in hits]
        )
        return
    out = RichTable("rank", "headline", "fuzzy")
    for h in hits:
        snippet = escape(h.headline).replace("<b>", "[bold]").replace("</b>", "[/]")
        out.add_row(f"{h.rank:.3f}", snippet, "yes" if h.fuzzy else "")
    console.print(out)
