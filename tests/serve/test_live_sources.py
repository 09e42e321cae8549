"""Named series of other modules (``LiveSource``, entry points ``pgwarden.live``) in each
``WS /live`` sample: counters sent as rates, a failing source shown with its error without
hiding the others, a source with nothing in this database left out."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import psycopg
import pytest
from tests.serve.conftest import serving
from websockets.sync.client import connect

from pgwarden import Warden
from pgwarden.api import LiveSource, ServeSection, create_app, registered_sources
from pgwarden.errors import ServeError
from pgwarden.spec import parse_spec


async def _rows(conn: psycopg.AsyncConnection[Any]) -> Mapping[str, float | None]:
    cur = await conn.execute("select sum(n) as n, count(*) from counted")
    n, rows = await cur.fetchone() or (None, None)
    return {"total": n, "rows": rows}


async def _broken(conn: psycopg.AsyncConnection[Any]) -> Mapping[str, float | None]:
    await conn.execute("select * from no_such_table")
    return {}


async def _absent(conn: psycopg.AsyncConnection[Any]) -> None:
    return None


SOURCES = [
    LiveSource("broken", "Broken", _broken),
    LiveSource(
        "counted", "<b>Counted</b>", _rows, counters=frozenset({"total"}), units={"total": "/s"}
    ),
    LiveSource("absent", "Absent", _absent),
]


def test_sources_in_live_samples(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("create table counted (n int)")
        warden = Warden(db_url, spec=parse_spec(""))
        app = create_app(
            warden, settings=ServeSection(sample_every="250ms"), sources=SOURCES, close_warden=True
        )
        with serving(app) as base, connect(base.replace("http", "ws") + "/live") as ws:
            parts: list[dict[str, Any]] = []
            rates: list[float] = []
            for _ in range(40):
                conn.execute("insert into counted values (10)")
                sample = json.loads(ws.recv(timeout=15))
                parts = sample["extra"]
                value = {s["name"]: s["value"] for s in parts[1]["series"]}["total"]
                if value:
                    rates.append(value)
                if len(rates) >= 3:
                    break
            assert sample["up"] is True and sample["tps"] is not None  # the sample itself
    assert [p["name"] for p in parts] == ["broken", "counted"]  # "absent" left out
    assert "no_such_table" in parts[0]["error"]
    counted = parts[1]
    assert counted["title"] == "<b>Counted</b>"
    series = {s["name"]: s for s in counted["series"]}
    assert series["total"]["unit"] == "/s" and series["rows"]["unit"] is None
    assert series["rows"]["value"] >= 1  # a gauge: the value itself
    assert all(r > 0 for r in rates)  # a counter: 10 per insert, as a rate per second


def test_trading_registers_its_source() -> None:
    assert "trading" in [s.name for s in registered_sources()]


def test_an_entry_point_that_is_not_a_source_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from importlib.metadata import EntryPoint

    from pgwarden.api import _sources

    bad = EntryPoint("bad", "json:dumps", "pgwarden.live")
    monkeypatch.setattr(_sources, "entry_points", lambda group: [bad])
    with pytest.raises(ServeError, match=r"pgwarden\.live:bad .* is not a LiveSource"):
        registered_sources()
