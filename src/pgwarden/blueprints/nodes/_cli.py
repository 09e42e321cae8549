"""``pgwarden nodes install | generate | token | serve | demo``."""

from __future__ import annotations

import contextlib
import json
import time
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Annotated, Any

import typer

from pgwarden.blueprints import nodes
from pgwarden.blueprints._serve import free_port, in_thread, server
from pgwarden.cli._common import console, err_console, fail, options, print_json
from pgwarden.errors import PgwardenError

Port = Annotated[int, typer.Option("--port", help="Port on 127.0.0.1 (0: any free port).")]


def database_url(ctx: typer.Context) -> str:
    """The URL the global options lead to (the embedded server is started if needed)."""
    try:
        return options(ctx).warden().url
    except PgwardenError as exc:
        fail(exc)


nodes_app = typer.Typer(
    help="The nodes blueprint (seed 000): install its schema and policies, generate node "
    "systems, issue API tokens, serve its API.",
    no_args_is_help=True,
)


def install_with_output(url: str) -> None:
    with console.status("Migrations, then pgwarden apply…") as status:
        nodes.install(url, step=lambda s: status.update(f"nodes: {s}…")).close()


def ensure_installed(url: str) -> None:
    """Install when the database has never had the blueprint (``install`` brings an
    installed one up to date)."""
    from pgwarden.blueprints.nodes import _migrate

    if _migrate.current(url) is None:
        install_with_output(url)


@nodes_app.command("install")
def install_command(ctx: typer.Context) -> None:
    """Run the migrations, apply pgwarden.toml (roles, policies, views), make the event
    partitions (idempotent)."""
    install_with_output(database_url(ctx))
    console.print("[green]nodes installed[/] (schema nodes, policies applied).")


@nodes_app.command("generate")
def generate_command(
    ctx: typer.Context,
    owners: Annotated[int, typer.Option(min=1, help="Owners (tenants).")] = 10,
    per_owner: Annotated[int, typer.Option(min=2, help="Nodes per owner.")] = 1000,
    per_node: Annotated[int, typer.Option(min=1, help="Relationships per node, about.")] = 3,
    json_output: Annotated[bool, typer.Option("--json", help="Print the counts as JSON.")] = False,
) -> None:
    """Generate owners' nodes and relationships through every trigger (idempotent batches:
    run it again after an interruption). Installs the blueprint first if it is not."""
    from pgwarden.blueprints.nodes.generate import generate

    url = database_url(ctx)
    ensure_installed(url)
    started = time.monotonic()
    with console.status("generating…") as status:
        done = generate(url, owners=owners, nodes_per_owner=per_owner, per_node=per_node,
                        progress=lambda what, n: status.update(f"{what}: {n:,}"))  # fmt: skip
    took = round(time.monotonic() - started, 2)
    if json_output:
        print_json({**done.__dict__, "seconds": took})
        return
    console.print(f"[green]{done.nodes:,} nodes, {done.relationships:,} relationships[/] "
                  f"({done.owners} owners) in {took}s.")  # fmt: skip


@nodes_app.command("token")
def token_command(
    ctx: typer.Context, user: Annotated[str, typer.Argument(help="The user's uuid.")]
) -> None:
    """Print an API bearer token for USER (signed with the tenancy key)."""
    from pgwarden.blueprints.nodes.api._auth import issue, token_key
    from pgwarden.warden import Warden

    try:
        who = uuid.UUID(user)
    except ValueError:
        err_console.print(f"[red]{user!r} is not a uuid[/]")
        raise typer.Exit(2) from None
    with Warden(database_url(ctx), spec=nodes.declaration()) as warden:
        key = token_key(warden.tenant_key)
    typer.echo(issue(key, who))


def make_server(url: str, port: int, pool_size: int = 10) -> Any:
    from pgwarden.blueprints.nodes.api import create_app
    from pgwarden.blueprints.nodes.services import Nodes

    return server(create_app(Nodes(nodes.app_warden(url, pool_size=pool_size)), close=True), port)


