"""Interleaved A/B of two search functions on one ``bench/search.py --keep`` database: the
previous one (installed beside the current one as ``warden.old_docs_search``) and
``warden.public_docs__search``, the same common word for both, in random order per word;
p50 / p95 of each and how many pages differ. A ratio measurement: fair under load.

The previous function, as an earlier apply created it (``warden.applies`` keeps every
apply's SQL), renamed::

    psql URL -At -c "select c->>'sql' from warden.applies a, jsonb_array_elements(a.changes) c
      where a.apply_id = 1 and c->'object'->>'kind' = 'function'
        and c->'object'->>'name' = 'public_docs__search'" \\
      | sed 's/"warden"."public_docs__search"(text/"warden"."old_docs_search"(text/' \\
      | psql URL

.venv/bin/python bench/_search_old_vs_new.py URL 60
"""

from __future__ import annotations

import random
import statistics
import sys
import time

import psycopg


def main() -> None:
    url, runs = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 60
    rnd = random.Random(11)
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("select count(*) from docs").fetchone()
        total = int(row[0]) if row else 0
        # common words (in > 5% of the documents), counted on a 5% sample
        words = [
            r[0]
            for r in conn.execute(
                "select word from ts_stat('select search_vector from docs tablesample system (5)')"
                " where ndoc > %s order by ndoc desc limit 50",
                (total * 0.05 * 0.05,),
            )
        ]
        functions = {
            "old": "select (item).id from warden.old_docs_search(%s, 10, 0)",
            "new": "select (item).id from warden.public_docs__search(%s, 10, 0)",
        }
        times: dict[str, list[float]] = {k: [] for k in functions}
        differ = 0
        for _ in range(runs):
            word = rnd.choice(words)
            order = list(functions)
            rnd.shuffle(order)
            pages = {}
            for name in order:
                start = time.perf_counter()
                pages[name] = [r[0] for r in conn.execute(functions[name], (word,))]
                times[name].append((time.perf_counter() - start) * 1000)
            differ += pages["old"] != pages["new"]
    for name, samples in times.items():
        samples.sort()
        p95 = samples[int(0.95 * (len(samples) - 1))]
        print(f"{name}: p50 {statistics.median(samples):.1f} ms, p95 {p95:.1f} ms")
    print(f"pages differing: {differ} of {runs}")


if __name__ == "__main__":
    main()
