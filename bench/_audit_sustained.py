"""``bench/audit.py --sustained``: every audit variant side by side in one run, under
sustained TPC-B load with durable commits, and one bulk UPDATE.

One scratch database per variant on one server with ``wal_level = logical``: no audit, the
anchors found under ``--anchors DIR`` (see ``_audit_anchors``), pgwarden ``capture =
"trigger"``, and pgwarden's default ``capture = "auto"`` (from the WAL here) with its follower
``pgwarden audit ingest --follow`` running as its own process for the whole run. Rounds go
variant by variant (A, Q, S, M, T, W, A, ...). After each W round: the WAL the follower had
not yet confirmed when pgbench stopped (its backlog) and how long it took to confirm it all.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from _audit_anchors import PGBENCH_TABLES, available, install
from _common import cpu_seconds, print_table, scratch_db, timed
from pgwarden import Warden
from pgwarden.spec import parse_spec

W_CAPTURE: str | None = None  # the default: capture = "auto"


@dataclass
class Variant:
    key: str
    label: str
    note: str
    url: str = ""
    tps: list[float] = field(default_factory=list)
    update: list[float] = field(default_factory=list)
    backlog: list[tuple[int, float, int, float]] = field(default_factory=list)
    """W: (bytes not confirmed when pgbench stopped, seconds to confirm them, events, CPU
    seconds of the follower and its server processes for the round and its catch-up)."""
    catch_up: list[float] = field(default_factory=list)


def spec_text(capture: str | None) -> str:
    value = "true" if capture is None else f'{{ capture = "{capture}" }}'
    return "".join(f'[tables."public.{t}"]\naudit = {value}\n\n' for t in PGBENCH_TABLES)


def lag(url: str) -> tuple[int, str]:
    """(bytes of WAL the slot holds back, the current WAL position)."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "select coalesce(pg_current_wal_lsn() - confirmed_flush_lsn, 0)::bigint, "
            "pg_current_wal_lsn()::text from pg_replication_slots "
            "where database = current_database()"
        ).fetchone()
    return (int(row[0]), str(row[1])) if row else (0, "0/0")


def wait_confirmed(url: str, target: str, timeout: float = 600) -> float:
    """Seconds until the follower has confirmed everything up to ``target``."""
    start = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        while time.perf_counter() - start < timeout:
            row = conn.execute(
                "select confirmed_flush_lsn >= %s::pg_lsn from pg_replication_slots "
                "where database = current_database()",
                (target,),
            ).fetchone()
            if row is None or row[0]:
                break
            time.sleep(0.05)
    return time.perf_counter() - start


def total_cpu(pids: list[int]) -> float:
    """User + system CPU of these processes so far (Linux /proc)."""
    return sum(cpu_seconds(pid) or 0.0 for pid in pids)


