"""What pairing a row's move between partitions costs trigger capture: the statement trigger
``pgwarden_audit_m`` (BEFORE UPDATE OR DELETE) on an audited partitioned table, and the
rewrite of a move's DELETE event into one update.

One scratch database: a table partitioned by list into two partitions, 10,000 rows, audited
with ``capture = "trigger"``. Single-row statements, each its own transaction, in blocks that
alternate ``pgwarden_audit_m`` enabled and disabled (disabled: what capture did before, a
move recorded as a DELETE and an INSERT): an UPDATE that stays in its partition, an UPDATE
moving the row to the other partition, a DELETE (put back untimed). The client and the
backend share CPU 0 where ``taskset`` is available.

    .venv/bin/python bench/audit_partition_moves.py [--dsn URL] [--statements 3000]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).parent))
from _common import load, machine, pgbench_tps, print_table, scratch_db, server_url, server_version
from pgwarden import Warden
from pgwarden.spec import parse_spec

ROWS = 10_000
SPEC = '[tables."public.p"]\naudit = { capture = "trigger" }\n'
STATEMENTS = {
    "UPDATE within its partition": "update p set v = v + 1 where id = %(id)s",
    "UPDATE moving the row": (
        "update p set region = case region when 'eu' then 'us' else 'eu' end where id = %(id)s"
    ),
    "DELETE": "delete from p where id = %(id)s",
}


def prepare(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("create table p (id int, region text, v int, primary key (id, region))"
                     " partition by list (region)")  # fmt: skip
        conn.execute("create table p_eu partition of p for values in ('eu')")
        conn.execute("create table p_us partition of p for values in ('us')")
        conn.execute(
            "insert into p select i, case when i %% 2 = 0 then 'eu' else 'us' end, 0"
            " from generate_series(1, %s) i",
            (ROWS,),
        )
    with Warden(url, spec=parse_spec(SPEC)) as warden:
        warden.apply()


def block(conn: psycopg.Connection[object], label: str, n: int) -> list[float]:
    statement = STATEMENTS[label]
    samples = []
    for _ in range(n):
        key = random.randint(1, ROWS)
        start = time.perf_counter()
        conn.execute(statement, {"id": key})  # type: ignore[arg-type]
        conn.commit()
        samples.append(time.perf_counter() - start)
        if label == "DELETE":
            conn.execute("insert into p values (%s, 'eu', 0)", (key,))
            conn.commit()
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--dsn", help="a server to measure on (default: an embedded one)")
    parser.add_argument("--statements", type=int, default=3000, help="per statement and variant")
    args = parser.parse_args()
    random.seed(7)
    with server_url(args.dsn) as admin, scratch_db(admin) as url:
        baseline = pgbench_tps(url)
        prepare(url)
        results: dict[tuple[str, bool], list[float]] = {}
        with psycopg.connect(url) as conn:
            pid = conn.info.backend_pid
            for who in (os.getpid(), pid):
                subprocess.run(["taskset", "-pc", "0", str(who)], capture_output=True, check=False)
            per_block = 250
            for _ in range(max(1, args.statements // per_block)):
                for label in STATEMENTS:
                    for on in (True, False):
                        verb = "enable" if on else "disable"
                        conn.execute(f"alter table p {verb} trigger pgwarden_audit_m")
                        conn.commit()
                        results.setdefault((label, on), []).extend(block(conn, label, per_block))
        rows = []
        for label in STATEMENTS:
            on = statistics.median(results[(label, True)]) * 1e6
            off = statistics.median(results[(label, False)]) * 1e6
            rows.append([label, f"{off:.0f}", f"{on:.0f}", f"{on - off:+.0f}", f"{on / off:.2f}x"])
        print(
            f"{machine()}; {server_version(url)}; load {load()}; plain pgbench {baseline:,.0f} TPS"
        )
        print_table(
            "Single-row statement with commit, median µs (pgwarden_audit_m off = a move is D + I)",
            ["statement", "off", "on", "added", "ratio"],
            rows,
        )


if __name__ == "__main__":
    main()
