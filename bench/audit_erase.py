"""Erasing one row's personal data from a large history (``warden.audit_erase``): time
against the store's size, and the plan's proof that it reads the store by its key indexes.

One audited table (trigger capture) of ``--rows`` rows, each updated ``--versions`` times
(``--rows`` x (``--versions`` + 1) events), half of them moved to the archive store. Then,
``--erasures`` times, one row's email is erased (each erasure its own transaction): median
and p95 wall time, with plain pgbench TPS beside.

    .venv/bin/python bench/audit_erase.py [--dsn URL] [--rows 100000] [--versions 9]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).parent))
from _common import (
    load,
    machine,
    percentile,
    pgbench_tps,
    print_table,
    scratch_db,
    server_url,
    server_version,
)
from pgwarden import Warden
from pgwarden.spec import parse_spec

SPEC = '[tables."public.users"]\naudit = { capture = "trigger", archive_after = "1 day" }\n'


def fill(url: str, rows: int, versions: int) -> Warden:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("create table users (id int primary key, email text, plan int)")
    warden = Warden(url, spec=parse_spec(SPEC))
    warden.apply()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "insert into users select i, 'user' || i || '@example.org', 0"
            " from generate_series(1, %s) i",
            (rows,),
        )
        for v in range(versions):
            conn.execute("update users set plan = %s", (v + 1,))
            if v == versions // 2:  # the older half to the archive
                warden.maintain(
                    now=dt.datetime.now(dt.UTC) + dt.timedelta(days=2), names=["audit-archive"]
                )
        conn.execute("analyze warden.audit_events, warden.audit_events_archive")
    return warden


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dsn", help="server to use (default: a throwaway embedded one)")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--versions", type=int, default=9)
    parser.add_argument("--erasures", type=int, default=30)
    args = parser.parse_args()
    with server_url(args.dsn) as admin, scratch_db(admin) as url:
        tps = pgbench_tps(url)
        start = time.perf_counter()
        warden = fill(url, args.rows, args.versions)
        filled = time.perf_counter() - start
        with psycopg.connect(url, autocommit=True) as conn:
            hot, archived = conn.execute(
                "select (select count(*) from warden.audit_events),"
                " (select count(*) from warden.audit_events_archive)"
            ).fetchone() or (0, 0)
            tid = conn.execute("select warden.audit_table_id('public.users')").fetchone()
            with conn.transaction(force_rollback=True):  # the plans of one erasure's rewrites
                plan = "\n".join(
                    r[0]
                    for store in ("audit_events", "audit_events_archive")
                    for r in conn.execute(
                        f"explain (analyze, costs off, timing off, summary off)"
                        f" update warden.{store} e set new_row = new_row - 'email'"
                        " where e.table_id = %s and e.old_key is not null"
                        " and e.old_key = any (array['[5]'::jsonb])",
                        tid,
                    )
                )
            times = []
            for key in random.Random(3).sample(range(1, args.rows + 1), args.erasures):
                t0 = time.perf_counter()
                erased = conn.execute(
                    "select events from warden.audit_erase('public.users', %s, '{email}')",
                    (f"[{key}]",),
                ).fetchone()
                times.append(time.perf_counter() - t0)
                assert erased == (args.versions + 1,), erased
        warden.close()
        print(f"{machine()}; {server_version(url)}; load {load()}; plain pgbench {tps:,.0f} TPS")
        print(f"store: {hot:,} hot + {archived:,} archived events (made in {filled:.0f} s)")
        print("plans of the rewrites by old_key (the key-moved events), hot and archived:\n" + plan)
        print_table(
            f"one row's email erased, {args.erasures} erasures",
            ["events per row", "median", "p95", "max"],
            [
                [
                    str(args.versions + 1),
                    f"{statistics.median(times) * 1e3:.1f} ms",
                    f"{percentile(times, 95) * 1e3:.1f} ms",
                    f"{max(times) * 1e3:.1f} ms",
                ]
            ],
        )


if __name__ == "__main__":
    main()
