"""Demo and benchmark data for the trading blueprint: instruments, accounts, a market-data
history streamed through the bulk ingest path, and orders with fills through the services.

Deterministic for a given ``seed``: the same call produces the same ticks, so running it
again after an interruption finishes the ingest without writing any batch twice.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal

from pgwarden.blueprints.trading.services import Trading
from pgwarden.blueprints.trading.services.orders import Side

SYMBOLS = ("AAPL", "MSFT", "NVDA", "AMZN", "GOOG", "META", "TSLA", "JPM", "XOM", "BRK.B")


@dataclass(frozen=True)
class Generated:
    instruments: int
    accounts: int
    ticks: int
    orders: int
    fills: int


def symbols(n: int) -> list[str]:
    """``n`` symbols: the well-known ten first, then ``SYM0011``..."""
    return [SYMBOLS[i] if i < len(SYMBOLS) else f"SYM{i + 1:04d}" for i in range(n)]


def tick_lines(
    instrument_ids: list[int],
    start: dt.datetime,
    days: int,
    per_day: int,
    seed: int = 4,
) -> Iterator[str]:
    """CSV lines ``instrument_id,ts,seq,price,size`` for ``per_day`` ticks a day per
    instrument over ``days`` days from ``start`` (UTC midnight), in time order: a random walk
    on a one-cent grid. Generated lazily: memory does not depend on the count."""
    rng = random.Random(seed)
    cents = {i: 10_000 + rng.randrange(40_000) for i in instrument_ids}
    step = 86_400_000 // max(per_day, 1)  # milliseconds between an instrument's ticks
    seq = 0
    for day in range(days):
        base = start + dt.timedelta(days=day)
        for k in range(per_day):
            ms = k * step
            stamp = (base + dt.timedelta(milliseconds=ms)).strftime("%Y-%m-%d %H:%M:%S.%f+00")
            for i in instrument_ids:
                seq += 1
                c = max(100, cents[i] + rng.choice((-2, -1, -1, 0, 0, 1, 1, 2)))
                cents[i] = c
                yield f"{i},{stamp},{seq},{c // 100}.{c % 100:02d},{rng.randrange(1, 500)}\n"


def generate(
    trading: Trading,
    *,
    instruments: int = 10,
    accounts: int = 20,
    days: int = 3,
    ticks_per_day: int = 1000,
    orders: int = 200,
    now: dt.datetime | None = None,
    seed: int = 4,
    progress: Callable[[str, int], None] | None = None,
) -> Generated:
    """Instruments and accounts (created once: a second run reuses them), ``days`` days of
    ticks up to ``now`` through :meth:`Market.ingest_csv` (batch key ``gen-<seed>-<start>``)
    with bars rolled up, then ``orders`` orders across the accounts, about half of them
    (partly) filled near the last price."""
    say = progress or (lambda _what, _n: None)
    rng = random.Random(seed)
    now = now or dt.datetime.now(dt.UTC)
    present = {r["symbol"]: r for r in trading.portfolio.instruments()}
    for symbol in symbols(instruments):
        if symbol not in present:
            present[symbol] = trading.portfolio.add_instrument(symbol, name=f"{symbol} demo")
    ids = [present[s]["instrument_id"] for s in symbols(instruments)]
    with trading.warden.pool.connection() as conn:
        found = conn.execute(
            "select account_id from trading.accounts where name like 'desk-%%' order by 1"
        )
        have = [r[0] for r in found]
    for n in range(len(have), accounts):
        made = trading.portfolio.open_account(f"desk-{n + 1:03d}", Decimal(1_000_000))
        have.append(made["account_id"])
    say("accounts", len(have))

    start = (now - dt.timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    ingested = trading.market.ingest_csv(
        tick_lines(ids, start, days, ticks_per_day, seed),
        key=f"gen-{seed}-{start:%Y%m%d}-{days}x{ticks_per_day}x{len(ids)}",
        progress=lambda rows: say("ticks", rows),
    )
    trading.market.rollup(start, now + dt.timedelta(days=1))
    marks = trading.market.last_prices(ids)

    placed = fills = 0
    for n in range(orders):
        account = rng.choice(have[:accounts])
        inst = rng.choice(ids)
        mark = marks.get(inst, Decimal("100.00"))
        side: Side = rng.choice(("buy", "sell"))
        offset = Decimal(rng.randrange(0, 50)) / 100
        price = mark - offset if side == "buy" else mark + offset
        qty = Decimal(rng.randrange(1, 20) * 10)
        order, created = trading.orders.place(
            account, inst, side, qty, max(price, Decimal("0.01")),
            client_order_id=f"gen-{seed}-{n}",
        )  # fmt: skip
        placed += created
        if created and rng.random() < 0.5:
            part = qty if rng.random() < 0.6 else qty / 2
            trading.orders.fill(order["order_id"], part, order["price"])
            fills += 1
        say("orders", n + 1)
    return Generated(len(ids), len(have), ingested.rows, placed, fills)
