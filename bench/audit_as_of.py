"""Table as of a time (``warden.as_of``) of a 1M-row table, with and without checkpoints.

One run, one database: pgbench -s 10 (1,000,000 accounts) audited with
``checkpoint_every = 200000`` changes; ten UPDATEs of 100,000 rows each (1M changes), the
checkpoint job run after each. Then ``count(*) from as_of(pgbench_accounts, T)`` at four
depths (recent, 300k, 900k and 1M later changes; the middle two halfway between two
checkpoints, the worst place), through the checkpoints and without them (the same store,
checkpoints marked incomplete), the time to take each checkpoint and what they cost on disk;
the machine's baseline (plain pgbench TPS) and load beside them. On a busy machine the wall
times follow the load; the server backend's CPU time (read from /proc when the server runs
here) is what the query itself costs.

    .venv/bin/python bench/audit_as_of.py [--dsn URL] [--repeat 3] [--quick]
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import shlex
import statistics
import sys
import time
from typing import Any

import psycopg

from _common import (
    cpu_seconds,
    load,
    machine,
    print_table,
    scratch_db,
    server_url,
    server_version,
    timed,
)
from pgwarden import Warden
from pgwarden.server import bin_path
from pgwarden.spec import parse_spec

QUERY = "select count(*) from warden.as_of(null::public.pgbench_accounts, %s)"
EVERY = 250_000


def pgbench(url: str, *args: str) -> str:
    import subprocess

    done = subprocess.run(
        [str(bin_path() / "pgbench"), *args, url], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"pgbench {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout + done.stderr


def scalar(conn: psycopg.Connection[Any], query: str, params: tuple[Any, ...] = ()) -> Any:
    row = conn.execute(query, params).fetchone()
    return row[0] if row else None


def timed_cpu(
    conn: psycopg.Connection[Any], query: str, params: tuple[Any, ...], repeat: int
) -> tuple[float, float | None]:
    """Median wall and server CPU seconds of ``query``."""
    walls, cpus = [], []
    for _ in range(repeat):
        c0, t0 = cpu_seconds(conn.info.backend_pid), time.perf_counter()
        conn.execute(query, params)
        walls.append(time.perf_counter() - t0)
        c1 = cpu_seconds(conn.info.backend_pid)
        if c0 is not None and c1 is not None:
            cpus.append(c1 - c0)
    return statistics.median(walls), statistics.median(cpus) if cpus else None


def both(wall: float, used: float | None) -> str:
    return f"{wall:.2f} s" + (f" (CPU {used:.2f} s)" if used is not None else "")


def mb(n: int) -> str:
    return f"{n / 2**20:,.0f} MB"


def baseline(url: str, seconds: int) -> float:
    """Plain TPC-B TPS (4 clients) before audit: the machine's speed at the time."""
    out = pgbench(url, "-n", "-c", "4", "-j", "2", "-T", str(seconds))
    found = re.search(r"tps = ([\d.]+)", out)
    return float(found.group(1)) if found else 0.0


def _changes(conn: psycopg.Connection[Any], table_id: int, at: dt.datetime, side: str) -> int:
    """Changes of the table between ``at`` and the checkpoint just before (or after) it; the
    live table stands after the last one, nothing before the first."""
    if side == "before":
        bound = scalar(
            conn,
            "select max(at) from warden.audit_checkpoints where table_id = %s and at <= %s",
            (table_id, at),
        )
        if bound is None:
            return 2**62
        lo, hi = bound, at
    else:
        lo = at
        hi = scalar(
            conn,
            "select min(at) from warden.audit_checkpoints where table_id = %s and at > %s",
            (table_id, at),
        )
    return int(
        scalar(
            conn,
            "select count(*) from warden.audit_events_all where table_id = %s "
            "and at > %s and at <= coalesce(%s::timestamptz, 'infinity')",
            (table_id, lo, hi),
        )
    )


