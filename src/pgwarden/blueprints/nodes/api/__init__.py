"""The nodes blueprint's HTTP API (FastAPI; OpenAPI at ``/docs``): ``create_app(nodes)``.

Every route but ``/health`` needs ``Authorization: Bearer <token>`` (``_auth``): the user it
names is the owner every service call acts as. pgwarden's own API is mounted at
``/pgwarden`` (health, metrics, live view, dashboard).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from pgwarden import __version__
from pgwarden.api import create_app as create_pgwarden_app
from pgwarden.blueprints.nodes.api import _models, _routes
from pgwarden.blueprints.nodes.api._auth import token_key
from pgwarden.blueprints.nodes.services import Nodes, NodesError


def create_app(nodes: Nodes, *, close: bool = False) -> FastAPI:
    """The API over ``nodes``. ``close``: close its database pool when the app stops."""
    pgwarden_app = create_pgwarden_app(nodes.warden)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        limiter = anyio.to_thread.current_default_thread_limiter()
        limiter.total_tokens = max(4, nodes.warden.pool.max_size * 2)
        try:
            yield
        finally:
            await pgwarden_app.state.pgwarden.aclose()  # a mounted app's lifespan never runs
            if close:
                nodes.warden.close()

    app = FastAPI(
        title="pgwarden nodes",
        version=__version__,
        description="Seed 000's unified node system on pgwarden: nodes and typed "
        "relationships (parent and depends_on acyclic), soft delete with restore, history, "
        "as-of and revert from the audit trail, weighted full-text and fuzzy search, usage "
        "analytics; every owner's rows kept apart by row-level security. A refused request "
        'answers `{"error": code, "detail": message}` (401, 404, 409, 422).',
        lifespan=lifespan,
    )
    app.state.nodes = nodes
    app.state.token_key = token_key(nodes.warden.tenant_key)

    @app.exception_handler(NodesError)
    async def broken_rule(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, NodesError)
        return JSONResponse({"error": exc.code, "detail": exc.message}, status_code=exc.status)

    @app.get("/health", tags=["health"])
    async def health(response: Response) -> dict[str, Any]:
        """pgwarden's readiness of the database (``/pgwarden/readyz``)."""
        ready, body = await pgwarden_app.state.pgwarden.ready()
        response.status_code = 200 if ready else 503
        return {"status": "ok" if ready else "unavailable", "reasons": body["reasons"]}

    app.mount("/pgwarden", pgwarden_app)
    app.include_router(_routes.router, responses=_models.PROBLEMS)
    return app


__all__ = ["create_app"]
