"""``pgwarden archive``: run the archive mover, restore archived rows."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from pgwarden.cli._common import (
    EXIT_ERROR,
    AsJson,
    console,
    err_console,
    fail,
    job_progress,
    options,
    parse_table,
    print_json,
)
from pgwarden.cli._maintain import Batch, DryRun, TableOption, Wait, run_maintenance
from pgwarden.errors import PgwardenError
from pgwarden.maintenance import Job

archive_app = typer.Typer(
    help="Move old rows to archive tables, and bring them back.", no_args_is_help=True
)


@archive_app.command("run")
def run(
    ctx: typer.Context,
    table: TableOption = None,
    dry_run: DryRun = False,
    batch: Batch = 10_000,
    wait: Wait = False,
    as_json: AsJson = False,
) -> None:
    """Move rows past each table's archive age into its archive table, in batches (one
    transaction each: stopping it at any moment loses nothing). Exits 1 on error or when
    another maintenance run holds the lock (unless --wait)."""
    run_maintenance(
        ctx,
        table=table,
        names=["archive"],
        dry_run=dry_run,
        batch=batch,
        wait=wait,
        as_json=as_json,
        nothing="Nothing to archive: no table declares archive.",
    )


@archive_app.command("restore")
def restore(
    ctx: typer.Context,
    table: Annotated[str, typer.Argument(help="The source table (schema.table).")],
    key: Annotated[
        list[str] | None,
        typer.Argument(help="Primary key value (several for a composite key, in key order)."),
    ] = None,
    where: Annotated[
        str | None,
        typer.Option("--where", help="SQL predicate on the archive table (your own SQL)."),
    ] = None,
    batch: Batch = 10_000,
    as_json: AsJson = False,
) -> None:
    """Move archived rows back into TABLE: one row by KEY, or every row matching --where.

    Exits 1 on error, or when KEY is given and no archived row has it.
    """
    name = parse_table(table)
    if bool(key) == (where is not None):
        fail(PgwardenError("give a KEY or --where (not both)"))
    try:
        warden = options(ctx).warden()
        job = Job("restore", "archive", name, f"restore {name}", lambda c: (0, ""))
        with job_progress(not as_json and console.is_terminal) as bars:
            progress = bars(job) if bars is not None else None
            rows = warden.archive.restore(
                str(name), key=tuple(key) if key else None, where=where, batch=batch,
                progress=progress,
            )  # fmt: skip
    except PgwardenError as exc:
        fail(exc)
    if as_json:
        print_json({"table": str(name), "restored": rows})
    else:
        console.print(f"{escape(str(name))}: {rows:,} rows restored from the archive")
    if key and rows == 0:
        err_console.print(f"no archived row of {escape(str(name))} has key {escape(repr(key))}")
        raise typer.Exit(EXIT_ERROR)


def register(app: typer.Typer) -> None:
    """``pgwarden archive run | restore``."""
    app.add_typer(archive_app, name="archive")
