"""``pgwarden server``: the embedded PostgreSQL used when no database URL is given."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pgwarden.cli._app import app
from pgwarden.cli._common import EXIT_ERROR, console, err_console, fail, options, print_json
from pgwarden.errors import PgwardenError
from pgwarden.server import EmbeddedServer, ServerStatus
from pgwarden.warden import embedded_data_dir

server_app = typer.Typer(
    help="Start, stop and inspect the embedded PostgreSQL (data under .pgwarden/).",
    no_args_is_help=True,
)
app.add_typer(server_app, name="server")

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Server directory (default: [server] data_dir, .pgwarden)."),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print as JSON.")]


def _server(ctx: typer.Context, data_dir: Path | None) -> EmbeddedServer:
    if data_dir is None:
        try:
            data_dir = embedded_data_dir(options(ctx).spec())
        except PgwardenError as exc:
            fail(exc)
    return EmbeddedServer(data_dir)


def _show(status: ServerStatus, as_json: bool) -> None:
    if as_json:
        print_json(
            {
                "running": status.running,
                "pid": status.pid,
                "data_dir": str(status.data_dir),
                "port": status.port,
                "socket_dir": str(status.socket_dir) if status.socket_dir else None,
                "version": status.version,
                "url": status.url() if status.running else None,
                "log_file": str(status.log_file),
            }
        )
        return
    if not status.running:
        console.print(f"stopped  [dim]{status.data_dir}[/]")
        return
    console.print(f"[green]running[/]  PostgreSQL {status.version}, pid {status.pid}")
    console.print(f"  url     {status.url()}")
    console.print(f"  socket  {status.socket_url()}")
    console.print(f"  data    {status.data_dir}")
    console.print(f"  log     {status.log_file}")


@server_app.command("start")
def start(ctx: typer.Context, data_dir: DataDir = None, as_json: AsJson = False) -> None:
    """Start the embedded server (initialising it on first use); no-op when running."""
    try:
        status = _server(ctx, data_dir).start()
    except PgwardenError as exc:
        fail(exc)
    _show(status, as_json)


@server_app.command("stop")
def stop(ctx: typer.Context, data_dir: DataDir = None) -> None:
    """Stop the embedded server (fast shutdown: sessions are ended, data is safe)."""
    try:
        _server(ctx, data_dir).stop()
    except PgwardenError as exc:
        fail(exc)
    console.print("stopped")


@server_app.command("status")
def status(ctx: typer.Context, data_dir: DataDir = None, as_json: AsJson = False) -> None:
    """Is the embedded server running, and where. Exit code 3 when it is not."""
    try:
        result = _server(ctx, data_dir).status()
    except PgwardenError as exc:
        fail(exc)
    _show(result, as_json)
    if not result.running:
        raise typer.Exit(3)


@server_app.command("url")
def url(
    ctx: typer.Context,
    data_dir: DataDir = None,
    socket: Annotated[bool, typer.Option("--socket", help="The unix-socket form.")] = False,
    database: Annotated[str, typer.Option("--database", "-d", help="Database name.")] = "",
) -> None:
    """Print the server's connection URL (for psql, DATABASE_URL, other tools)."""
    try:
        result = _server(ctx, data_dir).status()
        name = database or options(ctx).spec().server.database
    except PgwardenError as exc:
        fail(exc)
    if not result.running:
        err_console.print("the embedded server is not running: `pgwarden server start`")
        raise typer.Exit(EXIT_ERROR)
    typer.echo(result.socket_url(name) if socket else result.url(name))
