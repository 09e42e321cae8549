"""The trading routes: accounts, instruments, orders, fills, positions and P&L, order book,
bars, market data ingest, and the type-conversion check."""

from __future__ import annotations

import datetime as dt
import io
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response, status

from pgwarden.blueprints.trading.api import _models as m
from pgwarden.blueprints.trading.services import Invalid, Trading

router = APIRouter()


def app_of(request: Request) -> Trading:
    trading: Trading = request.app.state.trading
    return trading


# Plain ``def`` routes: the services are synchronous (psycopg pool), FastAPI runs them on its
# thread pool, which is sized to the database pool in create_app.


@router.post("/accounts", status_code=201, response_model=m.Account, tags=["accounts"])
def open_account(request: Request, body: m.NewAccount) -> dict[str, Any]:
    """Open an account with its starting cash."""
    made = app_of(request).portfolio.open_account(body.name, body.cash)
    return app_of(request).portfolio.account(made["account_id"])


@router.get("/accounts/{account_id}", response_model=m.Account, tags=["accounts"])
def get_account(request: Request, account_id: int) -> dict[str, Any]:
    return app_of(request).portfolio.account(account_id)


@router.delete("/accounts/{account_id}", status_code=204, tags=["accounts"])
def close_account(request: Request, account_id: int) -> Response:
    """Close (soft-delete) the account: its orders, fills and positions keep their history;
    it takes no new orders."""
    app_of(request).portfolio.close_account(account_id)
    return Response(status_code=204)


@router.post("/instruments", status_code=201, response_model=m.Instrument, tags=["market"])
def add_instrument(request: Request, body: m.NewInstrument) -> dict[str, Any]:
    return app_of(request).portfolio.add_instrument(
        body.symbol, tick_size=body.tick_size, lot_size=body.lot_size, name=body.name
    )


@router.get("/instruments", response_model=list[m.Instrument], tags=["market"])
def instruments(request: Request) -> list[dict[str, Any]]:
    return app_of(request).portfolio.instruments()


@router.post(
    "/accounts/{account_id}/orders",
    response_model=m.Order,
    status_code=201,
    tags=["orders"],
    responses={200: {"model": m.Order, "description": "The same request again: the first order"}},
)
def place_order(
    request: Request,
    response: Response,
    account_id: int,
    body: m.NewOrder,
    idempotency_key: Annotated[str | None, Header(max_length=64)] = None,
) -> dict[str, Any]:
    """Place an order. Its idempotency key is ``client_order_id`` or the ``Idempotency-Key``
    header: the same request again answers 200 with the first order; the same key with other
    terms answers 409."""
    # A well-formed request takes the short path in front of this route (api/_fast.py), with
    # the same rules (place below); this one documents it and answers the rest.
    order, created = place(app_of(request), account_id, body, idempotency_key)
    if not created:
        response.status_code = status.HTTP_200_OK
    return order


def place(
    trading: Trading, account_id: int, body: m.NewOrder, idempotency_key: str | None
) -> tuple[dict[str, Any], bool]:
    """The order of a request: ``(order, created)``."""
    key = body.client_order_id or idempotency_key
    if not key:
        raise Invalid("send client_order_id or an Idempotency-Key header")
    if body.client_order_id and idempotency_key and body.client_order_id != idempotency_key:
        raise Invalid("client_order_id and Idempotency-Key differ")
    return trading.orders.place(
        account_id, body.instrument_id, body.side, body.quantity, body.price,
        client_order_id=key,
    )  # fmt: skip


