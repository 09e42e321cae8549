"""Kitaab's registration as a blueprint (entry point ``pgwarden.blueprints``)."""

from __future__ import annotations

import typer

from pgwarden.blueprints import Blueprint


class Kitaab(Blueprint):
    name = "kitaab"
    summary = "the seed's personal accountability app: schema, policies, services, HTTP API"
    extra = "kitaab"

    def commands(self, app: typer.Typer) -> None:
        try:
            from pgwarden.blueprints.kitaab._cli import kitaab_app
            from pgwarden.blueprints.kitaab._demo import demo
        except ImportError as exc:  # the extra is not installed: say how to get it
            missing = exc.name or "a dependency"
            message = f"the Kitaab blueprint needs {missing}: pip install 'pgwarden[kitaab]'"

            def unavailable() -> None:
                typer.echo(message, err=True)
                raise typer.Exit(1)

            app.command("kitaab", help=f"The Kitaab blueprint ({message}).")(unavailable)
            app.command("demo", help=f"Run the Kitaab blueprint ({message}).")(unavailable)
            return
        app.add_typer(kitaab_app, name="kitaab")
        app.command("demo")(demo)
