"""Request and response models of the trading API, as OpenAPI documents them.

Prices, quantities and money are ``Decimal`` and travel as JSON **strings** ("101.25"):
exact end to end, never through a binary float. The response models forbid unknown keys, so
a column a service adds without its model here fails loudly in the tests that drive every
route.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

Side = Literal["buy", "sell"]
Status = Literal["new", "partially_filled", "filled", "cancelled"]
Money = Annotated[Decimal, PlainSerializer(lambda d: format(d.normalize(), "f"), return_type=str)]
"""A decimal as a plain JSON string without exponent or trailing zeros ("101.25", "0")."""


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Problem(Out):
    """A refused request: ``error`` is a stable code, ``detail`` the broken rule in words;
    ``rows`` the offending rows when the refusal is about data."""

    error: Literal["invalid", "not-found", "conflict"]
    detail: str
    rows: list[dict[str, Any]] = []


PROBLEMS: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "description": description}
    for status, description in (
        (404, "Not found (`not-found`)"),
        (409, "Breaks a uniqueness or state rule, or reuses an idempotency key (`conflict`)"),
        (422, "Breaks a rule of the data (`invalid`), or a malformed request"),
    )
}


class Health(Out):
    """pgwarden's readiness of the database (503 when not ``ok``)."""

    status: Literal["ok", "unavailable"]
    role: Literal["primary", "replica"] | None = None
    reasons: list[str] = []


class NewAccount(Body):
    name: str = Field(max_length=255)
    cash: Money = Field(default=Decimal(0), ge=0)


class Account(Out):
    account_id: int
    name: str
    cash: Money
    initial_cash: Money
    created_at: dt.datetime
    deleted_at: dt.datetime | None = None


class NewInstrument(Body):
    symbol: str = Field(max_length=32)
    name: str = ""
    tick_size: Money = Decimal("0.01")
    lot_size: Money = Decimal(1)


class Instrument(Out):
    instrument_id: int
    symbol: str
    name: str
    tick_size: Money
    lot_size: Money
    currency: str
    is_active: bool


class NewOrder(Body):
    """A limit order (``price`` given) or a market order (``price`` absent).
    ``client_order_id`` is the idempotency key (or send the ``Idempotency-Key`` header)."""

    instrument_id: int
    side: Side
    quantity: Money = Field(gt=0)
    price: Money | None = Field(default=None, gt=0)
    client_order_id: str | None = Field(default=None, min_length=1, max_length=64)


class Amend(Body):
    quantity: Money | None = Field(default=None, gt=0)
    price: Money | None = Field(default=None, gt=0)


class Order(Out):
    order_id: int
    account_id: int
    instrument_id: int
    client_order_id: str
    side: Side
    type: Literal["limit", "market"]
    price: Money | None
    quantity: Money
    filled_quantity: Money
    status: Status
    created_at: dt.datetime
    updated_at: dt.datetime


class NewFill(Body):
    quantity: Money = Field(gt=0)
    price: Money = Field(gt=0)


class Execution(Out):
    execution_id: int
    order_id: int
    account_id: int | None = None
    instrument_id: int
    side: Side
    quantity: Money
    price: Money
    executed_at: dt.datetime


class Position(Out):
    instrument_id: int
    symbol: str
    quantity: Money
    cost: Money
    mark: Money | None
    pnl: Money | None
    average_price: Money | None


class Pnl(Out):
    account_id: int
    cash: Money
    market_value: Money
    equity: Money
    pnl: Money
    positions: list[Position]


class Level(Out):
    price: Money
    quantity: Money
    orders: int


class Book(Out):
    instrument_id: int
    bids: list[Level]
    asks: list[Level]


class Bar(Out):
    bucket: dt.datetime
    open: Money
    high: Money
    low: Money
    close: Money
    volume: Money
    trades: int


class Ingested(Out):
    batches: int
    skipped: int
    rows: int


class Conversion(Out):
    """The rows a column type change would alter (empty: lossless)."""

    table: str
    column: str
    to: str
    lossless: bool
    rows: list[dict[str, Any]]
