"""Audit overhead: pgbench's TPC-B-like workload with and without ``audit = true`` on all four
pgbench tables, side by side in one run, plus a bulk UPDATE, INSERT ... SELECT and COPY of 1M
rows, audit storage per event, one-row history and whole-table as-of latency.

Two scratch databases on one server: A = plain ``pgbench -i -s N``, B = the same with pgwarden
``audit = true`` on pgbench_accounts, _branches, _tellers and _history (which has no primary key:
pgwarden says how it identifies its rows). Timed work alternates between A and B, each step
after a CHECKPOINT (cluster-wide: other databases on a shared server see it too). The scratch
databases are dropped at the end, and an embedded server started here is stopped.

.venv/bin/python bench/audit.py                  # on a throwaway embedded server
.venv/bin/python bench/audit.py --dsn postgresql://postgres@127.0.0.1:5432/postgres
.venv/bin/python bench/audit.py --quick          # smoke test (< 2 minutes)
.venv/bin/python bench/audit.py --explain        # also print the capture's plans (auto_explain)
.venv/bin/python bench/audit.py --capture wal    # B captures from the WAL (wal_level = logical)
.venv/bin/python bench/audit.py --capture wal --tps-only --async-commit
                                                 # TPS only, CPU-bound (synchronous_commit = off)

With ``--capture wal`` the writers only send their context; the ingester writes the events.
Its work is measured apart: after each timed B step (catch-up time and rate), and in extra
TPS rounds where it runs every second alongside pgbench on the same machine ("live"). B's
context trigger is chosen by ``--wal-marker`` (default auto: the C one when the server has the
pgwarden_wal extension); unless it is plpgsql, a third database P, audited with the PL/pgSQL
context trigger, joins the TPS rounds (A/B/P/...).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import re
import shlex
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).parent))
from _common import (
    load,
    machine,
    percentile,
    print_table,
    scratch_db,
    server_url,
    server_version,
    timed,
)
from pgwarden import Warden, __version__
from pgwarden.server import bin_path
from pgwarden.spec import parse_spec

PGBENCH_TABLES = ["pgbench_accounts", "pgbench_branches", "pgbench_tellers", "pgbench_history"]
ANCHOR_TPS = "supa_audit 0.37x; audit-trigger 0.62-0.72x"
ANCHOR_UPDATE = "supa_audit ~20x; audit-trigger ~6.7x"


@dataclass(frozen=True)
class Config:
    capture: str
    wal_marker: str
    async_commit: bool
    scale: int
    seconds: int
    rounds: int
    update_rows: int
    update_repeat: int
    bulk_rows: int
    bulk_repeat: int
    history_calls: int
    as_of_repeat: int

    @property
    def accounts(self) -> int:
        return self.scale * 100_000


@dataclass
class Store:
    """Size of pgwarden's audit store at one moment."""

    events: int
    contexts: int
    events_heap: int
    events_indexes: int
    contexts_total: int

    @property
    def total(self) -> int:
        return self.events_heap + self.events_indexes + self.contexts_total


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def secs(seconds: float) -> str:
    return f"{seconds:.2f} s"


def ratio(b: float, a: float) -> str:
    return f"{b / a:.2f}x" if a else "n/a"


def revision() -> str:
    """The checkout measured: the capture is generated from it at apply time."""
    done = subprocess.run(
        ["git", "describe", "--always", "--dirty"],
        cwd=Path(__file__).parent,
        capture_output=True,
        text=True,
        check=False,
    )
    return f"git {done.stdout.strip()}" if done.returncode == 0 else "not a git checkout"


def connect(url: str) -> psycopg.Connection[Any]:
    return psycopg.connect(url, autocommit=True)


def checkpoint(url: str) -> None:
    """Start timed work with no dirty pages left by the previous step (either database's)."""
    with connect(url) as conn:
        conn.execute("checkpoint")


