"""``pgwarden serve``: the health API, /metrics, WS /live and the dashboard (pgwarden.api)."""

from __future__ import annotations

from typing import Annotated

import typer

from pgwarden.cli._common import console, err_console, fail, options
from pgwarden.errors import PgwardenError, ServeError


def register(app: typer.Typer) -> None:
    """Entry point ``pgwarden.commands``: adds ``pgwarden serve``."""
    app.command("serve")(serve)


def serve(
    ctx: typer.Context,
    host: Annotated[
        str | None,
        typer.Option("--host", help="Address to listen on (default: [serve] host, 127.0.0.1)."),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option("--port", help="Port (default: [serve] port, 8765).", min=1, max=65535),
    ] = None,
) -> None:
    """Serve health and readiness probes, Prometheus /metrics, live samples and a dashboard.

    Endpoints: /healthz, /readyz[?role=primary|replica][&max_lag=10s|16MB], /metrics,
    /api/health, /api/tables, /api/changes, WS /live and the dashboard at /. With
    `[serve] token = "env:NAME"` everything but the probes (and /metrics, unless
    `metrics_public = false`) needs `Authorization: Bearer <token>`. Without a token it only
    listens on a loopback address. Runs until Ctrl-C; exit 1 when it cannot start.
    """
    import uvicorn

    from pgwarden.api import ServeSection, create_app
    from pgwarden.api._config import is_loopback

    opts = options(ctx)
    try:
        spec = opts.spec()
        settings = spec.section("serve", ServeSection)
        host = host or settings.host
        port = port or settings.port
        token = settings.resolved_token()
        if token is None and not is_loopback(host):
            raise ServeError(
                f"refusing to serve on {host} without a token: anyone who reaches it would "
                "see your queries",
                hint='set [serve] token = "env:PGWARDEN_TOKEN" in pgwarden.toml and export it, '
                "or listen on 127.0.0.1",
            )
        warden = opts.warden()
        where = opts.target_display()
    except PgwardenError as exc:
        fail(exc)
    app = create_app(warden, settings=settings, token=token)
    base = f"http://{host}:{port}"
    console.print(f"[bold]pgwarden serve[/]: {base}/   (database: {where})")
    console.print(
        f"  probes {base}/healthz {base}/readyz   metrics {base}/metrics   API {base}/docs"
    )
    auth = "token required (Authorization: Bearer)" if token else "no token: loopback only"
    console.print(f"  [dim]{auth}; Ctrl-C to stop[/]")
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning")
    except OSError as exc:  # port in use, address not available
        err_console.print(f"[red]cannot listen on {host}:{port}[/]: {exc}")
        raise typer.Exit(1) from None
