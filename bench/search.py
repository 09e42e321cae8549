"""Search: query latency (common and rare terms, phrases, the typo fallback), the cost of the
maintained vector on writes, the online fill and index builds, and agreement with a BM25
reference (``tantivy``, when installed), with the machine's pgbench TPS beside them.

One scratch database, ``docs`` (``--docs`` rows: a 3-word name, a 30-word description and a
jsonb metadata document with two tags, words drawn from a 50,000-word vocabulary with a skewed
distribution, so some words are in a third of the documents and some in a handful), and a
copy ``plain`` with no search, for the write overhead. pgwarden declares::

    search = { columns = { name = "A", description = "B", metadata = "C" }, fuzzy = ["name"] }

Latencies are of ``warden.public_docs__search(text, 10, 0)`` (top 10 with highlights), p50
and p95 over ``--queries`` runs per kind, each query word drawn afresh. The baseline query is
the seeds' hand-written one (``to_tsvector`` expression index, ``ts_rank`` order, no
highlights). Writes: single-row UPDATEs by key, alternating ``plain`` and ``docs`` with the
same parameters; medians.

One-word queries of a common word rank the word's kept best rows (``top``, exact when they
hold the page); the bench checks every common-word page against the full ranking and counts
how many the kept rows answered. The typo fallback asks the trigram index at higher
similarity thresholds first (exact when a tier fills the page); the bench checks 10 typo pages
against ranking every candidate at ``fuzzy_threshold``. ``tantivy`` is in the ``dev`` extra.

.venv/bin/python bench/search.py                       # 200,000 documents, embedded server
.venv/bin/python bench/search.py --docs 1000000        # the issue's scale (generation ~5 min)
.venv/bin/python bench/search.py --dsn URL --keep docs200k --explain --gist
    # keep the documents in database docs200k of that server (a later run with the same
    # --keep skips the generation and re-applies: only changed objects are rebuilt), print
    # each kind's plans (EXPLAIN ANALYZE, BUFFERS; ours through auto_explain, superuser
    # only) and measure a GiST trigram index with KNN order against the GIN fallback
"""

from __future__ import annotations

import argparse
import contextlib
import random
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).parent))
from _common import (
    load,
    machine,
    percentile,
    pgbench_tps,
    print_table,
    scratch_db,
    server_url,
    server_version,
)
from pgwarden import Warden
from pgwarden.spec import parse_spec

SPEC = (
    '[tables."public.docs"]\n'
    'search = { columns = { name = "A", description = "B", metadata = "C" }, fuzzy = ["name"],'
    " batch = 10000 }\n"
)
VOCAB = 50_000
SETUP = """
create table vocab (i int primary key, w text not null);
insert into vocab select g, substr(md5(g::text), 1, 3 + g % 6) || chr(97 + g % 26)
  from generate_series(1, %(vocab)s) g;
create table docs (id bigint primary key, name text, description text, metadata jsonb,
                   n int not null default 0);
-- 35 words a document (3 in the name, 30 in the description, 2 tags), each the vocabulary's
-- 1 + floor(V * random()^3)-th: skewed, so the commonest words are in most documents. Drawn
-- set-based (one hash join), not by a function called 35 times a row: 1M documents in
-- minutes, not the better part of an hour.
insert into docs
select p.g,
       string_agg(v.w, ' ' order by p.k) filter (where p.k <= 3),
       string_agg(v.w, ' ' order by p.k) filter (where p.k between 4 and 33),
       jsonb_build_object('tags', jsonb_build_array(min(v.w) filter (where p.k = 34),
                                                    min(v.w) filter (where p.k = 35)),
                          'v', p.g % 7)
  from (select g, k, 1 + floor(%(vocab)s * random() ^ 3)::int as i
          from generate_series(1, %(docs)s) g, generate_series(1, 35) k) p
  join vocab v on v.i = p.i
 group by p.g;
create table plain as select * from docs;
alter table plain add primary key (id);
create index plain_fts on plain using gin ((
    setweight(to_tsvector('english', coalesce(name, '')), 'A') ||
    setweight(to_tsvector('english', coalesce(description, '')), 'B')));
"""
BASELINE = """
select id, ts_rank(setweight(to_tsvector('english', coalesce(name, '')), 'A') ||
                   setweight(to_tsvector('english', coalesce(description, '')), 'B'), q) r
  from plain, websearch_to_tsquery('english', %s) q
 where (setweight(to_tsvector('english', coalesce(name, '')), 'A') ||
        setweight(to_tsvector('english', coalesce(description, '')), 'B')) @@ q
 order by r desc limit 10"""


