"""Soft delete: what a DELETE costs when it marks the row instead, and what the live view
costs to read, side by side with a plain table in the same run.

    .venv/bin/python bench/soft_delete.py [--dsn URL] [--rows N]

Each variant gets its own copy of the same table (``--rows``, default 1,000,000) with a
child table referencing it: a plain table (hard DELETE), and one with ``soft_delete``
(DELETE marks the row, cascades to the child). Figures are medians; a program, not a test.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import psycopg

from pgwarden import Warden
from pgwarden.spec import parse_spec

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, print_table, scratch_db, server_url

SCHEMA = """
create table {t} (id bigint primary key, email text unique, name text, score int);
create table {t}_items (id bigint primary key,
                        parent_id bigint references {t} on delete cascade, v int);
create index on {t}_items (parent_id);
insert into {t} select g, 'u' || g || '@example.com', md5(g::text), g % 1000
  from generate_series(1, {rows}) g;
insert into {t}_items select g, 1 + (g % {rows}), g from generate_series(1, {rows}) g;
"""


def build(conn: psycopg.Connection[Any], table: str, rows: int) -> None:
    conn.execute(SCHEMA.format(t=table, rows=rows))  # bench-only names, fixed above
    conn.execute(f"vacuum analyze {table}")
    conn.execute(f"vacuum analyze {table}_items")


def paired(
    conn: psycopg.Connection[Any],
    hard: str,
    soft: str,
    params: list[tuple[Any, ...]],
    scale: float = 1000.0,
) -> tuple[float, float]:
    """Median time (ms by default) of ``hard`` and ``soft`` run alternately with the same
    parameters, so that both see the same load on the machine."""
    samples: tuple[list[float], list[float]] = ([], [])
    for values in params:
        for statement, found in ((hard, samples[0]), (soft, samples[1])):
            start = time.perf_counter()
            cur = conn.execute(statement, values)
            if cur.description is not None:
                cur.fetchall()
            found.append((time.perf_counter() - start) * scale)
    return statistics.median(samples[0]), statistics.median(samples[1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--dsn", help="server to measure on (default: a throwaway embedded one)")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--bulk", type=int, default=100_000, help="rows in the bulk DELETE")
    args = parser.parse_args()
    rows, bulk = args.rows, min(args.bulk, args.rows // 4)  # three bulk rounds fit
    declaration = parse_spec(
        '[tables."public.soft"]\nsoft_delete = true\n'
        '[tables."public.soft_items"]\nsoft_delete = true\n',
        file="bench",
    )
    with (
        server_url(args.dsn) as admin,
        scratch_db(admin) as url,
        psycopg.connect(url, autocommit=True) as conn,
    ):
        print(f"building 2 x {rows:,} rows (+ children) on {conn.info.server_version}...")
        build(conn, "hard", rows)
        build(conn, "soft", rows)
        warden = Warden(url, spec=declaration)
        warden.apply()
        warden.close()
        for table in ("soft", "soft_items"):
            conn.execute(f"vacuum analyze {table}")
        delete = "delete from {} where id = %s"
        one_hard, one_soft = paired(
            conn,
            delete.format("hard"),
            delete.format("soft"),
            [(i,) for i in range(rows - 300, rows)],
        )
        ranges = "delete from {} where id >= %s and id < %s"
        many_hard, many_soft = paired(
            conn,
            ranges.format("hard"),
            ranges.format("soft"),
            [(1 + r * bulk, 1 + (r + 1) * bulk) for r in range(3)],
            scale=1.0,
        )
        for table in ("soft", "hard"):
            conn.execute(f"vacuum analyze {table}")
        by_key = "select * from {} where id = %s"
        keys = [(1 + (i * 7919) % rows,) for i in range(400)]
        base_key, view_key = paired(conn, by_key.format("hard"), by_key.format("soft__live"), keys)
        scan = "select count(*), sum(score) from {} where score = %s"
        scores = [(i % 1000,) for i in range(15)]
        base_scan, view_scan = paired(conn, scan.format("hard"), scan.format("soft__live"), scores)
    print_table(
        f"soft delete vs hard delete ({rows:,} rows, each with one child row; {machine()})",
        ["measure", "plain table (hard)", "soft_delete", "ratio"],
        [
            ["DELETE 1 row (+1 child), median", f"{one_hard:.3f} ms", f"{one_soft:.3f} ms",
             f"{one_soft / one_hard:.2f}x"],
            [f"DELETE {bulk:,} rows (+{bulk:,} children), median of 3", f"{many_hard:.2f} s",
             f"{many_soft:.2f} s", f"{many_soft / many_hard:.2f}x"],
            ["read 1 row by key: table vs __live view", f"{base_key:.3f} ms", f"{view_key:.3f} ms",
             f"{view_key / base_key:.2f}x"],
            ["scan + aggregate: table vs __live view", f"{base_scan:.1f} ms", f"{view_scan:.1f} ms",
             f"{view_scan / base_scan:.2f}x"],
        ],
    )  # fmt: skip


if __name__ == "__main__":
    main()
