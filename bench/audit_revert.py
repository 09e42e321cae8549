"""Undoing a bulk transaction (``warden.revert_transaction``): time against its size.

For each size N (default 1,000, 5,000 and 20,000) and each of two audited tables of N rows,
one transaction UPDATEs every row, and ``revert_transaction`` undoes it. Two shapes of that
transaction: ``values`` (a new value in every row: put back by one UPDATE, the bulk path)
and ``keys`` (also a new key for one row in ten: a key moved, so row by row). For each:
wall time, the server backend's CPU (from /proc when the server runs here) and µs per row,
the median of ``--repeat`` runs each rolled back (the same transaction undone again). The tables:

- ``pk``: ``id int`` primary key;
- ``ck``: a composite primary key ``(region text, amount numeric, id uuid, at timestamptz)``.

A revert that looked each row up by a jsonb built from every live row read the whole table
per row (quadratic); ``--limit`` (seconds, a statement_timeout) stops such a run, shown as
``> limit``. Capture by triggers (the revert's own changes are captured too). Plain pgbench
TPS (2 clients) and the load average are printed beside: on a shared machine the wall times
follow the load.

    .venv/bin/python bench/audit_revert.py [--dsn URL] [--sizes 1000,5000,20000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).parent))
from _common import (
    cpu_seconds,
    load,
    machine,
    pgbench_tps,
    print_table,
    scratch_db,
    server_url,
    server_version,
)
from pgwarden import Warden, __version__
from pgwarden.spec import parse_spec

SPEC = "".join(f'[tables."public.{t}"]\naudit = {{ capture = "trigger" }}\n' for t in ("pk", "ck"))
TABLES = {
    "pk": (
        "create table pk (id int primary key, v int, note text)",
        "insert into pk select i, i, 'row ' || i from generate_series(1, %(n)s) i",
        {
            "values": "update pk set v = v + 1",
            "keys": "update pk set v = v + 1, id = case when id % 10 = 0 then -id else id end",
        },
    ),
    "ck": (
        "create table ck (region text, amount numeric, id uuid, at timestamptz, v int, "
        "primary key (region, amount, id, at))",
        "insert into ck select 'region ' || (i %% 7), (i %% 100) / 4.0, "
        "md5(i::text)::uuid, '2026-01-01'::timestamptz + i * interval '1 minute', i "
        "from generate_series(1, %(n)s) i",
        {
            "values": "update ck set v = v + 1",
            "keys": "update ck set v = v + 1, "
            "amount = case when v % 10 = 0 then amount + 1000 else amount end",
        },
    ),
}


def revert(conn: psycopg.Connection[Any], txid: str, limit: int) -> tuple[float, float | None]:
    """Wall and server CPU seconds of undoing ``txid``, rolled back (inf: over the limit)."""
    c0, t0 = cpu_seconds(conn.info.backend_pid), time.perf_counter()
    try:
        with conn.transaction(force_rollback=True):
            conn.execute("select set_config('statement_timeout', %s, true)", (f"{limit}s",))
            conn.execute("select count(*) from warden.revert_transaction(%s::xid8)", (txid,))
    except psycopg.errors.QueryCanceled:
        return float("inf"), None
    wall = time.perf_counter() - t0
    c1 = cpu_seconds(conn.info.backend_pid)
    return wall, (c1 - c0) if c0 is not None and c1 is not None else None


def run(url: str, sizes: list[int], shapes: list[str], repeat: int, limit: int) -> list[list[str]]:
    rows = []
    with psycopg.connect(url, autocommit=True) as conn:
        for ddl, _, _ in TABLES.values():
            conn.execute(ddl)  # type: ignore[arg-type]
        with Warden(url, spec=parse_spec(SPEC)) as warden:
            warden.apply()
        for n in sizes:
            for (table, (_, fill, changes)), shape in itertools.product(TABLES.items(), shapes):
                conn.execute(f"truncate {table}")  # type: ignore[arg-type]
                conn.execute(fill, {"n": n})  # type: ignore[arg-type]
                with conn.transaction():
                    conn.execute(changes[shape])  # type: ignore[arg-type]
                    found = conn.execute("select pg_current_xact_id()::text").fetchone()
                assert found is not None
                conn.execute(f"analyze {table}")  # type: ignore[arg-type]
                runs = []
                for _ in range(repeat):
                    runs.append(revert(conn, str(found[0]), limit))
                    if runs[-1][0] == float("inf"):
                        break
                wall = statistics.median(r[0] for r in runs)
                cpus = [r[1] for r in runs if r[1] is not None]
                if wall == float("inf"):
                    rows.append([f"{n:,}", table, shape, f"> {limit} s", "", ""])
                    continue
                used = statistics.median(cpus) if cpus else None
                rows.append(
                    [
                        f"{n:,}",
                        table,
                        shape,
                        f"{wall:.2f} s",
                        f"{used:.2f} s" if used is not None else "n/a",
                        f"{wall / n * 1e6:,.0f} µs",
                    ]
                )
                print(" | ".join(rows[-1]), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dsn", help="server to use (default: a throwaway embedded one)")
    parser.add_argument("--sizes", default="1000,5000,20000")
    parser.add_argument("--shapes", default="values,keys", help="values, keys or both")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--limit", type=int, default=300, help="seconds before giving up")
    parser.add_argument("--no-pgbench", action="store_true", help="skip the baseline")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with server_url(args.dsn) as admin:
        print(f"pgwarden {__version__}; {server_version(admin)}; {machine()}; load {load()}")
        with scratch_db(admin) as url:
            tps = None if args.no_pgbench else pgbench_tps(url)
            found = run(url, sizes, args.shapes.split(","), args.repeat, args.limit)
        print_table(
            "revert_transaction of one UPDATE of every row (median of "
            f"{args.repeat}; load {load()} at the end"
            + (f"; plain pgbench {tps:,.0f} TPS, 2 clients)" if tps is not None else ")"),
            ["rows", "table", "shape", "wall", "server CPU", "per row"],
            found,
        )


if __name__ == "__main__":
    main()