@router.get("/accounts/{account_id}/orders", response_model=list[m.Order], tags=["orders"])
def list_orders(
    request: Request,
    account_id: int,
    open_only: Annotated[bool, Query(alias="open")] = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    return app_of(request).orders.of_account(account_id, open_only=open_only, limit=limit)


@router.get("/accounts/{account_id}/orders/{order_id}", response_model=m.Order, tags=["orders"])
def get_order(request: Request, account_id: int, order_id: int) -> dict[str, Any]:
    return app_of(request).orders.get(account_id, order_id)


@router.patch("/accounts/{account_id}/orders/{order_id}", response_model=m.Order, tags=["orders"])
def amend_order(request: Request, account_id: int, order_id: int, body: m.Amend) -> dict[str, Any]:
    """Amend an open order's quantity (not below its fills) and/or limit price."""
    return app_of(request).orders.amend(
        account_id, order_id, quantity=body.quantity, price=body.price
    )


@router.post(
    "/accounts/{account_id}/orders/{order_id}/cancel", response_model=m.Order, tags=["orders"]
)
def cancel_order(request: Request, account_id: int, order_id: int) -> dict[str, Any]:
    return app_of(request).orders.cancel(account_id, order_id)


@router.post(
    "/orders/{order_id}/fills", status_code=201, response_model=m.Execution, tags=["orders"]
)
def fill_order(request: Request, order_id: int, body: m.NewFill) -> dict[str, Any]:
    """Record an execution (the venue's report): the order, the position and the cash move
    in the same transaction."""
    return app_of(request).orders.fill(order_id, body.quantity, body.price)


@router.get("/accounts/{account_id}/executions", response_model=list[m.Execution], tags=["orders"])
def executions(
    request: Request, account_id: int, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[dict[str, Any]]:
    return app_of(request).orders.executions(account_id, limit=limit)


@router.get("/accounts/{account_id}/positions", response_model=list[m.Position], tags=["portfolio"])
def positions(request: Request, account_id: int) -> list[dict[str, Any]]:
    """Positions with their P&L at the last tick (else last fill) price."""
    return app_of(request).portfolio.positions(account_id)


@router.get("/accounts/{account_id}/pnl", response_model=m.Pnl, tags=["portfolio"])
def pnl(request: Request, account_id: int) -> dict[str, Any]:
    return app_of(request).portfolio.pnl(account_id)


@router.get("/instruments/{instrument_id}/book", response_model=m.Book, tags=["market"])
def book(
    request: Request, instrument_id: int, depth: Annotated[int, Query(ge=1, le=100)] = 10
) -> dict[str, Any]:
    """Order book snapshot: open limit orders by price level, best first."""
    return {"instrument_id": instrument_id, **app_of(request).orders.book(instrument_id, depth)}


@router.get("/instruments/{instrument_id}/bars", response_model=list[m.Bar], tags=["market"])
def bars(
    request: Request,
    instrument_id: int,
    start: dt.datetime,
    end: dt.datetime,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[dict[str, Any]]:
    """One-minute bars in ``[start, end)``."""
    return app_of(request).market.bars(instrument_id, start, end, limit)


@router.post(
    "/market/ticks",
    response_model=m.Ingested,
    tags=["market"],
    openapi_extra={"requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}}},
)
async def ingest_ticks(
    request: Request,
    key: Annotated[str, Query(min_length=1, max_length=150, description="Batch key prefix")],
    batch_size: Annotated[int, Query(ge=1, le=1_000_000)] = 50_000,
) -> dict[str, Any]:
    """Ingest ticks: a ``text/csv`` body of ``instrument_id,ts,seq,price,size`` lines, in
    idempotent batches ``{key}:{n}`` (send the same body again: nothing is written twice)."""
    text = (await request.body()).decode()
    from starlette.concurrency import run_in_threadpool

    done = await run_in_threadpool(
        app_of(request).market.ingest_csv, io.StringIO(text), key=key, batch_size=batch_size
    )
    return {"batches": done.batches, "skipped": done.skipped, "rows": done.rows}


@router.get("/admin/conversions", response_model=m.Conversion, tags=["admin"])
def conversion(request: Request, table: str, column: str, to: str = "float8") -> dict[str, Any]:
    """Which rows a column type change would alter (the seed's DECIMAL → FLOAT step),
    checked row by row: empty means lossless."""
    found = app_of(request).portfolio.check_conversion(table, column, to)
    return {"table": table, "column": column, "to": to, "lossless": not found, "rows": found}
