"""The trading blueprint's HTTP API (FastAPI; OpenAPI at ``/docs``): ``create_app(trading)``.

pgwarden's own API is mounted at ``/pgwarden`` (health and readiness, Prometheus metrics,
``WS /live``, the dashboard); the app's ``/health`` is its readiness, ``WS /live`` its samples
with the trading figures added, ``/stats`` and ``/metrics`` the same figures.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from pgwarden import __version__
from pgwarden.api import create_app as create_pgwarden_app
from pgwarden.blueprints.trading.api import _fast, _models, _routes
from pgwarden.blueprints.trading.api._live import Live
from pgwarden.blueprints.trading.services import Trading, TradingError


def create_app(trading: Trading, *, close: bool = False) -> FastAPI:
    """The API over ``trading``. ``close``: close its database pool when the app stops.
    FastAPI's thread pool is sized to the database pool (a request thread waiting for a
    connection helps nobody)."""
    pgwarden_app = create_pgwarden_app(trading.warden)
    live = Live(trading)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        limiter = anyio.to_thread.current_default_thread_limiter()
        limiter.total_tokens = max(4, trading.warden.pool.max_size * 2)
        try:
            yield
        finally:
            await pgwarden_app.state.pgwarden.aclose()  # a mounted app's lifespan never runs
            if close:
                trading.warden.close()

    app = FastAPI(
        title="pgwarden trading",
        version=__version__,
        description="Seed 004's trading system on pgwarden: orders with idempotency keys, "
        "fills that move positions and cash in one transaction, bulk market-data ingest in "
        "idempotent batches, P&L, the order book. Every order, fill and position change is "
        "audited inside PostgreSQL. Money travels as decimal strings. A refused request "
        'answers `{"error": code, "detail": message}` (404, 409, 422).',
        lifespan=lifespan,
    )
    app.state.trading = trading
    app.state.live = live

    @app.exception_handler(TradingError)
    async def broken_rule(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, TradingError)
        return _fast.problem(exc)

    @app.get(
        "/health",
        tags=["health"],
        response_model=_models.Health,
        responses={503: {"model": _models.Health, "description": "Database not ready"}},
    )
    async def health(response: Response) -> dict[str, Any]:
        """pgwarden's readiness of the database (``/pgwarden/readyz``)."""
        ready, body = await pgwarden_app.state.pgwarden.ready()
        response.status_code = 200 if ready else 503
        return {"status": "ok" if ready else "unavailable", "role": body.get("role"),
                "reasons": body["reasons"]}  # fmt: skip

    @app.get("/stats", tags=["health"])
    async def stats() -> dict[str, Any]:
        """Orders/s, fills/s, ingest rows/s (since the previous call), totals, the connection
        pool's use and the market-data partition sizes."""
        return await live.part()

    @app.get("/metrics", tags=["health"], response_class=PlainTextResponse)
    def metrics() -> str:
        """The trading counters, pool gauges and partition sizes (Prometheus text); the
        database's metrics are at ``/pgwarden/metrics``."""
        return live.prometheus()

    @app.websocket("/live")
    async def live_ws(websocket: WebSocket) -> None:
        """pgwarden's live sample each second, with a ``trading`` part added."""
        await live.stream(websocket, pgwarden_app.state.pgwarden.sampler)

    app.mount("/pgwarden", pgwarden_app)
    app.include_router(_routes.router, responses=_models.PROBLEMS)
    # The hot route's short path, in front of FastAPI's (which documents it and answers what
    # the short path hands back): api/_fast.py.
    app.add_middleware(_fast.PlaceOrders, trading=trading)
    return app


__all__ = ["create_app"]
