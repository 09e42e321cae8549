"""The ``pgwarden`` command: thin — parse, call the layers, render."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from pgwarden import __version__
from pgwarden.cli._common import (
    EXIT_ERROR,
    EXIT_PENDING,
    Options,
    console,
    err_console,
    fail,
    options,
    print_json,
)
from pgwarden.cli._render import render_change, render_plan, render_status
from pgwarden.engine import Plan
from pgwarden.errors import PgwardenError
from pgwarden.lint import Finding, lint_plan

app = typer.Typer(
    name="pgwarden",
    help=(
        "Declare what your PostgreSQL data needs in pgwarden.toml; pgwarden builds it inside "
        "the database, keeps it healthy, and proves it.\n\n"
        "The database comes from --database-url, PGWARDEN_DATABASE_URL, DATABASE_URL, the "
        "file's \\[database] url, or else the embedded server under .pgwarden/."
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        console.print(f"pgwarden {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="Declaration file (default: ./pgwarden.toml)."),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option("--database-url", help="Database URL; overrides environment and file."),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show version.")
    ] = False,
) -> None:
    ctx.obj = Options(config=config, database_url=database_url)
    ctx.call_on_close(ctx.obj.close)


@app.command()
def plan(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
    check: Annotated[
        bool,
        typer.Option("--check", help="Exit 0 when nothing is to do, 2 when changes are pending."),
    ] = False,
    sql: Annotated[bool, typer.Option("--sql/--no-sql", help="Show each change's SQL.")] = True,
) -> None:
    """Show the SQL that would make the database match pgwarden.toml, with the locks it takes.

    Reads only. Exit codes: 0 ok (with --check: nothing to do), 1 error, 2 changes pending
    (with --check).
    """
    opts = options(ctx)
    try:
        warden = opts.warden()
        result = warden.plan()
        where = opts.target_display()
    except PgwardenError as exc:
        fail(exc)
    findings = _lint_plan(result)
    if as_json:
        print_json({**result.to_json(), "lint": [f.to_json() for f in findings]})
    elif not (check and result.empty):
        render_plan(console, result, where=where, show_sql=sql)
        for f in findings:
            console.print(
                f"[yellow]lint[/] {f.rule}: {escape(f.source)}: {escape(f.message)}"
                f" [dim](statement {f.lock_text})[/]"
            )
    if check and not result.empty:
        raise typer.Exit(EXIT_PENDING)


def _lint_plan(result: Plan) -> list[Finding]:
    """The lint of the plan's own statements (``pgwarden lint``'s rules); a lint that cannot
    run (squawk missing) is a warning, never a failed plan."""
    try:
        return lint_plan(result)
    except PgwardenError as exc:
        err_console.print(f"[yellow]lint skipped[/]: {escape(exc.message)}")
        return []


@app.command()
def apply(
    ctx: typer.Context,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Apply without asking.")] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print what was applied as JSON.")
    ] = False,
) -> None:
    """Apply the plan: one transaction where possible, short lock waits with retries.

    Shows the plan and asks first unless --yes. A second apply changes nothing.
    """
    opts = options(ctx)
    try:
        warden = opts.warden()
        shown = warden.plan()
        if shown.empty:
            if as_json:
                print_json({"applied": [], "apply_id": None})
            else:
                render_plan(console, shown, where=opts.target_display(), show_sql=False)
            return
        if not yes:
            if not sys.stdin.isatty():
                err_console.print("refusing to apply without --yes: no terminal to ask on")
                raise typer.Exit(EXIT_ERROR)
            render_plan(console, shown, where=opts.target_display())
            if not typer.confirm("\nApply these changes?", default=False):
                err_console.print("Nothing applied.")
                raise typer.Exit(EXIT_ERROR)
        printer = None if as_json else (lambda c: render_change(console, c, show_sql=False))
        result = warden.apply(expected=shown.fingerprint, on_change=printer)
    except PgwardenError as exc:
        fail(exc)
    if as_json:
        print_json({"applied": [c.to_json() for c in result.applied], "apply_id": result.apply_id})
    else:
        retried = f" after {result.attempts} attempts" if result.attempts > 1 else ""
        console.print(f"[green]Applied {len(result.applied)} change(s){retried}.[/]")


@app.command()
def status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print status as JSON.")] = False,
) -> None:
    """What pgwarden has built in the database, what drifted, what is pending."""
    opts = options(ctx)
    try:
        result = opts.warden().status()
        where = opts.target_display()
    except PgwardenError as exc:
        fail(exc)
    if as_json:
        print_json(result.to_json())
    else:
        render_status(console, result, where=where)


def main() -> None:
    """Entry point of the ``pgwarden`` script."""
    app()
