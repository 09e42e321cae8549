"""``pgwarden demo``: the embedded server, a small example schema, its plan, applied."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.syntax import Syntax

from pgwarden.cli._app import app
from pgwarden.cli._common import console, fail, options
from pgwarden.cli._render import render_change, render_plan
from pgwarden.errors import PgwardenError
from pgwarden.spec import parse_spec
from pgwarden.warden import Warden, embedded_data_dir

DEMO_SCHEMA = """
create schema if not exists demo;
create table if not exists demo.authors (
    author_id bigint generated always as identity primary key,
    name      text not null,
    email     text not null unique
);
create table if not exists demo.books (
    book_id    bigint generated always as identity primary key,
    author_id  bigint not null references demo.authors on delete restrict,
    title      text not null,
    created_at timestamptz
);
"""

DEMO_SPEC = """\
# The demo's declaration: timestamps kept by the database on both tables.
[tables."demo.authors"]
timestamps = true

[tables."demo.books"]
timestamps = { created = "created_at", updated = "changed_at" }   # created_at exists: adopted
"""


@app.command()
def demo(ctx: typer.Context) -> None:
    """Walk through pgwarden on an example schema: plan, apply, see it work.

    Uses the embedded server unless a database is given; creates schema demo there.
    """
    opts = options(ctx)
    try:
        with console.status("Starting the database…"):
            base = opts.warden()
        base.close()
        spec = parse_spec(DEMO_SPEC, file="demo.toml")
        warden = Warden(base.url, spec=spec, target=base.target)
        with warden.connect(autocommit=True) as conn:
            conn.execute(DEMO_SCHEMA.encode())
        console.print(f"[bold]1.[/] Example schema [bold]demo[/] ready in {base.target.display()}.")
        console.print("[bold]2.[/] The declaration:")
        console.print(
            Syntax(DEMO_SPEC, "toml", theme="ansi_dark", background_color="default", word_wrap=True)
        )
        # The demo owns only its own tables: what pgwarden manages elsewhere in this
        # database is not the demo's to change.
        only = list(spec.tables)
        plan = warden.plan(only=only)
        console.print("[bold]3.[/] The plan:")
        render_plan(console, plan, where=opts.target_display())
        console.print("\n[bold]4.[/] Applying:")
        result = warden.apply(
            expected=plan.fingerprint,
            on_change=lambda c: render_change(console, c, show_sql=False),
            only=only,
        )
        if result.applied:
            console.print(f"[green]Applied {len(result.applied)} change(s).[/]")
        else:
            console.print("Nothing to apply: an earlier demo already built it.")
        _show_effect(warden)
        again = warden.plan(only=only)
        console.print(
            f"[bold]6.[/] Planning again: {len(again.changes)} change(s) — apply is idempotent."
        )
        warden.close()
    except PgwardenError as exc:
        fail(exc)
    _next_steps(base.target.embedded, embedded_data_dir(base.spec))


def _show_effect(warden: Warden) -> None:
    with warden.session(actor="demo", reason="show timestamps") as db:
        db.execute(
            "insert into demo.authors (name, email) values ('Ibn Battuta', 'ib@example.org') "
            "on conflict (email) do nothing"
        )
        book_id = db.execute(
            "insert into demo.books (author_id, title) select author_id, 'Rihla (draft)' "
            "from demo.authors where email = 'ib@example.org' returning book_id"
        ).fetchone()[0]
    with warden.session(actor="demo", reason="retitle") as db:
        db.execute("update demo.books set title = 'Rihla' where book_id = %s", [book_id])
        title, created, changed = db.execute(
            "select title, created_at, changed_at from demo.books where book_id = %s", [book_id]
        ).fetchone()
    console.print(
        "\n[bold]5.[/] Rows written with plain SQL get their times from the database: "
        f"book {title!r} created {created:%H:%M:%S.%f}, changed {changed:%H:%M:%S.%f} "
        "(a later transaction)."
    )


def _next_steps(embedded: bool, data_dir: Path) -> None:
    console.print("\nNext:")
    if embedded:
        console.print('  psql "$(pgwarden server url)"        # look around (schema demo, warden)')
        console.print("  pgwarden server stop                  # when done")
    console.print("  pgwarden init                         # a pgwarden.toml for your own tables")
    console.print(f"  [dim](server data in {data_dir.resolve()})[/]")
