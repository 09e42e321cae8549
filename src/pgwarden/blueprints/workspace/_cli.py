"""``pgwarden workspace install | generate | serve | demo``."""

from __future__ import annotations

import datetime as dt
import os
import time
from typing import Annotated, Any

import typer

from pgwarden.blueprints import _serve, workspace
from pgwarden.cli._common import console, fail, options, print_json
from pgwarden.errors import PgwardenError

workspace_app = typer.Typer(
    help="The workspace blueprint (seed 002): install its schema and policies, generate "
    "organizations, tasks and events, serve its API.",
    no_args_is_help=True,
)

Port = Annotated[int, typer.Option("--port", help="Port on 127.0.0.1 (0: any free port).")]
ROLES_ENV = "PGWARDEN_WORKSPACE_ROLES"
"""The role prefix the commands use (default ``workspace``: ``workspace_app``, ...)."""


def role_prefix() -> str:
    return os.environ.get(ROLES_ENV) or workspace.ROLE_PREFIX


def database_url(ctx: typer.Context) -> str:
    """The URL the global options lead to (the embedded server is started if needed)."""
    try:
        return options(ctx).warden().url
    except PgwardenError as exc:
        fail(exc)


def install_with_output(url: str, since: dt.datetime | None = None) -> None:
    with console.status("Migrations, then pgwarden apply…") as status:
        workspace.install(
            url,
            since=since,
            role_prefix=role_prefix(),
            step=lambda s: status.update(f"workspace: {s}…"),
        ).close()


def service(url: str, pool_size: int = 10) -> Any:
    from pgwarden.blueprints.workspace.services import Workspace

    spec = workspace.declaration(role_prefix())
    return Workspace(workspace.app_warden(url, spec, pool_size=pool_size))


@workspace_app.command("install")
def install_command(ctx: typer.Context) -> None:
    """Run the migrations, apply pgwarden.toml (roles, row-level security, graph, partitions,
    search, analytics views), make the event partitions (idempotent)."""
    install_with_output(database_url(ctx))
    console.print("[green]workspace installed[/] (schema workspace, policies applied).")


def load(url: str, **kw: Any) -> Any:
    """Generate with a progress display, as the app role."""
    from pgwarden.blueprints.workspace.generate import generate

    return _serve.generate_with_progress(service(url), generate, console, **kw)


@workspace_app.command("generate")
def generate_command(
    ctx: typer.Context,
    organizations: Annotated[int, typer.Option(min=1, help="Organizations.")] = 3,
    tasks: Annotated[int, typer.Option(min=1, help="Tasks, over all organizations.")] = 600,
    events: Annotated[int, typer.Option(min=0, help="Events, over all organizations.")] = 6_000,
    days: Annotated[int, typer.Option(min=1, help="Days of history, up to now.")] = 30,
    seed: Annotated[int, typer.Option(help="Seed: organizations are gen-<seed>-<n>.")] = 2,
    json_output: Annotated[bool, typer.Option("--json", help="Print the counts as JSON.")] = False,
) -> None:
    """Generate organizations, users, projects, tasks in dependency chains, prompts and
    events (through the idempotent ingest), as the app role under row-level security.
    Installs the blueprint first if needed, with event partitions for the whole history."""
    url = database_url(ctx)
    install_with_output(url, since=dt.datetime.now(dt.UTC) - dt.timedelta(days=days))
    started = time.monotonic()
    try:
        result = load(
            url, organizations=organizations, tasks=tasks, events=events, days=days, seed=seed
        )
    except PgwardenError as exc:
        fail(exc)
    took = time.monotonic() - started
    counts = {k: getattr(result, k) for k in ("organizations", "tasks", "dependencies", "events")}
    if json_output:
        print_json({**counts, "seconds": round(took, 2)})
        return
    console.print(
        f"[green]{result.organizations} organizations, {result.tasks:,} tasks "
        f"({result.dependencies:,} dependencies), {result.events:,} events[/] "
        f"in {took:.1f}s."
    )


def make_server(url: str, port: int, pool_size: int = 10) -> Any:
    from pgwarden.blueprints.workspace.api import create_app

    return _serve.server(create_app(service(url, pool_size), close=True), port)


def print_access(port: int) -> None:
    base = f"http://127.0.0.1:{port}"
    console.print(f"\n[bold]workspace API[/]: {base}   (OpenAPI: {base}/docs)")
    console.print(f"  pgwarden health and dashboard: {base}/pgwarden/")


@workspace_app.command("serve")
def serve_command(
    ctx: typer.Context,
    port: Port = 8000,
    pool_size: Annotated[int, typer.Option(min=1, help="Database connections (pool max).")] = 10,
) -> None:
    """Serve the workspace API (as the app role; pgwarden's health at /pgwarden) on
    127.0.0.1 until Ctrl-C. Installs the blueprint first if needed."""
    url = database_url(ctx)
    install_with_output(url)
    served = make_server(url, _serve.free_port(port), pool_size)
    print_access(served.config.port)
    console.print("[dim]Ctrl-C to stop.[/]")
    served.run()


@workspace_app.command("demo")
def demo_command(
    ctx: typer.Context,
    port: Port = 8000,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Stop once loaded.")] = False,
    check: Annotated[bool, typer.Option("--check", help="Prove the API answers, exit.")] = False,
) -> None:
    """The demo (same as ``pgwarden demo workspace``)."""
    from pgwarden.blueprints.workspace._demo import run_demo

    run_demo(ctx, port=port, serve=not no_serve, check=check)
