"""Foundation figures: embedded server start/stop, plan/apply at scale, timestamps overhead.

.venv/bin/python bench/engine.py                  # on a throwaway embedded server
.venv/bin/python bench/engine.py --dsn postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).parent))
from _common import machine, print_table, scratch_db, server_url, timed
from pgwarden import Warden
from pgwarden.server import EmbeddedServer
from pgwarden.spec import parse_spec


def bench_server() -> list[list[str]]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="pgwarden-bench-") as tmp:
        server = EmbeddedServer(Path(tmp) / "pg")
        cold = timed(server.start)
        stop = timed(server.stop)
        warm = timed(lambda: (server.start(), server.stop()), repeat=5) - stop
        server.start()
        noop = timed(server.ensure_running, repeat=20)
        server.stop()
    rows.append(["embedded server cold start (initdb + start)", f"{cold:.2f} s"])
    rows.append(["embedded server warm start", f"{warm:.2f} s"])
    rows.append(["embedded server stop", f"{stop:.2f} s"])
    rows.append(["ensure_running() when running", f"{noop * 1000:.2f} ms"])
    return rows


def bench_engine(url: str, tables: int) -> list[list[str]]:
    with psycopg.connect(url, autocommit=True) as conn:
        for i in range(tables):
            conn.execute(f"create table t{i} (id int primary key, v text)")
    spec = parse_spec(
        "".join(f'[tables."public.t{i}"]\ntimestamps = true\n' for i in range(tables))
    )
    with Warden(url, spec=spec) as warden:
        first_plan = timed(warden.plan)
        changes = len(warden.plan().changes)
        apply = timed(warden.apply)
        noop_plan = timed(warden.plan, repeat=3)
        noop_apply = timed(warden.apply, repeat=3)
    with Warden(url, spec=parse_spec("")) as warden:
        remove = timed(warden.apply)
    return [
        [f"plan, {tables} tables ({changes} changes)", f"{first_plan:.2f} s"],
        [f"apply, {tables} tables", f"{apply:.2f} s"],
        ["plan again (nothing to do)", f"{noop_plan:.2f} s"],
        ["apply again (nothing to do)", f"{noop_apply:.2f} s"],
        [f"remove the feature from {tables} tables", f"{remove:.2f} s"],
    ]


def bench_timestamps(url: str, rows: int) -> list[list[str]]:
    out = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "create table plain (id int primary key, v int, created_at timestamptz "
            "default now(), updated_at timestamptz default now())"
        )
        conn.execute("create table kept (id int primary key, v int)")
    with Warden(url, spec=parse_spec('[tables."public.kept"]\ntimestamps = true\n')) as warden:
        warden.apply()
    with psycopg.connect(url, autocommit=True) as conn:
        for label, stmt in [
            (
                f"INSERT ... SELECT {rows:,} rows",
                f"insert into {{t}} (id, v) select g, g from generate_series(1, {rows}) g",
            ),
            (f"UPDATE {rows:,} rows", "update {t} set v = v + 1"),
        ]:
            base = timed(lambda s=stmt: conn.execute(s.format(t="plain")))
            feat = timed(lambda s=stmt: conn.execute(s.format(t="kept")))
            out.append([label, f"{base:.2f} s", f"{feat:.2f} s", f"{feat / base:.2f}x"])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--dsn", help="server to measure on (default: a throwaway embedded one)")
    parser.add_argument("--tables", type=int, default=100)
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print_table("Embedded server", ["what", "time"], bench_server())
    with server_url(args.dsn) as admin:
        with psycopg.connect(admin) as conn:
            print(f"server: PostgreSQL {conn.info.parameter_status('server_version')}")
        with scratch_db(admin) as url:
            print_table("Plan / apply", ["what", "time"], bench_engine(url, args.tables))
        with scratch_db(admin) as url:
            print_table(
                "timestamps trigger vs column defaults only",
                ["statement", "without", "with timestamps", "ratio"],
                bench_timestamps(url, args.rows),
            )


if __name__ == "__main__":
    main()
