"""Market-data partitions under a controlled clock: made ahead by ``maintain``, rows that
arrive early rescued from the default partition, old days handed whole to the archive (and
still readable through ``ticks__all``), pruning in plans."""

from __future__ import annotations

import datetime as dt

from tests.trading.conftest import T0, scalar, tick_csv

from pgwarden.blueprints import trading
from pgwarden.blueprints.trading.services import Trading


def _partitions(url: str, table: str) -> set[str]:
    import psycopg

    with psycopg.connect(url) as conn:
        return {r[0] for r in conn.execute(
            "select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid "
            "where i.inhparent = %s::regclass", [table])}  # fmt: skip


def test_made_ahead_rescued_and_archived(app: Trading, trading_url: str) -> None:
    iid = app.portfolio.add_instrument("AAA")["instrument_id"]
    only = trading.tables(app.warden.spec)
    app.market.ingest_csv(iter(tick_csv(iid, 300).splitlines(True)), key="d0", batch_size=100)
    # A day no partition covers yet (T0 + 8): into the default partition, for now.
    later = T0 + dt.timedelta(days=8)
    app.market.ingest_csv(iter(tick_csv(iid, 50, later, 1000).splitlines(True)), key="d8")
    assert scalar(trading_url, "select count(*) from trading.ticks__default") == 50

    # Five days on (03-07): premake makes the day and three ahead (a past day without a
    # partition is not made: its rows would wait in the default); the early rows move in.
    app.warden.maintain(only=only, now=T0 + dt.timedelta(days=5))
    parts = _partitions(trading_url, "trading.ticks")
    assert {f"ticks__p202603{d:02d}" for d in (2, 3, 4, 5, 7, 8, 9, 10)} <= parts
    assert scalar(trading_url, "select count(*) from trading.ticks__default") == 0
    assert scalar(trading_url, "select count(*) from trading.ticks__p20260310") == 50

    # Forty days on: days older than 30 leave the table whole, into the archive.
    app.warden.maintain(only=only, now=T0 + dt.timedelta(days=40))
    parts = _partitions(trading_url, "trading.ticks")
    assert "ticks__p20260302" not in parts and "ticks__p20260310" not in parts
    assert "ticks__p20260411" in parts  # still made ahead of the new present
    assert scalar(trading_url, "select count(*) from trading.ticks") == 0
    # Nothing lost: the union view still reads every tick.
    assert scalar(trading_url, "select count(*) from trading.ticks__all") == 350
    assert scalar(trading_url, "select count(distinct seq) from trading.ticks__all") == 350


def test_pruning_reads_one_day(app: Trading, trading_url: str) -> None:
    import psycopg

    with psycopg.connect(trading_url) as conn:
        plan = "\n".join(r[0] for r in conn.execute(
            "explain select * from trading.ticks where instrument_id = 1 "
            "and ts >= '2026-03-03' and ts < '2026-03-04'"))  # fmt: skip
    assert "ticks__p20260303" in plan
    assert "ticks__p20260302" not in plan and "ticks__p20260304" not in plan
