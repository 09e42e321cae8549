"""The blueprint's archive and partition declarations at work: an entry older than two years
is moved to the archive by maintenance, stays readable through entries__all, keeps its
history; a year's partition is made when its first entry arrives."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import psycopg
from fastapi.testclient import TestClient
from tests.kitaab.conftest import Account

from pgwarden import Warden


def test_old_entries_are_archived(
    client: TestClient,
    signup: Callable[..., Account],
    deed: Callable[..., dict[str, Any]],
    operator: Warden,
    kitaab_url: str,
) -> None:
    a = signup("archie")
    item = deed(a)["items"][2]["deed_item_id"]
    old = client.put(
        "/entries",
        headers=a.headers,
        json={"deed_item_id": item, "entry_date": "2022-03-01", "count_value": 2},
    )
    new = client.put(
        "/entries",
        headers=a.headers,
        json={"deed_item_id": item, "entry_date": "2026-03-01", "count_value": 5},
    )
    assert old.status_code == new.status_code == 201
    with psycopg.connect(kitaab_url) as conn:
        where = conn.execute(
            "select tableoid::regclass::text from kitaab.entries where entry_id = %s",
            [old.json()["entry_id"]],
        ).fetchone()
    assert where == ("kitaab.entries__default",)
    results = operator.maintain(now=dt.datetime(2026, 11, 30, tzinfo=dt.UTC))
    moved = {r.job: r.rows for r in results if str(r.table) == "kitaab.entries"}
    assert moved.get("archive") == 1, results
    with psycopg.connect(kitaab_url) as conn:
        live = conn.execute("select entry_id from kitaab.entries order by entry_id").fetchall()
        archived = conn.execute(
            "select entry_id, count_value from archive.kitaab__entries"
        ).fetchall()
        both = conn.execute(
            "select entry_id, row_location from kitaab.entries__all order by entry_id"
        ).fetchall()
    assert live == [(new.json()["entry_id"],)]
    assert [r[0] for r in archived] == [old.json()["entry_id"]]
    assert both == [(old.json()["entry_id"], "archive"), (new.json()["entry_id"], "live")]
    # Its history is still there (the audit store is not archived).
    history = operator.audit.history("kitaab.entries", old.json()["entry_id"])
    assert history[0].op == "insert" and history[0].actor == f"user:{a.user_id}"
