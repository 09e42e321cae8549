"""``search``: the vector the database keeps, ranking, operators, highlights, typo fallback."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from pgwarden import Warden
from pgwarden.errors import FeatureNotApplicable, SearchError
from pgwarden.spec import parse_spec

DOCS = """
create table docs (
    id int primary key, title text, body text, meta jsonb, tags text[], n int default 0);
insert into docs values
  (1, 'Gardening basics', 'Water the tomatoes every morning', '{"topic": "plants"}', '{green}'),
  (2, 'Cooking tomatoes', 'A sauce from garden produce', '{"topic": "kitchen"}', '{food}'),
  (3, 'Bicycle repair', 'Fixing a flat tyre on the road', '{"topic": "tomatoes"}', '{}'),
  (4, 'Café culture', 'Espresso and croissants in Paris', null, null);
"""
DECL = """
[tables."public.docs"]
search = { columns = { title = "A", body = "B", meta = "C", tags = "D" }, fuzzy = ["title"] }
"""


def _ids(hits: list[Any]) -> list[int]:
    return [h.row["id"] for h in hits]


@pytest.fixture
def docs(conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]) -> Warden:
    conn.execute(DOCS)
    warden = make_warden(DECL)
    warden.apply()
    return warden


def test_ranking_follows_the_weights(docs: Warden) -> None:
    hits = docs.search.query("docs", "tomatoes")  # type: ignore[attr-defined]
    # title (A) > body (B) > jsonb metadata (C)
    assert _ids(hits) == [2, 1, 3]
    assert hits[0].rank > hits[1].rank > hits[2].rank
    assert "<b>tomatoes</b>" in hits[0].headline
    assert not any(h.fuzzy for h in hits)
    assert "search_vector" not in hits[0].row


def test_web_search_operators(docs: Warden) -> None:
    q = docs.search.query  # type: ignore[attr-defined]
    assert _ids(q("docs", "tomatoes -sauce")) == [1, 3]
    assert _ids(q("docs", '"flat tyre"')) == [3]
    assert _ids(q("docs", '"tyre flat"')) == []  # a phrase keeps its order
    assert sorted(_ids(q("docs", "bicycle or espresso"))) == [3, 4]
    assert _ids(q("docs", "tomatoes", limit=1, offset=1)) == [1]


def test_typo_fallback_uses_trigram_similarity(docs: Warden) -> None:
    hits = docs.search.query("docs", "bicylce")  # type: ignore[attr-defined]
    assert hits and hits[0].row["id"] == 3 and hits[0].fuzzy
    # a text search hit wins: no fallback rows are blended in
    assert all(not h.fuzzy for h in docs.search.query("docs", "bicycle"))  # type: ignore[attr-defined]


def test_a_page_past_the_last_match_stays_empty(docs: Warden) -> None:
    # the text search matches rows: no fallback, even on an empty page
    assert docs.search.query("docs", "tomatoes", limit=2, offset=3) == []  # type: ignore[attr-defined]


FUZZY = """
[tables."public.words"]
soft_delete = true
search = { columns = { title = "A", body = "B" }, fuzzy = ["title", "body"] }
"""


def test_typo_fallback_pages_are_the_full_similarity_ranking(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    """The fallback tries the trigram index at higher similarity thresholds first and answers
    from one only when its rows fill the page: every page equals the one ranking every row at
    least ``fuzzy_threshold`` alike gives (ties by key), soft-deleted rows left out."""
    import random

    rnd = random.Random(5)
    base, typo = "lanterns", "lantenrs"

    def variant() -> str:  # the base word with 0 to 4 letters changed
        letters = list(base)
        for _ in range(rnd.randint(0, 4)):
            letters[rnd.randrange(len(letters))] = rnd.choice("abcdelnrstxyz")
        word = "".join(letters)
        return word if word != typo else base

    conn.execute("create table words (id int primary key, title text, body text)")
    with conn.cursor() as cur:
        cur.executemany(
            "insert into words values (%s, %s, %s)",
            [(i, f"{variant()} {variant()}", f"old {variant()}") for i in range(1, 401)],
        )
    warden = make_warden(FUZZY)
    warden.apply()
    conn.execute("delete from words where id % 7 = 0")  # soft: the rows stay, marked
    expected_sql = """
        select id from words
         where greatest(word_similarity(%(q)s, title), word_similarity(%(q)s, body)) >= 0.3
           and deleted_at is null
         order by greatest(word_similarity(%(q)s, title), word_similarity(%(q)s, body)) desc, id
         limit %(limit)s offset %(offset)s"""
    conn.execute("set search_path = public, warden")  # pg_trgm's functions, wherever they are
    for limit, offset in ((10, 0), (5, 5), (3, 40), (10, 150), (10, 395)):
        expected = [
            r[0] for r in conn.execute(expected_sql, {"q": typo, "limit": limit, "offset": offset})
        ]
        hits = warden.search.query("words", typo, limit=limit, offset=offset)  # type: ignore[attr-defined]
        assert _ids(hits) == expected, (limit, offset)
        assert all(h.fuzzy for h in hits)
        assert all(h.row["id"] % 7 for h in hits)
    assert warden.search.query("words", "zzzzqqqq") == []  # type: ignore[attr-defined]


def test_sql_function_and_vector_maintenance(conn: psycopg.Connection[Any], docs: Warden) -> None:
    fn = "warden.public_docs__search"
    rows = conn.execute(f"select (item).id, fuzzy from {fn}('water')").fetchall()
    assert rows == [(1, False)]
    conn.execute("update docs set body = 'nothing here' where id = 1")
    assert conn.execute(f"select count(*) from {fn}('water')").fetchone() == (0,)
    conn.execute("insert into docs (id, title) values (5, 'Watering cans')")
    assert conn.execute(f"select (item).id from {fn}('water')").fetchall() == [(5,)]
    # a vector tampered with by hand is recomputed
    conn.execute("update docs set search_vector = null where id = 5")
    assert conn.execute(f"select (item).id from {fn}('water')").fetchall() == [(5,)]


def test_other_columns_do_not_recompute_the_vector(
    conn: psycopg.Connection[Any], docs: Warden
) -> None:
    # Make the vector function fail loudly for a moment: an update of a column that is not
    # searched must not run it at all (the trigger fires for UPDATE OF the searched ones).
    before = conn.execute("select search_vector::text from docs where id = 2").fetchone()
    conn.execute(
        "create or replace function warden.public_docs__search_vector() returns trigger"
        " language plpgsql as $$ begin raise exception 'recomputed'; end $$"
    )
    conn.execute("update docs set n = n + 1")
    with pytest.raises(psycopg.errors.RaiseException):
        conn.execute("update docs set title = title || '!' where id = 2")
    plan = docs.plan()
    assert [c.action for c in plan.changes] == ["repair"]  # the drift shows, and is repaired
    docs.apply()
    assert conn.execute("select search_vector::text from docs where id = 2").fetchone() == before


def test_column_rename_replans_and_keeps_vectors(
    conn: psycopg.Connection[Any], docs: Warden, make_warden: Callable[..., Warden]
) -> None:
    conn.execute("alter table docs rename column body to content")
    renamed = make_warden(DECL.replace("body =", "content ="))
    plan = renamed.plan()
    assert {c.ref.name for c in plan.changes if c.ref} >= {"public_docs__search_vector"}
    renamed.apply()
    assert renamed.plan().empty
    conn.execute("update docs set content = 'bicycle lanes' where id = 4")
    assert _ids(renamed.search.query("docs", "lanes")) == [4]  # type: ignore[attr-defined]
    assert _ids(renamed.search.query("docs", "water")) == [1]  # type: ignore[attr-defined]


def test_unaccent_and_soft_deleted_rows(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute(DOCS)
    warden = make_warden(
        '[tables."public.docs"]\nsoft_delete = true\n'
        'search = { columns = { title = "A", body = "B" }, unaccent = true, language = "simple" }\n'
    )
    warden.apply()
    assert _ids(warden.search.query("docs", "cafe")) == [4]  # type: ignore[attr-defined]
    assert _ids(warden.search.query("docs", "CAFÉ")) == [4]  # type: ignore[attr-defined]
    conn.execute("delete from docs where id = 4")  # soft: the row stays, marked
    assert conn.execute("select count(*) from docs where id = 4").fetchone() == (1,)
    assert warden.search.query("docs", "cafe") == []  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("declaration", "words"),
    [
        ('columns = { titel = "A" }', ["columns", "titel"]),
        ('columns = { n = "A" }', ["columns", "n is integer"]),
        ('columns = { title = "A" }, fuzzy = ["meta"]', ["fuzzy", "meta"]),
        ('columns = { title = "A" }, language = "klingon"', ["language", "klingon"]),
    ],
)
def test_bad_declarations_are_refused_at_plan_time(
    conn: psycopg.Connection[Any],
    make_warden: Callable[..., Warden],
    declaration: str,
    words: list[str],
) -> None:
    conn.execute(DOCS)
    warden = make_warden(f'[tables."public.docs"]\nsearch = {{ {declaration} }}\n')
    with pytest.raises(FeatureNotApplicable) as err:
        warden.plan()
    assert "public.docs" in str(err.value)
    for word in words:
        assert word in str(err.value)


def test_query_of_an_undeclared_table(docs: Warden) -> None:
    with pytest.raises(SearchError, match="does not declare search"):
        docs.search.query("public.other", "x")  # type: ignore[attr-defined]


def test_row_level_security_applies(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden], db_url: str
) -> None:
    """An application role sees only its tenant's rows, through the text search and the
    typo fallback alike (the function runs as the caller)."""
    conn.execute(DOCS)
    conn.execute("alter table docs add column tenant text not null default 'one'")
    conn.execute("update docs set tenant = 'two' where id in (2, 3)")
    make_warden(DECL).apply()
    role = f"search_app_{uuid.uuid4().hex[:8]}"
    conn.execute(f"create role {role} login")
    conn.execute(f"grant select on docs to {role}")
    conn.execute(f"grant usage on schema warden to {role}")
    conn.execute("alter table docs enable row level security")
    conn.execute(
        f"create policy tenant_rows on docs to {role}"
        " using (tenant = current_setting('pgwarden.tenant', true))"
    )
    try:
        app_url = psycopg.conninfo.make_conninfo(db_url, user=role)
        app = Warden(app_url, spec=parse_spec(DECL, file="pgwarden.toml"))
        api = app.search  # type: ignore[attr-defined]
        assert _ids(api.query("docs", "tomatoes", tenant="one")) == [1]
        assert _ids(api.query("docs", "tomatoes", tenant="two")) == [2, 3]
        assert api.query("docs", "bicylce", tenant="one") == []  # row 3 is tenant two's
        assert _ids(api.query("docs", "bicylce", tenant="two")) == [3]
        assert api.query("docs", "tomatoes") == []  # no tenant: no rows
        app.close()
    finally:
        conn.execute(f"drop owned by {role}")
        conn.execute(f"drop role {role}")


def test_cli_query(project: Any, conn: psycopg.Connection[Any]) -> None:
    import json

    from typer.testing import CliRunner

    from pgwarden.cli import app

    conn.execute(DOCS)
    (project / "pgwarden.toml").write_text(DECL)
    runner = CliRunner()
    assert runner.invoke(app, ["apply", "--yes"]).exit_code == 0
    done = runner.invoke(app, ["search", "query", "docs", "tomatoes", "--limit", "2", "--json"])
    assert done.exit_code == 0, done.output
    assert [h["row"]["id"] for h in json.loads(done.stdout)] == [2, 1]
    table = runner.invoke(app, ["search", "query", "docs", "tomatoes"], env={"COLUMNS": "200"})
    assert table.exit_code == 0 and "Cooking tomatoes" in table.stdout
    missing = runner.invoke(app, ["search", "query", "nowhere", "x"])
    assert missing.exit_code == 1 and "does not declare search" in missing.output


def test_sub_partitioned_table_is_refused(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute(
        "create table logs (id int, at date, body text) partition by range (at);"
        " create table logs_1 partition of logs for values from ('2020-01-01') to ('2021-01-01')"
        " partition by hash (id)"
    )
    warden = make_warden('[tables."public.logs"]\nsearch = { columns = { body = "A" } }\n')
    with pytest.raises(FeatureNotApplicable, match=r"public.logs.*logs_1 is itself partitioned"):
        warden.plan()
