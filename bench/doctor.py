"""``pgwarden doctor`` and ``monitor-snapshot`` at scale: a full doctor run and one snapshot on
databases of 100 / 1,000 / 2,000 tables (3 indexes each: 6,000 at 2,000) and with 1k / 5k
statements in pg_stat_statements; the history's storage per day at a 5-minute interval; the
memory of ``pgwarden top``'s data layer and of the snapshot job over many iterations.

Targets (issue 17): a full doctor <= 1 s at 2,000 tables / 6,000 indexes; a snapshot <= 200 ms.

    .venv/bin/python bench/doctor.py                   # embedded PostgreSQL 18
    .venv/bin/python bench/doctor.py --dsn postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).parent))
from _common import (
    load,
    machine,
    pgbench_tps,
    print_table,
    scratch_db,
    server_url,
    server_version,
    timed,
)
from pgwarden import Warden
from pgwarden.spec import parse_spec

SNAPSHOTS = 5  # snapshots timed per size (the first, which creates the store, is not)


def make_tables(url: str, n: int) -> None:
    """``n`` tables with a primary key and two more indexes; every 10th has a foreign key to
    the one before (unindexed: findings to report)."""
    with psycopg.connect(url, autocommit=True) as conn:
        for first in range(1, n + 1, 100):  # 100 tables per transaction: lock table size
            conn.execute(
                """
            do $$ begin
              for i in FIRST..LAST loop
                execute format('create table t_%s (id int primary key, a int, b int, c text%s)',
                  i, case when i % 10 = 0
                          then format(', p int references t_%s', i - 1) else '' end);
                execute format('create index t_%s_a on t_%s (a)', i, i);
                execute format('create index t_%s_bc on t_%s (b, c)', i, i);
                execute format('insert into t_%s (id, a, b, c) select g, g, g, ''x'' '
                               'from generate_series(1, 20) g', i);
              end loop;
            end $$
            """.replace("FIRST", str(first)).replace("LAST", str(min(n, first + 99)))
            )
        conn.execute("analyze")


def make_statements(url: str, tables: int, count: int) -> int:
    """Run ``count`` distinct statement shapes (3 per table) so pg_stat_statements holds
    about that many entries for this database."""
    shapes = [
        "select a from t_{} where id = 1",
        "select count(*) from t_{} where b = 2",
        "select c from t_{} where a > 3 order by b limit 1",
    ]
    done = 0
    with psycopg.connect(url, autocommit=True) as conn:
        for shape in shapes:
            for i in range(1, tables + 1):
                if done >= count:
                    return done
                conn.execute(shape.format(i))  # type: ignore[arg-type]
                done += 1
    return done


def touch(url: str, tables: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for i in range(1, tables + 1, 10):
            conn.execute(f"update t_{i} set a = a + 1 where id = 1")  # type: ignore[arg-type]
        conn.execute("select pg_stat_force_next_flush()")


def store_bytes(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "select coalesce(sum(pg_total_relation_size(c.oid)), 0) from pg_class c "
            "join pg_namespace n on n.oid = c.relnamespace "
            # history only (the day partitions); the monitor_last_* state tables hold one row
            # per object whatever the number of snapshots
            "where n.nspname = 'warden' and c.relname like 'monitor\\_%' and c.relispartition"
        ).fetchone()
    return int(row[0]) if row else 0


def rss_kb() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def measure(admin: str, tables: int, statements: int) -> list[str]:
    with scratch_db(admin) as url:
        make_tables(url, tables)
        with psycopg.connect(url, autocommit=True) as conn:
            has = conn.execute(
                "select 1 from pg_available_extensions where name = 'pg_stat_statements'"
            ).fetchone()
            preload = conn.execute("show shared_preload_libraries").fetchone()
            if has and preload and "pg_stat_statements" in str(preload[0]):
                conn.execute("create extension if not exists pg_stat_statements")
        ran = make_statements(url, tables, statements) if statements else 0
        with Warden(url, spec=parse_spec("[monitor]\n", file="pgwarden.toml")) as warden:
            report = warden.monitor.doctor()
            doctor = timed(warden.monitor.doctor, repeat=3)
            warden.monitor.snapshot()  # creates the store and its partitions
            first = store_bytes(url)
            samples = []
            for _ in range(SNAPSHOTS):
                # Activity between snapshots, so each stores deltas: every statement runs
                # again and a tenth of the tables are written.
                make_statements(url, tables, statements)
                touch(url, tables)
                started = time.perf_counter()
                warden.monitor.snapshot()
                samples.append(time.perf_counter() - started)
            snap = statistics.median(samples)
            per_snapshot = (store_bytes(url) - first) / SNAPSHOTS
        return [
            f"{tables:,}",
            f"{tables * 3:,}",
            f"{ran:,}",
            f"{doctor * 1000:,.0f} ms",
            str(len(report.findings)),
            f"{snap * 1000:,.0f} ms",
            f"{per_snapshot / 1024:,.0f} kB",
            f"{per_snapshot * 288 / 1024 / 1024:,.1f} MB",
        ]


def memory(admin: str) -> list[list[str]]:
    """Client RSS over an hour of ``pgwarden top`` (3,600 refreshes), a day of snapshots at a
    5-minute interval (288) and 100 doctor runs, after 20 warm-up calls each."""
    rows = []
    with scratch_db(admin) as url:
        make_tables(url, 100)
        with Warden(url, spec=parse_spec("[monitor]\n", file="pgwarden.toml")) as warden:
            for what, fn, iterations in (
                ("top: activity()", warden.monitor.activity, 3600),
                ("monitor-snapshot", warden.monitor.snapshot, 288),
                ("doctor", warden.monitor.doctor, 100),
            ):
                for _ in range(20):  # warm: imports, pool, caches
                    fn()
                start = rss_kb()
                half = 0
                for i in range(iterations):
                    fn()
                    if i == iterations // 2:
                        half = rss_kb()
                end = rss_kb()
                rows.append([what, f"{iterations:,}", f"{start / 1024:.1f} MB",
                             f"{half / 1024:.1f} MB", f"{end / 1024:.1f} MB"])  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dsn", help="server to measure on (default: an embedded one)")
    parser.add_argument("--sizes", default="100,1000,2000")
    parser.add_argument("--statements", default="1000,5000")
    args = parser.parse_args()
    settings = {"shared_preload_libraries": "pg_stat_statements"} if not args.dsn else None
    with server_url(args.dsn, settings) as admin:
        print(f"{server_version(admin)}; {machine()}; load {load()}")
        with scratch_db(admin) as url:
            tps = pgbench_tps(url, scale=1, seconds=10)
            print(f"pgbench baseline (scale 1, 2 clients, 10 s): {tps:,.0f} TPS")
        rows = [measure(admin, int(n), 0) for n in args.sizes.split(",")]
        biggest = int(args.sizes.split(",")[-1])
        rows += [measure(admin, biggest, int(s)) for s in args.statements.split(",")]
        print_table(
            "Full doctor run (median of 3) and one snapshot (median of 5, each after every "
            "statement ran again and a tenth of the tables were written)",
            ["tables", "indexes", "statements", "doctor", "findings", "snapshot",
             "per snapshot", "per day (5 min)"],
            rows,
        )  # fmt: skip
        print_table(
            "Client memory (RSS)",
            ["what", "iterations", "start", "half-way", "end"],
            memory(admin),
        )
    print(f"\npid {os.getpid()} done")


if __name__ == "__main__":
    main()
