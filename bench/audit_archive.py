"""Audit archive: one-row history with every event in the hot store, then with most of them
moved to the archive store by the ``audit-archive`` job, side by side in one run, and the
job's throughput.

One scratch database: ``items`` (bigint key, int, ~40 bytes of text) with
``audit = { archive_after = "1 year" }``; ``--rows`` inserts, then four UPDATE rounds of every
row, so each row has five events. The job then runs on a clock one year after the fourth
round's start: the insert and the first three rounds (80% of the events) move, the last round
stays hot, and each row's history reads from both stores. Latency is per call on one
connection (prepared, as an application would), for ``--calls`` random keys, the same keys
before and after; the stores are analyzed first each time. Right after the job the hot store
still holds the moved events as dead rows (autovacuum removes them later), so history is
measured then and again after a VACUUM. The database is dropped at the end.

.venv/bin/python bench/audit_archive.py                 # on a throwaway embedded server
.venv/bin/python bench/audit_archive.py --dsn postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import time
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).parent))
from _common import load, machine, percentile, print_table, scratch_db, server_url, server_version
from pgwarden import Warden, __version__
from pgwarden.features.audit import _runtime as audit
from pgwarden.spec import parse_spec

SPEC = '[tables."public.items"]\naudit = { archive_after = "1 year" }\n'
HISTORY = "select * from warden.history('public.items', %s::jsonb)"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def _history(conn: psycopg.Connection[Any], keys: list[int]) -> tuple[list[float], int]:
    conn.execute("analyze warden.audit_events")
    conn.execute("analyze warden.audit_events_archive")
    samples, versions = [], 0
    for key in keys:
        start = time.perf_counter()
        versions += len(conn.execute(HISTORY, (f"[{key}]",), prepare=True).fetchall())
        samples.append(time.perf_counter() - start)
    return samples, versions


def _log(conn: psycopg.Connection[Any], calls: int = 20) -> list[float]:
    samples = []
    for _ in range(calls):
        start = time.perf_counter()
        audit.log(conn, table="public.items", limit=100)
        samples.append(time.perf_counter() - start)
    return samples


def _plan(conn: psycopg.Connection[Any], key: int) -> list[str]:
    lines = conn.execute("explain (analyze) " + HISTORY, (f"[{key}]",)).fetchall()
    keep = ("Index Scan on", "Index Cond", "Planning Time", "Execution Time")
    return [line for (line,) in lines if any(k in line for k in keep)]


def run(url: str, rows: int, calls: int, batch: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("create table items (id bigint primary key, v int, note text)")
        with Warden(url, spec=parse_spec(SPEC)) as warden:
            warden.apply()
            fill = "insert into items select g, 0, repeat('x', 40) from generate_series(1, %s) g"
            conn.execute(fill, (rows,))
            cut = dt.datetime.now(dt.UTC)
            for round_ in range(1, 5):
                if round_ == 4:
                    cut = conn.execute("select clock_timestamp()").fetchone()[0]  # type: ignore[index]
                conn.execute("update items set v = %s", (round_,))
            keys = random.Random(7).sample(range(1, rows + 1), calls)
            hot, versions = _history(conn, keys)
            hot_log = _log(conn)

            # The job's clock: one year (archive_after) after the last round began.
            later = conn.execute("select %s + interval '1 year'", (cut,)).fetchone()[0]  # type: ignore[index]
            conn.execute("checkpoint")
            start = time.perf_counter()
            result = warden.maintain(now=later, names=["audit-archive"], batch=batch)
            seconds = time.perf_counter() - start
            moved = result[0].rows
            split = conn.execute(
                "select (select count(*) from warden.audit_events), "
                "(select count(*) from warden.audit_events_archive)"
            ).fetchone()
            assert split is not None
            archived, versions_after = _history(conn, keys)
            # Autovacuum's work done now: the moved events' dead rows and index entries go.
            conn.execute("vacuum warden.audit_events")
            vacuumed, _ = _history(conn, keys)
            archived_log = _log(conn)
            plan = _plan(conn, keys[0])

    events = rows * 5
    print_table(
        f"One-row history, {calls} random keys of {rows:,} rows ({events:,} events, "
        f"{versions / calls:.0f} versions each)",
        ["store", "p50", "p95", "goal"],
        [
            [f"all hot ({events:,} events hot)", ms(percentile(hot, 50)),
             ms(percentile(hot, 95)), "≤ 1 ms"],
            [f"{split[1]:,} archived, {split[0]:,} hot, just after the job",
             ms(percentile(archived, 50)), ms(percentile(archived, 95)), "≤ 1 ms"],
            [f"{split[1]:,} archived, {split[0]:,} hot, hot store vacuumed",
             ms(percentile(vacuumed, 50)), ms(percentile(vacuumed, 95)), "≤ 1 ms"],
            ["log of the table, newest 100, all hot", ms(percentile(hot_log, 50)),
             ms(percentile(hot_log, 95)), ""],
            ["log of the table, newest 100, 80% archived", ms(percentile(archived_log, 50)),
             ms(percentile(archived_log, 95)), ""],
        ],
    )  # fmt: skip
    assert versions == versions_after, "history changed across the archive"
    print_table(
        "audit-archive job",
        ["events moved", "batch", "seconds", "events/s"],
        [[f"{moved:,}", f"{batch:,}", f"{seconds:.1f}", f"{moved / seconds:,.0f}"]],
    )
    print("\nEXPLAIN ANALYZE of one history call after archiving (index lines):")
    for line in plan:
        print("   ", line.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dsn", help="server to use (default: a throwaway embedded one)")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--batch", type=int, default=10_000)
    args = parser.parse_args()
    with server_url(args.dsn) as admin:
        print(f"pgwarden {__version__}; {server_version(admin)}; {machine()}; load {load()}")
        with scratch_db(admin) as url:
            run(url, args.rows, args.calls, args.batch)


if __name__ == "__main__":
    main()
