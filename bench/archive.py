"""Archive throughput: the batch mover on a plain table, whole-partition moves on a
partitioned one, and one unbatched INSERT ... SELECT + DELETE as the baseline, side by side.

Three scratch databases on one server, each with the same ``entries`` table of ``--rows`` rows
(~90 bytes each, a bigint key, 80% of rows older than the archive age):

  A = baseline: one transaction, ``INSERT INTO archive SELECT ... ; DELETE ...`` (not crash-
      safe in pieces, holds its locks for the whole run, no progress: what hand scripts do)
  B = pgwarden's mover, ``archive = { after = "2 years", column = "entry_date" }``, batches
      of ``--batch`` rows, one transaction each
  C = the same table range-partitioned by year: old years move whole (detach + attach)

Throughput is rows archived per second of the whole job (counting the due rows, the batches,
the commits). A CHECKPOINT precedes each timed run. Scratch databases are dropped at the end.

.venv/bin/python bench/archive.py                      # 10M rows, throwaway embedded server
.venv/bin/python bench/archive.py --rows 1000000 --dsn postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import sys
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).parent))
from _common import load, machine, print_table, scratch_db, server_url, server_version
from pgwarden import Warden, __version__
from pgwarden.spec import parse_spec

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
SPEC = '[tables."public.entries"]\narchive = { after = "2 years", column = "entry_date" }\n'
# Rows spread over 2019-01-01 .. 2026-01-01 (2557 days): 80% before the cutoff (2024-06-01).
FILL = """insert into entries (entry_id, user_id, entry_date, note, score)
          select g, g % 100000, date '2019-01-01' + (g::bigint * 2557 / %(rows)s)::int,
                 'entry ' || g || ' ' || repeat('x', 40), g %% 1000
          from generate_series(1, %(rows)s) g""".replace("g % 100000", "g %% 100000")


def _create(conn: psycopg.Connection, partitioned: bool) -> None:
    tail = " partition by range (entry_date)" if partitioned else ""
    key = "primary key (entry_id, entry_date)" if partitioned else "primary key (entry_id)"
    conn.execute(
        f"""create table entries (entry_id bigint not null, user_id int not null,
              entry_date date not null, note text, score int, {key}){tail}"""
    )
    if partitioned:
        for year in range(2019, 2027):
            conn.execute(
                f"create table entries_{year} partition of entries "
                f"for values from ('{year}-01-01') to ('{year + 1}-01-01')"
            )


def _prepare(url: str, rows: int, partitioned: bool, with_pgwarden: bool) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        _create(conn, partitioned)
        conn.execute(FILL, {"rows": rows})
        conn.execute("vacuum analyze entries")
        if not with_pgwarden:
            conn.execute("create schema archive")
            conn.execute(
                """create table archive.entries (like entries, archived_at timestamptz
                   not null default now(), archived_by text, archive_reason text,
                   primary key (entry_id))"""
            )
    if with_pgwarden:
        with Warden(url, spec=parse_spec(SPEC, file="pgwarden.toml")) as warden:
            warden.apply()


def _baseline(url: str) -> tuple[int, float]:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("checkpoint")
        start = time.perf_counter()
        with conn.transaction():
            n = conn.execute(
                """insert into archive.entries (entry_id, user_id, entry_date, note, score)
                   select entry_id, user_id, entry_date, note, score from entries
                   where entry_date < %s::timestamptz - interval '2 years'""",
                (NOW,),
            ).rowcount
            conn.execute(
                "delete from entries where entry_date < %s::timestamptz - interval '2 years'",
                (NOW,),
            )
        return n, time.perf_counter() - start


def _pgwarden(url: str, batch: int) -> tuple[int, float, str]:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("checkpoint")
    with Warden(url, spec=parse_spec(SPEC, file="pgwarden.toml")) as warden:
        start = time.perf_counter()
        [result] = warden.archive.run(now=NOW, batch=batch)
        return result.rows, time.perf_counter() - start, result.detail


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--dsn", help="server to measure on (default: a throwaway embedded one)")
    parser.add_argument("--rows", type=int, default=10_000_000, help="rows in the table")
    parser.add_argument("--batch", type=int, default=50_000, help="rows per batch (B)")
    args = parser.parse_args()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    print(f"pgwarden {__version__} (git {commit}), {machine()}, load {load()}")
    with server_url(args.dsn) as admin:
        print(f"{server_version(admin)}; {args.rows:,} rows, batch {args.batch:,}")
        results = []
        with scratch_db(admin) as a, scratch_db(admin) as b, scratch_db(admin) as c:
            for url, partitioned, ours in ((a, False, False), (b, False, True), (c, True, True)):
                started = time.perf_counter()
                _prepare(url, args.rows, partitioned, ours)
                print(f"  loaded in {time.perf_counter() - started:.0f}s", flush=True)
            n, secs = _baseline(a)
            results.append(["A: one INSERT ... SELECT + DELETE (unbatched)", n, secs, ""])
            n, secs, detail = _pgwarden(b, args.batch)
            results.append([f"B: pgwarden mover, batches of {args.batch:,}", n, secs, detail])
            n, secs, detail = _pgwarden(c, args.batch)
            results.append(["C: pgwarden, partitioned by year", n, secs, detail])
    print_table(
        "Archive throughput (goal: >= 200,000 rows/s)",
        ["run", "rows archived", "seconds", "rows/s", "detail"],
        [[r[0], f"{r[1]:,}", f"{r[2]:.1f}", f"{r[1] / r[2]:,.0f}", r[3]] for r in results],
    )
    print(f"\nload after: {load()}")


if __name__ == "__main__":
    main()
