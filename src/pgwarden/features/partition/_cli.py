"""``pgwarden partitions [list [TABLE]]`` and ``pgwarden partitions convert TABLE``."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress
from rich.table import Table as RichTable

from pgwarden.cli._common import AsJson, console, err_console, fail, options, print_json
from pgwarden.errors import PgwardenError


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1024:
            return f"{n:.0f} {unit}"
        n //= 1024
    return f"{n} TB"


def _show(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, dt.datetime):
        text = value.isoformat(sep=" ")
        return text.removesuffix("+00:00").removesuffix(" 00:00:00")
    return str(value)


def _render(reports: list[Any]) -> None:
    if not reports:
        console.print("No partitioned tables.")
    for rep in reports:
        layout = rep.layout
        head = f"[bold]{escape(str(rep.table))}[/]"
        if layout is not None:
            head += f" — {layout.strategy} on {escape(str(layout.column))}"
            head += " (declared)" if rep.declared else " (not declared in pgwarden.toml)"
        console.print(head)
        if rep.message:
            colour = "yellow" if rep.default_rows or rep.partman else "dim"
            console.print(f"  [{colour}]{escape(rep.message)}[/]")
        if layout is None:
            continue
        grid = RichTable(box=None, pad_edge=False, show_edge=False)
        for column in ("partition", "from", "to / values", "rows", "size"):
            grid.add_column(column, justify="right" if column in ("rows", "size") else "left")
        for part in (
            layout.ranges
            + [p for p in layout.parts if p.values]
            + ([layout.default] if layout.default else [])
        ):
            if part.is_default:
                span = ("default", "")
            elif part.values:
                span = ("in", ", ".join(_show(v) for v in part.values))
            else:
                span = (_show(part.low), _show(part.high))
            grid.add_row(
                escape(part.name.name),
                span[0],
                escape(span[1]),
                f"{part.rows:,}",
                _size(part.bytes),
            )
        console.print(grid)
        for low, high in layout.gaps():
            console.print(f"  [yellow]gap[/]: no partition from {_show(low)} to {_show(high)}")


partitions_app = typer.Typer(
    help="Partitioned tables: partitions, ranges, rows, sizes, gaps, rows in the default; "
    "converting a live table.",
)

Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@partitions_app.callback(invoke_without_command=True)
def _partitions(ctx: typer.Context, as_json: Json = False) -> None:
    """Partitioned tables: partitions, ranges, rows, sizes, gaps, rows in the default.

    With no command: `pgwarden partitions list`. Tables managed by pg_partman are shown and
    left alone.
    """
    if ctx.invoked_subcommand is None:
        list_partitions(ctx, None, as_json=as_json)


@partitions_app.command("list")
def list_partitions(
    ctx: typer.Context,
    table: Annotated[
        str | None, typer.Argument(help="One table (default: every partitioned table).")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Every partitioned table (or TABLE) and plain tables declaring `partition`: partitions,
    ranges, rows, sizes, gaps, rows waiting in the default partition."""
    try:
        reports = options(ctx).warden().partitions.report(table)
    except (PgwardenError, ValueError) as exc:
        fail(exc if isinstance(exc, PgwardenError) else PgwardenError(str(exc)))
    if as_json:
        print_json([r.to_json() for r in reports])
    else:
        _render(reports)


@partitions_app.command("convert")
def convert(
    ctx: typer.Context,
    table: Annotated[str, typer.Argument(help="The plain table to convert, e.g. public.events.")],
    batch: Annotated[
        int, typer.Option("--batch", help="Rows per copy transaction.", min=1)
    ] = 10_000,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the steps and checks only.")
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Convert a plain table to the partitioned one its declaration describes, while it
    stays writable; run it again to resume after a crash."""
    _convert(ctx, table, batch=batch, dry_run=dry_run, as_json=as_json)


def _convert(ctx: typer.Context, table: str, *, batch: int, dry_run: bool, as_json: bool) -> None:
    bars = RichProgress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=as_json or not err_console.is_terminal,
    )
    tasks: dict[str, Any] = {}

    def progress(step: str, done: int, total: int | None) -> None:
        if step not in tasks:
            tasks[step] = bars.add_task(escape(step), total=total)
        bars.update(tasks[step], completed=done, total=total)
        if not as_json and not err_console.is_terminal and total is None and done == 0:
            err_console.print(escape(step))

    try:
        with bars:
            result = (
                options(ctx)
                .warden()
                .partitions.convert(table, batch=batch, progress=progress, dry_run=dry_run)
            )
    except PgwardenError as exc:
        fail(exc)
    if as_json:
        print_json(result.to_json())
        return
    for line in result.lines():
        console.print(escape(line))


def register(app: typer.Typer) -> None:
    """``pgwarden partitions [list [TABLE] | convert TABLE]``."""
    app.add_typer(partitions_app, name="partitions")
