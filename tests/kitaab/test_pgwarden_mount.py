"""Kitaab mounts pgwarden's health API and dashboard at /pgwarden; its /health is their readiness."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_health_is_pgwardens_readiness_and_the_dashboard_is_mounted(client: TestClient) -> None:
    health = client.get("/health")
    assert health.status_code == 200
    assert health.json() == {"status": "ok", "role": "primary", "reasons": []}
    page = client.get("/pgwarden/")
    assert page.status_code == 200 and '<base href="/pgwarden/">' in page.text
    assert client.get("/pgwarden/readyz", params={"role": "replica"}).status_code == 503
    assert "pg_up 1.0" in client.get("/pgwarden/metrics").text
    with client.websocket_connect("/pgwarden/live") as ws:
        assert ws.receive_json()["up"] is True
