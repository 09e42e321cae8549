"""Kitaab's HTTP API (FastAPI; OpenAPI at ``/docs``): ``create_app(kitaab)``."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from psycopg_pool import AsyncConnectionPool

from pgwarden import Warden, __version__
from pgwarden.api import create_app as create_pgwarden_app
from pgwarden.blueprints.kitaab.api import _account, _activity, _models
from pgwarden.blueprints.kitaab.services import Kitaab, KitaabError
from pgwarden.db import APPLICATION_NAME
from pgwarden.features.audit import wal_possible


def create_app(
    kitaab: Kitaab,
    *,
    scheduler: bool = False,
    interval: float = 60.0,
    close: bool = False,
    ingest_url: str | None = None,
) -> FastAPI:
    """The API over ``kitaab``. ``scheduler``: also run the reminder scheduler every
    ``interval`` seconds while the app runs; ``close``: close ``kitaab``'s database pool when
    the app stops. ``ingest_url``: a role that may read the audit slot (the installer's, not
    the app role): where tables are captured from the WAL, a follower streams their changes
    into the audit store while the app runs, so an entry's history shows an edit within a
    second (one follower streams; those of other server processes wait their turn)."""
    # pgwarden's health API and dashboard at /pgwarden (no token: Kitaab's servers listen on
    # 127.0.0.1); /health below is its readiness.
    pgwarden_app = create_pgwarden_app(kitaab.warden)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        worker = None
        if scheduler:
            worker = threading.Thread(
                target=kitaab.reminders.run_forever,
                args=(stop, interval),
                name="kitaab-reminders",
                daemon=True,
            )
            worker.start()
        follower = None
        if ingest_url is not None and wal_possible(kitaab.warden.spec):
            follower = threading.Thread(
                target=_follow, args=(ingest_url, stop), name="kitaab-audit-follower", daemon=True
            )
            follower.start()

        # The hot paths (token checks, recording an entry) run on the event loop, on asyncio
        # pools: token checks in autocommit (one round trip), writes in sessions.
        def async_pool(name: str, size: int, **kwargs: Any) -> AsyncConnectionPool[Any]:
            return AsyncConnectionPool(
                kitaab.warden.url,
                min_size=1,
                max_size=size,
                kwargs={"application_name": f"{APPLICATION_NAME} {name}", **kwargs},
                open=False,
                name=name,
            )

        app.state.auth_pool = async_pool("kitaab-auth", 4, autocommit=True)
        app.state.session_pool = async_pool("kitaab", 10)
        for pool in (app.state.auth_pool, app.state.session_pool):
            await pool.open(wait=True)  # a database that does not answer fails the start
        try:
            yield
        finally:
            for pool in (app.state.auth_pool, app.state.session_pool):
                await pool.close()
            await pgwarden_app.state.pgwarden.aclose()  # a mounted app's lifespan never runs
            stop.set()
            for thread in (worker, follower):
                if thread is not None:
                    thread.join(timeout=5)
            if close:
                kitaab.warden.close()

    app = FastAPI(
        title="Kitaab",
        version=__version__,
        description="A personal accountability app (deeds, entries, connections, progress), "
        "running on pgwarden: every change is audited inside PostgreSQL. A refused request "
        'answers `{"error": code, "detail": message}` (401, 403, 404, 409, and 422 for a '
        "broken rule of the data); a malformed request answers FastAPI's 422.",
        lifespan=lifespan,
    )
    app.state.kitaab = kitaab

    @app.exception_handler(KitaabError)
    async def broken_rule(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, KitaabError)
        return JSONResponse(
            status_code=exc.status, content={"error": exc.code, "detail": exc.message}
        )

    @app.get(
        "/health",
        tags=["health"],
        response_model=_models.Health,
        responses={503: {"model": _models.Health, "description": "Database not ready"}},
    )
    async def health(response: Response) -> dict[str, Any]:
        """pgwarden's readiness of the database (``/pgwarden/readyz``): reachable, role, lag."""
        ready, body = await pgwarden_app.state.pgwarden.ready()
        response.status_code = 200 if ready else 503
        return {"status": "ok" if ready else "unavailable", "role": body.get("role"),
                "reasons": body["reasons"]}  # fmt: skip

    app.mount("/pgwarden", pgwarden_app)
    app.include_router(_account.router, responses=_models.PROBLEMS)
    app.include_router(_activity.router, responses=_models.PROBLEMS)
    return app


def _follow(url: str, stop: threading.Event) -> None:
    with Warden(url) as warden:
        warden.audit.follow(stop=stop.is_set)


__all__ = ["create_app"]
