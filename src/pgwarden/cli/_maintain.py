"""``pgwarden maintain``: run every due maintenance job the declaration implies."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from pgwarden._names import QualifiedName
from pgwarden.cli._app import app
from pgwarden.cli._common import (
    AsJson,
    console,
    fail,
    job_progress,
    options,
    parse_table,
    print_json,
)
from pgwarden.errors import PgwardenError
from pgwarden.maintenance import JobResult

TableOption = Annotated[
    list[str] | None,
    typer.Option("--table", "-t", metavar="TABLE", help="Only this table's jobs (repeatable)."),
]
DryRun = Annotated[
    bool, typer.Option("--dry-run", help="Say how many rows each job would touch; change nothing.")
]
Batch = Annotated[int, typer.Option("--batch", help="Rows per transaction.", min=1)]
Wait = Annotated[bool, typer.Option("--wait", help="Wait for another runner instead of failing.")]


def tables_option(values: list[str] | None) -> list[QualifiedName] | None:
    return [parse_table(v) for v in values] if values else None


def render_results(results: list[JobResult], *, nothing: str) -> None:
    if not results:
        console.print(nothing)
    for r in results:
        where = f" {r.table}" if r.table else ""
        verb = "would touch" if r.dry_run else "done:"
        rate = f", {r.rows / r.seconds:,.0f} rows/s" if r.rows and r.seconds > 0 else ""
        console.print(
            f"{escape(r.job)}{escape(where)}: {verb} {r.rows:,} {escape(r.detail)} "
            f"[dim]({r.seconds:.2f}s{rate})[/]"
        )


def run_maintenance(
    ctx: typer.Context,
    *,
    table: list[str] | None,
    names: list[str] | None,
    dry_run: bool,
    batch: int,
    wait: bool,
    as_json: bool,
    nothing: str,
) -> None:
    """What ``maintain``, ``purge`` and ``archive run`` share: run the selected jobs."""
    try:
        warden = options(ctx).warden()
        with job_progress(not as_json and console.is_terminal) as progress:
            results = warden.maintain(
                only=tables_option(table),
                names=names,
                dry_run=dry_run,
                batch=batch,
                wait=wait,
                progress=progress,
            )
    except PgwardenError as exc:
        fail(exc)
    if as_json:
        print_json([r.to_json() for r in results])
    else:
        render_results(results, nothing=nothing)


@app.command()
def maintain(
    ctx: typer.Context,
    table: TableOption = None,
    dry_run: DryRun = False,
    batch: Batch = 10_000,
    wait: Wait = False,
    as_json: AsJson = False,
) -> None:
    """Run every due maintenance job: make partitions ahead, rescue default rows, purge,
    archive, then retention (in that order, in batches).

    One runner per database: exits 1 when another maintain or worker is running (unless
    --wait). Does nothing on a standby.
    """
    run_maintenance(
        ctx,
        table=table,
        names=None,
        dry_run=dry_run,
        batch=batch,
        wait=wait,
        as_json=as_json,
        nothing="Nothing to maintain: no declared feature has recurring work.",
    )