def _words(conn: psycopg.Connection[Any]) -> dict[str, list[str]]:
    """Vocabulary words by how many documents hold them (from the vector's statistics)."""
    rows = conn.execute(
        "select word, ndoc from ts_stat('select search_vector from docs') order by ndoc desc"
    ).fetchall()
    total = conn.execute("select count(*) from docs").fetchone()
    docs = int(total[0]) if total else 1
    return {
        "common": [w for w, n in rows if n > docs * 0.05][:50],
        "rare": ([w for w, n in rows if 5 <= n <= 50] or [w for w, _ in rows[-200:]])[:200],
        "mid": [w for w, n in rows if docs * 0.001 < n < docs * 0.01][:200],
    }


FULL = """
select d.id from docs d, websearch_to_tsquery('english', %s) q where d.search_vector @@ q
 order by ts_rank(d.search_vector, q) desc, d.id limit 10"""
KEPT = """
select count(*) >= 10 from warden.public_docs__search_terms s
  join warden.public_docs__search_top c on c.lexeme = s.lexeme and c.rank >= s.theta
  join docs d on d.id = c.id and ts_rank(d.search_vector, s.query) = c.rank
 where s.query = websearch_to_tsquery('english', %s) and s.ready"""
# Of the full top 10 of two common words, the rows among the kept best rows of neither word:
# what walking the kept rows of one word, or of both, would miss.
OUTSIDE = """
with w as (
  select s.lexeme from warden.public_docs__search_terms s
   where s.lexeme = any (tsvector_to_array(to_tsvector('english', %(t)s))) and s.ready),
 top as (
  select d.id from docs d, websearch_to_tsquery('english', %(t)s) q where d.search_vector @@ q
   order by ts_rank(d.search_vector, q) desc, d.id limit 10)
select count(*), count(*) filter (where not exists (
         select from warden.public_docs__search_top c
          where c.lexeme in (select lexeme from w) and c.id = top.id))
  from top where (select count(*) from w) = 2"""


def _exactness(conn: psycopg.Connection[Any], texts: list[str]) -> str:
    """How many top-10s equal the full ranking's, and how many the kept rows answered."""
    same = kept = 0
    for text in texts:
        full = [r[0] for r in conn.execute(FULL, (text,))]
        ours = [
            r[0]
            for r in conn.execute(
                "select (item).id from warden.public_docs__search(%s, 10, 0)", (text,)
            )
        ]
        same += ours == full
        row = conn.execute(KEPT, (text,)).fetchone()
        kept += bool(row and row[0])
    return (
        f"{same}/{len(texts)} common-word top 10s identical to the full ranking "
        f"(ids and order); {kept}/{len(texts)} answered from the kept rows"
    )


def _two_common(conn: psycopg.Connection[Any], texts: list[str]) -> str:
    """How much of the full top 10 of two common words lies outside both words' kept rows
    (why that AND is not answered from them: docs/search.md)."""
    rows = outside = pages = 0
    for text in texts:
        found = conn.execute(OUTSIDE, {"t": text}).fetchone()
        if found and found[0]:
            rows, outside = rows + found[0], outside + found[1]
            pages += bool(found[1])
    return (
        f"two common terms: {outside}/{rows} top-10 rows among neither word's kept rows"
        f" ({pages}/{len(texts)} pages with one or more)"
    )


def _fuzzy_exactness(conn: psycopg.Connection[Any], texts: list[str]) -> str:
    """How many fallback top 10s equal ranking every row at least ``fuzzy_threshold`` (0.3)
    alike, as the fallback did before its tiers (slow: a few texts)."""
    trgm = conn.execute(
        "select n.nspname from pg_extension e join pg_namespace n on n.oid = e.extnamespace"
        " where e.extname = 'pg_trgm'"
    ).fetchone()
    assert trgm is not None
    every = sql.SQL(
        "select id from docs where %(q)s OPERATOR({s}.<%%) name"
        " order by {s}.word_similarity(%(q)s, name) desc, id limit 10"
    ).format(s=sql.Identifier(trgm[0]))
    same = words = 0
    with conn.transaction():
        conn.execute("set local pg_trgm.word_similarity_threshold = 0.3")
        for text in texts:
            found = conn.execute(
                "select (item).id, fuzzy from warden.public_docs__search(%s, 10, 0)", (text,)
            ).fetchall()
            if found and not found[0][1]:
                words += 1  # the "typo" is a word of some documents: no fallback
                continue
            full = [r[0] for r in conn.execute(every, {"q": text})]
            same += [r[0] for r in found] == full
    return f"{same}/{len(texts) - words} typo top 10s identical to ranking every candidate" + (
        f" ({words} typos that the text search matched left out)" if words else ""
    )


