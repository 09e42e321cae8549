"""Order placement over HTTP, for bench/trading.py: ``pgwarden trading serve`` (audited
orders) driven by a load generator in another process, and where the CPU goes per order.

The load generator is ``wrk`` (Debian's package, installed by ``make system-packages``) with
bench/_trading_orders.lua, a fresh idempotency key per request; where wrk is absent (or with
``client="python"``) it is bench/_http_load.py. Both hold ``connections`` keep-alive
connections in a closed loop.

CPU per order is read from /proc over the load window, by process: the load generator, the
server processes (uvicorn's and their children), PostgreSQL's (the postmaster and its
children: backends, WAL writer, checkpointer...), and the rest of the machine (other work:
``/proc/stat``'s busy time minus ours). Under WAL capture (the embedded default) the orders'
audit events are read from the WAL after the run (``warden.audit.ingest()``): that deferred
work is measured on its own (the ingesting process plus PostgreSQL) and given per order too.
"""

from __future__ import annotations

import contextlib
import json
import random
import shutil
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import psycopg

from _common import (
    Cpu,
    children_cpu,
    machine_busy,
    percentile,
    postgres_pids,
    process_tree,
    run_http_load,
)
from pgwarden import Warden
from pgwarden.blueprints import trading
from pgwarden.blueprints.trading._cli import free_port
from pgwarden.blueprints.trading.services import Trading

HERE = Path(__file__).parent


def run_wrk(
    port: int, seconds: float, connections: int, accounts: list[int], ids: list[int], run: str
) -> dict[str, Any]:
    """wrk with the Lua script; its CPU from the children's rusage once it has exited."""
    before = children_cpu()
    out = subprocess.run(
        [
            "wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s",
            "-s", str(HERE / "_trading_orders.lua"), f"http://127.0.0.1:{port}",
            "--", ",".join(map(str, accounts)), ",".join(map(str, ids)), run,
        ],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    result: dict[str, Any] = json.loads(
        next(line for line in reversed(out.splitlines()) if line.startswith("{"))
    )
    result["cpu"] = children_cpu() - before
    return result


def run_python(
    port: int, seconds: float, connections: int, accounts: list[int], ids: list[int], run: str
) -> dict[str, Any]:
    """bench/_http_load.py on a plan of requests made here; its CPU as it reports it (the
    load window only, not its start)."""
    rng = random.Random(1)
    requests = []
    for k in range(int(seconds * 3000)):  # more distinct keys than a run can send
        body = {
            "instrument_id": rng.choice(ids),
            "side": rng.choice(["buy", "sell"]),
            "quantity": str(rng.randrange(1, 100)),
            "price": f"{rng.randrange(9000, 11000) / 100:.2f}",
            "client_order_id": f"{run}{k}",
        }
        requests.append(
            [
                "POST",
                f"/accounts/{rng.choice(accounts)}/orders",
                {"content-type": "application/json"},
                json.dumps(body),
            ]
        )
    raw = run_http_load(port, requests, seconds, connections)
    lat = raw["latencies_ms"]
    return {
        "requests": len(lat),
        "seconds": raw["seconds"],
        "statuses": raw["statuses"],
        "errors": {},
        "latency_ms": {p: percentile(lat, n) for p, n in (("p50", 50), ("p95", 95), ("p99", 99))},
        "cpu": raw["cpu_seconds"],
    }


def client_of(wanted: str) -> str:
    if wanted == "auto":
        return "wrk" if shutil.which("wrk") else "python"
    if wanted == "wrk" and not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (make system-packages)")
    return wanted


def serve(url: str, workers: int, pool_size: int) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port(0)
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "pgwarden"), "--database-url", url,
            "trading", "serve", "--port", str(port), "--pool-size", str(pool_size),
            "--workers", str(workers),
        ],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return server, port
        if time.monotonic() > deadline or server.poll() is not None:
            server.terminate()
            raise RuntimeError("the API did not start")
        time.sleep(0.2)


