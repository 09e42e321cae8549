"""What every trading service shares: typed errors, the retried transaction with the account as
pgwarden's actor, the clock, rows as dicts, and the activity counters the live view reads."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, LiteralString, TypeVar

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql
from psycopg.rows import dict_row

from pgwarden.blueprints import _errors
from pgwarden.blueprints._errors import BlueprintError, Rules
from pgwarden.blueprints._errors import Conflict as Conflict
from pgwarden.blueprints._errors import Invalid as Invalid
from pgwarden.blueprints._errors import NotFound as NotFound
from pgwarden.db import Session
from pgwarden.warden import Warden

Row = dict[str, Any]
Params = Sequence[Any] | Mapping[str, Any]
Query = LiteralString | sql.SQL | sql.Composed
Clock = Callable[[], dt.datetime]
T = TypeVar("T")


TradingError = BlueprintError
"""A rule of the trading system was broken; ``status`` is the HTTP status the API answers
with, ``code`` a stable name, ``rows`` the offending rows (a lossy type conversion)."""


# The database's rules, by constraint name, as the message a client reads.
RULES: Rules = {
    "instruments_symbol_key": (Conflict, "an instrument with this symbol exists"),
    "instruments_symbol_format": (Invalid, "symbol: upper-case letters, digits, . _ / -"),
    "instruments_tick_size_positive": (Invalid, "tick_size must be positive"),
    "instruments_lot_size_positive": (Invalid, "lot_size must be positive"),
    "accounts_name_present": (Invalid, "an account needs a name"),
    "accounts_initial_cash_not_negative": (Invalid, "initial cash cannot be negative"),
    "orders_quantity_positive": (Invalid, "quantity must be positive"),
    "orders_price_positive": (Invalid, "price must be positive"),
    "orders_limit_has_price": (Invalid, "a limit order has a price, a market order none"),
    "orders_fill_within_quantity": (Invalid, "quantity cannot go below what is filled"),
    "orders_account_id_fkey": (Conflict, "the account has orders: its history is kept"),
    "orders_instrument_id_fkey": (Conflict, "the instrument has orders: its history is kept"),
    "executions_order_id_fkey": (Conflict, "the order has fills: its history is kept"),
    "positions_account_id_fkey": (Conflict, "the account has positions: its history is kept"),
    "ticks_price_positive": (Invalid, "a tick's price must be positive"),
    "ticks_size_not_negative": (Invalid, "a tick's size cannot be negative"),
}


def translate(exc: psycopg.Error) -> TradingError:
    """The database refused a write: say which rule, in words (else re-raise)."""
    return _errors.translate(
        exc, RULES, foreign_key=(Conflict, "a referenced row is missing or still used")
    )


REFUSALS = (pg_errors.IntegrityError, pg_errors.DataError, pg_errors.RaiseException)


class Counters:
    """Totals of what this process did (orders, fills, ingested rows), read by the live view as
    rates. Thread-safe; cheap enough for every request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.values: dict[str, int] = {"orders": 0, "fills": 0, "ingest_rows": 0, "retries": 0}
        self.started = time.time()

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            self.values[name] = self.values.get(name, 0) + n

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self.values)


class Core:
    """The database, the clock and the counters every service works with."""

    def __init__(self, warden: Warden, clock: Clock | None = None):
        self.warden = warden
        self.clock: Clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.counters = Counters()

    def now(self) -> dt.datetime:
        return self.clock()

    def run(self, work: Callable[[Session], T], *, actor: str, reason: str | None = None) -> T:
        """``work`` in one transaction attributed to ``actor``, re-run on serialization
        failure or deadlock (``Warden.run``). A rule the database enforces becomes a
        :class:`TradingError`, and nothing of the transaction is written."""
        attempts = 0

        def counted(db: Session) -> T:
            nonlocal attempts
            attempts += 1
            return work(db)

        try:
            return self.warden.run(counted, actor=actor, reason=reason)
        except REFUSALS as exc:
            raise translate(exc) from exc
        finally:
            if attempts > 1:
                self.counters.add("retries", attempts - 1)


def rows(db: Session | psycopg.Connection[Any], query: Query, params: Params = ()) -> list[Row]:
    conn = db.connection if isinstance(db, Session) else db
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query, params)
        return list(cur.fetchall())


def one(db: Session, query: Query, params: Params = (), missing: str = "not found") -> Row:
    found = rows(db, query, params)
    if not found:
        raise NotFound(missing)
    return found[0]


def account_actor(account_id: int | None) -> str:
    return f"account:{account_id}" if account_id is not None else "trading:system"