def _typo(word: str) -> str:
    return word[:-2] + word[-1] + word[-2] if len(word) > 3 else word + "q"


def _latencies(conn: psycopg.Connection[Any], query: str, texts: list[str]) -> list[float]:
    samples = []
    for text in texts:
        start = time.perf_counter()
        conn.execute(query, (text,)).fetchall()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def _bm25_agreement(conn: psycopg.Connection[Any], texts: list[str]) -> str:
    try:
        import tantivy
    except ImportError:
        return "tantivy not installed"
    schema_builder = tantivy.SchemaBuilder()
    schema_builder.add_integer_field("id", stored=True, indexed=True)
    schema_builder.add_text_field("name", stored=False, tokenizer_name="en_stem")
    schema_builder.add_text_field("description", stored=False, tokenizer_name="en_stem")
    schema = schema_builder.build()
    index = tantivy.Index(schema)
    writer = index.writer()
    with conn.transaction(), conn.cursor(name="all_docs") as cur:
        cur.execute("select id, name, description from docs")
        for doc_id, name, description in cur:
            writer.add_document(
                tantivy.Document(id=doc_id, name=name or "", description=description or "")
            )
    writer.commit()
    index.reload()
    searcher = index.searcher()
    overlaps = []
    for text in texts:
        query = index.parse_query(
            " AND ".join(text.split()), ["name", "description"], field_boosts={"name": 2.0}
        )
        theirs = {searcher.doc(a)["id"][0] for _, a in searcher.search(query, 10).hits}
        ours = {
            r[0]
            for r in conn.execute(
                "select (item).id from warden.public_docs__search(%s, 10, 0)", (text,)
            )
        }
        if theirs:
            overlaps.append(len(ours & theirs) / len(theirs))
    share = statistics.mean(overlaps) * 100
    return f"{share:.0f}% of tantivy's top 10 (mean over {len(overlaps)} queries)"


@contextlib.contextmanager
def _database(admin: str, keep: str | None) -> Iterator[str]:
    """A throwaway database, or database ``keep``, created when missing and kept after."""
    if keep is None:
        with scratch_db(admin) as url:
            yield url
        return
    with psycopg.connect(admin, autocommit=True) as conn:
        if conn.execute("select from pg_database where datname = %s", (keep,)).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(keep)))
    yield psycopg.conninfo.make_conninfo(admin, dbname=keep)


