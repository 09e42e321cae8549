"""``pgwarden demo trading``: the trading blueprint on the embedded server (or a given
database): migrations, its declaration planned and applied, CASCADE keys made RESTRICT,
generated market data and orders, an order's story, and its API served."""

from __future__ import annotations

import json
import urllib.request
from decimal import Decimal
from typing import Any

import typer

from pgwarden.blueprints import _serve, trading
from pgwarden.blueprints.trading import _migrate
from pgwarden.blueprints.trading._cli import load, print_access, running, service
from pgwarden.cli._common import console, err_console, fail
from pgwarden.errors import PgwardenError
from pgwarden.warden import Warden

CASCADES = """
select conrelid::regclass::text, conname, confdeltype = 'c'
from pg_constraint where contype = 'f' and connamespace = 'trading'::regnamespace
order by 1, 2
"""


def _keys(url: str) -> list[tuple[str, str, bool]]:
    with Warden(url) as warden, warden.connect() as conn:
        return [(t, n, bool(c)) for t, n, c in conn.execute(CASCADES)]


def run_demo(ctx: typer.Context, *, port: int, serve: bool, check: bool) -> None:
    """Install, load, tell an order's story, then serve (or check and stop)."""
    try:
        url = _serve.demo_database(ctx, "Trading", "trading", _migrate.upgrade)
        cascading = [f"{t}.{n}" for t, n, c in _keys(url) if c]
        with Warden(url, spec=trading.declaration()) as warden:
            plan = warden.plan(only=trading.tables(warden.spec))
        console.print(f"[bold]3.[/] {_serve.planned(plan.changes)}")
        trading.install(url).close()
        after = {f"{t}.{n}": c for t, n, c in _keys(url)}
        made = [k for k in cascading if not after.get(k, True)]
        console.print(
            "[bold]4.[/] Applied: audit, versioning, soft delete, daily partitions, archive; "
            f"CASCADE → RESTRICT: {', '.join(made) or 'already done'}."
        )
        result = load(url, days=3, ticks_per_day=2_000, orders=200)
        console.print(f"[bold]5.[/] Generated {result.ticks:,} ticks (idempotent batches), "
                      f"{result.orders} orders, {result.fills} fills.")  # fmt: skip
        _story(url)
    except PgwardenError as exc:
        fail(exc)
    if check:
        _check(url, port)
    elif serve:
        from pgwarden.blueprints.trading._cli import make_server

        server = make_server(url, port)
        print_access(server.config.port)
        console.print("[dim]Ctrl-C to stop.[/]")
        server.run()


def _story(url: str) -> None:
    """Place, replay, amend, fill one order; show what pgwarden recorded for the position."""
    app = service(url)
    try:
        account = app.portfolio.open_account("demo-desk", Decimal(100_000))
        aid = account["account_id"]
        inst = app.portfolio.instruments()[0]
        iid = inst["instrument_id"]
        mark = app.market.last_prices([iid]).get(iid, Decimal(100))
        order, _ = app.orders.place(aid, iid, "buy", Decimal(100), mark,
                                    client_order_id="demo-1")  # fmt: skip
        _, again = app.orders.place(aid, iid, "buy", Decimal(100), mark,
                                    client_order_id="demo-1")  # fmt: skip
        app.orders.amend(aid, order["order_id"], quantity=Decimal(60))
        app.orders.fill(order["order_id"], Decimal(60), mark)
        pnl = app.portfolio.pnl(aid)
        history = app.warden.audit.history("trading.orders", order["order_id"])
    finally:
        app.warden.close()
    console.print(f"[bold]6.[/] Order {order['order_id']}: {inst['symbol']} buy 100 @ {mark}; "
                  f"sent again with the same key: {'new order' if again else 'same order'}; "
                  "amended to 60; filled.")  # fmt: skip
    for v in history:
        changed = ", ".join(v.changed or []) or "-"
        console.print(f"     v{v.version} {v.op:<7} by {v.actor} ({v.reason})  changed: {changed}")
    figures = {k: f"{pnl[k].normalize():f}" for k in ("pnl", "cash", "market_value")}
    console.print(
        f"     P&L of demo-desk: {figures['pnl']} (cash {figures['cash']}, "
        f"value {figures['market_value']})"
    )


def _check(url: str, port: int) -> None:
    with running(url, port) as base:
        print_access(int(base.rsplit(":", 1)[1]))
        health = _http(f"{base}/health")
        instruments = _http(f"{base}/instruments")
        book = _http(f"{base}/instruments/{instruments[0]['instrument_id']}/book")
        stats = _http(f"{base}/stats")
        docs = urllib.request.urlopen(f"{base}/openapi.json", timeout=10).status
    if health.get("status") != "ok" or docs != 200:
        err_console.print("[red]API check failed[/]")
        raise typer.Exit(1)
    console.print(
        f"[green]API check: ok[/] (health, {len(instruments)} instruments, book with "
        f"{len(book['bids'])} bid / {len(book['asks'])} ask levels, stats: "
        f"{stats['totals']}, OpenAPI); stopped."
    )


def _http(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())