def pgbench(url: str, *args: str, options: str = "") -> str:
    """Run pgbench on ``url``; ``options``: settings for its sessions (PGOPTIONS)."""
    exe = bin_path() / "pgbench"
    env = {**os.environ, "PGOPTIONS": options} if options else None
    done = subprocess.run(
        [str(exe), *args, url], capture_output=True, text=True, check=False, env=env
    )
    if done.returncode != 0:
        raise SystemExit(f"pgbench {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout + done.stderr


def store(url: str) -> Store:
    with connect(url) as conn:
        row = conn.execute(
            "select (select count(*) from warden.audit_events),"
            " (select count(*) from warden.audit_contexts),"
            # The store is partitioned: its size is the sum over its partitions.
            " (select sum(pg_table_size(relid)) from pg_partition_tree('warden.audit_events')),"
            " (select sum(pg_indexes_size(relid)) from pg_partition_tree('warden.audit_events')),"
            " pg_total_relation_size('warden.audit_contexts')"
        ).fetchone()
    return Store(*(row or (0, 0, 0, 0, 0)))


def audit_spec(tables: list[str], capture: str, wal_marker: str = "auto") -> str:
    marker = f', wal_marker = "{wal_marker}"' if capture == "wal" else ""
    return "".join(
        f'[tables."public.{t}"]\naudit = {{ capture = "{capture}"{marker} }}\n\n' for t in tables
    )


def marker_of(url: str) -> str:
    """The function of pgbench_accounts' context trigger (WAL capture), or "-"."""
    with connect(url) as conn:
        row = conn.execute(
            "select tgfoid::regproc::text from pg_trigger where tgname = 'pgwarden_audit_w'"
            " and tgrelid = 'pgbench_accounts'::regclass"
        ).fetchone()
    return str(row[0]) if row else "-"


def compares_markers(cfg: Config) -> bool:
    """WAL capture with the C context trigger: P (the PL/pgSQL one) joins the TPS rounds."""
    return cfg.capture == "wal" and cfg.wal_marker != "plpgsql"


def ingest(url: str) -> tuple[float, int]:
    """capture = "wal": write the pending events (seconds, events); 0 for trigger capture."""
    with Warden(url) as warden:
        start = time.perf_counter()
        done = warden.audit.ingest()
        return time.perf_counter() - start, done.events


@contextlib.contextmanager
def ingesting_live(url: str, every: float = 1.0) -> Iterator[list[int]]:
    """An ingester pass every ``every`` seconds in a thread while the block runs."""
    events: list[int] = []
    stop = threading.Event()

    def loop() -> None:
        with Warden(url) as warden:
            while not stop.wait(every):
                events.append(warden.audit.ingest().events)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield events
    finally:
        stop.set()
        thread.join()


def bulk_tables(cfg: Config) -> list[str]:
    return [f"bulk_{kind}_{i}" for kind in ("insert", "copy") for i in range(cfg.bulk_repeat)]


# -- setup ---------------------------------------------------------------------------------


def setup(a: str, b: str, p: str | None, cfg: Config) -> list[str]:
    """pgbench -i on every database, the bulk-load targets, and audit on B (and on P, with
    the PL/pgSQL context trigger). Returns notes."""
    notes = []
    if p is not None:
        pgbench(p, "-i", "-q", "-s", str(cfg.scale))
        plpgsql = parse_spec(audit_spec(PGBENCH_TABLES, "wal", "plpgsql"))
        with Warden(p, spec=plpgsql) as warden:
            warden.apply()
        notes.append(f'P: audit with wal_marker = "plpgsql" ({marker_of(p)})')
    for url in (a, b):
        start = time.perf_counter()
        pgbench(url, "-i", "-q", "-s", str(cfg.scale))
        notes.append(f"pgbench -i -s {cfg.scale}: {secs(time.perf_counter() - start)}")
        with connect(url) as conn:
            for table in bulk_tables(cfg):
                conn.execute(f"create table {table} (id bigint primary key, v int, t text)")
    spec = parse_spec(audit_spec(PGBENCH_TABLES + bulk_tables(cfg), cfg.capture, cfg.wal_marker))
    with Warden(b, spec=spec) as warden:
        start = time.perf_counter()
        result = warden.apply()
        took = time.perf_counter() - start
    notes.append(f"pgwarden apply (audit on {4 + len(bulk_tables(cfg))} tables): {secs(took)}")
    if cfg.capture == "wal":
        notes.append(f'B: wal_marker = "{cfg.wal_marker}", context trigger {marker_of(b)}')
    for change in result.applied:
        if change.description.startswith("audit registration of public.pgbench_history"):
            notes.append(f"pgwarden plan: {change.description}")
    return notes


# -- (1) TPC-B-like TPS ----------------------------------------------------------------------


def tps_round(url: str, seconds: int, async_commit: bool) -> tuple[float, float]:
    # What pgbench does before a run, except truncating pgbench_history (that would make B
    # record every history row as a deletion): done here, outside the timed run, on both.
    with connect(url) as conn:
        conn.execute("vacuum pgbench_branches")
        conn.execute("vacuum pgbench_tellers")
    checkpoint(url)
    options = "-c synchronous_commit=off" if async_commit else ""
    out = pgbench(url, "-n", "-c", "4", "-j", "2", "-T", str(seconds), options=options)
    tps = re.search(r"^tps = ([\d.]+)", out, re.M)
    lat = re.search(r"^latency average = ([\d.]+) ms", out, re.M)
    if tps is None or lat is None:
        raise SystemExit(f"cannot read pgbench's output:\n{out}")
    return float(tps.group(1)), float(lat.group(1))


def bench_tps(a: str, b: str, p: str | None, cfg: Config) -> list[list[str]]:
    runs: dict[str, list[tuple[float, float]]] = {"A": [], "B": [], "P": [], "B live": []}
    catch_up: list[tuple[float, int]] = []
    live_events: list[int] = []
    variants = [("A", a), ("B", b)] + ([("P", p)] if p is not None else [])
    variants += [("B live", b)] if cfg.capture == "wal" else []
    for i in range(cfg.rounds):
        for name, url in variants:
            if name == "B live":
                with ingesting_live(url) as passes:
                    runs[name].append(tps_round(url, cfg.seconds, cfg.async_commit))
                live_events.append(sum(passes) + ingest(url)[1])
            else:
                runs[name].append(tps_round(url, cfg.seconds, cfg.async_commit))
                if name == "B" and cfg.capture == "wal":
                    catch_up.append(ingest(url))
                elif name == "P":
                    ingest(url)
            print(
                f"  round {i + 1} {name}: {runs[name][-1][0]:.0f} tps", file=sys.stderr, flush=True
            )
    tps = {k: statistics.median(r[0] for r in v) for k, v in runs.items() if v}
    lat = {k: statistics.median(r[1] for r in v) for k, v in runs.items() if v}
    rounds = {k: ", ".join(f"{r[0]:.0f}" for r in v) for k, v in runs.items()}
    idle = " (ingester idle during the run)" if cfg.capture == "wal" else ""
    out = [
        [
            f"TPS, median of {cfg.rounds} rounds (A/B/A/B...){idle}",
            f"{tps['A']:.0f} ({rounds['A']})",
            f"{tps['B']:.0f} ({rounds['B']})",
            ratio(tps["B"], tps["A"]),
            "≥ 0.90x",
            ANCHOR_TPS,
        ],
        [
            "latency average, median",
            f"{lat['A']:.2f} ms",
            f"{lat['B']:.2f} ms",
            ratio(lat["B"], lat["A"]),
            "",
            "",
        ],
    ]
    if p is not None:
        out.append(
            [
                "TPS with the PL/pgSQL context trigger (P), median",
                f"{tps['A']:.0f}",
                f"{tps['P']:.0f} ({rounds['P']})",
                ratio(tps["P"], tps["A"]),
                "",
                'wal_marker = "plpgsql"',
            ]
        )
    if cfg.capture == "wal":
        seconds = sum(t for t, _ in catch_up)
        events = sum(n for _, n in catch_up)
        out += [
            [
                "TPS with the ingester running every 1 s (B live), median",
                f"{tps['A']:.0f}",
                f"{tps['B live']:.0f} ({rounds['B live']})",
                ratio(tps["B live"], tps["A"]),
                "≥ 0.90x",
                f"{sum(live_events):,} events ingested live",
            ],
            [
                "ingest after each B round (catch-up), total",
                "",
                f"{secs(seconds)} for {events:,} events",
                "",
                "",
                f"{events / seconds:,.0f} events/s" if seconds else "",
            ],
        ]
    return out


# -- (2) bulk UPDATE -------------------------------------------------------------------------


def bench_update(a: str, b: str, cfg: Config) -> tuple[list[list[str]], dt.datetime]:
    stmt = f"update pgbench_accounts set abalance = abalance + 1 where aid <= {cfg.update_rows}"
    with connect(b) as conn:
        before = scalar(conn, "select clock_timestamp()")
    times: dict[str, list[float]] = {"A": [], "B": []}
    ingested: list[tuple[float, int]] = []
    for i in range(cfg.update_repeat):
        order = [("A", a), ("B", b)] if i % 2 == 0 else [("B", b), ("A", a)]
        for name, url in order:
            checkpoint(url)
            with connect(url) as conn:
                times[name].append(timed(lambda c=conn: c.execute(stmt)))
                if name == "B" and cfg.capture == "wal":
                    ingested.append(ingest(url))
                conn.execute("vacuum pgbench_accounts")
    med = {k: statistics.median(v) for k, v in times.items()}
    every = {k: ", ".join(f"{t:.2f}" for t in v) for k, v in times.items()}
    rows = [
        [
            f"UPDATE {cfg.update_rows:,} rows of pgbench_accounts, median of {cfg.update_repeat}",
            f"{secs(med['A'])} ({every['A']})",
            f"{secs(med['B'])} ({every['B']})",
            ratio(med["B"], med["A"]),
            "≤ 2.5x",
            ANCHOR_UPDATE,
        ]
    ]
    rows += catch_up_row("its events ingested after each B UPDATE", med["A"], med["B"], ingested)
    return rows, before


def catch_up_row(
    label: str, a: float, b: float, ingested: list[tuple[float, int]]
) -> list[list[str]]:
    """capture = "wal": the ingester's time for one step, and the step's total with it."""
    if not ingested:
        return []
    took = statistics.median(t for t, _ in ingested)
    events = statistics.median(n for _, n in ingested)
    return [
        [
            f"{label}, median",
            "",
            f"{secs(took)} ({events:,.0f} events, {events / took:,.0f}/s)",
            f"{ratio(b + took, a)} with it",
            "",
            "",
        ]
    ]


# -- (3, 4) INSERT ... SELECT and COPY -------------------------------------------------------


def copy_data(rows: int) -> list[bytes]:
    chunk, out = 50_000, []
    for start in range(1, rows + 1, chunk):
        end = min(start + chunk, rows + 1)
        out.append("".join(f"{i}\t{i % 1000}\t{i:032x}\n" for i in range(start, end)).encode())
    return out


def bench_bulk(a: str, b: str, cfg: Config) -> list[list[str]]:
    data = copy_data(cfg.bulk_rows)
    insert = (
        "insert into {} (id, v, t) select g, g % 1000, md5(g::text) "
        f"from generate_series(1, {cfg.bulk_rows}) g"
    )

    def do_insert(url: str, table: str) -> float:
        with connect(url) as conn:
            return timed(lambda: conn.execute(insert.format(table)))

    def do_copy(url: str, table: str) -> float:
        with connect(url) as conn:

            def run() -> None:
                with conn.cursor() as cur, cur.copy(f"copy {table} (id, v, t) from stdin") as cp:
                    for block in data:
                        cp.write(block)

            return timed(run)

    rows = []
    for kind, fn in (("insert", do_insert), ("copy", do_copy)):
        times: dict[str, list[float]] = {"A": [], "B": []}
        ingested: list[tuple[float, int]] = []
        for i in range(cfg.bulk_repeat):
            order = [("A", a), ("B", b)] if i % 2 == 0 else [("B", b), ("A", a)]
            for name, url in order:
                checkpoint(url)
                times[name].append(fn(url, f"bulk_{kind}_{i}"))
                if name == "B" and cfg.capture == "wal":
                    ingested.append(ingest(url))
        med = {k: statistics.median(v) for k, v in times.items()}
        label = (
            f"INSERT ... SELECT {cfg.bulk_rows:,} rows"
            if kind == "insert"
            else f"COPY FROM STDIN {cfg.bulk_rows:,} rows"
        )
        every = {k: ", ".join(f"{t:.2f}" for t in v) for k, v in times.items()}
        rows.append(
            [
                f"{label} into an empty (id bigint pk, v int, t text), median of {cfg.bulk_repeat}",
                f"{secs(med['A'])} ({every['A']})",
                f"{secs(med['B'])} ({every['B']})",
                ratio(med["B"], med["A"]),
                f"{cfg.bulk_rows / med['B']:,.0f} rows/s audited",
            ]
        )
        rows += [r[:5] for r in catch_up_row("ingested after each", med["A"], med["B"], ingested)]
    return rows


# -- (5) storage ------------------------------------------------------------------------------


def storage_row(phase: str, before: Store, after: Store) -> list[str]:
    events = after.events - before.events
    contexts = after.contexts - before.contexts
    heap = after.events_heap - before.events_heap
    idx = after.events_indexes - before.events_indexes
    ctx = after.contexts_total - before.contexts_total
    total = after.total - before.total

    def per(n: int) -> str:
        return f"{n / events:.0f}" if events else "n/a"

    return [
        phase,
        f"{events:,}",
        f"{contexts:,}",
        f"{total / 2**20:.1f} MiB",
        per(heap),
        per(idx),
        per(ctx),
        per(total),
    ]


# -- (6) history, (7) as-of -----------------------------------------------------------------


def bench_history(b: str, cfg: Config, key: int) -> list[list[str]]:
    query = "select * from warden.history(%s, %s::jsonb)"
    params = ("public.pgbench_accounts", f"[{key}]")
    samples = []
    with connect(b) as conn:
        versions = len(conn.execute(query, params, prepare=True).fetchall())
        for _ in range(cfg.history_calls):
            start = time.perf_counter()
            conn.execute(query, params, prepare=True).fetchall()
            samples.append(time.perf_counter() - start)
        plan = conn.execute("explain (analyze, buffers) " + query, params).fetchall()
    api = []
    with Warden(b) as warden:
        for _ in range(20):
            start = time.perf_counter()
            warden.audit.history("public.pgbench_accounts", key)
            api.append(time.perf_counter() - start)
    timing = [line for (line,) in plan if "Execution Time" in line]
    return [
        [
            f"SQL warden.history('public.pgbench_accounts', '[{key}]'), "
            f"{versions} versions, {cfg.history_calls} calls, one connection",
            ms(percentile(samples, 50)),
            ms(percentile(samples, 95)),
            "≤ 1 ms",
            timing[0].strip() if timing else "",
        ],
        [
            "Python Warden.history(...) (opens a connection per call), 20 calls",
            ms(percentile(api, 50)),
            ms(percentile(api, 95)),
            "",
            "",
        ],
    ]


def server_setting(url: str, name: str) -> str:
    with connect(url) as conn:
        return str(scalar(conn, "select current_setting(%s)", (name,)))


def scalar(conn: psycopg.Connection[Any], query: str, params: tuple[Any, ...] = ()) -> Any:
    row = conn.execute(query, params).fetchone()
    return row[0] if row else None


def bench_as_of(b: str, cfg: Config, before: dt.datetime) -> list[list[str]]:
    query = "select count(*) from warden.as_of(null::public.pgbench_accounts, %s)"
    with connect(b) as conn:
        recent = scalar(conn, "select clock_timestamp()")
        n = scalar(conn, "select count(*) from pgbench_accounts")
        plain = timed(lambda: scalar(conn, "select count(*) from pgbench_accounts"), repeat=3)
        out = [[f"plain count(*) from pgbench_accounts ({n:,} rows)", secs(plain), "", "", ""]]
        for label, at in (("before the bulk UPDATEs", before), ("recent", recent)):
            events, later = conn.execute(
                "select count(*), count(*) filter (where at > %s) from warden.audit_events"
                " where table_id = warden.audit_table_id('public.pgbench_accounts')",
                (at,),
            ).fetchone() or (0, 0)
            counts: list[int] = []
            took = timed(
                lambda at=at, c=counts: c.append(scalar(conn, query, (at,))),
                repeat=cfg.as_of_repeat,
            )
            out.append(
                [
                    f"count(*) from as_of(null::public.pgbench_accounts, {label}), "
                    f"median of {cfg.as_of_repeat}",
                    secs(took),
                    f"{counts[0]:,}",
                    f"{events:,} events of the table, {later:,} after that time",
                    "≤ 2 s",
                ]
            )
    return out


# -- --explain: the capture's plans, from auto_explain ---------------------------------------


def _query_of(plan: str) -> str:
    """The query text of one auto_explain report (up to its parameters or its plan)."""
    lines = plan.splitlines()[1:]
    text = []
    for line in lines:
        if line.startswith("Query Parameters:") or (not line[:1].isspace() and "(cost=" in line):
            break
        text.append(line)
    return "\n".join(text).strip()


def print_plans(title: str, notices: list[str]) -> None:
    """auto_explain reports grouped by query: calls, total time, the slowest one's plan."""
    groups: dict[str, list[tuple[float, str]]] = {}
    for notice in notices:
        took = re.match(r"duration: ([\d.]+) ms", notice)
        groups.setdefault(_query_of(notice), []).append(
            (float(took.group(1)) if took else 0.0, notice)
        )
    print(f"\n{title}\n\n```")
    for reports in groups.values():
        slowest = max(reports, key=lambda r: r[0])
        total = sum(r[0] for r in reports)
        print(f"-- {len(reports)} call(s), {total:.1f} ms in all; the slowest:")
        print(slowest[1].rstrip() + "\n")
    print("```")


def explain(b: str, cfg: Config, before: dt.datetime) -> None:
    """What auto_explain reports (analyze, nested statements) for one audited bulk UPDATE
    (rolled back), one history call and the as-of query. Needs a superuser (LOAD). Timings
    include auto_explain's own instrumentation, which is heavy for per-row nested calls."""
    notices: list[str] = []
    with connect(b) as conn:
        conn.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
        for setting in (
            "load 'auto_explain'",
            "set auto_explain.log_min_duration = 0",
            "set auto_explain.log_analyze = on",
            "set auto_explain.log_buffers = on",
            "set auto_explain.log_nested_statements = on",
            "set auto_explain.log_level = notice",
            "set client_min_messages = notice",
        ):
            conn.execute(setting)
        rows = min(cfg.update_rows, 20_000)  # one report per row for per-row nested calls
        steps = [
            (
                f"auto_explain of one audited UPDATE of {rows:,} rows (rolled back)",
                f"update pgbench_accounts set abalance = abalance + 1 where aid <= {rows}",
                (),
            ),
            (
                "auto_explain of warden.history('public.pgbench_accounts', '[123]')",
                "select * from warden.history('public.pgbench_accounts', '[123]')",
                (),
            ),
            (
                "auto_explain of count(*) from as_of(pgbench_accounts, before the bulk UPDATEs)",
                "select count(*) from warden.as_of(null::public.pgbench_accounts, %s)",
                (before,),
            ),
        ]
        for title, query, params in steps:
            notices.clear()
            with conn.transaction(force_rollback=True):
                conn.execute(query, params)
            print_plans(title, notices)


# -- main -----------------------------------------------------------------------------------


@contextlib.contextmanager
def databases(admin: str, cfg: Config) -> Iterator[tuple[str, str, str | None]]:
    """A and B, and P when the two context triggers are compared."""
    with contextlib.ExitStack() as stack:
        a, b = stack.enter_context(scratch_db(admin)), stack.enter_context(scratch_db(admin))
        p = stack.enter_context(scratch_db(admin)) if compares_markers(cfg) else None
        yield a, b, p


def config(args: argparse.Namespace) -> Config:
    if args.quick:
        return Config(
            capture=args.capture,
            wal_marker=args.wal_marker,
            async_commit=args.async_commit,
            scale=args.scale or 1,
            seconds=args.seconds or 5,
            rounds=max(2, args.rounds or 2),
            update_rows=20_000,
            update_repeat=3,
            bulk_rows=100_000,
            bulk_repeat=1,
            history_calls=200,
            as_of_repeat=2,
        )
    scale = args.scale or 10
    return Config(
        capture=args.capture,
        wal_marker=args.wal_marker,
        async_commit=args.async_commit,
        scale=scale,
        seconds=args.seconds or 60,
        rounds=max(2, args.rounds or 3),
        update_rows=min(200_000, scale * 100_000),
        update_repeat=3,
        bulk_rows=1_000_000,
        bulk_repeat=2,
        history_calls=200,
        as_of_repeat=3,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--dsn", help="server to measure on (default: a throwaway embedded one)")
    parser.add_argument("--scale", type=int, help="pgbench -s (default 10; --quick: 1)")
    parser.add_argument("--seconds", type=int, help="pgbench -T per round (default 60)")
    parser.add_argument("--rounds", type=int, help="TPS rounds per variant (default 3, min 2)")
    parser.add_argument("--quick", action="store_true", help="small and short: a smoke test")
    parser.add_argument("--explain", action="store_true", help="print the capture's plans")
    parser.add_argument(
        "--capture",
        choices=["trigger", "wal"],
        default="trigger",
        help="B's audit capture (wal: the embedded server runs with wal_level = logical)",
    )
    parser.add_argument(
        "--wal-marker",
        choices=["auto", "c", "plpgsql"],
        default="auto",
        help="B's context trigger with --capture wal; unless plpgsql, P (PL/pgSQL) joins the "
        "TPS rounds",
    )
    parser.add_argument(
        "--async-commit",
        action="store_true",
        help="TPS rounds with synchronous_commit = off: CPU-bound, not bound by the disk's flushes",
    )
    parser.add_argument("--tps-only", action="store_true", help="only the TPS rounds")
    parser.add_argument(
        "--sustained",
        action="store_true",
        help="every variant side by side (no audit, anchors, trigger, WAL with its follower "
        "live): sustained TPS with the follower's backlog after each round, bulk UPDATE",
    )
    parser.add_argument(
        "--anchors",
        type=Path,
        help="with --sustained: a directory with public copies of the anchors "
        "(audit-trigger/, supa_audit/, pgMemento/)",
    )
    parser.add_argument(
        "--variants",
        help="with --sustained: only these, comma-separated, no audit (A) always first: "
        "2ndq, supa, memento, T (trigger capture), Tp (trigger capture all in PL/pgSQL, "
        "as on a server without pgwarden_wal), W (auto, follower live); default: "
        "every one but Tp",
    )
    parser.add_argument(
        "--before",
        type=Path,
        help="with --sustained: the src/ directory of another checkout of pgwarden (e.g. "
        "`git archive BASE src | tar -x -C DIR`): variant T0, trigger capture applied by it, "
        "joins the rounds (before and after in one run)",
    )
    args = parser.parse_args()
    started = time.perf_counter()
    try:
        measure(args)
    finally:
        print(f"\nload average at end {load()}; total run {secs(time.perf_counter() - started)}")


def measure(args: argparse.Namespace) -> None:
    cfg = config(args)
    command = shlex.join([".venv/bin/python", "bench/audit.py", *sys.argv[1:]])
    print(f"command: `{command}`")
    print(f"machine: {machine()}; load average at start {load()}")
    print(f"code: pgwarden {__version__}, {revision()}")
    if args.sustained:
        from _audit_sustained import run

        with server_url(args.dsn, {"wal_level": "logical"}) as admin:
            print(f"server: {server_version(admin)}")
            chosen = args.variants.split(",") if args.variants else None
            run(admin, cfg.scale, cfg.seconds, cfg.rounds, cfg.update_rows, args.anchors, chosen,
                args.before)  # fmt: skip
        return
    logical = {"wal_level": "logical"} if cfg.capture == "wal" else None
    with server_url(args.dsn, logical) as admin:
        print(f"server: {server_version(admin)}")
        print(
            f"workload: pgbench -s {cfg.scale} ({cfg.accounts:,} accounts), built-in TPC-B-like, "
            f"-c 4 -j 2 -T {cfg.seconds}, simple protocol; A = no audit, B = audit "
            f'(capture = "{cfg.capture}") on the 4 pgbench tables; wal_level = '
            f"{server_setting(admin, 'wal_level')} for both; TPS rounds with "
            f"synchronous_commit = {'off' if cfg.async_commit else 'on'}"
        )
        with databases(admin, cfg) as (a, b, p):
            for note in setup(a, b, p, cfg):
                print(f"- {note}")
            s0 = store(b)
            print("running TPS rounds...", file=sys.stderr, flush=True)
            tps = bench_tps(a, b, p, cfg)
            header = ["measure", "A: no audit", "B: audit", "B/A", "goal", "anchors"]
            print_table("(1) TPC-B-like throughput, 4 clients", header, tps)
            if args.tps_only:
                return
            ingest(b)
            s1 = store(b)
            print("running bulk UPDATEs...", file=sys.stderr, flush=True)
            update, before = bench_update(a, b, cfg)
            s2 = store(b)
            print("history / as-of...", file=sys.stderr, flush=True)
            ingest(b)
            history = bench_history(b, cfg, key=123)
            as_of = bench_as_of(b, cfg, before)
            print("INSERT ... SELECT / COPY...", file=sys.stderr, flush=True)
            s3 = store(b)
            bulk = bench_bulk(a, b, cfg)
            ingest(b)
            s4 = store(b)

            print_table("(2) Bulk UPDATE (VACUUM and CHECKPOINT between runs)", header, update)
            print_table(
                "(3, 4) Bulk loads (CHECKPOINT before each)",
                ["measure", "A: no audit", "B: audit", "B/A", "audited rate"],
                bulk,
            )
            print_table(
                "(5) Audit storage: growth of warden.audit_events + audit_contexts "
                "(pg_total_relation_size), bytes per event",
                [
                    "phase",
                    "events",
                    "contexts",
                    "growth",
                    "events heap+toast",
                    "events indexes",
                    "contexts",
                    "total",
                ],
                [
                    storage_row(f"TPS rounds ({cfg.rounds} x {cfg.seconds} s)", s0, s1),
                    storage_row(
                        f"bulk UPDATEs ({cfg.update_repeat} x {cfg.update_rows:,} rows)", s1, s2
                    ),
                    storage_row(
                        f"INSERT ... SELECT + COPY ({2 * cfg.bulk_repeat} x "
                        f"{cfg.bulk_rows:,} rows)",
                        s3,
                        s4,
                    ),
                    storage_row("whole store at the end", Store(0, 0, 0, 0, 0), s4),
                ],
            )
            print_table(
                "(6) History of one row, after the workload",
                ["measure", "p50", "p95", "goal", "one EXPLAIN ANALYZE"],
                history,
            )
            print_table(
                "(7) Table as of a time (B)",
                ["measure", "time", "rows", "history of the table", "goal"],
                as_of,
            )
            if args.explain:
                explain(b, cfg, before)


if __name__ == "__main__":
    main()