def _explain(conn: psycopg.Connection[Any], fn: str, texts: dict[str, str]) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of one query of each kind: the hand-written one directly,
    ours through auto_explain (the function's own statements; a superuser's LOAD)."""
    notices: list[str] = []
    conn.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
    for setting in (
        "load 'auto_explain'",
        "set auto_explain.log_min_duration = 0",
        "set auto_explain.log_analyze = on",
        "set auto_explain.log_buffers = on",
        "set auto_explain.log_nested_statements = on",
        "set auto_explain.log_level = notice",
        "set client_min_messages = notice",
    ):
        conn.execute(setting)
    for kind, text in texts.items():
        print(f"\n### {kind}: {text!r}\n\n```")
        if "typo" not in kind:
            plan = conn.execute("explain (analyze, buffers) " + BASELINE, (text,)).fetchall()
            print("-- hand-written FTS")
            print("\n".join(r[0] for r in plan))
        notices.clear()
        conn.execute(fn, (text,)).fetchall()
        print("-- pgwarden (auto_explain, innermost statements first)")
        print("\n\n".join(n.rstrip() for n in notices))
        print("```")
    conn.execute("set auto_explain.log_min_duration = -1")


def _gist(conn: psycopg.Connection[Any], typos: list[str]) -> None:
    """A GiST trigram index on ``docs.name`` with KNN order (``<<->``, stops after the page)
    beside the GIN one the fallback uses: build time, size, typo top-10 latency."""
    trgm = conn.execute(
        "select n.nspname from pg_extension e join pg_namespace n on n.oid = e.extnamespace"
        " where e.extname = 'pg_trgm'"
    ).fetchone()
    assert trgm is not None
    ops = sql.Identifier(trgm[0], "gist_trgm_ops")
    start = time.perf_counter()
    conn.execute(
        sql.SQL("create index if not exists docs_name_gist on docs using gist (name {})").format(
            ops
        )
    )
    built = time.perf_counter() - start
    sizes = conn.execute(
        "select pg_size_pretty(pg_relation_size('docs_name_gist')),"
        " (select pg_size_pretty(pg_relation_size(i.indexrelid)) from pg_index i"
        "   join pg_class c on c.oid = i.indexrelid"
        "  where i.indrelid = 'docs'::regclass and c.relname like '%search_trgm%' limit 1)"
    ).fetchone()
    knn = sql.SQL(
        "select id, {s}.word_similarity(%s, name) from docs"
        " where %s OPERATOR({s}.<%%) name order by %s OPERATOR({s}.<<->) name, id limit 10"
    ).format(s=sql.Identifier(trgm[0]))
    with conn.transaction():
        conn.execute("set local pg_trgm.word_similarity_threshold = 0.3")
        samples = []
        for text in typos:
            begin = time.perf_counter()
            conn.execute(knn, (text, text, text)).fetchall()
            samples.append((time.perf_counter() - begin) * 1000)
        plan = conn.execute(sql.SQL("explain (analyze, buffers) ") + knn, (typos[0],) * 3)
        lines = [r[0] for r in plan]
    conn.execute("drop index docs_name_gist")
    print_table(
        "GiST trigram index on name, KNN order (<<->), beside the fallback's GIN",
        ["build s", "GiST size", "GIN size", "typo top 10 p50 / p95 ms"],
        [[
            f"{built:.1f}", sizes[0] if sizes else "?", sizes[1] if sizes else "?",
            f"{percentile(samples, 50):.1f} / {percentile(samples, 95):.1f}",
        ]],
    )  # fmt: skip
    print("\n```\n" + "\n".join(lines) + "\n```")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=200_000)
    parser.add_argument("--queries", type=int, default=60)
    parser.add_argument("--writes", type=int, default=2000)
    parser.add_argument("--dsn", default=None)
    parser.add_argument(
        "--keep", metavar="DB", default=None,
        help="keep the documents in database DB (with --dsn): reused by a later run",
    )  # fmt: skip
    parser.add_argument(
        "--setup-only", action="store_true",
        help="generate and apply, then stop (with --keep: the query phase runs later)",
    )  # fmt: skip
    parser.add_argument(
        "--no-baseline", action="store_true",
        help="skip the hand-written query and the BM25 agreement (slow at 1M: minutes)",
    )  # fmt: skip
    parser.add_argument("--explain", action="store_true", help="print each kind's plans")
    parser.add_argument(
        "--gist", action="store_true", help="also measure a GiST trigram index with KNN order"
    )
    args = parser.parse_args()
    if args.keep and not args.dsn:
        parser.error("--keep needs --dsn (the throwaway embedded server goes away)")
    rnd = random.Random(7)
    with server_url(args.dsn) as admin, _database(admin, args.keep) as url:
        print(f"{server_version(url)}; {machine()}; load {load()}; {args.docs:,} documents")
        tps = 0.0 if args.setup_only else pgbench_tps(url)
        with psycopg.connect(url, autocommit=True) as conn:
            start = time.perf_counter()
            if conn.execute("select to_regclass('public.docs')").fetchone() == (None,):
                conn.execute(
                    SETUP.replace("%(vocab)s", str(VOCAB)).replace("%(docs)s", str(args.docs))
                )
                conn.execute("vacuum analyze docs")
                conn.execute("vacuum analyze plain")
            else:
                print(f"reusing the documents of database {args.keep}")
            generated = time.perf_counter() - start
            with Warden(url, spec=parse_spec(SPEC, file="pgwarden.toml")) as warden:
                steps: dict[str, float] = {}
                last = [time.perf_counter()]

                def step(change: Any) -> None:
                    now = time.perf_counter()
                    name = change.ref.kind if change.ref else change.action
                    if not change.transactional:
                        name = change.description.split(",")[0][:60]
                    steps[name] = steps.get(name, 0) + now - last[0]
                    last[0] = now

                start = time.perf_counter()
                warden.apply(on_change=step)
                applied = time.perf_counter() - start
            if args.setup_only:
                print(f"generated {generated:.1f} s, applied {applied:.1f} s")
                for name, seconds in steps.items():
                    print(f"  {name}: {seconds:.1f} s")
                return
            words = _words(conn)
            fn = "select (item).id, headline from warden.public_docs__search(%s, 10, 0)"
            kinds = {
                "common term": [rnd.choice(words["common"]) for _ in range(args.queries)],
                "rare term": [rnd.choice(words["rare"]) for _ in range(args.queries)],
                "two common terms": [
                    f"{rnd.choice(words['common'])} {rnd.choice(words['common'])}"
                    for _ in range(args.queries)
                ],
                "two mid terms": [
                    f"{rnd.choice(words['mid'])} {rnd.choice(words['mid'])}"
                    for _ in range(args.queries)
                ],
                "typo (fallback)": [_typo(rnd.choice(words["mid"])) for _ in range(args.queries)],
            }
            rows = []
            for kind, texts in kinds.items():
                ours = _latencies(conn, fn, texts)
                # the seeds' query ranks every match: a few runs are enough to show it
                few = texts[: 10 if "common" in kind else len(texts)]
                skip = "typo" in kind or args.no_baseline
                base = [] if skip else _latencies(conn, BASELINE, few)
                rows.append([
                    kind,
                    f"{percentile(base, 50):.1f} / {percentile(base, 95):.1f}" if base else "-",
                    f"{percentile(ours, 50):.1f} / {percentile(ours, 95):.1f}",
                ])  # fmt: skip
            print_table(
                "Top 10 latency, ms (p50 / p95)",
                ["query", "hand-written FTS (no highlights)", "pgwarden search (+ headline)"],
                rows,
            )
            if args.explain:
                _explain(conn, fn, {kind: texts[0] for kind, texts in kinds.items()})
            if args.gist:
                _gist(conn, kinds["typo (fallback)"])
            write_rows = []
            for label, statement in (
                ("UPDATE of another column (n)", "update {} set n = n + 1 where id = %s"),
                (
                    "UPDATE of a searched column (description)",
                    "update {} set description = description || ' ' || %s::text where id = %s",
                ),
            ):
                times: dict[str, list[float]] = {"plain": [], "docs": []}
                for _ in range(args.writes):
                    key = rnd.randint(1, args.docs)
                    params: tuple[Any, ...] = (key,) if "another" in label else ("extra", key)
                    for table in ("plain", "docs"):
                        start = time.perf_counter()
                        conn.execute(statement.format(table), params)  # type: ignore[arg-type]
                        times[table].append(time.perf_counter() - start)
                a, b = statistics.median(times["plain"]), statistics.median(times["docs"])
                write_rows.append([label, f"{a * 1000:.3f}", f"{b * 1000:.3f}", f"{b / a:.2f}x"])
            print_table(
                "Single-row UPDATE by key, median ms",
                ["statement", "plain (expression index)", "docs (maintained vector)", "ratio"],
                write_rows,
            )
            sample = (
                kinds["rare term"][:10] + kinds["two mid terms"][:10] + kinds["common term"][:10]
            )
            exact = _exactness(conn, kinds["common term"][:30])
            two = _two_common(conn, kinds["two common terms"][:20])
            fuzzy_exact = _fuzzy_exactness(conn, kinds["typo (fallback)"][:10])
            kept = conn.execute(
                "select count(*) filter (where ready), (select count(*)"
                " from warden.public_docs__search_top) from warden.public_docs__search_terms"
            ).fetchone()
            size = conn.execute(
                "select pg_size_pretty(pg_total_relation_size('warden.public_docs__search_top'))"
            ).fetchone()
            agreement = "not measured (--no-baseline)"
            if not args.no_baseline:
                agreement = _bm25_agreement(conn, sample)
        print_table(
            "Setup",
            ["step", "seconds"],
            [["generate documents", f"{generated:.1f}"], ["apply (all)", f"{applied:.1f}"]]
            + [[f"  {k}", f"{v:.1f}"] for k, v in steps.items()],
        )
        print(f"\nExactness: {exact}; {fuzzy_exact}")
        print(f"AND of {two}")
        if kept and size:
            print(f"Kept: {kept[0]} common words, {kept[1]:,} rows, {size[0]}")
        print(f"BM25 agreement (top 10): {agreement}")
        print(f"pgbench TPS (scale 5, 2 clients, 15 s, same server): {tps:,.0f}")


if __name__ == "__main__":
    main()
