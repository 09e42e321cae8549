"""Reads on a streaming replica: throughput primary-only vs primary + one replica, what
routing costs per transaction, what the commit's WAL position costs a write, and how long a
read after a write waits for the replica to replay it.

    .venv/bin/python bench/replicas.py [--seconds S] [--clients C] [--iterations N]

A throwaway primary and streaming standby (pgwarden.testing.standby_pair, the embedded
PostgreSQL 18 binaries) on this machine: the standby shares its cores with the primary and
the client, so "primary + replica" cannot add CPU here; on two hosts it would. pgbench's
tables (scale 5) hold the data. Variants alternate in blocks, medians reported. A program,
not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _common import load, machine, percentile, pgbench_tps, print_table, server_version
from pgwarden import Warden
from pgwarden.db import Session
from pgwarden.server import bin_path
from pgwarden.spec import parse_spec
from pgwarden.testing import standby_pair

ACCOUNTS = 500_000
READ = "select abalance from pgbench_accounts where aid = %s"
WRITE = "update pgbench_accounts set abalance = abalance + 1 where aid = %s"


def _read(session: Session) -> Any:
    return session.execute(READ, (random.randint(1, ACCOUNTS),)).fetchone()


def throughput(warden: Warden, clients: int, seconds: float) -> tuple[float, Counter[str]]:
    """Read-only transactions per second of ``clients`` threads through ``warden.read``."""
    done: Counter[str] = Counter()
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client() -> None:
        mine: Counter[str] = Counter()
        while time.monotonic() < stop:
            mine[warden.read(lambda s: (_read(s), s.server)[1])] += 1
        with lock:
            done.update(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done.values()) / seconds, done


def per_transaction(
    variants: dict[str, Callable[[], Any]], n: int
) -> dict[str, tuple[float, float]]:
    """Median wall time and client CPU of this thread (µs) of each variant's transaction, in
    alternating blocks of 200, each round starting with the next variant (whichever runs
    first after another measured 100-200 µs slower on these busy cores)."""
    wall: dict[str, list[float]] = {name: [] for name in variants}
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    order = list(variants.items())
    for block in range(max(n // 200, 1)):
        for name, run in order[block % len(order) :] + order[: block % len(order)]:
            start, used = time.perf_counter(), time.thread_time()
            for _ in range(200):
                run()
            wall[name].append((time.perf_counter() - start) / 200 * 1e6)
            cpu[name].append((time.thread_time() - used) / 200 * 1e6)
    return {name: (statistics.median(wall[name]), statistics.median(cpu[name])) for name in wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per throughput run")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--iterations", type=int, default=4000, help="per overhead variant")
    args = parser.parse_args()
    with standby_pair(bin_path()) as pair:
        primary, standby = pair.primary_url(), pair.standby_url()
        baseline = pgbench_tps(primary, scale=5, seconds=10)
        with pair.primary_conn() as conn:
            conn.execute("vacuum analyze pgbench_accounts")
        pair.caught_up()
        spec = parse_spec('[database]\nmax_lag = "5s"\n')
        routed = Warden(primary, spec=spec, replicas=[standby], pool_size=args.clients)
        alone = Warden(primary, spec=spec, pool_size=args.clients)
        # One connection per pool for the sequential figures: the same backend each time, as
        # the plain pool's.
        routed_one = Warden(primary, spec=spec, replicas=[standby], pool_size=1)
        alone_one = Warden(primary, spec=spec, pool_size=1)
        try:
            _throughput_table(routed, alone, args)
            _overhead_table(routed_one, alone_one, standby, args.iterations)
            _ryw_table(routed_one, primary)
        finally:
            for warden in (routed, alone, routed_one, alone_one):
                warden.close()
        print(
            f"\n{machine()}; {server_version(primary)}; load {load()};"
            f" pgbench baseline (2 clients, scale 5, primary): {baseline:.0f} TPS"
        )


def _throughput_table(routed: Warden, alone: Warden, args: argparse.Namespace) -> None:
    rows: dict[str, list[float]] = {"primary only": [], "primary + 1 replica": []}
    where: Counter[str] = Counter()
    for _ in range(2):
        rows["primary only"].append(throughput(alone, args.clients, args.seconds)[0])
        tps, served = throughput(routed, args.clients, args.seconds)
        rows["primary + 1 replica"].append(tps)
        where.update(served)
    on_replica = sum(v for k, v in where.items() if k != "primary") / max(sum(where.values()), 1)
    print_table(
        f"Read-only transactions per second ({args.clients} client threads, one point read"
        f" each, warden.read; 2 runs of {args.seconds:g} s, alternating)",
        ["variant", "TPS (runs)", "served by the replica"],
        [
            ["primary only", " / ".join(f"{v:.0f}" for v in rows["primary only"]), "0 %"],
            [
                "primary + 1 replica",
                " / ".join(f"{v:.0f}" for v in rows["primary + 1 replica"]),
                f"{on_replica:.0%}",
            ],
        ],
    )


def _overhead_table(routed: Warden, alone: Warden, standby: str, n: int) -> None:
    direct = Warden(standby, pool_size=1)  # the replica's URL as the Warden's own: no routing
    try:

        def session(warden: Warden, statement: str, **kw: Any) -> Callable[[], None]:
            def run() -> None:
                with warden.session(actor="bench", **kw) as s:
                    s.execute(statement, (random.randint(1, ACCOUNTS),))

            return run

        reads = per_transaction(
            {
                "read, routed: session(readonly=True) -> replica": session(
                    routed, READ, readonly=True
                ),
                "read, a Warden on the replica's URL: session()": session(direct, READ),
            },
            n,
        )
        on_primary = per_transaction(
            {
                "read on the primary: session(readonly=True) (SET ... READ ONLY)": session(
                    alone, READ, readonly=True
                ),
                "read on the primary: session()": session(alone, READ),
            },
            n,
        )
        writes = per_transaction(
            {
                "write, replicas configured (COMMIT; SELECT insert LSN)": session(routed, WRITE),
                "write, no replicas (COMMIT)": session(alone, WRITE),
            },
            n,
        )
        replicas = routed.replicas
        assert replicas is not None
        start = time.perf_counter()
        for _ in range(100_000):
            replicas.candidates(None)
        choose = (time.perf_counter() - start) / 100_000 * 1e6
    finally:
        direct.close()
    rows = []
    for found in (reads, on_primary, writes):
        (name, (w, c)), (base_name, (bw, bc)) = found.items()
        rows += [
            [name, f"{w:.0f}", f"{w - bw:+.0f}", f"{c:.0f}", f"{c - bc:+.0f}"],
            [base_name, f"{bw:.0f}", "", f"{bc:.0f}", ""],
        ]
    print_table(
        "Per transaction, one client, sequential (median of blocks of 200, the variants"
        " of a pair alternating; a session with its context and one statement). Choosing a"
        f" replica alone: {choose:.2f} µs",
        ["transaction", "wall µs", "difference", "client CPU µs", "difference"],
        rows,
    )


def _ryw_table(routed: Warden, primary: str) -> None:
    rows = []
    for load_name, writers in (("idle primary", 0), ("pgbench writing (2 clients)", 2)):
        background = None
        if writers:
            background = subprocess.Popen(
                [bin_path() / "pgbench", "-T", "60", "-c", str(writers), "-N", primary],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(1)
        try:
            waits: list[float] = []
            plain: list[float] = []
            served: Counter[str] = Counter()
            for _ in range(500):
                with routed.session(actor="bench") as w:
                    w.execute(WRITE, (random.randint(1, ACCOUNTS),))
                start = time.perf_counter()
                with routed.session(readonly=True, after=w.commit_lsn) as r:
                    waits.append((time.perf_counter() - start) * 1000)
                    served["replica" if r.server != "primary" else "primary"] += 1
                start = time.perf_counter()
                with routed.session(readonly=True) as r:
                    plain.append((time.perf_counter() - start) * 1000)
        finally:
            if background is not None:
                background.terminate()
                background.wait()
        rows.append(
            [
                load_name,
                f"{statistics.median(plain):.2f}",
                f"{statistics.median(waits):.2f}",
                f"{percentile(waits, 95):.2f}",
                f"{max(waits):.2f}",
                f"{served['replica'] / 5:.0f} %",
            ]
        )
    print_table(
        "Read your writes: opening a read session right after a write (after=commit_lsn),"
        " 500 times; ms to the first statement of the user's",
        ["primary load", "open, no after (p50)", "p50", "p95", "max", "on the replica"],
        rows,
    )


if __name__ == "__main__":
    main()