def ingest_pids(url: str, follower: int) -> list[int]:
    """The follower and its two server processes (the walsender and its writes)."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "select pid from pg_stat_activity where application_name = 'pgwarden audit follower'"
        ).fetchall()
    return [follower, *(int(r[0]) for r in rows)]


def events(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("select count(*) from warden.audit_events").fetchone()
    return int(row[0]) if row else 0


@contextlib.contextmanager
def follower(url: str, spec: str) -> Iterator[subprocess.Popen[bytes]]:
    """``pgwarden audit ingest --follow`` on ``url``, in its own process."""
    with tempfile.NamedTemporaryFile("w", suffix=".toml") as config:
        config.write(spec)
        config.flush()
        exe = Path(sys.executable).parent / "pgwarden"
        process = subprocess.Popen(
            [str(exe), "-c", config.name, "--database-url", url, "audit", "ingest", "--follow"],
            stdout=subprocess.DEVNULL,
        )
        try:
            yield process
        finally:
            process.terminate()
            process.wait(timeout=60)


def setup(
    admin: str,
    scale: int,
    anchors: Path | None,
    stack: contextlib.ExitStack,
    chosen: list[str] | None = None,
    before: Path | None = None,
) -> list[Variant]:
    variants = [Variant("A", "no audit", "")]
    for anchor in available(anchors):
        variants.append(Variant(anchor.key, anchor.label, anchor.note))
    if before is not None:
        variants.append(Variant("T0", 'pgwarden capture = "trigger", before', str(before)))
    variants.append(Variant("T", 'pgwarden capture = "trigger"', 'audit = { capture = "trigger" }'))
    label = 'pgwarden capture = "trigger", all in PL/pgSQL'
    variants.append(Variant("Tp", label, "as on a server without pgwarden_wal"))
    variants.append(Variant("W", "pgwarden default (auto)", "audit = true, follower live"))
    wanted = (
        (set(chosen) | ({"T0"} if before else set()))
        if chosen
        else {v.key for v in variants} - {"Tp"}
    )
    unknown = wanted - {v.key for v in variants}
    if unknown:
        raise SystemExit(f"--variants: no variant {', '.join(sorted(unknown))} (or no anchor copy)")
    variants = [v for v in variants if v.key == "A" or v.key in wanted]
    for v in variants:
        v.url = stack.enter_context(scratch_db(admin))
        from audit import pgbench

        pgbench(v.url, "-i", "-q", "-s", str(scale))
        if v.key in ("2ndq", "supa", "memento"):
            assert anchors is not None
            install(next(a for a in available(anchors) if a.key == v.key), anchors, v.url)
        elif v.key == "T0":
            assert before is not None
            apply_with(before, v.url, spec_text("trigger"))
        elif v.key in ("T", "Tp", "W"):
            spec = parse_spec(spec_text(W_CAPTURE if v.key == "W" else "trigger"))
            with plpgsql_context(v.key == "Tp"), Warden(v.url, spec=spec) as warden:
                result = warden.apply()
            if v.key == "W":
                chosen = [c.description for c in result.applied if "registration" in c.description]
                v.note += "; " + (chosen[0] if chosen else "")
    return variants


def apply_with(src: Path, url: str, spec: str) -> None:
    """Apply ``spec`` to ``url`` with the pgwarden of another checkout (its ``src/``)."""
    code = (
        "import sys\nfrom pgwarden import Warden\nfrom pgwarden.spec import parse_spec\n"
        "with Warden(sys.argv[1], spec=parse_spec(sys.argv[2])) as w:\n    w.apply()\n"
    )
    env = {**os.environ, "PYTHONPATH": str(src.resolve())}
    subprocess.run([sys.executable, "-c", code, url, spec], check=True, env=env)


@contextlib.contextmanager
def plpgsql_context(wanted: bool) -> Iterator[None]:
    """Plans made inside capture in PL/pgSQL only (context and statements), as on a server
    without extension pgwarden_wal (its C functions stay installed, unused)."""
    import pgwarden.features.audit as audit

    chosen = audit.context_in_c, audit.capture_in_c
    if wanted:
        audit.context_in_c = lambda ctx: (False, False, "context in PL/pgSQL (bench)")  # type: ignore[assignment]
        audit.capture_in_c = lambda ctx: (False, False, "statements in PL/pgSQL (bench)")  # type: ignore[assignment]
    try:
        yield
    finally:
        audit.context_in_c, audit.capture_in_c = chosen


def run(admin: str, scale: int, seconds: int, rounds: int, update_rows: int,
        anchors: Path | None, chosen: list[str] | None = None,
        before: Path | None = None) -> None:  # fmt: skip
    from audit import checkpoint, tps_round

    with contextlib.ExitStack() as stack:
        print("setting up the variants...", file=sys.stderr, flush=True)
        variants = setup(admin, scale, anchors, stack, chosen, before)
        w = next((v for v in variants if v.key == "W"), None)
        process = stack.enter_context(follower(w.url, spec_text(W_CAPTURE))) if w else None
        for i in range(rounds):
            for v in variants:
                before = events(v.url) if v is w else 0
                pids = ingest_pids(v.url, process.pid) if v is w and process else []
                cpu = total_cpu(pids)
                v.tps.append(tps_round(v.url, seconds, False)[0])
                if v is w:
                    backlog, target = lag(v.url)
                    took = wait_confirmed(v.url, target)
                    used = total_cpu(pids) - cpu
                    v.backlog.append((backlog, took, events(v.url) - before, used))
                print(f"  round {i + 1} {v.key}: {v.tps[-1]:.0f} tps", file=sys.stderr, flush=True)
        stmt = f"update pgbench_accounts set abalance = abalance + 1 where aid <= {update_rows}"
        for _ in range(3):
            for v in variants:
                checkpoint(v.url)
                with psycopg.connect(v.url, autocommit=True) as conn:
                    v.update.append(timed(lambda c=conn: c.execute(stmt)))
                    if v is w:
                        v.catch_up.append(wait_confirmed(v.url, lag(v.url)[1]))
                    conn.execute("vacuum pgbench_accounts")
        report(variants, seconds, rounds, update_rows)


def report(variants: list[Variant], seconds: int, rounds: int, update_rows: int) -> None:
    a = variants[0]
    tps_a = statistics.median(a.tps)
    upd_a = statistics.median(a.update)
    rows: list[list[Any]] = []
    for v in variants:
        tps = statistics.median(v.tps)
        upd = statistics.median(v.update)
        extra = ""
        if v.backlog:
            extra = "; ".join(
                f"{b / 2**20:.1f} MB behind, confirmed {t:.1f} s later, {n:,} events, "
                f"ingest CPU {c:.1f} s"
                for b, t, n, c in v.backlog
            )
        if v.catch_up:
            upd_note = f"{upd / upd_a:.2f}x (+{statistics.median(v.catch_up):.1f} s to ingest)"
        else:
            upd_note = f"{upd / upd_a:.2f}x"
        rows.append([
            v.label, f"{tps:.0f} ({', '.join(f'{t:.0f}' for t in v.tps)})",
            f"{tps / tps_a:.2f}x", f"{upd:.2f} s", upd_note, extra or v.note,
        ])  # fmt: skip
    print_table(
        f"Sustained TPC-B, 4 clients, durable commits, median of {rounds} x {seconds} s; "
        f"one UPDATE of {update_rows:,} rows, median of 3",
        ["variant", "TPS (rounds)", "TPS ratio", "UPDATE", "UPDATE ratio", "backlog / notes"],
        rows,
    )
