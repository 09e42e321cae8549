"""Trading tests: the blueprint installed once per test process (at a fixed date, so partition
names and ages are known), cloned for each test; the API runs in-process (TestClient)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from tests.conftest import _with_db, scratch_database

from pgwarden import Warden
from pgwarden.blueprints import trading
from pgwarden.blueprints.trading.api import create_app
from pgwarden.blueprints.trading.services import Trading

T0 = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
"""The install's clock: partitions exist for 2026-03-02 .. 2026-03-05."""


@pytest.fixture(scope="session")
def trading_template(admin_url: str, template_db: str) -> Iterator[str]:
    with scratch_database(admin_url, "trading_tpl", template_db) as name:
        trading.install(_with_db(admin_url, name), now=T0).close()
        yield name


@pytest.fixture
def trading_url(admin_url: str, trading_template: str) -> Iterator[str]:
    with scratch_database(admin_url, "trading_t", trading_template) as name:
        yield _with_db(admin_url, name)


@pytest.fixture
def app(trading_url: str) -> Iterator[Trading]:
    warden = Warden(trading_url, spec=trading.declaration(), pool_size=4)
    try:
        yield Trading(warden)
    finally:
        warden.close()


@pytest.fixture
def client(app: Trading) -> Iterator[TestClient]:
    with TestClient(create_app(app)) as test_client:
        yield test_client


@pytest.fixture
def desk(app: Trading) -> dict[str, Any]:
    """One account with 100,000 cash and two instruments (AAA: cents, BBB: lots of 10)."""
    account = app.portfolio.open_account("desk", Decimal(100_000))
    a = app.portfolio.add_instrument("AAA")
    b = app.portfolio.add_instrument("BBB", tick_size=Decimal("0.05"), lot_size=Decimal(10))
    return {"account": account["account_id"], "aaa": a["instrument_id"], "bbb": b["instrument_id"]}


def scalar(url: str, query: str, params: Any = ()) -> Any:
    with psycopg.connect(url) as conn:
        row = conn.execute(query, params).fetchone()  # type: ignore[call-overload]
        assert row is not None
        return row[0]


def tick_csv(instrument_id: int, n: int, start: dt.datetime = T0, first_seq: int = 1) -> str:
    """``n`` ticks a millisecond apart, on a cent grid."""
    return "".join(
        f"{instrument_id},{(start + dt.timedelta(milliseconds=k)).isoformat()},"
        f"{first_seq + k},{100 + k % 7}.{k % 100:02d},{1 + k % 5}\n"
        for k in range(n)
    )
