"""The trading blueprint's registration (entry point ``pgwarden.blueprints``)."""

from __future__ import annotations

import typer

from pgwarden.blueprints import Blueprint

_MISSING = "the trading blueprint needs {}: pip install 'pgwarden[trading]'"


class TradingBlueprint(Blueprint):
    name = "trading"
    summary = "seed 004's trading system: orders, fills, positions, market data, live metrics"
    extra = "trading"

    def commands(self, app: typer.Typer) -> None:
        try:
            from pgwarden.blueprints.trading._cli import trading_app
        except ImportError as exc:  # the extra is not installed: say how to get it
            message = _MISSING.format(exc.name or "a dependency")

            def unavailable() -> None:
                typer.echo(message, err=True)
                raise typer.Exit(1)

            app.command("trading", help=f"The trading blueprint ({message}).")(unavailable)
            return
        app.add_typer(trading_app, name="trading")

    def demo(self, ctx: typer.Context, *, port: int, serve: bool, check: bool) -> None:
        try:
            from pgwarden.blueprints.trading._demo import run_demo
        except ImportError as exc:
            typer.echo(_MISSING.format(exc.name or "a dependency"), err=True)
            raise typer.Exit(1) from None
        run_demo(ctx, port=port, serve=serve, check=check)
