"""The workspace blueprint's registration (entry point ``pgwarden.blueprints``)."""

from __future__ import annotations

import typer

from pgwarden.blueprints import Blueprint

_MISSING = "the workspace blueprint needs {}: pip install 'pgwarden[workspace]'"


class WorkspaceBlueprint(Blueprint):
    name = "workspace"
    summary = "seed 002's workspace: organizations as tenants, tasks with dependencies, events"
    extra = "workspace"

    def commands(self, app: typer.Typer) -> None:
        try:
            from pgwarden.blueprints.workspace._cli import workspace_app
        except ImportError as exc:  # the extra is not installed: say how to get it
            message = _MISSING.format(exc.name or "a dependency")

            def unavailable() -> None:
                typer.echo(message, err=True)
                raise typer.Exit(1)

            app.command("workspace", help=f"The workspace blueprint ({message}).")(unavailable)
            return
        app.add_typer(workspace_app, name="workspace")

    def demo(self, ctx: typer.Context, *, port: int, serve: bool, check: bool) -> None:
        try:
            from pgwarden.blueprints.workspace._demo import run_demo
        except ImportError as exc:
            typer.echo(_MISSING.format(exc.name or "a dependency"), err=True)
            raise typer.Exit(1) from None
        run_demo(ctx, port=port, serve=serve, check=check)
