"""What every command shares: global options, the console, the Warden, error handling."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress

from pgwarden._names import QualifiedName
from pgwarden.config import load_config, resolve_target
from pgwarden.errors import PgwardenError
from pgwarden.maintenance import Job, Progress
from pgwarden.spec import Spec
from pgwarden.warden import Warden

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

# Exit codes scripts can rely on.
EXIT_OK, EXIT_ERROR, EXIT_PENDING = 0, 1, 2


@dataclass
class Options:
    """Global options, given before the command (``pgwarden --config x.toml plan``)."""

    config: Path | None = None
    database_url: str | None = None
    opened: list[Warden] = field(default_factory=list)

    def spec(self) -> Spec:
        return load_config(self.config)

    def warden(self) -> Warden:
        """The Warden for this invocation; closed (with its pool) when the command ends."""
        warden = Warden.from_config(self.config, url=self.database_url)
        self.opened.append(warden)
        return warden

    def close(self) -> None:
        for warden in self.opened:
            warden.close()
        self.opened.clear()

    def target_display(self) -> str:
        spec = self.spec()
        target = resolve_target(spec, url=self.database_url)
        if target.embedded:
            return f"embedded server in {spec.server.data_dir}/ (no database URL given)"
        return f"{target.display()} (from {target.source})"


def options(ctx: typer.Context) -> Options:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, Options) else Options()


def fail(error: PgwardenError) -> NoReturn:
    err_console.print(f"[bold red]error[/] [dim]({error.code})[/]: {escape(error.message)}")
    if error.hint:
        err_console.print(f"  [yellow]hint[/]: {escape(error.hint)}")
    if error.statement:
        err_console.print(f"  [dim]statement[/]: {escape(error.statement)}")
    raise typer.Exit(EXIT_ERROR)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


AsJson = Annotated[bool, typer.Option("--json", help="Print as JSON.")]


def parse_table(text: str) -> QualifiedName:
    """A table named on the command line (``schema.table``, or ``table`` for public)."""
    try:
        return QualifiedName.parse(text)
    except ValueError as exc:
        fail(PgwardenError(str(exc)))


@contextmanager
def job_progress(enabled: bool) -> Iterator[Callable[[Job], Progress] | None]:
    """Progress bars (rows, rows/s) for maintenance jobs on a terminal; nothing otherwise."""
    if not enabled:
        yield None
        return
    with RichProgress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("rows"),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as bars:

        def for_job(job: Job) -> Progress:
            task = bars.add_task(escape(job.description), total=None, rate="")
            started = time.perf_counter()

            def update(done: int, total: int | None) -> None:
                elapsed = max(time.perf_counter() - started, 1e-6)
                bars.update(task, completed=done, total=total, rate=f"{done / elapsed:,.0f}/s")

            return update

        yield for_job
