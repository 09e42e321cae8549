"""What trigger capture costs the writing backend, in CPU time per TPC-B transaction.

The TPC-B-like transaction runs in a loop inside the server (bench/audit_writer_cpu.py's
procedure: one COMMIT per transaction, ``synchronous_commit = off``, no client round trips),
and what is timed is the CPU the backend itself used (``/proc/<pid>/stat``: the server must
run on this machine), not the wall clock: on a machine shared with other work, the wall clock
measures the other work too.

One scratch database per variant, each ``pgbench -i``: A = no audit; 2ndq = 2ndQuadrant's
audit trigger (with ``--anchors DIR``, see bench/_audit_anchors.py); T0 = trigger capture as
applied by another checkout (``--before SRC``: its src/ directory); Tp = trigger capture with
its context and statements in PL/pgSQL (as on a server without extension pgwarden_wal); T =
trigger capture as planned here (context and statements in C where the server has the
extension, 1.2). Rounds
alternate between them; the table gives the median and what capture adds.

    .venv/bin/python bench/audit_trigger_cpu.py [--anchors DIR] [--before SRC]
        [--transactions 3000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).parent))
from _audit_anchors import available, install
from _audit_sustained import apply_with, plpgsql_context, spec_text
from _common import cpu_seconds, load, machine, print_table, scratch_db, server_url, server_version
from audit import pgbench, revision
from audit_writer_cpu import PROCEDURE
from pgwarden import Warden, __version__
from pgwarden.spec import parse_spec


def cpu_per_transaction(url: str, n: int) -> float:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("set synchronous_commit = off")
        conn.execute("checkpoint")
        row = conn.execute("select pg_backend_pid()").fetchone()
        assert row is not None
        start = cpu_seconds(int(row[0]))
        conn.execute("call bench_tpcb(%s)", (n,))
        return (cpu_seconds(int(row[0])) - start) / n


def prepare(key: str, url: str, anchors: Path | None, before: Path | None) -> None:
    pgbench(url, "-i", "-q", "-s", "10")
    if key == "2ndq":
        assert anchors is not None
        install(next(a for a in available(anchors) if a.key == "2ndq"), anchors, url)
    elif key == "T0":
        assert before is not None
        apply_with(before, url, spec_text("trigger"))
    elif key in ("T", "Tp"):
        with plpgsql_context(key == "Tp"), Warden(url, spec=parse_spec(spec_text("trigger"))) as w:
            w.apply()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(PROCEDURE)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--dsn", help="server to measure on (on this machine)")
    parser.add_argument("--anchors", type=Path, help="public copies of the anchors (2ndq)")
    parser.add_argument("--before", type=Path, help="src/ of another checkout: variant T0")
    parser.add_argument("--transactions", type=int, default=3000, help="per round (3000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per database (3)")
    args = parser.parse_args()
    print(f"command: `.venv/bin/python bench/audit_trigger_cpu.py {' '.join(sys.argv[1:])}`")
    print(f"machine: {machine()}; load average at start {load()}")
    print(f"code: pgwarden {__version__}, {revision()}")
    keys = ["A"]
    if any(a.key == "2ndq" for a in available(args.anchors)):
        keys.append("2ndq")
    keys += (["T0"] if args.before else []) + ["Tp", "T"]
    with server_url(args.dsn) as admin, contextlib.ExitStack() as stack:
        print(f"server: {server_version(admin)}")
        urls = {k: stack.enter_context(scratch_db(admin)) for k in keys}
        for key, url in urls.items():
            prepare(key, url, args.anchors, args.before)
        found: dict[str, list[float]] = {k: [] for k in keys}
        for i in range(args.rounds):
            for key, url in urls.items():
                found[key].append(cpu_per_transaction(url, args.transactions) * 1e6)
                print(f"  round {i + 1} {key}: {found[key][-1]:.0f} us", file=sys.stderr)
        base = statistics.median(found["A"])
        rows = [
            [
                key,
                f"{statistics.median(v):.0f} µs",
                ", ".join(f"{x:.0f}" for x in v),
                f"+{statistics.median(v) - base:.0f} µs" if key != "A" else "",
            ]
            for key, v in found.items()
        ]
        print_table(
            f"Backend CPU per TPC-B transaction, median of {args.rounds} x "
            f"{args.transactions:,} (synchronous_commit = off)",
            ["variant", "CPU", "rounds (µs)", "capture adds"],
            rows,
        )
    print(f"\nload average at end {load()}")


if __name__ == "__main__":
    main()
