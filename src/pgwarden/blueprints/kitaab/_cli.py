"""``pgwarden kitaab install | generate | serve``: the Kitaab blueprint on the database."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from pgwarden.blueprints import kitaab
from pgwarden.blueprints.kitaab.generate import DEMO_EMAIL, DEMO_PASSWORD, Generated, generate
from pgwarden.cli._common import console, fail, options
from pgwarden.errors import PgwardenError

kitaab_app = typer.Typer(
    help="The Kitaab blueprint: install its schema and policies, generate data, serve its API.",
    no_args_is_help=True,
)

Users = Annotated[int, typer.Option("--users", help="How many users to generate.", min=1)]
Days = Annotated[int, typer.Option("--days", help="Days of entries, up to today.", min=1)]
Port = Annotated[int, typer.Option("--port", help="Port on 127.0.0.1 (0: any free port).")]


def database_url(ctx: typer.Context) -> str:
    """The URL the global options lead to (the embedded server is started if needed)."""
    try:
        warden = options(ctx).warden()
    except PgwardenError as exc:
        fail(exc)
    return warden.url


def install_with_output(url: str) -> None:
    with console.status("Migrations, then pgwarden apply…") as status:
        kitaab.install(url, step=lambda s: status.update(f"Kitaab: {s}…")).close()


def load(url: str, users: int, days: int) -> Generated:
    """Generate data with a progress bar (users done, entries written)."""
    with Progress(
        TextColumn("[bold]generating"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("users · {task.fields[entries]:,} entries"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bar:
        task = bar.add_task("users", total=users, entries=0)
        result = generate(
            url,
            users,
            days,
            progress=lambda entries, done: bar.update(task, completed=done, entries=entries),
        )
    # Rows older than the current partitions wait in the default one: move them out.
    warden = kitaab.install(url)
    warden.close()
    return result


@kitaab_app.command("install")
def install_command(ctx: typer.Context) -> None:
    """Run the blueprint's migrations and apply its pgwarden.toml (idempotent)."""
    url = database_url(ctx)
    install_with_output(url)
    console.print("[green]Kitaab installed[/] (schema kitaab, policies applied).")


@kitaab_app.command("generate")
def generate_command(ctx: typer.Context, users: Users = 1000, days: Days = 30) -> None:
    """Generate users, deeds, hierarchies, scales, connections, permissions and entries
    (COPY, with progress). Installs the blueprint first if needed."""
    url = database_url(ctx)
    install_with_output(url)
    started = time.monotonic()
    result = load(url, users, days)
    took = time.monotonic() - started
    console.print(
        f"[green]{result.users:,} users and {result.entries:,} entries[/] in {took:.1f}s "
        f"({result.entries / max(took, 1e-9):,.0f} entries/s, audited)."
    )
    if result.demo_email:
        console.print(f"Demo login: {result.demo_email} / {DEMO_PASSWORD}")


def free_port(wanted: int) -> int:
    """``wanted`` when it is free on 127.0.0.1, else any free port."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", wanted))
            return int(probe.getsockname()[1])
        except OSError:
            probe.bind(("127.0.0.1", 0))
            return int(probe.getsockname()[1])


def api_app(url: str) -> Any:
    """The Kitaab API with its reminder scheduler, connected as the app role (row-level
    security applies; ``url``'s role reads the tenancy key and streams the audit slot where
    tables are captured from the WAL); its pools close with the app."""
    from pgwarden.blueprints.kitaab.api import create_app
    from pgwarden.blueprints.kitaab.services import Kitaab

    return create_app(Kitaab(kitaab.app_warden(url)), scheduler=True, close=True, ingest_url=url)


def make_server(url: str, port: int) -> Any:
    import uvicorn

    config = uvicorn.Config(api_app(url), host="127.0.0.1", port=port, log_level="warning")
    return uvicorn.Server(config)


def print_access(port: int) -> None:
    base = f"http://127.0.0.1:{port}"
    console.print(f"\n[bold]Kitaab API[/]: {base}   (OpenAPI: {base}/docs)")
    console.print(f"[bold]pgwarden dashboard[/]: {base}/pgwarden/   (health: {base}/health)")
    console.print(f"Demo login: [bold]{DEMO_EMAIL}[/] / [bold]{DEMO_PASSWORD}[/]")
    console.print(
        f"  curl -s -X POST {base}/auth/login -H 'content-type: application/json' "
        f'-d \'{{"email": "{DEMO_EMAIL}", "password": "{DEMO_PASSWORD}"}}\''
    )


def serve(url: str, port: int, workers: int = 1) -> None:
    """Serve until interrupted (Ctrl-C); ``workers`` > 1: that many server processes
    sharing the port (each its own pool; the reminder scheduler is safe to run in each)."""
    if workers > 1:
        import uvicorn

        port = free_port(port)
        print_access(port)
        console.print(f"[dim]{workers} server processes. Ctrl-C to stop.[/]")
        os.environ[_WORKER_URL] = url
        uvicorn.run(
            f"{__name__}:worker_app", factory=True, host="127.0.0.1", port=port,
            workers=workers, log_level="warning",
        )  # fmt: skip
        return
    server = make_server(url, free_port(port))
    print_access(server.config.port)
    console.print("[dim]Ctrl-C to stop.[/]")
    server.run()


_WORKER_URL = "PGWARDEN_KITAAB_WORKER_URL"


def worker_app() -> Any:
    """The app of one of ``serve --workers N``'s processes (uvicorn imports it by name)."""
    return api_app(os.environ[_WORKER_URL])


@contextlib.contextmanager
def running(url: str, port: int = 0) -> Iterator[str]:
    """The API served in a thread for the duration of the block; yields its base URL."""
    server = make_server(url, free_port(port))
    thread = threading.Thread(target=server.run, name="kitaab-api", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the Kitaab API did not start")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@kitaab_app.command("serve")
def serve_command(
    ctx: typer.Context,
    port: Port = 8000,
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="Server processes (one per core is typical).")
    ] = 1,
) -> None:
    """Serve the Kitaab API on 127.0.0.1 (reminder scheduler included) until Ctrl-C."""
    url = database_url(ctx)
    install_with_output(url)
    serve(url, port, workers)
