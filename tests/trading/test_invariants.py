"""Invariants after random sequences of orders, amends, cancels and fills (hypothesis), and
under concurrent fills on one account (Warden.run retries, row locks in one order)."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pgwarden.blueprints.trading.services import Trading, TradingError

Step = tuple[str, int, int, int, int]

steps = st.lists(
    st.tuples(
        st.sampled_from(["place", "place", "fill", "fill", "amend", "cancel"]),
        st.integers(0, 2),  # account
        st.integers(0, 1),  # instrument
        st.integers(1, 30),  # quantity (lots)
        st.integers(90, 110),  # price
    ),
    min_size=1,
    max_size=25,
)


def check_invariants(app: Trading) -> None:
    with app.warden.connect() as conn:
        # Positions equal the sum of fills, quantity and signed notional.
        drift = conn.execute("""
            select p.account_id, p.instrument_id from trading.positions p
            full join (select account_id, instrument_id,
                         sum(case side when 'buy' then quantity else -quantity end) as q,
                         sum(case side when 'buy' then quantity else -quantity end * price) as c
                       from trading.executions group by 1, 2) f using (account_id, instrument_id)
            where p.quantity is distinct from f.q or p.cost is distinct from f.c""").fetchall()
        assert drift == []
        # No fill without an order of the same account, instrument and side; fills within it.
        orphans = conn.execute("""
            select e.execution_id from trading.executions e
            left join trading.orders o using (order_id)
            where o.order_id is null or o.account_id <> e.account_id
               or o.instrument_id <> e.instrument_id or o.side <> e.side""").fetchall()
        assert orphans == []
        unequal = conn.execute("""
            select o.order_id from trading.orders o
            left join (select order_id, sum(quantity) as q from trading.executions group by 1) e
              using (order_id)
            where o.filled_quantity <> coalesce(e.q, 0)""").fetchall()
        assert unequal == []
        # Cash is conserved: what left the account is what the positions cost.
        cash = conn.execute("""
            select a.account_id from trading.accounts a
            left join (select account_id, sum(cost) as c from trading.positions group by 1) p
              using (account_id)
            where a.cash + coalesce(p.c, 0) <> a.initial_cash""").fetchall()
        assert cash == []


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=steps)
def test_random_sequences_keep_the_books(app: Trading, steps: list[Step]) -> None:
    accounts = [a["account_id"] for a in _accounts(app)]
    instruments = [i["instrument_id"] for i in app.portfolio.instruments()][:2]
    if len(instruments) < 2:
        instruments = [app.portfolio.add_instrument(s)["instrument_id"] for s in ("XA", "XB")]
    placed: list[dict[str, Any]] = []
    for n, (what, acct, inst, qty, price) in enumerate(steps):
        try:
            if what == "place" or not placed:
                order, _ = app.orders.place(
                    accounts[acct], instruments[inst], "buy" if qty % 2 else "sell",
                    Decimal(qty), Decimal(price), client_order_id=f"h{len(placed)}-{n}-{qty}",
                )  # fmt: skip
                placed.append(order)
                continue
            order = placed[(acct + qty) % len(placed)]
            if what == "fill":
                limit = order["price"]
                at = limit - 1 if order["side"] == "buy" else limit + 1
                app.orders.fill(order["order_id"], Decimal(1 + qty % 5), at)
            elif what == "amend":
                app.orders.amend(order["account_id"], order["order_id"], quantity=Decimal(qty))
            else:
                app.orders.cancel(order["account_id"], order["order_id"])
        except TradingError:
            pass  # refused (overfill, closed order...): nothing of it may remain
        check_invariants(app)


def _accounts(app: Trading) -> list[dict[str, Any]]:
    with app.warden.connect() as conn:
        ids = [r[0] for r in conn.execute(
            "select account_id from trading.accounts order by 1 limit 3")]  # fmt: skip
    while len(ids) < 3:
        ids.append(app.portfolio.open_account(f"h{len(ids)}", Decimal(10_000))["account_id"])
    return [{"account_id": i} for i in ids]


def test_concurrent_fills_on_one_account(app: Trading, desk: dict[str, Any]) -> None:
    """Eight threads fill orders of one account at once: every fill lands once, the books
    balance (row locks in one order: order, position, account; retries if a deadlock came)."""
    orders = [app.orders.place(desk["account"], desk["aaa"], "buy", Decimal(10), Decimal(50),
                               client_order_id=f"c{n}")[0] for n in range(8)]  # fmt: skip
    errors: list[BaseException] = []

    def work(order: dict[str, Any]) -> None:
        try:
            for _ in range(5):
                app.orders.fill(order["order_id"], Decimal(2), Decimal(50))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(o,)) for o in orders]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    check_invariants(app)
    position = app.portfolio.positions(desk["account"])[0]
    assert position["quantity"] == 80 and position["cost"] == 4000
    assert app.portfolio.account(desk["account"])["cash"] == 96_000
