"""The trading blueprint's registration (entry point ``pgwarden.blueprints``)."""

from __future__ import annotations

from pgwarden.blueprints import CommandBlueprint


class TradingBlueprint(CommandBlueprint):
    name = "trading"
    summary = "seed 004's trading system: orders, fills, positions, market data, live metrics"
    extra = "trading"
    cli = "pgwarden.blueprints.trading._cli:trading_app"
    demo_module = "pgwarden.blueprints.trading._demo"
