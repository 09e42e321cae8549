"""What tenancy adds to one Kitaab transaction, piece by piece: the dashboard's two
statements in sessions of their own, as the code before tenancy ran them (superuser, tenant
unsigned), signed (the MAC with ``BEGIN``, then on its own), and as the app role (policies
and privilege checks apply).

    .venv/bin/python bench/tenancy_session.py [--users N] [--sessions S]

One Kitaab database on a throwaway embedded server; one pool per variant, alive at once and
asked in alternating blocks of 100 sessions; the client and every pool's backend pinned to
CPU 0 (on two cores, placement alone moves a round trip by 0.2 ms); CPU from
``/proc/<pid>/schedstat``. A program, not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sys
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).parent))
from _common import load, machine, pgbench_tps, print_table, scratch_db, server_url
from _kitaab_calls import cpu_ns, pin
from pgwarden import Warden
from pgwarden.blueprints import kitaab
from pgwarden.blueprints.kitaab.generate import generate
from pgwarden.blueprints.kitaab.services.dashboard import LOCAL_DATE, SERIES
from pgwarden.db import Context
from pgwarden.db._session import open_session

BLOCK = 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=300)
    parser.add_argument("--sessions", type=int, default=2000, help="sessions per variant")
    args = parser.parse_args()
    os.sched_setaffinity(0, {0})
    with server_url(None) as admin, scratch_db(admin) as url:
        kitaab.install(url).close()
        generate(url, args.users, 30, demo_login=False)
        kitaab.install(url).close()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("vacuum analyze")
            first = int(conn.execute("select min(user_id) from kitaab.users").fetchone()[0])  # type: ignore[index]
        app = kitaab.app_warden(url, pool_size=1)
        key = app.tenant_key
        variants: dict[str, tuple[Warden, bool]] = {
            "superuser, tenant unsigned (Kitaab before)": (_warden(url), False),
            "superuser, tenant signed, MAC with BEGIN": (_warden(url, loaded=True), True),
            "superuser, tenant signed, MAC on its own": (_warden(url), True),
            "app role, tenant signed (policies, privilege checks)": (app, True),
        }
        pids = {name: pin(w.pool, 0) for name, (w, _) in variants.items()}
        rng = random.Random(1)
        today = dt.date.today()

        def session(warden: Warden, signed: bool) -> None:
            user = first + rng.randrange(args.users)
            context = Context(actor=f"user:{user}", tenant=str(user))
            with open_session(warden.pool, context, key if signed else None) as db:
                db.execute(LOCAL_DATE, (dt.datetime.now(dt.UTC), user)).fetchone()
                db.execute(SERIES, (user, today - dt.timedelta(days=29), today)).fetchall()

        for warden, signed in variants.values():  # caches, plans, bindings
            for _ in range(BLOCK):
                session(warden, signed)
        used = {name: [0, 0, 0] for name in variants}
        for _ in range(max(1, args.sessions // BLOCK)):
            for name, (warden, signed) in variants.items():
                started = time.process_time_ns(), cpu_ns(pids[name]), time.perf_counter_ns()
                for _ in range(BLOCK):
                    session(warden, signed)
                used[name][0] += time.process_time_ns() - started[0]
                used[name][1] += cpu_ns(pids[name]) - started[1]
                used[name][2] += time.perf_counter_ns() - started[2]
        tps = pgbench_tps(url)
        for warden, _ in variants.values():
            warden.close()
    n = max(1, args.sessions // BLOCK) * BLOCK
    print(f"\n# {machine()}; load {load()}; plain pgbench TPS {tps:,.0f} (scale 5, 2 clients)")
    base = used["superuser, tenant unsigned (Kitaab before)"]
    print_table(
        f"One dashboard session (two statements), {n:,} per variant (µs per session)",
        ["session", "client CPU", "PostgreSQL CPU", "wall", "wall above before"],
        [
            [name, *(f"{v / n / 1000:.0f}" for v in u), f"{(u[2] - base[2]) / n / 1000:+.0f}"]
            for name, u in used.items()
        ],
    )
    print(
        f"\nrerun: .venv/bin/python bench/tenancy_session.py --users {args.users} "
        f"--sessions {args.sessions}"
    )


def _warden(url: str, *, loaded: bool = False) -> Warden:
    """A superuser's Warden; ``loaded``: its backend has run the C verifier once, so it shows
    a binding and MACs go with ``BEGIN`` (policies never call it for a superuser)."""
    warden = Warden(url, spec=kitaab.declaration(), pool_size=1)
    if loaded:
        with warden.pool.connection() as conn:
            conn.execute("select warden.tenant()")
    return warden


if __name__ == "__main__":
    main()
