"""The foundation: reversible migrations, the declaration applied, CASCADE keys made RESTRICT,
and the refused type conversion."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from psycopg import errors as pg_errors
from tests.trading.conftest import scalar

from pgwarden import Warden
from pgwarden.blueprints import trading
from pgwarden.blueprints.trading import _migrate
from pgwarden.blueprints.trading.services import Invalid, Trading
from pgwarden.errors import SoftDeleteError


def test_install_is_complete_and_idempotent(trading_url: str) -> None:
    warden = trading.install(trading_url)  # again, on the cloned installed database
    try:
        assert warden.plan(only=trading.tables()).changes == ()
        assert warden.plan(only=trading.tables()).notes == ()  # no CASCADE key left
        assert trading.restrict_cascades(warden) == []
        assert _migrate.current(trading_url) == "0001"
        with psycopg.connect(trading_url) as conn:
            views = {r[0] for r in conn.execute(
                "select viewname from pg_views where schemaname = 'trading'")}  # fmt: skip
            assert {"orders__versions", "accounts__versions", "positions__versions",
                    "accounts__live", "instruments__live", "ticks__all"} <= views  # fmt: skip
            parts = {r[0] for r in conn.execute(
                "select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid "
                "where i.inhparent = 'trading.ticks'::regclass")}  # fmt: skip
            assert {"ticks__default", "ticks__p20260302", "ticks__p20260305"} <= parts
            rules = dict(conn.execute(
                "select conname, confdeltype from pg_constraint where contype = 'f' "
                "and connamespace = 'trading'::regnamespace").fetchall())  # fmt: skip
            assert rules["orders_account_id_fkey"] == "r"
            assert rules["executions_order_id_fkey"] == "r"
            assert rules["positions_account_id_fkey"] == "r"
    finally:
        warden.close()


def test_migrations_are_reversible(trading_url: str) -> None:
    trading.teardown(trading_url)
    assert scalar(trading_url, "select count(*) from pg_class "
                  "where relnamespace = 'trading'::regnamespace "
                  "and relname not like 'alembic_version%%'") == 0  # fmt: skip
    # Nothing of a table's is left; the stores' functions stay with the stores' state.
    assert scalar(trading_url, "select count(*) from warden.owned_objects "
                  "where table_name <> 'null'") == 0  # fmt: skip
    assert scalar(trading_url, "select count(*) from warden.owned_objects where "
                  "table_name = 'null' and kind not in ('function', 'view')") == 0  # fmt: skip
    assert _migrate.current(trading_url) is None
    again = trading.install(trading_url)
    try:
        assert again.plan(only=trading.tables()).changes == ()
    finally:
        again.close()


def _history(app: Trading, desk: dict[str, Any]) -> int:
    order, _ = app.orders.place(desk["account"], desk["aaa"], "buy", Decimal(5), Decimal("10.00"),
                                client_order_id="h1")  # fmt: skip
    app.orders.fill(order["order_id"], Decimal(5), Decimal("10.00"))
    return int(order["order_id"])


def test_restrict_refuses_the_delete_that_used_to_cascade(
    app: Trading, desk: dict[str, Any], trading_url: str, admin_url: str
) -> None:
    order_id = _history(app, desk)
    # A real DELETE of the order (or the account) used to take the fills with it: refused now
    # (restrict_violation on PostgreSQL 18, foreign_key_violation before).
    with (
        psycopg.connect(trading_url) as conn,
        pytest.raises((pg_errors.RestrictViolation, pg_errors.ForeignKeyViolation)) as e,
    ):
        conn.execute("delete from trading.orders where order_id = %s", [order_id])
    assert e.value.diag.constraint_name == "executions_order_id_fkey"
    # Orders and positions both keep the account; which key refuses first is the order of
    # their RI triggers, named by OID (text order): it varies on a shared server.
    with pytest.raises(SoftDeleteError, match=r'refused: .* "(orders|positions)_account_id_fkey"'):
        app.warden.soft_delete.hard_delete("trading.accounts", desk["account"])
    assert scalar(trading_url, "select count(*) from trading.executions") == 1
    # The soft delete passes (restrict = false): the account is closed, every row stays.
    app.portfolio.close_account(desk["account"])
    assert scalar(trading_url, "select deleted_at is not null from trading.accounts "
                  "where account_id = %s", [desk["account"]]) is True  # fmt: skip
    assert scalar(trading_url, "select count(*) from trading.orders") == 1
    with pytest.raises(Exception, match="no open account"):
        app.orders.place(desk["account"], desk["aaa"], "buy", Decimal(1), Decimal(1),
                         client_order_id="after-close")  # fmt: skip


def test_before_the_conversion_the_delete_cascaded(trading_url: str, admin_url: str) -> None:
    """The same delete on the schema as migrated (before install's conversion) erases the
    fills: what RESTRICT prevents."""
    trading.teardown(trading_url)
    _migrate.upgrade(trading_url)
    # The plan shows each key that would erase history, with the command converting it.
    with Warden(trading_url, spec=trading.declaration()) as warden:
        notes = warden.plan(only=trading.tables()).notes
    keys = {re.search(r"foreign key (\S+) of (\S+)", n).group(2, 1) for n in notes}  # type: ignore[union-attr]
    assert keys == {
        ("trading.executions", "executions_order_id_fkey"),
        ("trading.orders", "orders_account_id_fkey"),
        ("trading.orders", "orders_instrument_id_fkey"),
        ("trading.positions", "positions_account_id_fkey"),
    }
    assert all("pgwarden foreign-keys restrict" in n for n in notes)
    with psycopg.connect(trading_url) as conn:
        conn.execute("insert into trading.instruments (symbol) values ('AAA')")
        conn.execute("insert into trading.accounts (name) values ('x')")
        conn.execute("insert into trading.orders (account_id, instrument_id, client_order_id, "
                     "side, price, quantity, filled_quantity, status, request_hash) "
                     "values (1, 1, 'c', 'buy', 1, 1, 1, 'filled', '')")  # fmt: skip
        conn.execute("insert into trading.executions (order_id, account_id, instrument_id, "
                     "side, quantity, price) values (1, 1, 1, 'buy', 1, 1)")  # fmt: skip
        conn.execute("delete from trading.accounts")
        assert conn.execute("select count(*) from trading.executions").fetchone() == (0,)


def test_float_conversion_is_checked_row_by_row(app: Trading, desk: dict[str, Any]) -> None:
    big = app.portfolio.add_instrument("BIG", tick_size=Decimal("0.00000001"))
    app.orders.place(desk["account"], desk["aaa"], "buy", Decimal(1), Decimal("0.10"),
                     client_order_id="ok")  # fmt: skip
    assert app.portfolio.check_conversion("orders", "price", "float8") == []
    # 17 significant digits: a float8 keeps 15-17, and this value does not survive.
    app.orders.place(desk["account"], big["instrument_id"], "buy", Decimal(1),
                     Decimal("1234567890.12345678"), client_order_id="lossy")  # fmt: skip
    lossy = app.portfolio.check_conversion("orders", "price", "float8")
    assert [r["value"] for r in lossy] == ["1234567890.12345678"]
    assert lossy[0]["row"]["client_order_id"] == "lossy"
    with pytest.raises(Invalid, match="would change 1") as refused:
        app.portfolio.convert("orders", "price", "float8")
    assert refused.value.rows[0]["converted"] != "1234567890.12345678"
    with app.warden.connect() as conn:
        kind = conn.execute("select format_type(atttypid, atttypmod) from pg_attribute "
                            "where attrelid = 'trading.orders'::regclass "
                            "and attname = 'price'").fetchone()  # fmt: skip
    assert kind == ("numeric(18,8)",)  # unchanged
    with pytest.raises(Invalid, match="to: one of"):
        app.portfolio.check_conversion("orders", "price", "text")


def test_a_lossless_conversion_is_applied_and_a_lossy_one_shown_over_http(
    app: Trading, desk: dict[str, Any], client: Any
) -> None:
    app.orders.place(desk["account"], desk["aaa"], "buy", Decimal(2), Decimal("10.25"),
                     client_order_id="c1")  # fmt: skip
    app.orders.fill(_order_id(app, "c1"), Decimal(1), Decimal("10.25"))
    # Every value survives the round trip: checked row by row, then altered.
    assert app.portfolio.check_conversion("executions", "price", "float8") == []
    app.portfolio.convert("executions", "price", "float8")
    app.orders.fill(_order_id(app, "c1"), Decimal(1), Decimal("10.25"))  # and after it
    with app.warden.connect() as conn:
        kind = conn.execute("select format_type(atttypid, atttypmod) from pg_attribute "
                            "where attrelid = 'trading.executions'::regclass "
                            "and attname = 'price'").fetchone()  # fmt: skip
        assert kind == ("double precision",)
        prices = conn.execute("select price from trading.executions").fetchall()
        assert prices == [(10.25,), (10.25,)]
    # The lossy case over HTTP: the offending row, with its value before and after.
    big = app.portfolio.add_instrument("BIG", tick_size=Decimal("0.00000001"))
    app.orders.place(desk["account"], big["instrument_id"], "buy", Decimal(1),
                     Decimal("1234567890.12345678"), client_order_id="lossy")  # fmt: skip
    shown = client.get("/admin/conversions", params={"table": "orders", "column": "price"}).json()
    assert shown["lossless"] is False
    [row] = shown["rows"]
    assert row["value"] == "1234567890.12345678" and row["converted"] != row["value"]
    assert row["row"]["client_order_id"] == "lossy"


def _order_id(app: Trading, client_order_id: str) -> int:
    with app.warden.connect() as conn:
        row = conn.execute("select order_id from trading.orders where client_order_id = %s",
                           [client_order_id]).fetchone()  # fmt: skip
    assert row is not None
    return int(row[0])
