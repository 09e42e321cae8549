"""What the kept-ranks tests compare: a page of ``warden.public_docs__search`` against the
same page of the full ranking, and how many entries of a word's kept rows hold their rank."""

from __future__ import annotations

from typing import Any

import psycopg

FULL = """
select d.id from docs d, websearch_to_tsquery('english', %(w)s) q
 where d.search_vector @@ q
 order by ts_rank(d.search_vector, q) desc, d.id limit %(limit)s offset %(offset)s"""
# entries of one word's kept rows that hold their row's live rank
KEPT = """
select count(*) from warden.public_docs__search_terms s
  join warden.public_docs__search_top c on c.lexeme = s.lexeme and c.rank >= s.theta
  join docs d on d.id = c.id and ts_rank(d.search_vector, s.query) = c.rank
 where s.query = websearch_to_tsquery('english', %(w)s) and s.ready"""


def pages(
    conn: psycopg.Connection[Any], text: str, limit: int, offset: int
) -> tuple[list[int], list[int]]:
    """The page the search function returns for ``text``, and the full ranking's."""
    params = {"w": text, "limit": limit, "offset": offset}
    expected = [r[0] for r in conn.execute(FULL, params)]
    found = [
        r[0]
        for r in conn.execute(
            "select (item).id from warden.public_docs__search(%s, %s, %s)", (text, limit, offset)
        )
    ]
    return found, expected
