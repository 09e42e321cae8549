"""What audit capture costs the writing transaction, in server CPU per transaction: the
TPC-B-like transaction run in a loop by a procedure inside the server (one COMMIT per
transaction, no client round trips, ``synchronous_commit = off``), so what is left is the
server's own work. Far steadier than pgbench TPS on a small, noisy machine.

Four scratch databases on one server with ``wal_level = logical``, each ``pgbench -i``:
A = no audit, W = ``audit = { capture = "wal" }`` (its context trigger in C when the server has
the pgwarden_wal extension), P = the same with ``wal_marker = "plpgsql"``, T = ``audit = true``
(trigger capture), on the four pgbench tables. Rounds alternate A / W / P / T; the table gives
the median time per transaction and what capture adds to it. The WAL databases' slot is
emptied between rounds (their events are not ingested: the ingester's own cost is measured by
bench/audit.py).

    .venv/bin/python bench/audit_writer_cpu.py [--transactions 5000] [--rounds 5] [--breakdown]

``--breakdown`` adds rows for P with parts of its PL/pgSQL per-statement trigger taken away
(set before each of those measurements and put back after): where that trigger's cost goes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).parent))
from _common import load, machine, print_table, scratch_db, server_url, server_version
from audit import PGBENCH_TABLES, audit_spec, marker_of, pgbench, revision
from pgwarden import Warden, __version__
from pgwarden.spec import parse_spec

PROCEDURE = """
create procedure bench_tpcb(n int) language plpgsql as $$
declare xa int; xb int; xt int; delta int; bal int;
begin
    for i in 1..n loop
        xa := 1 + (random() * 999999)::int;
        xb := 1 + (random() * 9)::int;
        xt := 1 + (random() * 99)::int;
        delta := (random() * 10000)::int - 5000;
        update pgbench_accounts set abalance = abalance + delta where aid = xa;
        select abalance into bal from pgbench_accounts where aid = xa;
        update pgbench_tellers set tbalance = tbalance + delta where tid = xt;
        update pgbench_branches set bbalance = bbalance + delta where bid = xb;
        insert into pgbench_history (tid, bid, aid, delta, mtime)
        values (xt, xb, xa, delta, current_timestamp);
        commit;
    end loop;
end $$"""
DRAIN = (
    "select count(*) from pg_logical_slot_get_binary_changes(warden.audit_slot_name(), NULL, "
    "NULL, 'proto_version', '1', 'publication_names', 'pgwarden_audit', 'messages', 'true')"
)


# P with parts of pgwarden_audit_w's work taken away: (set up, undo). "{original}" is the
# statement function's own definition, read before the first round.
_CHECK_ONLY = """create or replace function warden.audit_wal_statement() returns trigger
language plpgsql as $$ declare said text; begin
    if pg_catalog.current_setting('pgwarden._said', true) is distinct from warden_wal.said()
    then said := 'not sent'; end if;
    return null; end $$"""
_EMPTY = """create or replace function warden.audit_wal_statement() returns trigger
language plpgsql as $$ begin return null; end $$"""
_TOGGLE = "alter table {} {} trigger pgwarden_audit_w"
BREAKDOWN: dict[str, tuple[list[str], list[str]]] = {
    "P, its context checked on every statement, never sent": ([_CHECK_ONLY], ["{original}"]),
    "P, pgwarden_audit_w calling an empty function": ([_EMPTY], ["{original}"]),
    "P, pgwarden_audit_w disabled": (
        [_TOGGLE.format(t, "disable") for t in PGBENCH_TABLES],
        [_TOGGLE.format(t, "enable") for t in PGBENCH_TABLES],
    ),
}


def run_sql(url: str, statements: list[str], original: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement.replace("{original}", original))


def prepare(url: str, capture: str | None, marker: str) -> None:
    pgbench(url, "-i", "-q", "-s", "10")
    if capture:
        spec = parse_spec(audit_spec(PGBENCH_TABLES, capture, marker))
        with Warden(url, spec=spec) as warden:
            warden.apply()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(PROCEDURE)


def seconds_per_transaction(url: str, n: int, drain: bool) -> float:
    with psycopg.connect(url, autocommit=True) as conn:
        if drain:
            conn.execute(DRAIN)
        conn.execute("set synchronous_commit = off")
        conn.execute("checkpoint")
        start = time.perf_counter()
        conn.execute("call bench_tpcb(%s)", (n,))
        return (time.perf_counter() - start) / n


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--dsn", help="server to measure on (needs wal_level = logical)")
    parser.add_argument("--transactions", type=int, default=5000, help="per round (5000)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per database (5)")
    parser.add_argument(
        "--breakdown", action="store_true", help="also P with parts of its trigger taken away"
    )
    args = parser.parse_args()
    print(f"command: `.venv/bin/python bench/audit_writer_cpu.py {' '.join(sys.argv[1:])}`")
    print(f"machine: {machine()}; load average at start {load()}")
    print(f"code: pgwarden {__version__}, {revision()}")
    with server_url(args.dsn, {"wal_level": "logical"}) as admin:
        print(f"server: {server_version(admin)}")
        with (
            scratch_db(admin) as a,
            scratch_db(admin) as w,
            scratch_db(admin) as p,
            scratch_db(admin) as t,
        ):
            variants = {
                "A: no audit": (a, None, "auto"),
                'W: capture = "wal"': (w, "wal", "auto"),
                'P: capture = "wal", wal_marker = "plpgsql"': (p, "wal", "plpgsql"),
                'T: capture = "trigger"': (t, "trigger", "auto"),
            }
            for url, capture, marker in variants.values():
                prepare(url, capture, marker)
            print(f"W's context trigger: {marker_of(w)}")
            with psycopg.connect(p) as conn:
                found = conn.execute(
                    "select pg_get_functiondef('warden.audit_wal_statement()'::regprocedure)"
                ).fetchone()
            original = found[0] if found else ""
            parts = BREAKDOWN if args.breakdown else {}
            times: dict[str, list[float]] = {name: [] for name in [*variants, *parts]}
            for r in range(args.rounds):
                for name, (url, capture, _) in variants.items():
                    times[name].append(seconds_per_transaction(url, args.transactions,
                                                               capture == "wal"))  # fmt: skip
                for name, (setup, undo) in parts.items():
                    run_sql(p, setup, original)
                    times[name].append(seconds_per_transaction(p, args.transactions, True))
                    run_sql(p, undo, original)
                print(f"  round {r + 1} done", file=sys.stderr, flush=True)
    base = statistics.median(times["A: no audit"])
    rows = []
    for name, samples in times.items():
        med = statistics.median(samples)
        rows.append([
            name,
            f"{med * 1e6:.0f} µs",
            ", ".join(f"{s * 1e6:.0f}" for s in samples),
            f"{(med - base) * 1e6:+.0f} µs" if name != "A: no audit" else "",
            f"{med / base:.2f}x",
        ])  # fmt: skip
    print_table(
        f"TPC-B-like transaction in a server-side loop ({args.transactions:,} per round, "
        f"median of {args.rounds} rounds, synchronous_commit = off)",
        ["database", "per transaction", "rounds (µs)", "capture adds", "vs A"],
        rows,
    )


if __name__ == "__main__":
    main()
