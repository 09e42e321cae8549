"""The workspace blueprint's HTTP API (FastAPI; OpenAPI at ``/docs``): ``create_app(app)``.

Every route but sign-up and ``/health`` takes ``Authorization: Bearer <token>``; the token
says which organization the caller acts in, and every statement of the request runs as that
tenant under row-level security. pgwarden's own API is mounted at ``/pgwarden``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from pgwarden import __version__
from pgwarden.api import create_app as create_pgwarden_app
from pgwarden.blueprints.workspace.api import _more, _work
from pgwarden.blueprints.workspace.api._deps import PROBLEMS
from pgwarden.blueprints.workspace.services import Workspace, WorkspaceError


def create_app(workspace: Workspace, *, close: bool = False) -> FastAPI:
    """The API over ``workspace``. ``close``: close its database pool when the app stops."""
    pgwarden_app = create_pgwarden_app(workspace.warden)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await pgwarden_app.state.pgwarden.aclose()  # a mounted app's lifespan never runs
            if close:
                workspace.warden.close()

    app = FastAPI(
        title="pgwarden workspace",
        version=__version__,
        description="Seed 002's workspace on pgwarden: organizations as tenants (row-level "
        "security, signed per transaction), projects, tasks with an acyclic dependency graph, "
        "events from Linear / GitHub / Slack stored once per delivery in monthly partitions, "
        "analytics from materialized views, prompts, learning and codebase-analysis records. "
        'A refused request answers `{"error": code, "detail": message}`.',
        lifespan=lifespan,
    )
    app.state.workspace = workspace

    @app.exception_handler(WorkspaceError)
    async def broken_rule(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, WorkspaceError)
        return JSONResponse(
            status_code=exc.status, content={"error": exc.code, "detail": exc.message}
        )

    @app.get("/health", tags=["health"])
    async def health(response: Response) -> dict[str, Any]:
        """pgwarden's readiness of the database (``/pgwarden/readyz``)."""
        ready, body = await pgwarden_app.state.pgwarden.ready()
        response.status_code = 200 if ready else 503
        return {"status": "ok" if ready else "unavailable", "reasons": body["reasons"]}

    app.mount("/pgwarden", pgwarden_app)
    app.include_router(_work.router, responses=PROBLEMS)
    app.include_router(_more.router, responses=PROBLEMS)
    return app


__all__ = ["create_app"]
