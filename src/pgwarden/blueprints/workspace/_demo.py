"""``pgwarden demo workspace``: the workspace blueprint on the embedded server (or a given
database): migrations, its declaration planned and applied, generated organizations, a
story of dependencies, a redelivered webhook and two tenants kept apart, then its API."""

from __future__ import annotations

import datetime as dt
import json
import urllib.request
from typing import Any

import typer

from pgwarden.blueprints import _serve, workspace
from pgwarden.blueprints.workspace import _migrate
from pgwarden.blueprints.workspace._cli import (
    install_with_output,
    load,
    make_server,
    print_access,
    role_prefix,
    service,
)
from pgwarden.cli._common import console, err_console, fail
from pgwarden.errors import PgwardenError
from pgwarden.warden import Warden


def run_demo(ctx: typer.Context, *, port: int, serve: bool, check: bool) -> None:
    """Install, load, tell the story, then serve (or check and stop)."""
    try:
        url = _serve.demo_database(ctx, "Workspace", "workspace", _migrate.upgrade)
        with Warden(url, spec=workspace.declaration(role_prefix())) as warden:
            plan = warden.plan(only=workspace.tables(warden.spec))
        console.print(f"[bold]3.[/] {_serve.planned(plan.changes)}")
        since = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
        install_with_output(url, since=since)
        console.print(
            "[bold]4.[/] Applied: roles, forced row-level security per organization, "
            "the dependency graph, monthly event partitions, search, analytics views."
        )
        with Warden(url) as operator, operator.connect() as conn:  # a demo run again: new orgs
            row = conn.execute("select count(*) from workspace.organizations").fetchone()
        runs = int(row[0]) if row else 0
        result = load(
            url, organizations=3, tasks=600, events=3_000, days=30, seed=runs, prefix="demo"
        )
        console.print(
            f"[bold]5.[/] Generated {result.organizations} organizations, "
            f"{result.tasks:,} tasks ({result.dependencies:,} dependencies), "
            f"{result.events:,} events (as the app role)."
        )
        _story(url, f"story-{runs}")
    except PgwardenError as exc:
        fail(exc)
    if check:
        _check(url, port)
    elif serve:
        served = make_server(url, _serve.free_port(port))
        print_access(served.config.port)
        console.print("[dim]Ctrl-C to stop.[/]")
        served.run()


def _story(url: str, slug: str) -> None:
    from pgwarden.blueprints.workspace.services import Caller, Conflict, Event

    app = service(url)
    try:
        org, owner, _token = app.orgs.create("Demo", slug, f"ada@{slug}.test", "Ada")
        me = Caller(org["organization_id"], owner["user_id"])
        a, b, c = (app.tasks.create(me, t)["task_id"] for t in ("Design", "Build", "Ship"))
        app.dependencies.add(me, b, a)
        app.dependencies.add(me, c, b)
        try:
            app.dependencies.add(me, a, c)
            refused = "accepted?!"
        except Conflict as exc:
            refused = exc.message
        blockers = [t["title"] for t in app.dependencies.blockers(me, c)]
        hook = Event("github", "delivery-1", "push", dt.datetime.now(dt.UTC), {"ref": "main"})
        first = app.events.ingest(me, [hook]).stored
        again = app.events.ingest(me, [hook]).stored
        other = Caller(1, 1)
        theirs = len(app.tasks.board(other, limit=1000))
        seen = [t["task_id"] for t in app.tasks.board(me, limit=1000)]
    finally:
        app.warden.close()
    console.print(
        f"[bold]6.[/] Demo org: Ship waits on Build waits on Design; Design on Ship "
        f"refused: {refused}"
    )
    console.print(
        f"     what blocks Ship: {', '.join(blockers)}; a webhook delivered twice "
        f"stored {first + again} time(s)."
    )
    console.print(
        f"     the demo org sees {len(seen)} task(s); organization 1 sees its own "
        f"{theirs}, none of the demo's."
    )


def _check(url: str, port: int) -> None:
    with _serve.in_thread(make_server(url, _serve.free_port(port)), "workspace API") as base:
        print_access(int(base.rsplit(":", 1)[1]))
        health = _http(f"{base}/health")
        slug = f"check-{dt.datetime.now(dt.UTC):%Y%m%d%H%M%S%f}"
        signed = _http(
            f"{base}/organizations",
            {"name": "Check", "slug": slug, "owner_email": f"c@{slug}.test", "owner_name": "C"},
        )
        token = signed["token"]
        task = _http(f"{base}/tasks", {"title": "check the API"}, token)
        board = _http(f"{base}/tasks", token=token)
        docs = urllib.request.urlopen(f"{base}/openapi.json", timeout=10).status
    if health.get("status") != "ok" or docs != 200 or board[0]["task_id"] != task["task_id"]:
        err_console.print("[red]API check failed[/]")
        raise typer.Exit(1)
    console.print(
        "[green]API check: ok[/] (health, sign-up, a task on the board, OpenAPI); stopped."
    )


def _http(url: str, body: dict[str, Any] | None = None, token: str | None = None) -> Any:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())
