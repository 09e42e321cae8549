"""Accounts, instruments, positions and P&L; the row-by-row check of a column type change."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from psycopg import sql

from pgwarden.blueprints.trading.services._core import (
    Core,
    Invalid,
    NotFound,
    Row,
    account_actor,
    one,
    rows,
)
from pgwarden.blueprints.trading.services.market import Market
from pgwarden.db import Session

# Column types a conversion may target, and how a value is compared after a round trip.
CONVERSIONS = {"float8": "double precision", "float4": "real", "bigint": "bigint"}


class Portfolio:
    """Accounts and instruments (soft-deletable), positions and their P&L."""

    def __init__(self, core: Core, market: Market):
        self.core = core
        self.market = market

    def open_account(self, name: str, cash: Decimal = Decimal(0)) -> Row:
        def work(db: Session) -> Row:
            return one(
                db,
                "insert into trading.accounts (name, cash, initial_cash) values (%s, %s, %s)"
                " returning account_id, name, cash, initial_cash, created_at",
                [name, cash, cash],
            )

        return self.core.run(work, actor="trading:system", reason="open account")

    def account(self, account_id: int) -> Row:
        with self.core.warden.pool.connection() as conn:
            found = rows(
                conn,
                "select account_id, name, cash, initial_cash, created_at, deleted_at"
                " from trading.accounts where account_id = %s",
                [account_id],
            )
        if not found:
            raise NotFound(f"no account {account_id}")
        return found[0]

    def close_account(self, account_id: int) -> None:
        """Soft-delete the account: it stays (its orders and fills keep their history), it
        takes no new orders; ``warden.soft_delete.restore`` brings it back."""

        def work(db: Session) -> None:
            found = rows(
                db,
                "select 1 from trading.accounts where account_id = %s and deleted_at is null"
                " for update",
                [account_id],
            )
            if not found:
                raise NotFound(f"no open account {account_id}")
            # soft_delete turns this DELETE into a mark (its trigger reports 0 rows deleted).
            db.execute("delete from trading.accounts where account_id = %s", [account_id])

        self.core.run(work, actor=account_actor(account_id), reason="close account")

    def add_instrument(
        self, symbol: str, *, tick_size: Decimal = Decimal("0.01"),
        lot_size: Decimal = Decimal(1), name: str = "",
    ) -> Row:  # fmt: skip
        def work(db: Session) -> Row:
            return one(
                db,
                "insert into trading.instruments (symbol, name, tick_size, lot_size)"
                " values (%s, %s, %s, %s) returning instrument_id, symbol, name, tick_size,"
                " lot_size, currency, is_active",
                [symbol, name, tick_size, lot_size],
            )

        return self.core.run(work, actor="trading:system", reason="add instrument")

    def instruments(self) -> list[Row]:
        with self.core.warden.pool.connection() as conn:
            return rows(
                conn,
                "select instrument_id, symbol, name, tick_size, lot_size, currency, is_active"
                " from trading.instruments where deleted_at is null order by symbol",
            )

    def positions(self, account_id: int) -> list[Row]:
        """The account's positions with their P&L at the last tick price (else the last fill
        price): ``pnl = quantity * mark - cost``, where ``cost`` is the signed notional of
        every fill, so the figure is exact (no average to round)."""
        self.account(account_id)
        with self.core.warden.pool.connection() as conn:
            held = rows(
                conn,
                "select p.instrument_id, i.symbol, p.quantity, p.cost,"
                " (select e.price from trading.executions e where e.account_id = p.account_id"
                "  and e.instrument_id = p.instrument_id"
                "  order by e.executed_at desc, e.execution_id desc limit 1) as last_fill"
                " from trading.positions p join trading.instruments i using (instrument_id)"
                " where p.account_id = %s order by i.symbol",
                [account_id],
            )
        marks = self.market.last_prices(r["instrument_id"] for r in held)
        for r in held:
            mark = marks.get(r["instrument_id"], r.pop("last_fill"))
            r.pop("last_fill", None)
            r["mark"] = mark
            r["pnl"] = r["quantity"] * mark - r["cost"] if mark is not None else None
            r["average_price"] = (
                (r["cost"] / r["quantity"]).quantize(Decimal("0.00000001"))
                if r["quantity"] else None
            )  # fmt: skip
        return held

    def pnl(self, account_id: int) -> dict[str, Any]:
        """The account's cash, the market value of its positions and its total P&L against
        the cash it started with."""
        account = self.account(account_id)
        held = self.positions(account_id)
        value = sum((r["quantity"] * r["mark"] for r in held if r["mark"] is not None),
                    Decimal(0))  # fmt: skip
        equity = account["cash"] + value
        return {
            "account_id": account_id,
            "cash": account["cash"],
            "market_value": value,
            "equity": equity,
            "pnl": equity - account["initial_cash"],
            "positions": held,
        }

    def check_conversion(self, table: str, column: str, to: str, limit: int = 20) -> list[Row]:
        """Rows of ``trading.<table>`` whose ``column`` would change if converted to ``to``
        (``float8``, ``float4``, ``bigint``): each value is cast there and back and compared.
        Empty: the conversion is lossless on today's data. The seed's DECIMAL → FLOAT step is
        refused on this evidence (see :meth:`convert`)."""
        with self.core.warden.pool.connection() as conn:
            return _lossy(conn, table, column, to, limit)

    def convert(self, table: str, column: str, to: str) -> None:
        """Change ``trading.<table>.<column>`` to ``to`` only when no row would change: the
        table is locked, every row checked, then altered, in one transaction. Otherwise
        :class:`Invalid` with the offending rows, and nothing altered."""

        def work(db: Session) -> None:
            db.execute(sql.SQL("lock table {} in share row exclusive mode").format(
                sql.Identifier("trading", table)))  # fmt: skip
            lossy = _lossy(db.connection, table, column, to, 20)
            if lossy:
                raise Invalid(
                    f"converting trading.{table}.{column} to {to} would change "
                    f"{len(lossy)}+ value(s), e.g. {lossy[0]['value']} → "
                    f"{lossy[0]['converted']}",
                    rows=lossy,
                )
            db.execute(
                sql.SQL("alter table {} alter column {} type {}").format(
                    sql.Identifier("trading", table),
                    sql.Identifier(column),
                    sql.SQL(CONVERSIONS[to]),
                )
            )

        self.core.run(work, actor="trading:system", reason=f"convert {column} to {to}")


def _lossy(conn: Any, table: str, column: str, to: str, limit: int) -> list[Row]:
    target = CONVERSIONS.get(to)
    if target is None:
        raise Invalid(f"to: one of {', '.join(CONVERSIONS)}, not {to!r}")
    found = rows(
        conn,
        "select a.attname from pg_attribute a where a.attrelid = to_regclass(%s)"
        " and a.attname = %s and a.attnum > 0 and not a.attisdropped",
        [f"trading.{table}", column],
    )
    if not found:
        raise NotFound(f"trading.{table} has no column {column!r}")
    col = sql.Identifier(column)
    query = sql.SQL(
        "select to_jsonb(t) as row, {col}::text as value,"
        " {col}::{t}::numeric::text as converted from {tbl} as t"
        " where {col} is not null and {col}::{t}::numeric <> {col} limit {n}"
    ).format(col=col, t=sql.SQL(target), tbl=sql.Identifier("trading", table), n=sql.Literal(limit))
    return rows(conn, query)
