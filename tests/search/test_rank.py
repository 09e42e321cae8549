"""The rank kept beside each kept entry: a hypothesis state machine of random inserts,
updates (of searched columns, of another column, of the key), deletes, keys written back and
ranking passes, checking after every step that every row ranking at least its word's
threshold has an entry holding its exact rank, and that the search function's pages (one
word, and two common words) are the full ranking's."""

from __future__ import annotations

import psycopg
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from tests.search._pages import KEPT, pages

from pgwarden import Warden
from pgwarden.spec import parse_spec

WORDS = ["apple", "bread", "cider", "dates", "eggs", "flour"]
DECL = """
[tables."public.docs"]
search = { columns = { name = "A", body = "B" }, top = 3, common = 10 }
"""
SETTINGS = settings(
    max_examples=25,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
PAGES = ((10, 0), (3, 0), (2, 3), (5, 5), (4, 40))
# rows ranking at least their word's threshold without an entry of exactly their rank
INEXACT = """
select s.lexeme, d.id, ts_rank(d.search_vector, s.query), c.rank
  from warden.public_docs__search_terms s
  join docs d on d.search_vector @@ s.query and ts_rank(d.search_vector, s.query) >= s.theta
  left join warden.public_docs__search_top c on c.lexeme = s.lexeme and c.id = d.id
 where s.ready and c.rank is distinct from ts_rank(d.search_vector, s.query)"""

# skewed: the first words are in most rows (common), the last in few
DRAWN = [w for i, w in enumerate(WORDS) for _ in range(len(WORDS) - i)]
words = st.lists(st.sampled_from(DRAWN), min_size=0, max_size=5).map(" ".join)
keys = st.integers(1, 40)


def test_kept_ranks_stay_exact_under_random_writes(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "create table docs (id int primary key, name text, body text, n int not null default 0)"
        )
        conn.execute(
            "insert into docs (id, name, body) select i, 'apple bread',"
            " repeat('apple cider ', i % 3) || 'dates' from generate_series(1, 30) i"
        )
        with Warden(db_url, spec=parse_spec(DECL, file="pgwarden.toml")) as warden:
            warden.apply()
        ready = conn.execute("select count(*) from warden.public_docs__search_terms where ready")
        assert (ready.fetchone() or (0,))[0] >= 2
        held = [0, 0]  # pages the kept rows answered, pages checked

        class Docs(RuleBasedStateMachine):
            @initialize(texts=st.lists(st.tuples(words, words), min_size=12, max_size=35))
            def fresh(self, texts: list[tuple[str, str]]) -> None:
                # each example from the same state: its rows, ranked afresh
                conn.execute("delete from docs")
                conn.execute("delete from warden.public_docs__search_terms")
                conn.execute("delete from warden.public_docs__search_top")
                with conn.cursor() as cur:
                    cur.executemany(
                        "insert into docs (id, name, body) values (%s, %s, %s)",
                        [(i + 1, a, b) for i, (a, b) in enumerate(texts)],
                    )
                conn.execute("call warden.public_docs__search_top_run(3, 10, null, true)")

            @rule(key=keys, name=words, body=words)
            def insert(self, key: int, name: str, body: str) -> None:
                conn.execute(
                    "insert into docs (id, name, body) values (%s, %s, %s) on conflict do nothing",
                    (key, name, body),
                )

            @rule(key=keys, body=words)
            def update_body(self, key: int, body: str) -> None:
                conn.execute("update docs set body = %s where id = %s", (body, key))

            @rule(key=keys, name=words)
            def update_name(self, key: int, name: str) -> None:
                conn.execute("update docs set name = %s where id = %s", (name, key))

            @rule(key=keys)
            def update_other(self, key: int) -> None:
                conn.execute("update docs set n = n + 1 where id = %s", (key,))

            @rule(key=keys, to=keys)
            def move_key(self, key: int, to: int) -> None:
                conn.execute(
                    "update docs set id = %s where id = %s"
                    " and not exists (select from docs where id = %s)",
                    (to, key, to),
                )

            @rule(key=keys)
            def delete(self, key: int) -> None:
                conn.execute("delete from docs where id = %s", (key,))

            @rule(key=keys, name=words, body=words)
            def delete_and_write_back(self, key: int, name: str, body: str) -> None:
                # the key's old entries stay, with the old row's ranks
                conn.execute("delete from docs where id = %s", (key,))
                conn.execute(
                    "insert into docs (id, name, body) values (%s, %s, %s)", (key, name, body)
                )

            @rule()
            def rank_again(self) -> None:  # `pgwarden maintain`: thresholds move both ways
                conn.execute("call warden.public_docs__search_top_run(3, 10, null, true)")

            @invariant()
            def ranks_exact(self) -> None:
                assert conn.execute(INEXACT).fetchall() == []

            @invariant()
            def pages_are_the_full_ranking(self) -> None:
                texts = [*WORDS[:4], f"{WORDS[0]} {WORDS[1]}", f"{WORDS[2]} {WORDS[0]}"]
                for text in texts:
                    count = conn.execute(KEPT, {"w": text}).fetchone()
                    for limit, offset in PAGES:
                        found, expected = pages(conn, text, limit, offset)
                        assert found == expected, (text, limit, offset)
                        held[0] += bool(count and count[0] >= limit + offset)
                        held[1] += 1

        Docs.TestCase.settings = SETTINGS
        Docs.TestCase().runTest()
        assert held[0] > 0  # the kept rows did answer pages
        assert held[0] < held[1]  # and the full ranking others
