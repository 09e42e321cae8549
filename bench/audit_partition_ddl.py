"""What audit's event trigger ``pgwarden_audit_partitions`` costs DDL under an audited
partitioned table with many partitions: it visits the table's whole partition tree on each
CREATE TABLE or ALTER TABLE below it (and looks up the ancestors of any other table).

One scratch database per capture mode on one server (``wal_level = logical``): a table
partitioned by range into N partitions, audited. Each round times, with the event trigger
enabled and then disabled (``ALTER EVENT TRIGGER ... DISABLE``), in one transaction each:
creating a partition (``CREATE TABLE ... PARTITION OF``), detaching and re-attaching one,
and an ``ALTER TABLE`` of an unrelated table.

    .venv/bin/python bench/audit_partition_ddl.py [--partitions 1000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).parent))
from _common import load, machine, print_table, scratch_db, server_url, server_version
from audit import revision
from pgwarden import Warden, __version__
from pgwarden.spec import parse_spec

TRIGGER = "pgwarden_audit_partitions"
# Each operation: its label, its statements (timed, one transaction; {n} is a fresh number)
# and what undoes it untimed (a partition made while the event trigger is disabled lacks its
# triggers: left there, the next enabled run would be charged with giving them).
OPERATIONS: list[tuple[str, list[str], list[str]]] = [
    (
        "CREATE TABLE ... PARTITION OF the audited table",
        ["create table p_new_{n} partition of p for values from ({n}) to ({n} + 1)"],
        ["drop table p_new_{n}"],
    ),
    (
        "DETACH then ATTACH one partition",
        [
            "alter table p detach partition p_1",
            "alter table p attach partition p_1 for values from (1) to (2)",
        ],
        [],
    ),
    ("ALTER TABLE of an unrelated table", ["alter table other add column c_{n} int"], []),
]


def prepare(url: str, partitions: int, capture: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("create table p (id int primary key, v text) partition by range (id)")
        conn.execute(
            sql.SQL(
                "do $$ begin for i in 0..{} loop execute format("
                "'create table p_%s partition of p for values from (%s) to (%s)', i, i, i + 1);"
                " end loop; end $$"
            ).format(sql.Literal(partitions - 1))
        )
        conn.execute("create table other (id int primary key)")
    spec = f'[tables."public.p"]\naudit = {{ capture = "{capture}" }}\n'
    with Warden(url, spec=parse_spec(spec)) as warden:
        warden.apply()


def run(url: str, statements: list[str], n: int) -> float:
    with psycopg.connect(url) as conn:
        start = time.perf_counter()
        for statement in statements:
            conn.execute(statement.replace("{n}", str(n)))  # fixed words and a number of ours
        conn.commit()
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--dsn", help="server to measure on (needs wal_level = logical)")
    parser.add_argument("--partitions", type=int, default=1000, help="partitions (1000)")
    parser.add_argument("--rounds", type=int, default=7, help="rounds (7)")
    args = parser.parse_args()
    print(f"command: `.venv/bin/python bench/audit_partition_ddl.py {' '.join(sys.argv[1:])}`")
    print(f"machine: {machine()}; load average at start {load()}")
    print(f"code: pgwarden {__version__}, {revision()}")
    rows = []
    with server_url(args.dsn, {"wal_level": "logical"}) as admin:
        print(f"server: {server_version(admin)}")
        for capture in ("trigger", "wal"):
            with scratch_db(admin) as url:
                start = time.perf_counter()
                prepare(url, args.partitions, capture)
                print(f"- {capture}: {args.partitions:,} partitions made and audited in "
                      f"{time.perf_counter() - start:.1f} s", flush=True)  # fmt: skip
                times: dict[tuple[str, bool], list[float]] = {}
                n = 10 * args.partitions
                for _ in range(args.rounds):
                    for label, statements, undo in OPERATIONS:
                        for enabled in (True, False):
                            with psycopg.connect(url, autocommit=True) as conn:
                                state = "enable" if enabled else "disable"
                                conn.execute(f"alter event trigger {TRIGGER} {state}")
                            n += 1
                            times.setdefault((label, enabled), []).append(run(url, statements, n))
                            run(url, undo, n)
                for label, _, _ in OPERATIONS:
                    on = statistics.median(times[(label, True)])
                    off = statistics.median(times[(label, False)])
                    rows.append([
                        f'{label} (capture = "{capture}")',
                        f"{off * 1000:.1f} ms",
                        f"{on * 1000:.1f} ms",
                        f"{(on - off) * 1000:+.1f} ms",
                    ])  # fmt: skip
    print_table(
        f"DDL under an audited table of {args.partitions:,} partitions, one transaction each, "
        f"median of {args.rounds}",
        ["operation", "event trigger disabled", "enabled", "it adds"],
        rows,
    )


if __name__ == "__main__":
    main()
