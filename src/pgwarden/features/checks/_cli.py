"""``pgwarden checks``: the rows that violate the declared checks."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Declared CHECK constraints and the rows that violate them.")

    @group.command("violations")
    def violations(
        ctx: typer.Context,
        json_out: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """Count the rows violating each declared check, with examples. Exit 1 if any do."""
        from pgwarden.cli._common import console, fail, options, print_json
        from pgwarden.errors import PgwardenError
        from pgwarden.features.checks import ChecksAPI

        try:
            found = options(ctx).warden().api(ChecksAPI).violations()
        except PgwardenError as exc:
            fail(exc)
        if json_out:
            print_json([v.to_json() for v in found])
        else:
            for v in found:
                mark = "[red]✗[/]" if v.rows else "[green]✓[/]"
                console.print(f"{mark} {v.table} {v.check}: {v.rows} violating row(s)")
                for example in v.examples:
                    console.print(f"    {example}", markup=False, highlight=False)
        raise typer.Exit(1 if any(v.rows for v in found) else 0)

    app.add_typer(group, name="checks")
