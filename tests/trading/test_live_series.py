"""Trading's own figures on pgwarden's live view: the trading app served for real (uvicorn),
orders placed, filled and market data ingested over HTTP all along, and the ``trading``
series (orders/s, fills/s, ingest rows/s, partition sizes) read from
``WS /pgwarden/live`` and seen drawn by the dashboard in headless Chromium."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.serve.conftest import serving
from tests.serve.test_live_dashboard import browser, open_dashboard  # noqa: F401 - a fixture
from websockets.sync.client import connect

from pgwarden import Warden
from pgwarden.blueprints import trading
from pgwarden.blueprints.trading.api import create_app
from pgwarden.blueprints.trading.services import Trading

from .conftest import tick_csv


@pytest.fixture
def served(trading_url: str) -> Iterator[tuple[str, threading.Event]]:
    """The trading app on a free port, and a writer placing orders until the event is set."""
    warden = Warden(trading_url, spec=trading.declaration(), pool_size=4)
    stop = threading.Event()
    with serving(create_app(Trading(warden), close=True)) as base:
        with httpx.Client(base_url=base, timeout=30) as client:
            acct = client.post("/accounts", json={"name": "live", "cash": "1000000"}).json()
            inst = client.post("/instruments", json={"symbol": "LIV"}).json()
            done = client.post("/market/ticks?key=live-1", content=tick_csv(
                inst["instrument_id"], 2000))  # fmt: skip
            assert done.json()["rows"] == 2000

        def write() -> None:
            with httpx.Client(base_url=base, timeout=30) as client:
                n = 0
                while not stop.wait(0.05):
                    n += 1
                    order = {"instrument_id": inst["instrument_id"], "side": "buy",
                             "quantity": "1", "price": "10", "client_order_id": f"o{n}"}  # fmt: skip
                    placed = client.post(f"/accounts/{acct['account_id']}/orders", json=order)
                    assert placed.status_code == 201, placed.text
                    if n % 3 == 0:
                        client.post(f"/orders/{placed.json()['order_id']}/fills",
                                    json={"quantity": "1", "price": "10"})  # fmt: skip
                    if n % 5 == 0:  # market data too, through the bulk path
                        ticks = tick_csv(inst["instrument_id"], 20, first_seq=10_000 + 100 * n)
                        sent = client.post(f"/market/ticks?key=live-w{n}", content=ticks)
                        assert sent.json()["rows"] == 20, sent.text

        writer = threading.Thread(target=write, daemon=True)
        writer.start()
        try:
            yield base, stop
        finally:
            stop.set()
            writer.join(timeout=30)


def _series(sample: dict[str, Any]) -> dict[str, Any]:
    part = next((p for p in sample.get("extra", []) if p["name"] == "trading"), None)
    assert part is not None, sample.get("extra")
    assert part["title"] == "Trading" and "error" not in part
    return {s["name"]: s["value"] for s in part["series"]}


def test_trading_series_on_pgwardens_websocket(served: tuple[str, threading.Event]) -> None:
    base, _ = served
    seen: dict[str, float] = {}
    url = base.replace("http://", "ws://") + "/pgwarden/live"
    with connect(url, open_timeout=10, max_queue=64) as ws:
        deadline = time.monotonic() + 60
        while not all(seen.get(rate, 0) > 0 for rate in ("orders", "fills", "ingest rows")):
            assert time.monotonic() < deadline, f"no order, fill or ingest rate seen: {seen}"
            values = _series(json.loads(ws.recv(timeout=15)))
            for name, value in values.items():
                if value is not None:
                    seen[name] = max(seen.get(name, 0), value)
    assert seen["partitions"] >= 8  # ticks and bars, a day each, made ahead
    assert seen["ticks size"] > 0 and seen["bars size"] > 0


def test_trading_series_drawn_by_the_dashboard(
    browser: Any,  # noqa: F811 - the fixture imported above
    served: tuple[str, threading.Event],
) -> None:
    base, _ = served
    errors: list[str] = []
    page = open_dashboard(browser, base + "/pgwarden", errors)
    page.wait_for_selector("#main:not([hidden])")
    orders = 'section[data-source="trading"] figure[data-series="orders"]'
    page.wait_for_function(f"(document.querySelector('{orders}') || {{dataset: {{}}}})"
                           ".dataset.samples >= 3")  # fmt: skip
    assert page.inner_text('section[data-source="trading"] h2') == "Trading"
    captions = page.eval_on_selector_all(
        'section[data-source="trading"] figcaption', "els => els.map(e => e.textContent)"
    )
    assert any(c.startswith("orders /s") for c in captions), captions
    assert any(c.startswith("ticks size") and ("kB" in c or "MB" in c) for c in captions)
    assert errors == []
    page.close()
