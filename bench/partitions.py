"""Partitions: maintenance of many tables, insert throughput, pruning, conversion.

In scratch databases on one server (dropped at the end):

  1. maintenance: ``--tables`` monthly-partitioned tables (premake 3, retention 12 months,
     a default partition); ``pgwarden maintain`` timed on the first run (creates 4
     partitions per table) and on a steady-state run (nothing due);
  2. inserts: ``--rows`` rows into a plain table and into the same table partitioned by
     month (24 partitions), as one INSERT ... SELECT and as single-row INSERTs (one
     transaction each, ``--single`` of them);
  3. one-day query: ``count(*), sum(v)`` over one day of the two tables (btree on ``at`` in
     both), median of 50 runs, and how many partitions EXPLAIN shows scanned;
  4. conversion: the plain table of step 2 converted by ``pgwarden partitions convert`` in
     batches of ``--batch``; rows/s over the whole conversion (setup, copy, catch-up,
     verification, swap);
  5. rescue: ``--rows`` rows over 24 months all in the default partition, split into the 24
     partitions they need by one ``maintain`` (rows/s over the whole job).

.venv/bin/python bench/partitions.py                      # embedded server
.venv/bin/python bench/partitions.py --dsn postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import subprocess
import sys
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, print_table, scratch_db, server_url, timed
from pgwarden import Warden, __version__
from pgwarden.spec import parse_spec

NOW = dt.datetime(2026, 6, 15, tzinfo=dt.UTC)
TABLE = """create table {name} (id bigint generated always as identity, at timestamptz not null,
           v int not null, note text, primary key (id, at)){tail}"""
FILL = """insert into {name} (at, v, note)
          select timestamptz '2024-07-01'
                 + ((g - 1)::bigint * 730 * 86400 / %(rows)s) * interval '1 s',
                 g %% 1000, 'event ' || g
          from generate_series(1, %(rows)s) g"""


def _version(url: str) -> str:
    with psycopg.connect(url) as conn:
        number = conn.info.server_version
        return f"{number // 10000}.{number % 10000}"


def maintenance(url: str, tables: int) -> list[list[str]]:
    with psycopg.connect(url, autocommit=True) as conn:
        for i in range(tables):
            conn.execute(
                TABLE.format(name=f"t{i:03}", tail=" partition by range (at)")  # type: ignore[arg-type]
            )
    spec = "".join(
        f'[tables."public.t{i:03}"]\npartition = {{ column = "at", interval = "1 month", '
        'premake = 3, retention = "12 months", retention_mode = "drop" }\n'
        for i in range(tables)
    )
    with Warden(url, spec=parse_spec(spec)) as warden:
        warden.apply()
        first = timed(lambda: warden.maintain(now=NOW))
        steady = timed(lambda: warden.maintain(now=NOW), repeat=3)
        with psycopg.connect(url) as conn:
            made = conn.execute(
                "select count(*) from pg_class where relispartition and relkind = 'r'"
            ).fetchone()
    return [
        [f"maintain, {tables} tables, first run", f"{made[0] if made else 0} partitions made",
         f"{first:.2f}", "≤ 5 s"],
        [f"maintain, {tables} tables, steady state", "nothing due", f"{steady:.2f}", "≤ 5 s"],
    ]  # fmt: skip


def inserts(url: str, rows: int, single: int) -> list[list[str]]:
    out = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(TABLE.format(name="plain", tail=""))  # type: ignore[arg-type]
        conn.execute(TABLE.format(name="parted", tail=" partition by range (at)"))  # type: ignore[arg-type]
        for m in range(24):
            low = dt.date(2024 + (6 + m) // 12, (6 + m) % 12 + 1, 1)
            high = dt.date(2024 + (7 + m) // 12, (7 + m) % 12 + 1, 1)
            conn.execute(
                f"create table parted_{m:02} partition of parted "  # bench's own names
                f"for values from ('{low}') to ('{high}')"
            )
        for name in ("plain", "parted"):
            conn.execute(f"create index {name}_at on {name} (at)")
        for name in ("plain", "parted"):
            conn.execute("checkpoint")
            seconds = timed(lambda n=name: conn.execute(FILL.format(name=n), {"rows": rows}))  # type: ignore[arg-type]
            out.append([f"INSERT ... SELECT {rows:,} rows", name, f"{seconds:.2f}",
                        f"{rows / seconds:,.0f} rows/s"])  # fmt: skip
        for name in ("plain", "parted"):
            statement = f"insert into {name} (at, v, note) values (%s, 1, 'one')"

            def one_by_one(statement: str = statement) -> None:
                for i in range(single):
                    conn.execute(statement, (NOW - dt.timedelta(minutes=i),))

            seconds = timed(one_by_one)
            out.append([f"{single:,} single-row INSERTs", name, f"{seconds:.2f}",
                        f"{single / seconds:,.0f} rows/s"])  # fmt: skip
        conn.execute("vacuum analyze plain")
        conn.execute("vacuum analyze parted")
    return out


def one_day(url: str) -> tuple[list[list[str]], dict[str, str]]:
    out, plans = [], {}
    query = "select count(*), sum(v) from {} where at >= %s and at < %s"
    day = (dt.datetime(2025, 9, 10, tzinfo=dt.UTC), dt.datetime(2025, 9, 11, tzinfo=dt.UTC))
    with psycopg.connect(url, autocommit=True) as conn:
        for how, off in (("index on at", ""), ("no index: seq scan", "index")):
            if off:
                conn.execute("set enable_indexscan = off")
                conn.execute("set enable_bitmapscan = off")
            for name in ("plain", "parted"):
                q = query.format(name)
                seconds = timed(
                    lambda q=q: conn.execute(q, day, prepare=False).fetchone(), repeat=50
                )  # type: ignore[arg-type]
                plan = "\n".join(
                    r[0]
                    for r in conn.execute("explain (costs off) " + q, day).fetchall()  # type: ignore[arg-type]
                )
                scanned = len(set(re.findall(r"on (parted_\d+)", plan))) if name == "parted" else 1
                plans[f"{name}, {how}"] = plan
                out.append([f"one day of 24 months, {how}", f"{name}: {scanned} relation(s) read",
                            f"{seconds * 1000:.2f} ms", ""])  # fmt: skip
    return out, plans


def conversion(url: str, batch: int) -> list[list[str]]:
    with psycopg.connect(url, autocommit=True) as conn:
        count = conn.execute("select count(*) from plain").fetchone()
    spec = (
        '[tables."public.plain"]\n'
        'partition = { column = "at", interval = "1 month", premake = 1 }\n'
    )
    with Warden(url, spec=parse_spec(spec)) as warden:
        started = time.perf_counter()
        result = warden.partitions.convert("public.plain", batch=batch)
        seconds = time.perf_counter() - started
    rows = count[0] if count else 0
    return [[f"convert {rows:,} rows (batches of {batch:,})",
             f"{result.partitions} partitions, verified", f"{seconds:.2f}",
             f"{rows / seconds:,.0f} rows/s"]]  # fmt: skip


def rescue(url: str, rows: int, batch: int) -> list[list[str]]:
    """``rows`` rows over 24 months, all in the default partition (no partition made yet):
    one ``maintain`` splits the default into the 24 partitions they need."""
    spec = (
        '[tables."public.late"]\npartition = { column = "at", interval = "1 month", premake = 0 }\n'
    )
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(TABLE.format(name="late", tail=" partition by range (at)"))  # type: ignore[arg-type]
        with Warden(url, spec=parse_spec(spec)) as warden:
            warden.apply()
            conn.execute(FILL.format(name="late"), {"rows": rows})  # type: ignore[arg-type]
            conn.execute("vacuum analyze late")
            started = time.perf_counter()
            warden.maintain(now=dt.datetime(2024, 6, 15, tzinfo=dt.UTC), batch=batch)
            seconds = time.perf_counter() - started
        row = conn.execute("select count(*) from late__default").fetchone()
    left = row[0] if row else 0
    return [[f"rescue {rows:,} rows from the default", f"24 partitions made, {left} rows left",
             f"{seconds:.2f}", f"{rows / seconds:,.0f} rows/s"]]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", help="server to measure on (default: embedded)")
    parser.add_argument("--tables", type=int, default=100)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--single", type=int, default=5_000)
    parser.add_argument("--batch", type=int, default=20_000)
    args = parser.parse_args()
    with server_url(args.dsn) as admin:
        version = _version(admin)
        with scratch_db(admin) as url:
            rows = maintenance(url, args.tables)
        with scratch_db(admin) as url:
            rows += inserts(url, args.rows, args.single)
            found, plans = one_day(url)
            rows += found
            rows += conversion(url, args.batch)
        with scratch_db(admin) as url:
            rows += rescue(url, args.rows, args.batch)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    print_table(
        f"pgwarden {__version__} ({commit}), PostgreSQL {version}, {machine()}",
        ["measure", "what", "seconds", "rate / goal"],
        rows,
    )
    for name, plan in plans.items():
        print(f"\nEXPLAIN one day, {name}:\n{plan}")


if __name__ == "__main__":
    main()
