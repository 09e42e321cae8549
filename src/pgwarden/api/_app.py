"""The FastAPI app: probes, ``/metrics``, ``/api/*``, ``WS /live`` and the dashboard."""

from __future__ import annotations

import asyncio
import contextlib
import html
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from importlib import resources
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request, WebSocket
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.websockets import WebSocketDisconnect

from pgwarden import __version__
from pgwarden.api import _data
from pgwarden.api._auth import LIVE_PROTOCOL, TokenAuth
from pgwarden.api._config import ServeSection
from pgwarden.api._link import Link, Unreachable
from pgwarden.api._metrics import CONTENT_TYPE, Metrics
from pgwarden.api._probes import BadProbe, MaxLag, judge, parse_role, read_state
from pgwarden.api._sampler import Sampler
from pgwarden.api._sources import LiveSource, registered_sources
from pgwarden.api._state import HealthState
from pgwarden.warden import Warden

_STATIC = {"app.js": "text/javascript", "style.css": "text/css"}


class Services:
    """What one app owns: the sampler, the metrics renderer, the cached health state and the
    links of the probes and the API. ``aclose()`` releases them (the app's lifespan does; an
    app that mounts this one calls it from its own lifespan)."""

    def __init__(
        self, warden: Warden, settings: ServeSection, sources: Sequence[LiveSource] | None = None
    ):
        self.warden = warden
        self.settings = settings
        found = registered_sources() if sources is None else sources
        self.sampler = Sampler(warden.url, settings.sample_every.seconds, tuple(found))
        self.state = HealthState(warden, settings.checks_every.seconds)
        self.metrics = Metrics(
            warden.url,
            self.state,
            self.sampler,
            top_tables=settings.top_tables,
            top_queries=settings.top_queries,
            replicas=warden.replicas,
        )
        self.probe = Link(warden.url, "probe", statement_timeout=2.0)
        self.api = Link(warden.url, "api")

    async def ready(
        self, role: str | None = None, max_lag: MaxLag | None = None
    ) -> tuple[bool, dict[str, Any]]:
        """What ``/readyz`` answers: ``(ready, body)``; for a host app's own health route."""
        try:
            state = await self.probe.run(read_state)
        except Unreachable as exc:
            return False, {"ready": False, "reachable": False, "reasons": [f"unreachable: {exc}"]}
        reasons = judge(state, role, max_lag)
        return not reasons, {"ready": not reasons, "reachable": True, **state, "reasons": reasons}

    async def aclose(self) -> None:
        await self.sampler.close()
        await self.state.close()
        for link in (self.metrics.link, self.probe, self.api):
            await link.close()


