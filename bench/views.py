"""Declared materialized views: refresh cost and what readers see while it runs.

One scratch database on one server: ``sales`` (``--rows``, default 1M) aggregated by
(shop, day) into a view declared with ``unique_key = ["shop", "day"]`` (the SQL pgwarden plans
for it). Measured:

- a plain ``REFRESH`` and a ``REFRESH CONCURRENTLY`` (what the ``view-refresh`` job runs with
  a unique key) after 1 % and 10 % of the base rows changed;
- a reader's p50/p95 lookup latency while refreshes run back to back, each way, against the
  same lookup computed live from the base table (the "dashboard" question: view or live?);
- an incremental view (``incremental = true``, kept from audit's change feed) against the
  same view materialized, after 1 % and 10 % changes, and what writers pay for it
  (``_views_ivm.py``: TPS with no audit, with audit, with audit and the view);
- beside it, this machine's plain ``pgbench -S`` TPS on the same server (the anchor).

Run: ``.venv/bin/python bench/views.py [--rows N] [--dsn URL]``.
"""

from __future__ import annotations

import argparse
import random
import statistics
import threading
import time
from typing import Any

import psycopg

import _views_ivm
from _common import load, machine, percentile, print_table, scratch_db, server_url, server_version
from audit import pgbench
from pgwarden._names import QualifiedName
from pgwarden.features.materialized_views import ViewSpec
from pgwarden.features.materialized_views._objects import view_object

QUERY = "select shop, day, sum(amount) as total, count(*) as n from sales group by shop, day"
NAME = QualifiedName("public", "sales_by_day")


def build(conn: psycopg.Connection[Any], rows: int) -> None:
    conn.execute(
        """create table sales (id bigint primary key, shop int not null, day date not null,
                                amount int not null)"""
    )
    conn.execute(
        """insert into sales select g, g %% 1000, date '2026-01-01' + (g %% 60), g %% 97
             from generate_series(1, %s) g""",
        (rows,),
    )
    conn.execute("vacuum analyze sales")
    view = ViewSpec(query=QUERY, refresh="5 min", unique_key=("shop", "day"))  # type: ignore[arg-type]
    conn.execute(view_object(NAME, QUERY, view).create)
    conn.execute("vacuum analyze sales_by_day")


def change(conn: psycopg.Connection[Any], rows: int, fraction: float) -> None:
    conn.execute("update sales set amount = amount + 1 where id %% %s = 0", (round(1 / fraction),))


def refresh_time(conn: psycopg.Connection[Any], concurrently: bool) -> float:
    start = time.perf_counter()
    conn.execute(
        "refresh materialized view concurrently sales_by_day"
        if concurrently
        else "refresh materialized view sales_by_day"
    )
    return time.perf_counter() - start


def reader_latencies(url: str, lookup: str, stop: threading.Event) -> list[float]:
    samples: list[float] = []
    with psycopg.connect(url, autocommit=True) as conn:
        while not stop.is_set():
            shop, day = random.randrange(1000), random.randrange(60)
            start = time.perf_counter()
            conn.execute(lookup, (shop, day)).fetchone()
            samples.append(time.perf_counter() - start)
    return samples


