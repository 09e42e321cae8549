"""``pgwarden views``: refresh a declared view now, see staleness."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Declared materialized views: refresh now, staleness.")

    @group.command("refresh")
    def refresh_now(
        ctx: typer.Context,
        view: str = typer.Argument(help="The view, schema.name."),
        full: bool = typer.Option(
            False, "--full", help="An incremental view: compute it whole again."
        ),
        json_out: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """Refresh VIEW now: an incremental view applies the changes since its last refresh;
        a materialized view refreshes CONCURRENTLY when it has a unique key."""
        from pgwarden.cli._common import console, fail, options, print_json
        from pgwarden.errors import PgwardenError
        from pgwarden.features.materialized_views import MaterializedViewsAPI

        try:
            done = MaterializedViewsAPI(options(ctx).warden()).refresh(view, full=full)
        except PgwardenError as exc:
            fail(exc)
        if json_out:
            print_json(done.to_json())
        elif done.skipped:
            console.print(f"{done.view}: skipped ({done.skipped})")
        else:
            how = "concurrently" if done.concurrently else "plainly"
            if done.incremental:
                how = "whole" if done.events is None else f"{done.events} changes applied"
            console.print(f"{done.view}: {done.rows} rows, {how}, {done.seconds:.2f}s")

    @group.command("status")
    def status(
        ctx: typer.Context,
        json_out: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """Each declared view's age since its last refresh. Exit 2 if one is stale."""
        from pgwarden.cli._common import console, fail, options, print_json
        from pgwarden.errors import PgwardenError
        from pgwarden.features.materialized_views import MaterializedViewsAPI

        try:
            found = MaterializedViewsAPI(options(ctx).warden()).staleness()
        except PgwardenError as exc:
            fail(exc)
        if json_out:
            print_json([s.to_json() for s in found])
        else:
            for s in found:
                age = "never" if s.age_seconds is None else f"{s.age_seconds:.0f}s ago"
                console.print(f"{s.view}: refreshed {age}{' [red]STALE[/]' if s.stale else ''}")
        raise typer.Exit(2 if any(s.stale for s in found) else 0)

    app.add_typer(group, name="views")