def measure(url: str, rows: int, repeat: int) -> None:
    step = rows // 10
    spec = parse_spec(
        f'[tables."public.pgbench_accounts"]\naudit = {{ checkpoint_every = {rows // 5} }}\n'
    )
    takes: list[float] = []
    with Warden(url, spec=spec) as warden, psycopg.connect(url, autocommit=True) as conn:
        warden.apply()

        def checkpoints() -> None:
            for r in warden.maintain(names=["audit-checkpoint"]):
                if r.rows:
                    takes.append(r.seconds)

        marks: dict[int, dt.datetime] = {0: scalar(conn, "select clock_timestamp()")}
        checkpoints()
        update_s = []
        for i in range(10):
            stmt = (
                "update pgbench_accounts set abalance = abalance + 1 "
                f"where aid > {i * step} and aid <= {(i + 1) * step}"
            )
            update_s.append(timed(lambda s=stmt: conn.execute(s)))
            marks[i + 1] = scalar(conn, "select clock_timestamp()")
            checkpoints()
        conn.execute("vacuum analyze pgbench_accounts")
        conn.execute("vacuum analyze warden.audit_events")
        later = {"recent": 10, **{f"{n * step:,} later changes": 10 - n for n in (3, 9, 10)}}
        depths = list(later.items())
        table_id = scalar(conn, "select warden.audit_table_id('public.pgbench_accounts')")
        out = []
        plain = both(*timed_cpu(conn, "select count(*) from pgbench_accounts", (), 3))
        out.append(["plain count(*) from pgbench_accounts", plain, "", "", ""])
        for label, mark in depths:
            at = marks[mark]
            # What as_of reads: the changes between T and the nearer checkpoint (by count).
            read = min(_changes(conn, table_id, at, side) for side in ("before", "after"))
            times = {}
            for on in (False, True):
                conn.execute("update warden.audit_checkpoints set complete = %s", (on,))
                times[on] = both(*timed_cpu(conn, QUERY, (at,), repeat))
            out.append(
                [
                    f"as_of, {label}",
                    times[False],
                    times[True],
                    f"{10 * step - mark * step:,}",
                    f"{read:,}",
                ]
            )
        count, ck_rows, ck_bytes = conn.execute(
            "select count(*), sum(rows), sum(bytes) from warden.audit_checkpoints"
        ).fetchone() or (0, 0, 0)
        table = scalar(conn, "select pg_total_relation_size('pgbench_accounts')")
        fresh = scalar(conn, "select pg_relation_size('pgbench_accounts')")
        store = scalar(
            conn,
            "select sum(pg_total_relation_size(relid)) from "
            "pg_partition_tree('warden.audit_events')",
        )
    print_table(
        f"as_of of {rows:,} rows (median of {repeat}); checkpoints every {rows // 5:,} changes",
        ["measure", "without checkpoints", "with checkpoints", "later changes",
         "changes read with"],
        out,
    )  # fmt: skip
    print_table(
        "checkpoints (job audit-checkpoint run after each UPDATE)",
        ["measure", "value"],
        [
            [
                f"UPDATE of {rows // 10:,} rows, median of 10",
                f"{statistics.median(update_s):.2f} s",
            ],
            [
                f"time to take a checkpoint ({len(takes)} taken)",
                ", ".join(f"{t:.2f} s" for t in takes),
            ],
            ["checkpoints kept", f"{count} ({ck_rows:,} rows)"],
            ["their size (table + TOAST)", f"{mb(ck_bytes)}, {mb(ck_bytes // max(count, 1))} each"],
            ["pgbench_accounts (total; heap after the updates)", f"{mb(table)}; {mb(fresh)}"],
            [f"audit event store ({rows:,} changes, with indexes)", mb(store)],
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--dsn", help="server to measure on (default: a throwaway embedded one)")
    parser.add_argument("--repeat", type=int, default=3, help="as_of calls per cell (median)")
    parser.add_argument("--quick", action="store_true", help="100,000 rows: a smoke test")
    args = parser.parse_args()
    scale = 1 if args.quick else 10
    started = time.perf_counter()
    print(f"command: `{shlex.join(['.venv/bin/python', 'bench/audit_as_of.py', *sys.argv[1:]])}`")
    print(f"machine: {machine()}; load average at start {load()}")
    with server_url(args.dsn) as admin, scratch_db(admin) as url:
        print(f"server: {server_version(admin)}")
        pgbench(url, "-i", "-q", "-s", str(scale))
        tps = baseline(url, 5 if args.quick else 20)
        pgbench(url, "-i", "-q", "-s", str(scale))
        print(f"baseline: plain pgbench TPC-B, 4 clients, no audit: {tps:,.0f} TPS")
        measure(url, scale * 100_000, args.repeat)
    print(f"\nload average at end {load()}; total run {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