@contextlib.contextmanager
def running(url: str, port: int = 0) -> Iterator[str]:
    """The API served in a thread for the duration of the block; yields its base URL."""
    with in_thread(make_server(url, free_port(port)), "nodes API") as base:
        yield base


@nodes_app.command("serve")
def serve_command(
    ctx: typer.Context,
    port: Port = 8000,
    pool_size: Annotated[int, typer.Option(min=1, help="Database connections (pool max).")] = 10,
) -> None:
    """Serve the nodes API (connected as the app role, under the policies) on 127.0.0.1
    until Ctrl-C. Installs the blueprint first if it is not."""
    url = database_url(ctx)
    ensure_installed(url)
    server = make_server(url, port, pool_size)
    console.print(f"[bold]nodes API[/]: http://127.0.0.1:{port}  (OpenAPI: /docs; a token: "
                  "pgwarden nodes token USER)")  # fmt: skip
    server.run()


def _call(base: str, method: str, path: str, token: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{base}{path}", data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")


def run_demo(ctx: typer.Context, *, port: int, serve: bool, check: bool) -> None:
    """``pgwarden demo nodes``: install, generate a small node system, walk one node's story
    through the API (create, link, search, delete, restore, history), then serve or stop."""
    from pgwarden.blueprints.nodes.api._auth import issue, token_key
    from pgwarden.blueprints.nodes.generate import generate, owner_id
    from pgwarden.warden import Warden

    url = database_url(ctx)
    console.print(f"[bold]1.[/] Database: {options(ctx).target_display()}.")
    install_with_output(url)
    console.print("[bold]2.[/] Installed: migrations, then pgwarden.toml (audit, versioning, "
                  "soft delete, graph, search, archive, partitions, tenancy, views).")  # fmt: skip
    done = generate(url, owners=3, nodes_per_owner=500)
    console.print(f"[bold]3.[/] Generated {done.nodes:,} nodes, {done.relationships:,} "
                  f"relationships for {done.owners} owners.")  # fmt: skip
    with Warden(url, spec=nodes.declaration()) as warden:
        key = token_key(warden.tenant_key)
    me = owner_id(0)
    token = issue(key, me)
    with running(url, 0 if check else port) as base:
        a = _call(base, "POST", "/nodes", token, {"type": "event-storm", "name": "Demo order"})
        b = _call(base, "POST", "/nodes", token, {"type": "function-model", "name": "Demo pay"})
        _call(base, "POST", "/relationships", token, {"source_node_id": b["node_id"],
              "target_node_id": a["node_id"], "relationship_type": "depends_on"})  # fmt: skip
        hits = _call(base, "GET", "/search?q=demo%20order", token)
        gone = _call(base, "DELETE", f"/nodes/{a['node_id']}", token)
        back = _call(base, "POST", f"/nodes/{a['node_id']}/restore", token)
        versions = _call(base, "GET", f"/nodes/{a['node_id']}/history", token)
        console.print(
            f"[bold]4.[/] API: created 2 nodes, linked them, search found {len(hits)}; "
            f"delete took {gone['relationships_deleted']} relationship(s), restore brought "
            f"{back['relationships_restored']} back; history: "
            + ", ".join(f"v{v['version']} {v['op']}" for v in versions)
        )
        console.print(f"     token for {me}: {token}")
        if check:
            console.print("[green]API check: ok[/]; stopped.")
            return
        if serve:
            console.print(f"[bold]nodes API[/]: {base}  (OpenAPI: {base}/docs). Ctrl-C to stop.")
            with contextlib.suppress(KeyboardInterrupt):
                while True:
                    time.sleep(3600)


@nodes_app.command("demo")
def demo_command(
    ctx: typer.Context,
    port: Port = 8000,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Stop once loaded.")] = False,
    check: Annotated[bool, typer.Option("--check", help="Prove the API answers, exit.")] = False,
) -> None:
    """The demo (same as ``pgwarden demo nodes``)."""
    run_demo(ctx, port=port, serve=not no_serve, check=check)
