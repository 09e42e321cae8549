"""What every command shares: global options, the console, the Warden, error handling."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from pgwarden.config import load_config, resolve_target
from pgwarden.errors import PgwardenError
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