def history(url: str, accounts: list[int], ids: list[int], orders: int) -> None:
    """``orders`` orders of history (half of them filled, with their executions, a quarter
    cancelled, a quarter open), inserted in bulk through the audited tables, and their audit
    events ingested: the run then places orders into tables and indexes that size."""
    with psycopg.connect(url, autocommit=True) as conn:
        for lo in range(0, orders, 100_000):
            hi = min(orders, lo + 100_000) - 1
            conn.execute(
                "insert into trading.orders (account_id, instrument_id, client_order_id, side,"
                " type, price, quantity, filled_quantity, status, request_hash, created_at,"
                " updated_at)"
                " select (%(a)s::bigint[])[1 + g %% cardinality(%(a)s::bigint[])],"
                " (%(i)s::int[])[1 + g %% cardinality(%(i)s::int[])], 'h' || g,"
                " (case when g %% 2 = 0 then 'buy' else 'sell' end)::trading.order_side,"
                " 'limit', 90 + (g %% 2000) / 100.0, 1 + g %% 99,"
                " case when g %% 2 = 0 then 1 + g %% 99 else 0 end,"
                " (case when g %% 2 = 0 then 'filled' when g %% 4 = 1 then 'cancelled'"
                " else 'new' end)::trading.order_status, 'h',"
                " now() - (%(n)s - g) * interval '100 ms', now() - (%(n)s - g) * interval '100 ms'"
                " from generate_series(%(lo)s::bigint, %(hi)s) g",
                {"a": accounts, "i": ids, "n": orders, "lo": lo, "hi": hi},
            )
            conn.execute(
                "insert into trading.executions (order_id, account_id, instrument_id, side,"
                " quantity, price, executed_at) select order_id, account_id, instrument_id,"
                " side, quantity, price, created_at from trading.orders"
                " where status = 'filled' and client_order_id like 'h%%'"
                " and substr(client_order_id, 2)::bigint between %s and %s",
                [lo, hi],
            )
        conn.execute("analyze trading.orders")
        conn.execute("analyze trading.executions")
    with Warden(url, spec=trading.declaration()) as warden:
        warden.audit.ingest()


def bench_http(
    url: str,
    app: Trading,
    seconds: float,
    connections: int,
    workers: int = 1,
    client: str = "auto",
    pool_size: int = 8,
    orders_before: int = 0,
) -> tuple[list[str], list[str]]:
    """One run on the installed database ``url`` (``app`` over it, closed here), after
    ``orders_before`` orders of history: the result row and the CPU-per-order row."""
    client = client_of(client)
    ids = [r["instrument_id"] for r in app.portfolio.instruments()]
    accounts = [
        app.portfolio.open_account(f"a{k}", Decimal(10**9))["account_id"] for k in range(50)
    ]
    app.warden.close()
    if orders_before:
        history(url, accounts, ids, orders_before)
    server, port = serve(url, workers, pool_size)
    try:
        # Warm each server process's pool and code paths (not measured).
        warm = run_python if client == "python" else run_wrk
        warm(port, 1, connections, accounts, ids, "warm")
        cpu = Cpu(
            {
                "server": lambda: process_tree(server.pid),
                "postgres": lambda: postgres_pids(url),
            }
        )
        with psycopg.connect(url) as conn:
            before = conn.execute("select count(*) from trading.orders").fetchone()
        busy = machine_busy()
        cpu.start()
        result = (run_python if client == "python" else run_wrk)(
            port, seconds, connections, accounts, ids, "run"
        )
        used = cpu.stop()
        used["machine"] = machine_busy() - busy
    finally:
        server.terminate()
        server.wait(timeout=30)
    with psycopg.connect(url) as conn:
        after = conn.execute("select count(*) from trading.orders").fetchone()
    placed = (after[0] if after else 0) - (before[0] if before else 0)
    # Under WAL capture the events wait in the slot: ingest them (measured), then count.
    ingest = Cpu({"postgres": lambda: postgres_pids(url)})
    ingest.start()
    own = time.process_time()
    with Warden(url, spec=trading.declaration()) as warden:
        warden.audit.ingest()
    deferred = time.process_time() - own + ingest.stop()["postgres"]
    with psycopg.connect(url) as conn:
        audited = conn.execute(
            "select count(*) from warden.audit_events e join warden.audit_tables t "
            "using (table_id) where t.table_name = 'orders'"
        ).fetchone()
    lat = result["latency_ms"]
    n = result["requests"]
    per = {k: v * 1000 / max(n, 1) for k, v in used.items()}
    others = per["machine"] - per["server"] - per["postgres"] - result["cpu"] * 1000 / max(n, 1)
    label = f"{workers} process(es), {client}"
    if orders_before:
        label += f", {orders_before:,} orders of history"
    return (
        [
            label,
            json.dumps(result["statuses"])
            + (f" errors {result['errors']}" if any(result["errors"].values()) else ""),
            f"{placed:,}",
            f"{n / result['seconds']:,.0f}",
            f"{lat['p50']:.1f}",
            f"{lat['p95']:.1f}",
            f"{lat['p99']:.1f}",
            f"{audited[0] if audited else 0:,} of {after[0] if after else 0:,}"
            + (" (with history)" if orders_before else ""),
        ],
        [
            label,
            f"{result['cpu'] * 1000 / max(n, 1):.2f}",
            f"{per['server']:.2f}",
            f"{per['postgres']:.2f}",
            f"{per['machine'] - max(others, 0):.2f}",
            f"{deferred * 1000 / max(n, 1):.2f}",
            f"{max(others, 0):.2f}",
        ],
    )
