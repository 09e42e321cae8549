"""create_app mounted inside a user's own app: routes under the prefix, lazy start (a mounted
app's lifespan never runs), and every connection released by ``aclose()``."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg
from fastapi import FastAPI
from fastapi.testclient import TestClient

from pgwarden import Warden
from pgwarden.api import create_app


def serve_connections(conn: psycopg.Connection) -> list[str]:
    rows = conn.execute(
        "select application_name from pg_stat_activity where datname = current_database() "
        "and application_name like 'pgwarden serve%'"
    ).fetchall()
    return [r[0] for r in rows]


def test_mounted_app_serves_under_its_prefix_and_releases_its_connections(
    db_url: str, conn: psycopg.Connection
) -> None:
    warden = Warden(db_url)
    mounted = create_app(warden, token="tk")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await mounted.state.pgwarden.aclose()

    host = FastAPI(lifespan=lifespan)
    host.mount("/ops/pgwarden", mounted)
    auth = {"authorization": "Bearer tk"}
    with TestClient(host) as client:
        page = client.get("/ops/pgwarden/")
        assert '<base href="/ops/pgwarden/">' in page.text
        assert 'data-auth="required"' in page.text
        assert client.get("/ops/pgwarden/static/app.js").status_code == 200
        assert client.get("/ops/pgwarden/static/index.htm").status_code == 404
        assert client.get("/ops/pgwarden/readyz").json()["role"] == "primary"
        assert client.get("/ops/pgwarden/api/health").status_code == 401
        health = client.get("/ops/pgwarden/api/health", headers=auth).json()
        assert health["server"]["database"] == conn.info.dbname
        with client.websocket_connect("/ops/pgwarden/live", headers=auth) as ws:
            assert ws.receive_json()["up"] is True
        assert serve_connections(conn)
    # A backend leaves pg_stat_activity when its process has exited, just after the close.
    deadline = time.monotonic() + 10
    while serve_connections(conn) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert serve_connections(conn) == []
    warden.close()


def test_cors_only_for_the_listed_origins(db_url: str) -> None:
    from pgwarden.api import ServeSection

    warden = Warden(db_url)
    app = create_app(warden, settings=ServeSection(cors_origins=["https://ops.example"]))
    with TestClient(app) as client:
        allowed = client.get("/readyz", headers={"origin": "https://ops.example"})
        assert allowed.headers["access-control-allow-origin"] == "https://ops.example"
        other = client.get("/readyz", headers={"origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
    warden.close()
