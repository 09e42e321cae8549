"""Where an order's CPU goes in the server, in-process: FastAPI's route or the short path
(api/_fast.py), and the statement through a psycopg pipeline or in one message
(``pgwarden.db.run_statement``), interleaved in blocks on one database.

    .venv/bin/python bench/trading_route.py [--dsn URL] [--rounds 6] [--block 200]

The app is called as uvicorn would call it (an ASGI scope, one request after another, no
network), so the figures are the app's CPU per order (this process, every thread) and
PostgreSQL's (the postmaster's tree, from /proc), without the HTTP server's. A program,
not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import uvloop

sys.path.insert(0, str(Path(__file__).parent))
from _common import cpu_seconds, load, machine, print_table, scratch_db, server_url
from _trading_http import postgres_pids
from pgwarden import Warden
from pgwarden.blueprints import trading
from pgwarden.blueprints.trading.api import _fast, create_app
from pgwarden.blueprints.trading.services import Trading
from pgwarden.blueprints.trading.services import orders as orders_module
from pgwarden.db import _statement


def body(k: int, run: str) -> bytes:
    return json.dumps(
        {
            "instrument_id": 1 + k % 10,
            "side": "buy" if k % 2 else "sell",
            "quantity": str(1 + k % 99),
            "price": f"{90 + k % 20}.{k % 100:02d}",
            "client_order_id": f"{run}{k}",
        }
    ).encode()


async def call(app: Any, path: str, payload: bytes) -> int:
    """One request through the ASGI app; its status."""
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "state": {},
        "headers": [(b"host", b"x"), (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode())],
    }  # fmt: skip
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": payload, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    out: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        out.append(message)

    await app(scope, receive, send)
    return int(out[0]["status"])


def pipelined(pool: Any, context: Any, query: Any, params: Any = None, *, key: Any = None) -> Any:
    """run_statement as it was: the context, the statement and COMMIT in a psycopg pipeline."""
    with pool.connection() as conn:
        return _statement._pipelined(conn, context, query, params, key)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dsn", help="server to measure on (default: an embedded one)")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--block", type=int, default=200)
    args = parser.parse_args()
    with server_url(args.dsn, {"shared_buffers": "512MB"}) as admin, scratch_db(admin) as url:
        print(f"# {machine()}; load {load()}")
        trading.install(url, now=dt.datetime(2026, 1, 5, tzinfo=dt.UTC)).close()
        service = Trading(Warden(url, spec=trading.declaration(), pool_size=8))
        for k in range(10):
            service.portfolio.add_instrument(f"I{k:03d}")
        accounts = [
            service.portfolio.open_account(f"a{k}", Decimal(10**9))["account_id"] for k in range(50)
        ]
        short = create_app(service)
        plain = create_app(service)
        plain.user_middleware = [m for m in plain.user_middleware if m.cls is not _fast.PlaceOrders]
        variants = {
            ("FastAPI's route", "pipeline"): (plain, pipelined),
            ("FastAPI's route", "one message"): (plain, _statement.run_statement),
            ("short path", "pipeline"): (short, pipelined),
            ("short path", "one message"): (short, _statement.run_statement),
        }
        used = {name: [0.0, 0.0] for name in variants}
        postgres = postgres_pids(url)

        def pg() -> float:
            return sum(cpu_seconds(p) or 0.0 for p in postgres)

        async def run() -> None:
            n = 0
            for app, statement in variants.values():  # warm each path
                orders_module.run_statement = statement  # type: ignore[assignment]
                for _ in range(50):
                    n += 1
                    await call(app, f"/accounts/{accounts[n % 50]}/orders", body(n, "w"))
            for _ in range(args.rounds):
                for name, (app, statement) in variants.items():
                    orders_module.run_statement = statement  # type: ignore[assignment]
                    c0, p0 = time.process_time(), pg()
                    for _ in range(args.block):
                        n += 1
                        path = f"/accounts/{accounts[n % 50]}/orders"
                        status = await call(app, path, body(n, "r"))
                        assert status == 201, status
                    used[name][0] += time.process_time() - c0
                    used[name][1] += pg() - p0

        uvloop.run(run())
        service.warden.close()
        n = args.rounds * args.block
        print_table(
            f"CPU per order, ms, in-process ({n:,} orders per variant, interleaved blocks of "
            f"{args.block}; load {load()})",
            ["route", "statement", "app", "PostgreSQL", "sum"],
            [
                [route, statement, f"{a * 1000 / n:.2f}", f"{p * 1000 / n:.2f}",
                 f"{(a + p) * 1000 / n:.2f}"]
                for (route, statement), (a, p) in used.items()
            ],
        )  # fmt: skip


if __name__ == "__main__":
    main()
