"""What capturing the audit trail from the WAL (logical decoding) would cost pgbench's
TPC-B-like workload: a feasibility probe for the next capture mode, not a feature yet.

Two databases on one server with ``wal_level = logical``: A = plain ``pgbench -i``, B = the
same with what WAL capture needs inside the transaction -- ``REPLICA IDENTITY FULL`` on the
four tables (old rows in the WAL), a BEFORE statement trigger sending the session context
once per transaction with ``pg_logical_emit_message``, a publication and a ``pgoutput`` slot.
Rows alternate A / B; B runs twice: with nobody decoding (what the writing transactions pay)
and with a reader decoding the slot every second (what decoding adds on the same machine).
Decoding here only fetches the messages: parsing them and writing events is not included.

    .venv/bin/python bench/audit_wal_probe.py [--seconds 30] [--rounds 2]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).parent))
from _common import load, machine, print_table
from pgwarden.server import EmbeddedServer, bin_path

TABLES = ["pgbench_accounts", "pgbench_branches", "pgbench_tellers", "pgbench_history"]
DECODE = (
    "select count(*) from pg_logical_slot_get_binary_changes('pgwarden_probe', NULL, NULL, "
    "'proto_version', '1', 'publication_names', 'pgwarden_probe', 'messages', 'true')"
)
CONTEXT_TRIGGER = """
create function probe_context() returns trigger language plpgsql as $$
declare
    sig text := concat_ws(chr(31), current_setting('pgwarden.actor', true),
                          current_setting('pgwarden.reason', true));
begin
    if current_setting('pgwarden._wal', true) is distinct from sig then
        perform pg_logical_emit_message(true, 'pgwarden', json_build_object(
            'actor', current_setting('pgwarden.actor', true), 'at', statement_timestamp(),
            'application', current_setting('application_name'),
            'client', inet_client_addr())::text);
        perform set_config('pgwarden._wal', sig, true);
    end if;
    return null;
end
$$"""


def pgbench(url: str, *args: str) -> str:
    done = subprocess.run(
        [str(bin_path() / "pgbench"), *args, url], capture_output=True, text=True, check=True
    )
    return done.stdout + done.stderr


def tps(url: str, seconds: int) -> float:
    out = pgbench(url, "-n", "-c", "4", "-j", "2", "-T", str(seconds), "-M", "prepared")
    found = re.search(r"tps = ([0-9.]+)", out)
    assert found is not None, out
    return float(found.group(1))


def prepare(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for table in TABLES:
            conn.execute(f"alter table {table} replica identity full")  # fixed names
        conn.execute(CONTEXT_TRIGGER)
        for table in TABLES:
            conn.execute(
                f"create trigger probe_context before insert or update or delete on {table} "
                "for each statement execute function probe_context()"
            )
        conn.execute("create publication pgwarden_probe for table " + ", ".join(TABLES))
        conn.execute("select pg_create_logical_replication_slot('pgwarden_probe', 'pgoutput')")


def decode(url: str) -> tuple[int, float]:
    with psycopg.connect(url, autocommit=True) as conn:
        start = time.monotonic()
        row = conn.execute(DECODE).fetchone()
        return (int(row[0]) if row else 0), time.monotonic() - start


def with_reader(url: str, work: float) -> tuple[float, int]:
    """TPS while a reader decodes the slot every second; messages it decoded."""
    stop = threading.Event()
    decoded = [0]

    def reader() -> None:
        while not stop.wait(1.0):
            decoded[0] += decode(url)[0]

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        result = tps(url, int(work))
    finally:
        stop.set()
        thread.join()
    return result, decoded[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--scale", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pgwarden-bench-") as tmp:
        server = EmbeddedServer(Path(tmp) / "pg")
        status = server.start(
            settings={"wal_level": "logical", "max_replication_slots": "4", "max_wal_senders": "4"}
        )
        try:
            with psycopg.connect(status.url("postgres"), autocommit=True) as conn:
                conn.execute("create database probe_a")
                conn.execute("create database probe_b")
            plain, probed = status.url("probe_a"), status.url("probe_b")
            for url in (plain, probed):
                pgbench(url, "-i", "-s", str(args.scale), "-q")
            prepare(probed)
            print(f"# {machine()}; PostgreSQL 18 (embedded), wal_level=logical; load {load()}")
            rows = []
            for n in range(args.rounds):
                a = tps(plain, args.seconds)
                deferred = tps(probed, args.seconds)
                backlog, took = decode(probed)
                live, decoded = with_reader(probed, args.seconds)
                rows.append(
                    [
                        str(n + 1),
                        f"{a:,.0f}",
                        f"{deferred:,.0f} ({deferred / a:.2f}x)",
                        f"{live:,.0f} ({live / a:.2f}x; {decoded:,} messages)",
                        f"{backlog:,} in {took:.2f} s ({backlog / max(took, 1e-9):,.0f}/s)",
                    ]
                )
            print_table(
                f"TPC-B-like, 4 clients, {args.seconds} s per run (A = no capture)",
                ["round", "A tps", "B, nobody decoding", "B, decoded every 1 s",
                 "backlog decoded after the run"],
                rows,
            )  # fmt: skip
        finally:
            server.stop()


if __name__ == "__main__":
    main()
