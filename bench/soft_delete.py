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


def one_row_deletes(conn: psycopg.Connection[Any], table: str, ids: list[int]) -> float:
    """Median milliseconds of a single-row DELETE (each its own transaction)."""
    samples = []
    for i in ids:
        start = time.perf_counter()
        conn.execute(f"delete from {table} where id = %s", (i,))
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def bulk_delete(conn: psycopg.Connection[Any], table: str, low: int, count: int) -> float:
    start = time.perf_counter()
    conn.execute(f"delete from {table} where id >= %s and id < %s", (low, low + count))
    return time.perf_counter() - start


def query_ms(conn: psycopg.Connection[Any], query: str, repeat: int = 200) -> float:
    samples = []
    for i in range(repeat):
        start = time.perf_counter()
        conn.execute(query, (1 + (i * 7919) % 900_000,)).fetchall()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--dsn", help="server to measure on (default: a throwaway embedded one)")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--bulk", type=int, default=100_000, help="rows in the bulk DELETE")
    args = parser.parse_args()
    rows, bulk = args.rows, min(args.bulk, args.rows // 4)
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
        ids = list(range(rows - 500, rows - 300))
        one_hard = one_row_deletes(conn, "hard", ids)
        one_soft = one_row_deletes(conn, "soft", ids)
        many_hard = bulk_delete(conn, "hard", 1, bulk)
        many_soft = bulk_delete(conn, "soft", 1, bulk)
        for table in ("soft", "hard"):
            conn.execute(f"vacuum analyze {table}")
        by_key = "select * from {} where id = %s"
        scan = "select count(*), sum(score) from {} where score = %s %% 1000"
        base_key = query_ms(conn, by_key.format("hard"))
        view_key = query_ms(conn, by_key.format("soft__live"))
        base_scan = query_ms(conn, scan.format("hard"), repeat=10)
        view_scan = query_ms(conn, scan.format("soft__live"), repeat=10)
    print_table(
        f"soft delete vs hard delete ({rows:,} rows, each with one child row; {machine()})",
        ["measure", "plain table (hard)", "soft_delete", "ratio"],
        [
            ["DELETE 1 row (+1 child), median", f"{one_hard:.3f} ms", f"{one_soft:.3f} ms",
             f"{one_soft / one_hard:.2f}x"],
            [f"DELETE {bulk:,} rows (+{bulk:,} children)", f"{many_hard:.2f} s",
             f"{many_soft:.2f} s", f"{many_soft / many_hard:.2f}x"],
            ["read 1 row by key: table vs __live view", f"{base_key:.3f} ms", f"{view_key:.3f} ms",
             f"{view_key / base_key:.2f}x"],
            ["scan + aggregate: table vs __live view", f"{base_scan:.1f} ms", f"{view_scan:.1f} ms",
             f"{view_scan / base_scan:.2f}x"],
        ],
    )  # fmt: skip


if __name__ == "__main__":
    main()
