"""Kitaab on pgwarden: service-level latencies with every policy on (audit, versioning, soft
delete, partitions), and entries created through the HTTP API by a load generator running in
other processes than the server.

    .venv/bin/python bench/kitaab.py [--dsn URL] [--users N] [--days D] [--samples S]
                                     [--http-seconds T] [--http-clients C] [--dashboard-view]

Generates ``--users`` users with ``--days`` days of entries (COPY), then measures p50 / p95 /
p99 over ``--samples`` calls of: create an entry (UPSERT, merit check included), the 30-day
dashboard, a permission check, merit and target progress of one user. Then serves the API with
``pgwarden kitaab serve`` (uvicorn, one process) and drives it from ``--http-clients`` client
processes for ``--http-seconds``: sustained entry creations per second and their latency.
A program, not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import random
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).parent))
from _common import (
    Cpu,
    children_cpu,
    database_backends,
    load,
    machine,
    percentile,
    print_table,
    process_tree,
    run_http_load,
    scratch_db,
    server_url,
    server_version,
)
from _kitaab_calls import operations, timed
from pgwarden.blueprints import kitaab
from pgwarden.blueprints.kitaab._cli import free_port
from pgwarden.blueprints.kitaab.generate import DEMO_PASSWORD, ITEMS, generate
from pgwarden.blueprints.kitaab.services import Kitaab

WARMUP_SECONDS = 3
"""Load before each measured HTTP run, not counted."""

SEED_TARGETS = {
    "create entry": ("50 ms", "5 ms"),
    "30-day dashboard": ("200 ms", "20 ms"),
    "permission check": ("5 ms", "0.5 ms"),
    "merit + target progress (one user)": ("-", "10 ms"),
}


def row(name: str, ms: list[float]) -> list[str]:
    seed, goal = SEED_TARGETS[name]
    return [
        name,
        f"{percentile(ms, 50):.2f}",
        f"{percentile(ms, 95):.2f}",
        f"{percentile(ms, 99):.2f}",
        goal,
        seed,
    ]


def services(url: str, users: int, first: int, n: int) -> list[list[str]]:
    # As the API connects: the app role, under the entries' row policies, tenants signed.
    with kitaab.app_warden(url, pool_size=4) as w, w.connect() as conn:
        w.pool.wait()
        calls = operations(Kitaab(w), conn, first, users)
        for fn in calls.values():  # warm caches and plans
            timed(fn, 50)
        return [row(name, timed(fn, n)) for name, fn in calls.items()]


def http_load(
    url: str, first: int, users: int, seconds: float, connections: int, workers: int
) -> list[list[str]]:
    port = free_port(0)
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "pgwarden"), "--database-url", url, "kitaab",
         "serve", "--port", str(port)] + (["--workers", str(workers)] if workers > 1 else []),
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the API did not start")
            time.sleep(0.2)
        with psycopg.connect(url) as conn:
            found = conn.execute("select min(deed_item_id) from kitaab.deed_items").fetchone()
            assert found is not None
            first_item = int(found[0])
            ids = [first + (k * 7919) % users for k in range(4 * connections)]
            emails = dict(
                conn.execute(
                    "select user_id, email from kitaab.users where user_id = any(%s)", [ids]
                ).fetchall()
            )
        # Logins (argon2) happen before the timed run: the rate is over PUT /entries only.
        tokens = {
            uid: httpx.post(
                f"{base}/auth/login", json={"email": emails[uid], "password": DEMO_PASSWORD}
            ).json()["token"]
            for uid in ids
        }
        rng = random.Random(7)
        start_day = dt.date(dt.date.today().year + 1, 1, 1)
        requests = []
        for n in range(20_000):
            uid = ids[n % len(ids)]
            item = (uid - first) * len(ITEMS) + first_item + rng.choice((2, 3, 4))
            body = {
                "deed_item_id": item,
                "entry_date": (start_day + dt.timedelta(days=rng.randrange(365))).isoformat(),
                "count_value": rng.randint(1, 9),
            }
            headers = {
                "Authorization": f"Bearer {tokens[uid]}",
                "Content-Type": "application/json",
            }
            requests.append(["PUT", "/entries", headers, json.dumps(body)])
        # Unmeasured first: the pools open their connections and each backend warms its
        # caches and prepares its statements (tens of ms each under row-level security),
        # which in a short run would be counted against the steady state.
        run_http_load(port, requests, WARMUP_SECONDS, connections)
        # CPU per request of each side (robust to a busy machine where the rate is not):
        # the server's processes, the database's backends, the load generator.
        cpu = Cpu(
            {"server": lambda: process_tree(server.pid), "postgres": lambda: database_backends(url)}
        )
        cpu.start()
        client = children_cpu()
        result = run_http_load(port, requests, seconds, connections)
        client_cpu = children_cpu() - client
        used = cpu.stop()
        serving_cpu, backends_cpu = used["server"], used["postgres"]
        bad = {k: v for k, v in result["statuses"].items() if k not in ("200", "201")}
        if bad:
            raise RuntimeError(f"the API answered {bad}")
        ms = result["latencies_ms"]
        rate = len(ms) / result["seconds"]
        per = 1000 / max(len(ms), 1)
        return [
            [
                f"PUT /entries, {connections} connections, {workers} server process(es)",
                f"{len(ms):,}",
                f"{rate:,.0f}/s",
                f"{percentile(ms, 50):.1f}",
                f"{percentile(ms, 95):.1f}",
                f"{serving_cpu * per:.2f}",
                f"{backends_cpu * per:.2f}",
                f"{client_cpu * per:.2f}",
                "≥ 1,000/s, p95 < 50 ms",
                "10,000/min",
            ]
        ]
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dsn", help="server to measure on (default: an embedded one)")
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--http-seconds", type=float, default=15)
    parser.add_argument("--http-connections", type=int, default=16)
    parser.add_argument(
        "--workers", default="1,2", help="server processes to measure, comma-separated"
    )
    parser.add_argument(
        "--reuse", metavar="URL", help="measure an already generated database (skips generating)"
    )
    parser.add_argument(
        "--dashboard-view",
        action="store_true",
        help="also the dashboard from a declared materialized view (_kitaab_view.py)",
    )
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        if args.reuse:
            url = args.reuse
            with psycopg.connect(url) as conn:
                row = conn.execute("select min(user_id), count(*) from kitaab.users").fetchone()
            assert row is not None
            first, users = int(row[0]), int(row[1])
        else:
            admin = stack.enter_context(server_url(args.dsn))
            url = stack.enter_context(scratch_db(admin))
            kitaab.install(url).close()
            t0 = time.monotonic()
            made = generate(url, args.users, args.days, demo_login=False)
            took = time.monotonic() - t0
            kitaab.install(url).close()  # rows of an earlier year leave the default partition
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("vacuum analyze")
            first, users = made.first_user_id, made.users
            print(
                f"# generated {made.users:,} users, {made.entries:,} entries in {took:.1f}s "
                f"({made.entries / took:,.0f} entries/s, audited)"
            )
        print(f"# {machine()}; {server_version(url)}; load {load()}")
        if args.samples:
            print_table(
                f"Service level, audit on, {args.samples} calls each (ms)",
                ["operation", "p50", "p95", "p99", "goal p95", "seed p95"],
                services(url, users, first, args.samples),
            )
        if args.dashboard_view:
            import _kitaab_view

            print_table(
                f"30-day dashboard live vs from a materialized view, {args.samples} calls (ms)",
                ["read", "p50", "p95", "view build ms", "REFRESH CONCURRENTLY ms"],
                _kitaab_view.compare(url, users, first, args.samples),
            )
        rows = [
            row
            for workers in (int(w) for w in args.workers.split(","))
            for row in http_load(
                url, first, users, args.http_seconds, args.http_connections, workers
            )
        ]
        print_table(
            f"HTTP API (uvicorn), load generator in another process, {args.http_seconds:.0f}s each",
            [
                "load",
                "requests",
                "rate",
                "p50 ms",
                "p95 ms",
                "server CPU ms/req",
                "PostgreSQL CPU ms/req",
                "load generator CPU ms/req",
                "goal",
                "seed",
            ],
            rows,
        )


if __name__ == "__main__":
    main()
