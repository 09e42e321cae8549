"""``pgwarden demo``: the Kitaab blueprint on the embedded server (or a given database): its
migrations, its declaration planned and applied, demo data, and its API served."""

from __future__ import annotations

import datetime as dt
import json
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer

from pgwarden.blueprints import kitaab
from pgwarden.blueprints.kitaab import _migrate
from pgwarden.blueprints.kitaab._cli import load, print_access, running, serve
from pgwarden.blueprints.kitaab.generate import DEMO_EMAIL, DEMO_PASSWORD
from pgwarden.blueprints.kitaab.services import Kitaab
from pgwarden.cli._common import console, err_console, fail, options
from pgwarden.errors import PgwardenError
from pgwarden.warden import Warden, embedded_data_dir


def demo(
    ctx: typer.Context,
    blueprint: Annotated[
        str, typer.Argument(help="Which blueprint's demo: kitaab, or another installed one.")
    ] = "kitaab",
    users: Annotated[int, typer.Option("--users", help="Demo users to generate.", min=2)] = 200,
    days: Annotated[int, typer.Option("--days", help="Days of entries.", min=1)] = 90,
    port: Annotated[int, typer.Option("--port", help="API port on 127.0.0.1.")] = 8000,
    no_serve: Annotated[
        bool, typer.Option("--no-serve", help="Stop once the data is loaded.")
    ] = False,
    check: Annotated[
        bool,
        typer.Option(
            "--check", help="Serve the API briefly, log in as the demo user, then exit (CI)."
        ),
    ] = False,
) -> None:
    """Run the Kitaab blueprint on pgwarden: migrations, plan, apply, demo data, its API.
    ``pgwarden demo trading`` runs another installed blueprint's demo instead.

    Uses the embedded server unless a database is given; creates schema kitaab there. Serves
    the API on 127.0.0.1 until Ctrl-C (--no-serve: stop after loading; --check: prove the
    API answers, then exit).
    """
    if blueprint != "kitaab":  # another blueprint's demo (pgwarden demo trading)
        _other_demo(ctx, blueprint, port, no_serve, check)
        return
    opts = options(ctx)
    try:
        with console.status("Starting the database…"):
            base = opts.warden()
        url = base.url
        console.print(f"[bold]1.[/] Database: {opts.target_display()}.")
        _migrate.upgrade(url)
        console.print("[bold]2.[/] Kitaab schema migrated (Alembic, schema [bold]kitaab[/]).")
        warden = Warden(url, spec=kitaab.declaration(), target=base.target)
        only = kitaab.tables(warden.spec)
        plan = warden.plan(only=only)
        features = Counter(c.feature for c in plan.changes)
        summary = ", ".join(f"{name} {n}" for name, n in sorted(features.items())) or "none"
        console.print(
            f"[bold]3.[/] Its pgwarden.toml planned: {len(plan.changes)} change(s) "
            f"({summary}); see {kitaab.DECLARATION.name} in the blueprint."
        )
        warden.close()
        kitaab.install(url).close()
        console.print("[bold]4.[/] Applied: audit, versioning, soft delete, partitions, archive.")
        if _has_demo_login(url):
            console.print("[bold]5.[/] Demo data already loaded.")
        else:
            result = load(url, users, days)
            console.print(f"[bold]5.[/] Loaded {result.users:,} users, {result.entries:,} entries.")
        _show_history(url)
    except PgwardenError as exc:
        fail(exc)
    if check:
        _check(url, port)
    elif no_serve:
        _next_steps(base.target.embedded, embedded_data_dir(base.spec))
    else:
        serve(url, port)


def _other_demo(ctx: typer.Context, name: str, port: int, no_serve: bool, check: bool) -> None:
    from pgwarden.blueprints import registered_blueprints

    found = registered_blueprints()
    if name not in found:
        err_console.print(f"[red]no blueprint {name!r}[/]; installed: {', '.join(sorted(found))}")
        raise typer.Exit(2)
    try:
        found[name].demo(ctx, port=port, serve=not no_serve, check=check)
    except PgwardenError as exc:
        fail(exc)


def _has_demo_login(url: str) -> bool:
    with Warden(url) as warden, warden.connect() as conn:
        row = conn.execute("select 1 from kitaab.users where email = %s", [DEMO_EMAIL]).fetchone()
        return row is not None


def _show_history(url: str) -> None:
    """Edit one of the demo user's entries as the user, and show what pgwarden recorded."""
    with kitaab.app_warden(url) as warden:  # as the API connects: the app role
        service = Kitaab(warden)
        with warden.connect() as conn:
            row = conn.execute(
                "select u.user_id, i.deed_item_id from kitaab.users u "
                "join kitaab.deeds d using (user_id) join kitaab.deed_items i using (deed_id) "
                "where u.email = %s and i.name = %s",
                [DEMO_EMAIL, "Qur'an pages"],
            ).fetchone()
        if row is None:
            return
        user_id, item = row
        today = dt.date.today()
        entry, _ = service.entries.record(user_id, item, today, count_value=4)
        service.entries.update(user_id, entry["entry_id"], {"count_value": 6, "notes": "demo"})
        # Captured from the WAL (the embedded server's default): the events reach the store
        # when the slot is read, which the app role may not do; the installer's role does.
        with Warden(url, spec=warden.spec) as installer:
            installer.audit.ingest()
        history = service.entries.history(user_id, entry["entry_id"])
    console.print("[bold]6.[/] An entry edited through the service layer, as its history shows:")
    for version in history[-3:]:
        changed = ", ".join(version["changed"] or []) or "-"
        console.print(
            f"     v{version['version']} {version['op']:<7} by {version['actor']}  "
            f"changed: {changed}"
        )


def _check(url: str, port: int) -> None:
    with running(url, port) as base:
        print_access(int(base.rsplit(":", 1)[1]))
        health = _http(f"{base}/health")
        login = _http(f"{base}/auth/login", {"email": DEMO_EMAIL, "password": DEMO_PASSWORD})
        token = login["token"]
        dash = _http(f"{base}/dashboard", token=token)
        docs = urllib.request.urlopen(f"{base}/openapi.json", timeout=10).status
        page = urllib.request.urlopen(f"{base}/pgwarden/", timeout=10).status
        metrics = urllib.request.urlopen(f"{base}/pgwarden/metrics", timeout=10).read()
    if health.get("status") != "ok" or docs != 200 or page != 200 or b"pg_up 1.0" not in metrics:
        err_console.print("[red]API check failed[/]")
        raise typer.Exit(1)
    hasanaat = dash["totals"]["hasanaat"]["entries"]
    console.print(
        f"[green]API check: ok[/] (health, login, dashboard: {hasanaat} hasanaat entries in "
        "30 days, OpenAPI, pgwarden's dashboard and /metrics); stopped."
    )


def _http(url: str, body: dict[str, Any] | None = None, token: str | None = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data)
    if data is not None:
        request.add_header("content-type", "application/json")
    if token:
        request.add_header("authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def _next_steps(embedded: bool, data_dir: Path) -> None:
    console.print("\nNext:")
    console.print("  pgwarden kitaab serve                 # the API on 127.0.0.1:8000 (/docs)")
    console.print("  pgwarden history kitaab.entries 1     # versions of a row")
    if embedded:
        console.print(
            '  psql "$(pgwarden server url)"        # look around (schemas kitaab, warden)'
        )
        console.print("  pgwarden server stop                  # when done")
    console.print(f"  [dim](server data in {data_dir.resolve()})[/]")
