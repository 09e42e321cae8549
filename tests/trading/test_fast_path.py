"""The short path of ``POST /accounts/{id}/orders`` (api/_fast.py) answers exactly as
FastAPI's route does: the same bytes for an order, FastAPI's own 422s for whatever it hands
back, and the route still documented in OpenAPI."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from tests.trading.conftest import scalar

# A request FastAPI's strict content type accepts but the short path leaves to FastAPI.
FASTAPI_ONLY = {"content-type": "application/json; charset=utf-8"}


def _setup(client: TestClient) -> tuple[int, int]:
    acct = client.post("/accounts", json={"name": "fast", "cash": "100000"}).json()
    inst = client.post("/instruments", json={"symbol": "FST", "tick_size": "0.05"}).json()
    return acct["account_id"], inst["instrument_id"]


def test_an_order_answers_the_bytes_fastapi_would(client: TestClient, trading_url: str) -> None:
    acct, inst = _setup(client)
    body = {"instrument_id": inst, "side": "sell", "quantity": "12.0", "price": "101.50"}
    fast = client.post(f"/accounts/{acct}/orders", json={**body, "client_order_id": "f1"})
    assert fast.status_code == 201, fast.text
    order = fast.json()
    assert order["quantity"] == "12" and order["price"] == "101.5"
    # FastAPI's serializer of the same order (its GET route, the same response model).
    same = client.get(f"/accounts/{acct}/orders/{order['order_id']}")
    assert fast.content == same.content
    assert fast.headers["content-type"] == same.headers["content-type"] == "application/json"
    # FastAPI's route itself, for the same request again: the first order, byte for byte.
    again = client.post(
        f"/accounts/{acct}/orders",
        content=json.dumps({**body, "client_order_id": "f1"}),
        headers=FASTAPI_ONLY,
    )
    assert again.status_code == 200 and again.content == fast.content
    # And the short path for a replay through the header key: 200, the first order.
    header = client.post(f"/accounts/{acct}/orders", json=body, headers={"Idempotency-Key": "f2"})
    replay = client.post(f"/accounts/{acct}/orders", json=body, headers={"Idempotency-Key": "f2"})
    assert header.status_code == 201 and replay.status_code == 200
    assert replay.content == header.content
    assert scalar(trading_url, "select count(*) from trading.orders") == 2


def test_what_the_short_path_does_not_take_gets_fastapis_answer(client: TestClient) -> None:
    acct, inst = _setup(client)
    url = f"/accounts/{acct}/orders"
    body = {"instrument_id": inst, "side": "buy", "quantity": "1", "price": "100"}
    # Not JSON: FastAPI's json_invalid, at the body.
    broken = client.post(
        url, content=b'{"instrument_id": ', headers={"content-type": "application/json"}
    )
    assert broken.status_code == 422
    assert broken.json()["detail"][0]["type"] == "json_invalid"
    # A field the model refuses: FastAPI's error list, located in the body.
    negative = client.post(url, json={**body, "quantity": "-1", "client_order_id": "n"})
    assert negative.status_code == 422
    assert negative.json()["detail"][0]["loc"] == ["body", "quantity"]
    unknown = client.post(url, json={**body, "venue": "x", "client_order_id": "u"})
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"] == ["body", "venue"]
    # A header FastAPI bounds: its error, located in the header.
    long_key = client.post(url, json=body, headers={"Idempotency-Key": "k" * 65})
    assert long_key.status_code == 422
    assert long_key.json()["detail"][0]["loc"] == ["header", "idempotency-key"]
    # A path id that is not a number.
    assert client.post("/accounts/abc/orders", json=body).json()["detail"][0]["loc"] == [
        "path",
        "account_id",
    ]
    # The service's refusals: the app's own shape, from either path.
    for headers in ({}, FASTAPI_ONLY):
        missing = client.post(url, content=json.dumps(body), headers={
            "content-type": "application/json", **headers})  # fmt: skip
        assert missing.status_code == 422
        assert missing.json() == {
            "error": "invalid",
            "detail": "send client_order_id or an Idempotency-Key header",
        }
        closed = client.post(f"/accounts/{acct + 1000}/orders", content=json.dumps(
            {**body, "client_order_id": "c"}), headers={"content-type": "application/json",
                                                         **headers})  # fmt: skip
        assert closed.status_code == 404 and closed.json()["error"] == "not-found"
    # Other methods of the path are FastAPI's.
    assert client.get(url).status_code == 200


def test_the_route_is_still_documented(client: TestClient) -> None:
    operation = client.get("/openapi.json").json()["paths"]["/accounts/{account_id}/orders"]["post"]
    assert operation["operationId"].startswith("place_order")
    assert set(operation["responses"]) >= {"200", "201", "404", "409", "422"}
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert schema["$ref"].endswith("/NewOrder")
    names = {p["name"] for p in operation["parameters"]}
    assert names == {"account_id", "idempotency-key"}
