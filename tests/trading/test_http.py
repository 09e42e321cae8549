"""Every workflow through HTTP, on a real database: accounts, instruments, orders with
idempotency keys, amend, cancel, fills, positions and P&L, the book, ingest, bars, the live
view and pgwarden's mounted API."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient
from tests.trading.conftest import T0, scalar, tick_csv

from pgwarden.blueprints.trading.services import Trading


def _setup(client: TestClient) -> tuple[int, int]:
    r = client.post("/accounts", json={"name": "desk-1", "cash": "10000"})
    assert r.status_code == 201, r.text
    i = client.post("/instruments", json={"symbol": "AAA", "tick_size": "0.05"})
    assert i.status_code == 201, i.text
    return r.json()["account_id"], i.json()["instrument_id"]


def test_order_lifecycle(client: TestClient, app: Trading, trading_url: str) -> None:
    acct, inst = _setup(client)
    body = {"instrument_id": inst, "side": "buy", "quantity": "10", "price": "99.95"}
    first = client.post(f"/accounts/{acct}/orders", json=body, headers={"Idempotency-Key": "k1"})
    assert first.status_code == 201, first.text
    order = first.json()
    assert order["status"] == "new" and order["price"] == "99.95" and order["quantity"] == "10"
    # The same request again (a client retry): the same order, nothing new.
    again = client.post(f"/accounts/{acct}/orders", json=body, headers={"Idempotency-Key": "k1"})
    assert again.status_code == 200 and again.json()["order_id"] == order["order_id"]
    reused = client.post(f"/accounts/{acct}/orders", json={**body, "quantity": "11"},
                         headers={"Idempotency-Key": "k1"})  # fmt: skip
    assert reused.status_code == 409 and reused.json()["error"] == "conflict"
    assert scalar(trading_url, "select count(*) from trading.orders") == 1
    # Rules: tick size, missing key, unknown instrument.
    off_tick = client.post(f"/accounts/{acct}/orders",
                           json={**body, "price": "99.97", "client_order_id": "k2"})  # fmt: skip
    assert off_tick.status_code == 422 and "tick size" in off_tick.json()["detail"]
    assert client.post(f"/accounts/{acct}/orders", json=body).status_code == 422
    nowhere = client.post(f"/accounts/{acct}/orders",
                          json={**body, "instrument_id": 999, "client_order_id": "k3"})  # fmt: skip
    assert nowhere.status_code == 404

    oid = order["order_id"]
    amended = client.patch(f"/accounts/{acct}/orders/{oid}", json={"quantity": "8"})
    assert amended.status_code == 200 and amended.json()["quantity"] == "8"
    worse = client.post(f"/orders/{oid}/fills", json={"quantity": "3", "price": "100.00"})
    assert worse.status_code == 422 and "limit" in worse.json()["detail"]
    fill = client.post(f"/orders/{oid}/fills", json={"quantity": "3", "price": "99.90"})
    assert fill.status_code == 201, fill.text
    assert client.get(f"/accounts/{acct}/orders/{oid}").json()["status"] == "partially_filled"
    too_low = client.patch(f"/accounts/{acct}/orders/{oid}", json={"quantity": "2"})
    assert too_low.status_code == 422
    too_much = client.post(f"/orders/{oid}/fills", json={"quantity": "6", "price": "99.90"})
    assert too_much.status_code == 422
    cancelled = client.post(f"/accounts/{acct}/orders/{oid}/cancel")
    assert cancelled.json()["status"] == "cancelled"
    assert client.post(f"/accounts/{acct}/orders/{oid}/cancel").status_code == 200
    late = client.post(f"/orders/{oid}/fills", json={"quantity": "1", "price": "99.90"})
    assert late.status_code == 409

    positions = client.get(f"/accounts/{acct}/positions").json()
    assert positions == [{"instrument_id": inst, "symbol": "AAA", "quantity": "3",
                          "cost": "299.7", "mark": "99.9", "pnl": "0",
                          "average_price": "99.9"}]  # fmt: skip
    pnl = client.get(f"/accounts/{acct}/pnl").json()
    assert pnl["cash"] == "9700.3" and pnl["equity"] == "10000" and pnl["pnl"] == "0"
    fills = client.get(f"/accounts/{acct}/executions").json()
    assert [(f["quantity"], f["price"]) for f in fills] == [("3", "99.9")]
    assert [o["order_id"] for o in client.get(f"/accounts/{acct}/orders?open=true").json()] == []

    # Every step is in pgwarden's audit trail, attributed to the account, with its reason.
    history = app.warden.audit.history("trading.orders", oid)
    assert [(v.op, v.actor, v.reason) for v in history] == [
        ("insert", f"account:{acct}", "place"),
        ("update", f"account:{acct}", "amend"),
        ("update", f"account:{acct}", "fill"),
        ("update", f"account:{acct}", "cancel"),
    ]


def test_book_and_market_data(client: TestClient) -> None:
    acct, inst = _setup(client)
    listed = client.get("/instruments").json()
    assert [(i["instrument_id"], i["symbol"]) for i in listed] == [(inst, "AAA")]
    for n, (side, qty, price) in enumerate([("buy", "5", "99.90"), ("buy", "2", "99.90"),
                                            ("buy", "1", "99.80"), ("sell", "4", "100.10"),
                                            ("sell", "3", "100.00")]):  # fmt: skip
        r = client.post(f"/accounts/{acct}/orders", json={
            "instrument_id": inst, "side": side, "quantity": qty, "price": price,
            "client_order_id": f"b{n}"})  # fmt: skip
        assert r.status_code == 201, r.text
    book = client.get(f"/instruments/{inst}/book?depth=5").json()
    assert book["bids"] == [{"price": "99.9", "quantity": "7", "orders": 2},
                            {"price": "99.8", "quantity": "1", "orders": 1}]  # fmt: skip
    assert [a["price"] for a in book["asks"]] == ["100", "100.1"]

    csv = tick_csv(inst, 500)
    done = client.post("/market/ticks?key=feed-a&batch_size=200", content=csv,
                       headers={"content-type": "text/csv"})  # fmt: skip
    assert done.json() == {"batches": 3, "skipped": 0, "rows": 500}
    replay = client.post("/market/ticks?key=feed-a&batch_size=200", content=csv)
    assert replay.json() == {"batches": 0, "skipped": 3, "rows": 0}
    bad = client.post("/market/ticks?key=feed-b", content="777,2026-03-02T00:00:00Z,1,1.00,1\n")
    assert bad.status_code == 422 and "unknown instrument_id" in bad.json()["detail"]

    app: Trading = client.app.state.trading  # type: ignore[attr-defined]
    assert app.market.rollup(T0, T0.replace(day=3)) == 1
    bars = client.get(f"/instruments/{inst}/bars",
                      params={"start": T0.isoformat(), "end": "2026-03-03T00:00:00Z"}).json()  # fmt: skip
    assert len(bars) == 1 and bars[0]["trades"] == 500
    assert bars[0]["open"] == "100" and bars[0]["high"] == "106.98"
    # The mark for P&L is the last tick.
    assert app.market.last_prices([inst]) == {inst: Decimal("102.99")}


def test_close_account_and_conversion_check(client: TestClient) -> None:
    acct, inst = _setup(client)
    assert client.delete(f"/accounts/{acct}").status_code == 204
    assert client.get(f"/accounts/{acct}").json()["deleted_at"] is not None
    refused = client.post(f"/accounts/{acct}/orders", json={
        "instrument_id": inst, "side": "buy", "quantity": "1", "price": "1",
        "client_order_id": "x"})  # fmt: skip
    assert refused.status_code == 404
    assert client.delete(f"/accounts/{acct}").status_code == 404
    check = client.get("/admin/conversions", params={"table": "orders", "column": "price"})
    assert check.json() == {"table": "orders", "column": "price", "to": "float8",
                            "lossless": True, "rows": []}  # fmt: skip
    missing = client.get("/admin/conversions", params={"table": "orders", "column": "nope"})
    assert missing.status_code == 404


def test_live_view_health_and_metrics(client: TestClient) -> None:
    acct, inst = _setup(client)
    assert client.get("/health").json()["status"] == "ok"
    assert client.get("/pgwarden/healthz").status_code == 200
    client.get("/stats")  # the baseline of the rates
    r = client.post(f"/accounts/{acct}/orders", json={
        "instrument_id": inst, "side": "sell", "quantity": "1", "price": "5",
        "client_order_id": "m1"})  # fmt: skip
    client.post(f"/orders/{r.json()['order_id']}/fills", json={"quantity": "1", "price": "5"})
    stats: dict[str, Any] = client.get("/stats").json()
    assert stats["totals"]["orders"] == 1 and stats["totals"]["fills"] == 1
    assert stats["rates"]["orders_per_s"] > 0
    assert stats["pool"]["pool_max"] == 4
    assert {"trading.ticks", "trading.bars"} == {p["table"] for p in stats["partitions"]}
    text = client.get("/metrics").text
    assert "pgwarden_trading_orders_total 1" in text
    assert 'partition="trading.ticks__p20260302"' in text
    with client.websocket_connect("/live") as ws:
        sample = json.loads(ws.receive_text())
    assert sample["up"] is True and "tps" in sample  # pgwarden's sample...
    assert sample["trading"]["totals"]["fills"] == 1  # ...with the trading part
    spec = client.get("/openapi.json").json()
    assert "/accounts/{account_id}/orders" in spec["paths"]
