"""The trading blueprint's service layer over one :class:`Core` (the :class:`~pgwarden.Warden`,
the clock, activity counters). Every write runs in ``Warden.run`` (retried on serialization
failure and deadlock) as ``account:<id>``, so pgwarden's audit trail attributes it. Broken
rules raise :class:`TradingError` subclasses (their ``status`` is the HTTP answer)."""

from __future__ import annotations

from pgwarden.blueprints.trading.services._core import (
    Clock,
    Conflict,
    Core,
    Counters,
    Invalid,
    NotFound,
    Row,
    TradingError,
)
from pgwarden.blueprints.trading.services.market import DEFAULT_BATCH, Ingested, Market, Tick
from pgwarden.blueprints.trading.services.orders import Orders
from pgwarden.blueprints.trading.services.portfolio import Portfolio
from pgwarden.warden import Warden


class Trading:
    """Every workflow of the trading blueprint, on one database::

    app = Trading(warden)
    account = app.portfolio.open_account("desk-1", Decimal("100000"))
    order, created = app.orders.place(account["account_id"], 1, "buy", Decimal(10),
                                      Decimal("101.25"), client_order_id="c-1")
    app.orders.fill(order["order_id"], Decimal(4), Decimal("101.20"))
    app.portfolio.pnl(account["account_id"])
    """

    def __init__(self, warden: Warden, *, clock: Clock | None = None):
        self.core = Core(warden, clock)
        self.market = Market(self.core)
        self.orders = Orders(self.core)
        self.portfolio = Portfolio(self.core, self.market)

    @property
    def warden(self) -> Warden:
        return self.core.warden


__all__ = [
    "DEFAULT_BATCH",
    "Conflict",
    "Counters",
    "Ingested",
    "Invalid",
    "NotFound",
    "Row",
    "Tick",
    "Trading",
    "TradingError",
]