def under_refresh(url: str, lookup: str, concurrently: bool | None, seconds: float) -> list[float]:
    """A reader's latencies for ``seconds`` while refreshes run back to back (None: none)."""
    stop = threading.Event()
    out: list[list[float]] = []
    reader = threading.Thread(target=lambda: out.append(reader_latencies(url, lookup, stop)))
    reader.start()
    deadline = time.perf_counter() + seconds
    with psycopg.connect(url, autocommit=True) as conn:
        while time.perf_counter() < deadline:
            if concurrently is None:
                time.sleep(0.05)
            else:
                refresh_time(conn, concurrently)
    stop.set()
    reader.join()
    return out[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--dsn", help="an existing server (default: a throwaway embedded one)")
    parser.add_argument("--writer-seconds", type=int, default=10)
    parser.add_argument("--only-incremental", action="store_true")
    args = parser.parse_args()
    print(f"machine: {machine()}; load before: {load()}")
    with server_url(args.dsn) as admin:
        incremental(admin, args.rows, args.writer_seconds)
        if not args.only_incremental:
            materialized(admin, args)
    print(f"load after: {load()}")


def groups(url: str, view: str = "sales_mv") -> int:
    """Rows of ``view``: (shop, day) = (g % 1000, g % 60) makes lcm(1000, 60) = 3,000."""
    with psycopg.connect(url) as conn:
        row = conn.execute(f"select count(*) from {view}").fetchone()
    return int(row[0]) if row else 0


def incremental(admin: str, rows: int, writer_seconds: int) -> None:
    with scratch_db(admin) as url:
        print(server_version(url))
        warden = _views_ivm.setup(url, rows)
        try:
            table, equal = _views_ivm.refresh_rows(url, warden, rows)
            same = "yes" if equal else "NO"
            print_table(
                f"Bringing a {rows:,}-row aggregate ({groups(url):,} groups; sum, count, min, max)"
                f" up to date, ms (incremental equals the materialized view: {same})",
                ["rows changed", "incremental", "CONCURRENTLY", "REFRESH", "whole", "speed-up"],
                table,
            )
            print(f"load: {load()}")
            print_table(
                f"Writers: single-row UPDATEs moving rows between groups, pgbench -c 2, "
                f"{writer_seconds}s, better of 2 interleaved rounds",
                ["table", "TPS", "cost vs no audit", "vs audit alone"],
                _views_ivm.writer_rows(url, warden, rows, writer_seconds),
            )
        finally:
            warden.close()
    print(f"load: {load()}")


def materialized(admin: str, args: argparse.Namespace) -> None:
    with scratch_db(admin) as url:
        print(server_version(url))
        with psycopg.connect(url, autocommit=True) as conn:
            build(conn, args.rows)
            rows = []
            for fraction in (0.01, 0.10):
                change(conn, args.rows, fraction)
                plain = statistics.median(refresh_time(conn, False) for _ in range(3))
                change(conn, args.rows, fraction)
                conc = statistics.median(refresh_time(conn, True) for _ in range(3))
                rows.append([f"{fraction:.0%}", f"{plain * 1000:.0f}", f"{conc * 1000:.0f}"])
            print_table(
                f"Refresh of a {args.rows:,}-row aggregate"
                f" ({groups(url, 'sales_by_day'):,} groups), ms (median of 3)",
                ["base rows changed", "REFRESH", "REFRESH CONCURRENTLY"],
                rows,
            )
        view_lookup = (
            "select total from sales_by_day where shop = %s and day = date '2026-01-01' + %s"
        )
        live_lookup = (
            "select sum(amount) from sales where shop = %s and day = date '2026-01-01' + %s"
        )
        lat = []
        for label, lookup, mode in (
            ("view, no refresh running", view_lookup, None),
            ("view, REFRESH CONCURRENTLY back to back", view_lookup, True),
            ("view, plain REFRESH back to back", view_lookup, False),
            ("live aggregate from sales (no view)", live_lookup, None),
        ):
            samples = under_refresh(url, lookup, mode, args.seconds)
            lat.append(
                [
                    label,
                    str(len(samples)),
                    f"{percentile(samples, 50) * 1000:.2f}",
                    f"{percentile(samples, 95) * 1000:.2f}",
                    f"{max(samples) * 1000:.0f}",
                ]
            )
        print_table(
            f"A reader's lookup of one (shop, day) for {args.seconds:.0f}s, ms",
            ["case", "lookups", "p50", "p95", "max"],
            lat,
        )
        pgbench(url, "-i", "-q", "-s", "10")
        out = pgbench(url, "-S", "-c", "2", "-j", "2", "-T", "10")
        tps = next(line for line in out.splitlines() if line.startswith("tps"))
        print(f"\nanchor, plain pgbench -S -c 2 -T 10 on this server: {tps}")


if __name__ == "__main__":
    main()
