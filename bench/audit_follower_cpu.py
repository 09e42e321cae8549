"""What the WAL capture's follower (``pgwarden audit ingest --follow``) costs per event, by
process: the follower itself (decoding ``pgoutput``, staging), its write backend (COPY into
the staging tables, images, the store's INSERT, commits) and the walsender (logical
decoding of the slot).

One throwaway embedded server (``wal_level = logical``, durable commits, pg_stat_statements
loaded), one database with ``pgbench -i -s N`` and ``audit = true`` on the four pgbench tables
(``capture = "auto"``: the WAL). pgbench runs at a fixed rate (``-R``) while the follower runs
as its own process, so the events per second are the same whatever else the machine does;
the CPU each process used (Linux /proc) is divided by the events stored. With ``--backlog``
the follower is started only after pgbench has written its transactions: one catch-up in big
batches instead.

    .venv/bin/python bench/audit_follower_cpu.py --rate 1400 --seconds 30
    .venv/bin/python bench/audit_follower_cpu.py --rate 1400 --seconds 30 --py-spy FILE
    .venv/bin/python bench/audit_follower_cpu.py --backlog 20000
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).parent))
from _audit_sustained import events, follower, lag, spec_text, wait_confirmed
from _common import cpu_seconds, load, print_table, scratch_db, server_url
from pgwarden import Warden
from pgwarden.spec import parse_spec


def follower_backends(url: str) -> dict[str, int]:
    """The follower's two server processes: its walsender and its write backend."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "select backend_type, pid from pg_stat_activity "
            "where application_name = 'pgwarden audit follower'"
        ).fetchall()
    return {("walsender" if r[0] == "walsender" else "writes"): int(r[1]) for r in rows}


def wait_streaming(url: str, timeout: float = 60) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = follower_backends(url)
        if len(found) == 2:
            return found
        time.sleep(0.1)
    raise SystemExit("the follower did not start streaming")


def statements(url: str, top: int = 16) -> list[list[str]]:
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "select calls, total_exec_time, rows, "
            "left(regexp_replace(query, '\\s+', ' ', 'g'), 90) "
            "from pg_stat_statements s join pg_database d on d.oid = s.dbid "
            "where d.datname = current_database() and s.userid = (select oid from pg_roles "
            "where rolname = current_user) and query !~ %s "
            "order by total_exec_time desc limit %s",
            (r"^(UPDATE pgbench_|SELECT abalance|INSERT INTO pgbench_history|BEGIN|END)", top),
        ).fetchall()
    return [[f"{r[0]:,}", f"{r[1]:,.0f} ms", f"{r[2]:,}", r[3]] for r in rows]


def system_seconds(pid: int) -> float:
    """System (kernel) CPU seconds of ``pid`` so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return int(fields[12]) / os.sysconf("SC_CLK_TCK")


def unix(url: str) -> str:
    """``url`` over the server's unix socket."""
    with psycopg.connect(url) as conn:
        row = conn.execute("show unix_socket_directories").fetchone()
    params = psycopg.conninfo.conninfo_to_dict(url)
    params["host"] = str(row[0]).split(",")[0].strip().strip('"') if row else ""
    return psycopg.conninfo.make_conninfo(**params)  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=int, default=10)
    parser.add_argument("--rate", type=int, default=1400, help="pgbench -R (transactions/s)")
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument(
        "--backlog", type=int, default=0,
        help="write this many transactions first, then time the catch-up",
    )  # fmt: skip
    parser.add_argument("--unix", action="store_true",
                        help="the follower connects over the server's unix socket")  # fmt: skip
    parser.add_argument("--py-spy", help="record the follower with py-spy into this file")
    parser.add_argument("--perf", help="record its two server processes with perf into this "
                        "directory (writes.data, walsender.data)")  # fmt: skip
    args = parser.parse_args()
    settings = {
        "wal_level": "logical",
        "shared_preload_libraries": "pg_stat_statements",
        "pg_stat_statements.track": "all",
    }
    from audit import pgbench

    print(f"load {load()} at the start", file=sys.stderr)
    with server_url(None, settings) as admin, scratch_db(admin) as url:
        pgbench(url, "-i", "-q", "-s", str(args.scale))
        spec = spec_text(None)
        with Warden(url, spec=parse_spec(spec)) as warden:
            warden.apply()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("create extension if not exists pg_stat_statements")
            conn.execute("vacuum analyze")
        if args.backlog:
            pgbench(url, "-n", "-c", "4", "-j", "2", "-t", str(args.backlog // 4))
        with contextlib.ExitStack() as stack:
            before_events = events(url)
            process = stack.enter_context(follower(unix(url) if args.unix else url, spec))
            pids = wait_streaming(url)
            pids["follower"] = process.pid
            start = {k: cpu_seconds(p) or 0.0 for k, p in pids.items()}
            kernel = {k: system_seconds(p) for k, p in pids.items()}
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("select pg_stat_statements_reset()")
            spy = None
            if args.py_spy:
                spy = subprocess.Popen(
                    [str(Path(sys.executable).parent / "py-spy"), "record", "-p",
                     str(process.pid), "-o", args.py_spy, "-f", "raw", "-r", "200", "--gil"],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )  # fmt: skip
            perf = []
            if args.perf:
                Path(args.perf).mkdir(parents=True, exist_ok=True)
                perf = [
                    subprocess.Popen(
                        ["perf", "record", "-F", "499", "-g", "-p", str(pids[name]), "-o",
                         str(Path(args.perf) / f"{name}.data")],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                    )
                    for name in ("writes", "walsender")
                ]  # fmt: skip
            began = time.perf_counter()
            if not args.backlog:
                pgbench(url, "-n", "-c", "4", "-j", "2", "-T", str(args.seconds),
                        "-R", str(args.rate))  # fmt: skip
            behind, target = lag(url)
            took = wait_confirmed(url, target)
            wall = time.perf_counter() - began
            if spy is not None:
                spy.send_signal(2)
                spy.wait(timeout=60)
            for p in perf:
                p.send_signal(2)
                p.wait(timeout=60)
            used = {k: (cpu_seconds(p) or 0.0) - start[k] for k, p in pids.items()}
            kernel = {k: system_seconds(p) - kernel[k] for k, p in pids.items()}
            written = events(url) - before_events
            top = statements(url)
        print(f"load {load()} at the end", file=sys.stderr)
        rows = [
            [
                name,
                f"{used[name]:.2f} s",
                f"{used[name] / written * 1e6:.1f} µs",
                f"{kernel[name] / written * 1e6:.1f} µs",
            ]
            for name in ("follower", "writes", "walsender")
        ]
        total = sum(used.values())
        rows.append(
            [
                "all three",
                f"{total:.2f} s",
                f"{total / written * 1e6:.1f} µs",
                f"{sum(kernel.values()) / written * 1e6:.1f} µs",
            ]
        )
        print_table(
            f"{written:,} events in {wall:.1f} s ({written / wall:,.0f}/s); "
            f"{behind / 2**20:.1f} MB behind at the end, confirmed {took:.1f} s later",
            ["process", "CPU", "per event", "of which in the kernel"],
            rows,
        )
        print_table("The follower's statements (pg_stat_statements)",
                    ["calls", "time", "rows", "query"], top)  # fmt: skip


if __name__ == "__main__":
    main()
