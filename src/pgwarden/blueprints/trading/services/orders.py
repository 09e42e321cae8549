"""Orders: place (idempotency keys), amend, cancel, fill (fill → position → cash in one
transaction), and the order book."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Literal, LiteralString

from psycopg import sql

from pgwarden.blueprints.trading.services._core import (
    REFUSALS,
    Conflict,
    Core,
    Invalid,
    NotFound,
    Row,
    account_actor,
    one,
    rows,
    translate,
)
from pgwarden.db import Context, Session, run_statement

Side = Literal["buy", "sell"]
OPEN = ("new", "partially_filled")
_COLUMNS: LiteralString = (
    "order_id, account_id, instrument_id, client_order_id, side, type, price, quantity, "
    "filled_quantity, status, created_at, updated_at"
)
_COLS = sql.SQL(_COLUMNS)


def _q(text: LiteralString) -> sql.Composed:
    """A statement naming the order columns as ``{cols}``."""
    return sql.SQL(text).format(cols=_COLS)


# Placing an order: the facts its rules need in one round trip, the insert that is a no-op
# when the idempotency key is taken, and the first order of that key.
_CHECKS: LiteralString = (
    "select exists (select 1 from trading.accounts where account_id = %(account)s"
    " and deleted_at is null) as account_open, i.tick_size, i.lot_size"
    " from (select) as one left join trading.instruments i"
    " on i.instrument_id = %(instrument)s and i.deleted_at is null and i.is_active"
)
_INSERT = _q(
    "insert into trading.orders (account_id, instrument_id, client_order_id, side, type,"
    " price, quantity, request_hash) values (%s, %s, %s, %s, %s, %s, %s, %s)"
    " on conflict (account_id, client_order_id) do nothing returning {cols}"
)
# The same in one statement, for the event loop: the facts, and the insert when they allow
# it; a row with created = false (a refused or repeated request) goes to the full path.
_PLACE = sql.SQL(
    "with facts as ({facts}), made as (insert into trading.orders (account_id, instrument_id,"
    " client_order_id, side, type, price, quantity, request_hash) select %(account)s,"
    " %(instrument)s, %(key)s, %(side)s, %(kind)s, %(price)s, %(quantity)s, %(digest)s"
    " from facts f where f.account_open and f.lot_size is not null"
    " and %(quantity)s::numeric %% f.lot_size = 0"
    " and (%(price)s::numeric is null or %(price)s::numeric %% f.tick_size = 0)"
    " on conflict (account_id, client_order_id) do nothing returning {cols})"
    " select m.order_id is not null as created, m.* from facts left join made m on true"
).format(facts=sql.SQL(_CHECKS), cols=_COLS)
_FIRST = _q(
    "select {cols}, request_hash from trading.orders where account_id = %s and client_order_id = %s"
)


def _check(
    facts: Row, instrument_id: int, account_id: int, quantity: Decimal, price: Decimal | None
) -> None:
    if facts["tick_size"] is None:
        raise NotFound(f"no active instrument {instrument_id}")
    if quantity % facts["lot_size"] != 0:
        raise Invalid(f"quantity must be a multiple of the lot size {facts['lot_size']}")
    if price is not None and price % facts["tick_size"] != 0:
        raise Invalid(f"price must be a multiple of the tick size {facts['tick_size']}")
    if not facts["account_open"]:
        raise NotFound(f"no open account {account_id}")


def _same_request(first: Row, digest: str, client_order_id: str) -> None:
    if first.pop("request_hash") != digest:
        raise Conflict(
            f"client_order_id {client_order_id!r} was used for a different order "
            f"({first['order_id']})"
        )


def _request_hash(*parts: object) -> str:
    text = json.dumps([str(p) if p is not None else None for p in parts])
    return hashlib.sha256(text.encode()).hexdigest()


class Orders:
    """Order entry and execution. Every write runs as ``account:<id>``, so the audit trail
    says who did it: a new order in one statement and one round trip, everything else in
    ``Warden.run`` (serialization failures and deadlocks retried)."""

    def __init__(self, core: Core):
        self.core = core

    def place(
        self,
        account_id: int,
        instrument_id: int,
        side: Side,
        quantity: Decimal,
        price: Decimal | None = None,
        *,
        client_order_id: str,
    ) -> tuple[Row, bool]:
        """Place an order; ``price`` None makes a market order. ``client_order_id`` is the
        idempotency key (per account): sending the same request again returns the first
        order and ``False`` (not created); the same key with different terms is a
        :class:`Conflict`. Returns ``(order, created)``."""
        kind = "market" if price is None else "limit"
        digest = _request_hash(instrument_id, side, kind, quantity, price)
        # The common case, a new order that passes the checks, in one round trip; a refused
        # or repeated one (nothing written) goes the full way below, which says why or
        # answers with the first order.
        params = {
            "account": account_id, "instrument": instrument_id, "key": client_order_id,
            "side": side, "kind": kind, "price": price, "quantity": quantity, "digest": digest,
        }  # fmt: skip
        context = Context(actor=account_actor(account_id), reason="place")
        try:
            row = run_statement(self.core.warden.pool, context, _PLACE, params)[0]
        except REFUSALS as exc:
            raise translate(exc) from exc
        if row.pop("created"):
            self.core.counters.add("orders")
            return row, True

        def work(db: Session) -> tuple[Row, bool]:
            facts = one(db, _CHECKS, {"account": account_id, "instrument": instrument_id})
            _check(facts, instrument_id, account_id, quantity, price)
            made = rows(db, _INSERT, [account_id, instrument_id, client_order_id, side, kind,
                                      price, quantity, digest])  # fmt: skip
            if made:
                return made[0], True
            first = one(db, _FIRST, [account_id, client_order_id])
            _same_request(first, digest, client_order_id)
            return first, False

        order, created = self.core.run(work, actor=account_actor(account_id), reason="place")
        if created:
            self.core.counters.add("orders")
        return order, created

    def get(self, account_id: int, order_id: int) -> Row:
        with self.core.warden.pool.connection() as conn:
            found = rows(
                conn,
                _q("select {cols} from trading.orders where order_id = %s and account_id = %s"),
                [order_id, account_id],
            )
        if not found:
            raise NotFound(f"account {account_id} has no order {order_id}")
        return found[0]

    def of_account(
        self, account_id: int, *, open_only: bool = False, limit: int = 100
    ) -> list[Row]:
        """The account's orders, newest first."""
        with self.core.warden.pool.connection() as conn:
            return rows(
                conn,
                _q(
                    "select {cols} from trading.orders where account_id = %s"
                    " and (not %s or status in ('new', 'partially_filled'))"
                    " order by created_at desc, order_id desc limit %s"
                ),
                [account_id, open_only, limit],
            )

    def _locked(self, db: Session, account_id: int, order_id: int) -> Row:
        return one(
            db,
            _q(
                "select {cols} from trading.orders"
                " where order_id = %s and account_id = %s for update"
            ),
            [order_id, account_id],
            missing=f"account {account_id} has no order {order_id}",
        )

    def amend(
        self,
        account_id: int,
        order_id: int,
        *,
        quantity: Decimal | None = None,
        price: Decimal | None = None,
    ) -> Row:
        """Change an open order's quantity (not below what is filled) and/or limit price."""

        def work(db: Session) -> Row:
            order = self._locked(db, account_id, order_id)
            if order["status"] not in OPEN:
                raise Conflict(f"order {order_id} is {order['status']}: it cannot be amended")
            if price is not None and order["type"] == "market":
                raise Invalid("a market order has no price to amend")
            new_qty = quantity if quantity is not None else order["quantity"]
            if new_qty < order["filled_quantity"]:
                raise Invalid(f"quantity cannot go below the {order['filled_quantity']} filled")
            status = "filled" if new_qty == order["filled_quantity"] else order["status"]
            return one(
                db,
                _q(
                    "update trading.orders set quantity = %s, price = coalesce(%s, price),"
                    " status = %s where order_id = %s returning {cols}"
                ),
                [new_qty, price, status, order_id],
            )

        return self.core.run(work, actor=account_actor(account_id), reason="amend")

    def cancel(self, account_id: int, order_id: int) -> Row:
        """Cancel an open order (cancelling a cancelled order returns it unchanged)."""

        def work(db: Session) -> Row:
            order = self._locked(db, account_id, order_id)
            if order["status"] == "cancelled":
                return order
            if order["status"] == "filled":
                raise Conflict(f"order {order_id} is filled: it cannot be cancelled")
            return one(
                db,
                _q(
                    "update trading.orders set status = 'cancelled' where order_id = %s"
                    " returning {cols}"
                ),
                [order_id],
            )

        return self.core.run(work, actor=account_actor(account_id), reason="cancel")

    def fill(self, order_id: int, quantity: Decimal, price: Decimal) -> Row:
        """Record an execution of ``quantity`` at ``price`` against an open order, and in the
        same transaction move the order's fill and status, the account's position
        (quantity, signed cost) and its cash. A limit order fills at its price or better.
        Returns the execution."""

        def work(db: Session) -> Row:
            order = one(
                db,
                "select order_id, account_id, instrument_id, side, type, price, quantity,"
                " filled_quantity, status from trading.orders where order_id = %s for update",
                [order_id],
                missing=f"no order {order_id}",
            )
            if order["status"] not in OPEN:
                raise Conflict(f"order {order_id} is {order['status']}: it cannot be filled")
            if quantity <= 0 or price <= 0:
                raise Invalid("a fill needs a positive quantity and price")
            remaining = order["quantity"] - order["filled_quantity"]
            if quantity > remaining:
                raise Invalid(f"order {order_id} has {remaining} left to fill, not {quantity}")
            limit = order["price"]
            if limit is not None and (
                (order["side"] == "buy" and price > limit)
                or (order["side"] == "sell" and price < limit)
            ):
                raise Invalid(f"price {price} is worse than the order's limit {limit}")
            filled = order["filled_quantity"] + quantity
            signed = quantity if order["side"] == "buy" else -quantity
            notional = signed * price
            execution = one(
                db,
                "insert into trading.executions (order_id, account_id, instrument_id, side,"
                " quantity, price) values (%s, %s, %s, %s, %s, %s)"
                " returning execution_id, order_id, account_id, instrument_id, side, quantity,"
                " price, executed_at",
                [order_id, order["account_id"], order["instrument_id"], order["side"],
                 quantity, price],
            )  # fmt: skip
            db.execute(
                "update trading.orders set filled_quantity = %s, status = %s where order_id = %s",
                [filled, "filled" if filled == order["quantity"] else "partially_filled",
                 order_id],
            )  # fmt: skip
            db.execute(
                "insert into trading.positions (account_id, instrument_id, quantity, cost)"
                " values (%s, %s, %s, %s) on conflict (account_id, instrument_id) do update"
                " set quantity = positions.quantity + excluded.quantity,"
                " cost = positions.cost + excluded.cost, updated_at = now()",
                [order["account_id"], order["instrument_id"], signed, notional],
            )
            db.execute(
                "update trading.accounts set cash = cash - %s where account_id = %s",
                [notional, order["account_id"]],
            )
            return execution

        # The fill is the venue's act, on the account's behalf.
        with self.core.warden.pool.connection() as conn:
            owner = rows(conn, "select account_id from trading.orders where order_id = %s",
                         [order_id])  # fmt: skip
        if not owner:
            raise NotFound(f"no order {order_id}")
        execution = self.core.run(work, actor=account_actor(owner[0]["account_id"]), reason="fill")
        self.core.counters.add("fills")
        return execution

    def executions(self, account_id: int, *, limit: int = 100) -> list[Row]:
        """The account's fills, newest first."""
        with self.core.warden.pool.connection() as conn:
            return rows(
                conn,
                "select execution_id, order_id, instrument_id, side, quantity, price,"
                " executed_at from trading.executions where account_id = %s"
                " order by executed_at desc, execution_id desc limit %s",
                [account_id, limit],
            )

    def book(self, instrument_id: int, depth: int = 10) -> dict[str, list[Row]]:
        """The order book of ``instrument_id``: open limit orders' remaining quantity by price
        level, best first (bids high → low, asks low → high), ``depth`` levels a side."""
        with self.core.warden.pool.connection() as conn:
            levels = rows(
                conn,
                "(select 'bid' as side, price, sum(quantity - filled_quantity) as quantity,"
                "  count(*) as orders from trading.orders"
                "  where instrument_id = %(i)s and side = 'buy' and type = 'limit'"
                "  and status in ('new', 'partially_filled')"
                "  group by price order by price desc limit %(d)s)"
                " union all "
                "(select 'ask', price, sum(quantity - filled_quantity), count(*)"
                "  from trading.orders"
                "  where instrument_id = %(i)s and side = 'sell' and type = 'limit'"
                "  and status in ('new', 'partially_filled')"
                "  group by price order by price limit %(d)s)",
                {"i": instrument_id, "d": depth},
            )
        return {
            "bids": [{k: v for k, v in r.items() if k != "side"} for r in levels
                     if r["side"] == "bid"],
            "asks": [{k: v for k, v in r.items() if k != "side"} for r in levels
                     if r["side"] == "ask"],
        }  # fmt: skip
