"""The trading blueprint against seed 004's targets, side by side in one run.

    .venv/bin/python bench/trading.py [--dsn URL] [--ticks N] [--scale 10] [--orders N]
                                      [--http-seconds T] [--connections C]
                                      [--server-workers 1,2] [--client auto|wrk|python]

1. Market-data ingest through the bulk path (``Market.ingest_csv`` and ``Market.ingest``):
   COPY into the day-partitioned ``ticks`` with its primary key, audit off on market data,
   idempotent batches. Rows/s and the ingesting process's peak RSS (``VmHWM``) at ``--ticks``
   and at ``--scale`` times as many: flat memory means streamed.
2. Order placement over HTTP: ``pgwarden trading serve --workers N`` (audited orders) driven
   by wrk (bench/_trading_orders.lua; bench/_http_load.py where wrk is absent) in another
   process; orders/s, p50 / p95 / p99, and the CPU per order of each process: the load
   generator, the server, PostgreSQL, the deferred audit ingest (bench/_trading_http.py).
3. Index reduction: the seed's over-indexed ``orders`` / ``executions``, a read workload
   (order book, an account's orders, fills of an order, positions), ``pgwarden doctor``'s
   duplicate / redundant / unused index findings applied with its fixes; INSERT rate before
   and after, with the audit triggers as deployed and without them.
4. ``numeric`` vs ``float8`` vs scaled ``bigint`` for price and quantity: COPY speed, size,
   and how far ``sum(price * quantity)`` lands from the exact figure.
5. "10x data volume": the ingest rate and a one-day query at ``--scale`` times the history
   (the same ticks a day, ``--scale`` times the days: 4 days at 1x, 40 at 10x), with the
   partitions the plan reads (pruning).

The pgbench TPS of the same server is printed as the machine's anchor. A program, not a test.
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import os
import random
import re
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).parent))
import _trading_http
from _common import (
    load,
    machine,
    pgbench_tps,
    print_table,
    scratch_db,
    server_url,
    server_version,
)
from pgwarden import Warden
from pgwarden.blueprints import trading
from pgwarden.blueprints.trading import _migrate
from pgwarden.blueprints.trading.generate import tick_lines
from pgwarden.blueprints.trading.services import Trading
from pgwarden.spec import parse_spec

DAY0 = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)


def installed(url: str, days: int = 1) -> Trading:
    trading.install(url, now=DAY0).close()
    warden = Warden(url, spec=trading.declaration(), pool_size=10)
    app = Trading(warden)
    # Partitions for every day the history spans (premake covers the day and three ahead).
    for day in range(0, days, 4):
        warden.maintain(
            only=trading.tables(warden.spec),
            names=["partition-premake"],
            now=DAY0 + dt.timedelta(days=day),
        )
    return app


def instruments(app: Trading, n: int) -> list[int]:
    return [app.portfolio.add_instrument(f"I{k:03d}")["instrument_id"] for k in range(n)]


def _ingest_child(
    url: str,
    ids: list[int],
    ticks: int,
    key: str,
    rows: bool,
    workers: int,
    per_day: int,
    out: Any,
) -> None:
    """In its own process (spawned): write the CSV to a file (not timed), then stream the file
    through the ingest path (timed); report rows/s and the process's peak RSS."""
    days = -(-ticks // (per_day * len(ids)))
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as f:
        f.writelines(tick_lines(ids, DAY0, days, per_day, seed=7))
    app = Trading(Warden(url, spec=trading.declaration(), pool_size=2))
    try:
        with open(f.name) as source:
            start = time.perf_counter()
            if rows:
                parsed = (
                    (int(i), ts, int(seq), price, size.rstrip())
                    for i, ts, seq, price, size in (line.split(",") for line in source)
                )
                done = app.market.ingest(parsed, key=key, batch_size=50_000)
            else:
                done = app.market.ingest_csv(source, key=key, batch_size=50_000, workers=workers)
            took = time.perf_counter() - start
    finally:
        app.warden.close()
        os.unlink(f.name)
    peak = 0
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                peak = int(line.split()[1])
    out.put([done.rows, done.batches, took, done.rows / took, peak / 1024])


def ingest_once(
    url: str, ids: list[int], ticks: int, key: str, rows: bool, workers: int, per_day: int
) -> list[Any]:
    """``ticks`` ticks, ``per_day`` a day per instrument (more ticks: more days)."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    child = ctx.Process(
        target=_ingest_child, args=(url, ids, ticks, key, rows, workers, per_day, queue)
    )
    child.start()
    result: list[Any] = queue.get()
    child.join()
    return result


def bench_ingest(
    admin: str, ticks: int, scale: int
) -> tuple[list[list[str]], list[list[str]], list[str]]:
    out = []
    pruning = []
    plans = []
    with scratch_db(admin) as url:
        app = installed(url, days=4 * scale + 4)
        ids = instruments(app, 20)
        per_day = max(1, ticks // len(ids) // 4)  # 1x: four days; 10x: forty days
        for label, n, use_rows, workers in (
            ("CSV lines (server parses), 1 connection", ticks, False, 1),
            ("CSV lines (server parses), 2 connections", ticks, False, 2),
            ("Python rows (write_row), 1 connection", ticks, True, 1),
        ):
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("truncate trading.ticks, trading.ingest_batches")
            r = ingest_once(url, ids, n, f"b-{label}", use_rows, workers, per_day)
            out.append(
                [label, f"{r[0]:,}", str(r[1]), f"{r[2]:.1f} s", f"{r[3]:,.0f}", f"{r[4]:.0f} MiB"]
            )
        row, plan = query_day(url, "1x", ticks)
        pruning.append(row)
        plans.append(f"# EXPLAIN of the one-day query at 1x:\n{plan}")
        # 10x: the same path on scale times the history, from an empty table.
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("truncate trading.ticks, trading.ingest_batches")
        r = ingest_once(url, ids, ticks * scale, "b-10x", False, 2, per_day)
        out.append(
            [
                f"CSV lines, 2 connections, {scale}x volume",
                f"{r[0]:,}",
                str(r[1]),
                f"{r[2]:.1f} s",
                f"{r[3]:,.0f}",
                f"{r[4]:.0f} MiB",
            ]
        )
        row, plan = query_day(url, f"{scale}x", ticks * scale)
        pruning.append(row)
        plans.append(f"# EXPLAIN of the one-day query at {scale}x:\n{plan}")
        app.warden.close()
    return out, pruning, plans


def query_day(url: str, label: str, rows: int) -> tuple[list[str], str]:
    """One instrument's ticks of one day: time, the partitions the plan reads, the plan."""
    q = (
        "select count(*), max(price) from trading.ticks where instrument_id = 3 "
        "and ts >= %s and ts < %s"
    )
    day = (DAY0 + dt.timedelta(days=1), DAY0 + dt.timedelta(days=2))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("analyze trading.ticks")
        plan = "\n".join(r[0] for r in conn.execute(f"explain {q}", day))  # type: ignore[call-overload]
        parts = sorted(set(re.findall(r"ticks__p\d+", plan)))
        conn.execute(q, day)
        samples = []
        for _ in range(5):
            t = time.perf_counter()
            conn.execute(q, day).fetchone()
            samples.append((time.perf_counter() - t) * 1000)
        size = conn.execute(
            "select pg_size_pretty(sum(pg_total_relation_size(relid))) "
            "from pg_partition_tree('trading.ticks')"
        ).fetchone()
    row = [
        label,
        f"{rows:,}",
        str(size[0] if size else "?"),
        ", ".join(parts),
        f"{min(samples):.1f} ms",
    ]
    return row, plan


def bench_http(
    admin: str, seconds: float, connections: int, workers: int, client: str, history: int = 0
) -> tuple[list[str], list[str]]:
    with scratch_db(admin) as url:
        app = installed(url)
        instruments(app, 10)
        return _trading_http.bench_http(
            url, app, seconds, connections, workers, client, orders_before=history
        )


READS = [
    (
        "select price, sum(quantity - filled_quantity) from trading.orders where instrument_id = %s"
        " and side = 'buy' and type = 'limit' and status in ('new', 'partially_filled')"
        " group by price order by price desc limit 10",
        "instrument",
    ),
    (
        "select * from trading.orders where account_id = %s order by created_at desc limit 50",
        "account",
    ),
    ("select * from trading.executions where order_id = %s", "order"),
    (
        "select * from trading.executions where account_id = %s order by executed_at desc limit 50",
        "account",
    ),
    ("select * from trading.positions where account_id = %s", "account"),
    ("select * from trading.orders where account_id = %s and client_order_id = %s", "key"),
]


def insert_rate(url: str, n: int, offset: int) -> float:
    """``n`` orders then one execution each, INSERT ... SELECT in 5,000-row transactions (the
    server's cost of a row and its indexes and triggers, not the client's): rows/s."""
    with psycopg.connect(url) as conn:
        start = time.perf_counter()
        for chunk in range(offset, offset + n, 5000):
            conn.execute(
                "insert into trading.orders (account_id, instrument_id, client_order_id, side,"
                " price, quantity, request_hash)"
                " select 1 + g %% 20, 1 + g %% 10, 'ir-' || g,"
                " (case when g %% 2 = 0 then 'buy' else 'sell' end)::trading.order_side,"
                " 100 + g %% 50, 10, '' from generate_series(%s::bigint, %s) g",
                [chunk, chunk + 4999],
            )
            conn.execute(
                "insert into trading.executions (order_id, account_id, instrument_id, side,"
                " quantity, price) select order_id, account_id, instrument_id, side, 1, price"
                " from trading.orders where order_id > (select coalesce(max(order_id), 0)"
                " from trading.executions)"
            )
            conn.commit()
        took = time.perf_counter() - start
    return 2 * n / took


def read_workload(url: str, rounds: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        keys = conn.execute(
            "select account_id, client_order_id from trading.orders limit 50"
        ).fetchall()
        for k in range(rounds):
            for query, kind in READS:
                arg: tuple[Any, ...] = {
                    "instrument": (1 + k % 10,),
                    "account": (1 + k % 20,),
                    "order": (1 + k,),
                    "key": keys[k % len(keys)],
                }[kind]
                conn.execute(query, arg).fetchall()  # type: ignore[call-overload]


def _seeds(index: str) -> bool:
    """The seed's indexes on the write tables (migration 0001), not pgwarden's own."""
    return index.startswith(("trading.idx_orders_", "trading.idx_executions_"))


def best_rate(url: str, n: int, offset: int) -> float:
    """Median of three runs (the machine is shared: single runs swing)."""
    return sorted(insert_rate(url, n, offset + k * 10**5) for k in range(3))[1]


def bench_indexes(admin: str, n: int) -> tuple[list[list[str]], list[str]]:
    out = []
    dropped: list[str] = []
    for audited in (False, True):
        with scratch_db(admin) as url:
            if audited:
                trading.install(url, now=DAY0).close()
            else:
                _migrate.upgrade(url)  # the tables only: no pgwarden features
            with psycopg.connect(url) as conn:
                conn.execute(
                    "insert into trading.instruments (symbol) "
                    "select 'S' || g from generate_series(1, 10) g"
                )
                conn.execute(
                    "insert into trading.accounts (name) "
                    "select 'a' || g from generate_series(1, 20) g"
                )
            insert_rate(url, n // 4, 0)  # warm up, and rows for the reads to find
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("analyze")
            read_workload(url, 200)
            before = best_rate(url, n, 10**6)
            spec = parse_spec(
                trading.DECLARATION.read_text() + '\n[monitor]\nunused_index_min_age = "1s"\n',
                file="pgwarden.toml",
            )
            time.sleep(1.1)
            done: set[str] = set()
            with Warden(url, spec=spec) as warden:
                # Unused first: of two equal indexes the planner used one, and the duplicate
                # check would keep the other (the older); then duplicates and prefixes.
                for checks in (["index.unused"], ["index.duplicate", "index.redundant"]):
                    report = warden.monitor.doctor(checks)
                    for f in report.findings:
                        if f.fix is None or f.object in done or not _seeds(f.object):
                            continue
                        warden.monitor.fix(f.check, f.object)
                        done.add(f.object)
                        if audited:
                            dropped.append(f"{f.object.removeprefix('trading.')} ({f.check})")
                with psycopg.connect(url) as conn:
                    left = conn.execute(
                        "select count(*) from pg_indexes where schemaname = "
                        "'trading' and tablename in ('orders', 'executions')"
                    ).fetchone()
            after = best_rate(url, n, 2 * 10**6)
            gain = (after / before - 1) * 100
            out.append(
                [
                    "audited (as deployed)" if audited else "tables only (no triggers)",
                    str(len(done)),
                    str(left[0] if left else "?"),
                    f"{before:,.0f}",
                    f"{after:,.0f}",
                    f"{gain:+.0f} %",
                ]
            )
    return out, dropped


def bench_types(admin: str, n: int) -> list[list[str]]:
    rng = random.Random(3)
    data = [(rng.randrange(1, 10**7), rng.randrange(1, 10**4) * 10**6) for _ in range(n)]
    # price in 1e-8 units (up to 0.1), quantity whole units: the exact notional in Decimal.
    exact = sum(Decimal(p) / 10**8 * (Decimal(q) / 10**8) for p, q in data)
    out = []
    for name, ddl, conv in (
        ("numeric(18,8)", "numeric(18,8)", lambda v: Decimal(v) / 10**8),
        ("float8", "float8", lambda v: v / 10**8),
        ("bigint (x 1e8)", "bigint", lambda v: v),
    ):
        with scratch_db(admin) as url, psycopg.connect(url) as conn:
            conn.execute(f"create table t (id bigint, price {ddl}, quantity {ddl})")
            rows = [(k, conv(p), conv(q)) for k, (p, q) in enumerate(data)]
            start = time.perf_counter()
            with conn.cursor() as cur, cur.copy("copy t from stdin") as copy:
                for r in rows:
                    copy.write_row(r)
            conn.commit()
            took = time.perf_counter() - start
            size = conn.execute("select pg_total_relation_size('t')").fetchone()
            if name.startswith("bigint"):
                total = conn.execute("select sum(price::numeric * quantity) from t").fetchone()
                got = Decimal(total[0]) / 10**16 if total else Decimal(0)
            else:
                total = conn.execute("select sum(price * quantity) from t").fetchone()
                got = Decimal(total[0]) if total else Decimal(0)
        out.append(
            [
                name,
                f"{n / took:,.0f}",
                f"{(size[0] if size else 0) / 2**20:.1f} MiB",
                f"{got:.8f}",
                f"{abs(got - exact):.2E}",
            ]
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dsn", help="server to measure on (default: an embedded one)")
    parser.add_argument("--ticks", type=int, default=1_000_000)
    parser.add_argument("--scale", type=int, default=10)
    parser.add_argument("--orders", type=int, default=20_000, help="INSERTs per index run")
    parser.add_argument("--types", type=int, default=500_000, help="rows per type run")
    parser.add_argument("--http-seconds", type=float, default=20)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument(
        "--server-workers", default="1,2", help="server processes to measure, comma-separated"
    )
    parser.add_argument(
        "--client",
        choices=["auto", "wrk", "python"],
        default="auto",
        help="HTTP load generator: wrk where installed (auto), else bench/_http_load.py",
    )
    parser.add_argument(
        "--order-history",
        default="",
        help="orders of history to place into, comma-separated (e.g. 100000,1000000): "
        "runs at the last --server-workers count",
    )
    parser.add_argument("--skip", default="", help="sections to skip: ingest,http,index,types")
    args = parser.parse_args()
    skip = set(args.skip.split(","))
    settings = {"shared_buffers": "512MB", "max_wal_size": "4GB", "checkpoint_timeout": "15min"}
    with server_url(args.dsn, settings) as admin:
        print(f"# {machine()}; {server_version(admin)}; load {load()}")
        with scratch_db(admin) as url:
            tps = pgbench_tps(url, scale=1, seconds=10)
            print(f"pgbench baseline (scale 1, 2 clients, 10 s): {tps:,.0f} TPS")
        if "ingest" not in skip:
            rows, pruning, plans = bench_ingest(admin, args.ticks, args.scale)
            print_table(
                "Market-data ingest (partitioned by day, primary key, audit off; "
                "seed: 10,000 inserts/minute = 167/s; issue: >= 200,000 rows/s)",
                ["path", "rows", "batches", "time", "rows/s", "peak RSS"],
                rows,
            )
            print_table(
                "One instrument, one day, as the history grows (pruning)",
                ["volume", "ticks", "ticks size", "partitions in the plan", "query"],
                pruning,
            )
            print("\n" + "\n\n".join(plans))
        if "http" not in skip:
            runs = [
                bench_http(admin, args.http_seconds, args.connections, int(w), args.client)
                for w in args.server_workers.split(",")
            ]
            # "10x data volume" for orders: the same placement into a history of orders.
            runs += [
                bench_http(
                    admin, args.http_seconds, args.connections,
                    int(args.server_workers.split(",")[-1]), args.client, int(h),
                )
                for h in filter(None, args.order_history.split(","))
            ]  # fmt: skip
            print_table(
                f"Order placement over HTTP, POST /accounts/{{id}}/orders, {args.connections} "
                "connections (audited; load generator in another process; issue: >= 1,000/s, "
                "p95 < 50 ms)",
                [
                    "server processes, load generator", "statuses", "orders placed",
                    "orders/s", "p50 ms", "p95 ms", "p99 ms", "orders audited (with warm-up)",
                ],
                [r for r, _ in runs],
            )  # fmt: skip
            print_table(
                "CPU per order, ms, by process (/proc over the load window; audit ingest: "
                "reading the orders' events from the WAL after the run)",
                [
                    "server processes, load generator", "load generator", "server",
                    "PostgreSQL", "all three", "audit ingest (deferred)", "other work",
                ],
                [c for _, c in runs],
            )  # fmt: skip
        if "index" not in skip:
            rows, dropped = bench_indexes(admin, args.orders)
            print_table(
                "INSERT rate of orders + executions before / after doctor's index "
                "fixes (seed: 30-50 % better)",
                [
                    "schema",
                    "indexes dropped",
                    "indexes left",
                    "rows/s before",
                    "rows/s after",
                    "gain",
                ],
                rows,
            )
            print("\ndropped: " + "; ".join(dropped))
        if "types" not in skip:
            print_table(
                f"Price and quantity types ({args.types:,} rows; sum of price x quantity "
                "against the exact decimal)",
                ["type", "COPY rows/s", "table size", "sum(price*qty)", "error"],
                bench_types(admin, args.types),
            )


if __name__ == "__main__":
    main()