def create_app(
    warden: Warden,
    *,
    settings: ServeSection | None = None,
    token: str | None = None,
    close_warden: bool = False,
    sources: Sequence[LiveSource] | None = None,
) -> FastAPI:
    """The health API, ``/metrics``, ``WS /live`` and the dashboard for ``warden``'s database.

    ``settings`` default to the ``[serve]`` section of ``warden.spec``; ``token`` to its
    resolved ``token`` (``env:NAME``). Serve it with uvicorn, or mount it in your own app::

        from pgwarden import Warden
        from pgwarden.api import create_app

        app.mount("/pgwarden", create_app(Warden.from_config()))

    A mounted app's lifespan does not run, so its background work starts on first use; call
    ``await app.state.pgwarden.aclose()`` from the host app's shutdown to release connections.
    ``close_warden``: also close ``warden`` when the app stops. ``sources``: the named series
    added to each live sample (default: those registered under ``pgwarden.live``).
    """
    settings = settings or warden.spec.section("serve", ServeSection)
    auth = TokenAuth(token if token is not None else settings.resolved_token())
    services = Services(warden, settings, sources)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services.state.start()
        try:
            yield
        finally:
            await services.aclose()
            if close_warden:
                warden.close()

    app = FastAPI(
        title="pgwarden",
        version=__version__,
        description="Health and readiness probes, Prometheus metrics, live samples over a "
        "WebSocket and a dashboard for one PostgreSQL database. Everything but `/healthz`, "
        "`/readyz` and (by default) `/metrics` needs `Authorization: Bearer <token>` when "
        '`[serve] token` is set. Errors answer `{"error": code, "detail": message}`.',
        lifespan=lifespan,
    )
    app.state.pgwarden = services
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_headers=["authorization"],
            allow_methods=["GET"],
        )
    guarded = [Depends(auth.require)]

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        detail = exc.detail
        body = detail if isinstance(detail, dict) else {"error": "http", "detail": str(detail)}
        return JSONResponse(status_code=exc.status_code, content=body, headers=exc.headers)

    @app.exception_handler(Unreachable)
    async def unreachable(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(
            status_code=503, content={"error": "unavailable", "detail": f"database: {exc}"}
        )

    @app.get("/healthz", tags=["probes"])
    def healthz() -> dict[str, str]:
        """The process is up (always 200; says nothing about the database)."""
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["probes"],
        responses={400: {"description": "Bad parameter"}, 503: {"description": "Not ready"}},
    )
    async def readyz(
        role: Annotated[
            str | None, Query(description="Ready only as this role: `primary` or `replica`.")
        ] = None,
        max_lag: Annotated[
            str | None,
            Query(description="Ready only within this replay lag: `10s`, `500ms` or `16MB`."),
        ] = None,
    ) -> JSONResponse:
        """200 when the server answers (in ``role``, within ``max_lag``), else 503; the body
        says why: ``reachable``, ``role``, ``lag_bytes``, ``lag_seconds``, ``reasons``."""
        try:
            wanted = parse_role(role)
            limit = MaxLag.parse(max_lag) if max_lag else None
        except BadProbe as exc:
            return JSONResponse(
                status_code=400, content={"error": "bad-request", "detail": str(exc)}
            )
        ready, body = await services.ready(wanted, limit)
        return JSONResponse(status_code=200 if ready else 503, content=body)

    @app.get(
        "/metrics",
        tags=["metrics"],
        dependencies=[] if settings.metrics_public else guarded,
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE: {}}}},
    )
    async def metrics() -> Response:
        """Prometheus exposition (postgres_exporter's names, and ``pgwarden_*``)."""
        services.state.start()
        return Response(await services.metrics.render(), media_type=CONTENT_TYPE)

    @app.get("/api/health", tags=["api"], dependencies=guarded)
    async def health() -> dict[str, Any]:
        """Server facts, doctor's findings by severity, pgwarden's feature state."""
        return await _data.health(services)

    @app.get("/api/tables", tags=["api"], dependencies=guarded)
    async def tables(
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
    ) -> dict[str, Any]:
        """The largest tables: size, rows, dead rows, scans, vacuum, pgwarden features."""
        return await _data.tables(services, limit)

    @app.get("/api/changes", tags=["api"], dependencies=guarded)
    async def changes(limit: Annotated[int, Query(ge=1, le=200)] = 20) -> dict[str, Any]:
        """Recent audited changes (table, operation, key, changed columns, actor, reason);
        values are not shown."""
        return await _data.changes(services, limit)

    @app.websocket("/live")
    async def live(websocket: WebSocket) -> None:
        """One JSON sample per second from the shared sampler (see ``Sampler``)."""
        if not auth.websocket_allowed(websocket):
            await websocket.close(code=4401, reason="unauthorized: the bearer token is missing")
            return
        offered = websocket.scope.get("subprotocols", [])
        await websocket.accept(subprotocol=LIVE_PROTOCOL if LIVE_PROTOCOL in offered else None)
        samples = services.sampler.subscribe()  # an async generator: closed below
        receiver = asyncio.create_task(_drain(websocket))
        try:
            async with contextlib.aclosing(samples):  # type: ignore[type-var]
                while True:
                    sample = asyncio.ensure_future(anext(samples))
                    # Whichever comes first: a sample, or the viewer leaving (noticed at once,
                    # not at the next sample).
                    await asyncio.wait({sample, receiver}, return_when=asyncio.FIRST_COMPLETED)
                    if receiver.done():
                        sample.cancel()
                        break
                    await websocket.send_text(sample.result())
        except (WebSocketDisconnect, RuntimeError):
            pass  # the viewer left
        finally:
            receiver.cancel()

    @app.get("/", include_in_schema=False)
    def dashboard(request: Request) -> HTMLResponse:
        base = request.scope.get("root_path", "").rstrip("/") + "/"
        page = (
            _asset("index.html")
            .replace("{{base}}", html.escape(base))
            .replace("{{version}}", __version__)
            .replace("{{auth}}", "required" if auth.enabled else "none")
        )
        return HTMLResponse(page, headers={"cache-control": "no-store"})

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> Response:
        if name not in _STATIC:
            raise HTTPException(404, {"error": "not-found", "detail": f"no asset {name!r}"})
        return Response(_asset(name), media_type=_STATIC[name])

    return app


async def _drain(websocket: WebSocket) -> None:
    """Read (and ignore) what the viewer sends, so that a close is noticed at once."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            await websocket.receive_text()


def _asset(name: str) -> str:
    return resources.files("pgwarden.api").joinpath("static", name).read_text("utf-8")
