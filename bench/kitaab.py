"""Kitaab on pgwarden: service-level latencies with every policy on (audit, versioning, soft
delete, partitions), and entries created through the HTTP API by a load generator running in
other processes than the server.

    .venv/bin/python bench/kitaab.py [--dsn URL] [--users N] [--days D] [--samples S]
                                     [--http-seconds T] [--http-clients C]

Generates ``--users`` users with ``--days`` days of entries (COPY), then measures p50 / p95 /
p99 over ``--samples`` calls of: create an entry (UPSERT, merit check included), the 30-day
dashboard, a permission check, merit and target progress of one user. Then serves the API with
``pgwarden kitaab serve`` (uvicorn, one process) and drives it from ``--http-clients`` client
processes for ``--http-seconds``: sustained entry creations per second and their latency.
A program, not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg

from pgwarden import Warden

sys.path.insert(0, str(Path(__file__).parent))
from _common import load, machine, percentile, print_table, scratch_db, server_url, server_version
from pgwarden.blueprints import kitaab
from pgwarden.blueprints.kitaab.generate import DEMO_PASSWORD, ITEMS, generate
from pgwarden.blueprints.kitaab.services import Kitaab
from pgwarden.cli._kitaab import free_port

SEED_TARGETS = {
    "create entry": ("50 ms", "5 ms"),
    "30-day dashboard": ("200 ms", "20 ms"),
    "permission check": ("5 ms", "0.5 ms"),
    "merit + target progress (one user)": ("-", "10 ms"),
}


def sample(fn: Callable[[int], Any], n: int) -> list[float]:
    out = []
    for i in range(n):
        start = time.perf_counter()
        fn(i)
        out.append((time.perf_counter() - start) * 1000)
    return out


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
    rng = random.Random(3)
    with Warden(url, spec=kitaab.declaration(), pool_size=4) as w:
        app = Kitaab(w)
        w.pool.wait()

        def user() -> int:
            return first + rng.randrange(users)

        def item_of(uid: int, index: int) -> int:
            return (uid - first) * len(ITEMS) + first_item + index

        with w.connect() as conn:
            found = conn.execute("select min(deed_item_id) from kitaab.deed_items").fetchone()
            assert found is not None
            first_item = int(found[0])
        future = dt.date(dt.date.today().year + 1, 1, 1)

        def create(i: int) -> None:
            uid = user()
            app.entries.record(
                uid, item_of(uid, 2), future + dt.timedelta(days=i % 365), count_value=3
            )

        def dashboard(i: int) -> None:
            app.dashboard.summary(user())

        def check(i: int) -> None:
            follower = user()
            owner = first + (follower - first + 1) % users
            app.social.check(follower, item_of(owner, 2))

        def progress(i: int) -> None:
            app.progress.refresh(user())

        for fn in (create, dashboard, check, progress):  # warm caches and plans
            sample(fn, 50)
        return [
            row("create entry", sample(create, n)),
            row("30-day dashboard", sample(dashboard, n)),
            row("permission check", sample(check, n)),
            row("merit + target progress (one user)", sample(progress, n)),
        ]


def client(args: tuple[str, list[int], list[list[int]], float, int]) -> list[float]:
    """One load-generator process: log in as its users, then PUT entries until time is up."""
    base, emails_ids, items, seconds, seed = args
    rng = random.Random(seed)
    latencies: list[float] = []
    with httpx.Client(base_url=base, timeout=30) as http:
        headers = []
        with psycopg.connect(os.environ["KITAAB_BENCH_URL"]) as conn:
            for uid in emails_ids:
                found = conn.execute("select email from kitaab.users where user_id = %s", [uid])
                email = found.fetchone()
                assert email is not None
                token = http.post(
                    "/auth/login", json={"email": email[0], "password": DEMO_PASSWORD}
                ).json()["token"]
                headers.append({"Authorization": f"Bearer {token}"})
        start_day = dt.date(dt.date.today().year + 1, 1, 1)
        n = 0
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            k = rng.randrange(len(headers))
            body = {
                "deed_item_id": rng.choice(items[k]),
                "entry_date": (start_day + dt.timedelta(days=n % 365)).isoformat(),
                "count_value": rng.randint(1, 9),
            }
            t0 = time.perf_counter()
            r = http.put("/entries", json=body, headers=headers[k])
            latencies.append((time.perf_counter() - t0) * 1000)
            if r.status_code not in (200, 201):
                raise RuntimeError(r.text)
            n += 1
    return latencies


def http_load(url: str, first: int, users: int, seconds: float, clients: int) -> list[list[str]]:
    port = free_port(0)
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "pgwarden"), "--database-url", url, "kitaab",
         "serve", "--port", str(port)],
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
        jobs = []
        per = 4
        for c in range(clients):
            ids = [first + (c * per + j) % users for j in range(per)]
            items = [[(u - first) * len(ITEMS) + first_item + i for i in (2, 3, 4)] for u in ids]
            jobs.append((base, ids, items, seconds, c))
        os.environ["KITAAB_BENCH_URL"] = url
        with multiprocessing.get_context("spawn").Pool(clients) as pool:
            results = pool.map(client, jobs)
        ms = [x for r in results for x in r]
        # Logins (argon2) happen before each client's timed loop: the rate is over the loop.
        rate = len(ms) / seconds
        return [
            [
                f"PUT /entries, {clients} client processes",
                f"{len(ms):,}",
                f"{rate:,.0f}/s",
                f"{percentile(ms, 50):.1f}",
                f"{percentile(ms, 95):.1f}",
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
    parser.add_argument("--http-clients", type=int, default=4)
    args = parser.parse_args()
    with server_url(args.dsn) as admin, scratch_db(admin) as url:
        kitaab.install(url).close()
        t0 = time.monotonic()
        made = generate(url, args.users, args.days, demo_login=False)
        took = time.monotonic() - t0
        kitaab.install(url).close()  # rows of an earlier year leave the default partition
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("vacuum analyze")
        print(f"# {machine()}; {server_version(url)}; load {load()}")
        print(
            f"# generated {made.users:,} users, {made.entries:,} entries in {took:.1f}s "
            f"({made.entries / took:,.0f} entries/s, audited)"
        )
        print_table(
            f"Service level, audit on, {args.samples} calls each (ms)",
            ["operation", "p50", "p95", "p99", "goal p95", "seed p95"],
            services(url, made.users, made.first_user_id, args.samples),
        )
        print_table(
            f"HTTP API (uvicorn, one process) for {args.http_seconds:.0f}s",
            ["load", "requests", "rate", "p50 ms", "p95 ms", "goal", "seed"],
            http_load(url, made.first_user_id, made.users, args.http_seconds, args.http_clients),
        )


if __name__ == "__main__":
    main()
