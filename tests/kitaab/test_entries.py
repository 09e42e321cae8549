"""Daily entries (UPSERT), each seed rule broken once (clear 4xx, nothing written), the
dashboard."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from tests.kitaab.conftest import Account, count


def events(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("select count(*) from warden.audit_events").fetchone()
        assert row is not None
        return int(row[0])


def test_one_entry_per_item_and_day(
    client: TestClient,
    signup: Callable[..., Account],
    deed: Callable[..., dict[str, Any]],
    kitaab_url: str,
) -> None:
    a = signup("idris")
    d = deed(a)
    item, scale = d["items"][0]["deed_item_id"], d["scale"]["values"]
    first = client.put(
        "/entries",
        headers=a.headers,
        json={
            "deed_item_id": item,
            "entry_date": "2026-03-01",
            "scale_value_id": scale[1]["scale_value_id"],
        },
    )
    assert first.status_code == 201 and first.json()["scale_id"] == d["scale"]["scale_id"]
    again = client.put(
        "/entries",
        headers=a.headers,
        json={
            "deed_item_id": item,
            "entry_date": "2026-03-01",
            "count_value": 4,
            "notes": "better",
        },
    )
    assert again.status_code == 200 and again.json()["entry_id"] == first.json()["entry_id"]
    assert again.json()["count_value"] == 4.0 and again.json()["scale_value_id"] is None
    assert count(kitaab_url, "kitaab.entries") == 1
    edit = client.patch(
        f"/entries/{first.json()['entry_id']}", headers=a.headers, json={"notes": "edited"}
    )
    assert (
        edit.status_code == 200
        and edit.json()["notes"] == "edited"
        and edit.json()["count_value"] == 4.0
    )
    listed = client.get(
        "/entries", headers=a.headers, params={"since": "2026-03-01", "until": "2026-03-01"}
    ).json()
    assert [e["entry_id"] for e in listed] == [first.json()["entry_id"]]
    assert (
        client.delete(f"/entries/{first.json()['entry_id']}", headers=a.headers).status_code == 204
    )
    assert client.get(f"/entries/{first.json()['entry_id']}", headers=a.headers).status_code == 404


RULES = [
    # (what is sent, status, words of the message)
    ({"count_value": None, "scale_value_id": None}, 422, "needs a scale_value_id or a count_value"),
    ({"count_value": -1}, 422, "cannot be negative"),
    ({"count_value": 1, "deed_item_id": 999999}, 404, "deed item 999999 not found"),
    ({"scale_value_id": "other-deed"}, 422, "not a value of this deed's scales"),
    ({"count_value": 123456789012}, 422, ""),
    ({"count_value": 1, "entry_date": "2026-02-30"}, 422, ""),
]


@pytest.mark.parametrize(("change", "status", "words"), RULES)
def test_entry_rules(
    client: TestClient,
    signup: Callable[..., Account],
    deed: Callable[..., dict[str, Any]],
    kitaab_url: str,
    change: dict[str, Any],
    status: int,
    words: str,
) -> None:
    a = signup("jamal")
    d, other = deed(a), deed(a, "saiyyiaat")
    body = {"deed_item_id": d["items"][0]["deed_item_id"], "entry_date": "2026-03-02", **change}
    if body.get("scale_value_id") == "other-deed":
        body["scale_value_id"] = other["scale"]["values"][0]["scale_value_id"]
    before = events(kitaab_url)
    r = client.put("/entries", headers=a.headers, json=body)
    assert r.status_code == status, r.text
    assert words in str(r.json()["detail"])
    assert count(kitaab_url, "kitaab.entries") == 0
    assert events(kitaab_url) == before  # nothing written, not even to the audit trail


def test_dashboard_last_30_days(
    client: TestClient,
    signup: Callable[..., Account],
    deed: Callable[..., dict[str, Any]],
    clock: Any,
) -> None:
    a = signup("karim", timezone="Pacific/Kiritimati")  # UTC+14: "today" is a day ahead
    good, bad = deed(a), deed(a, "saiyyiaat")
    clock.at = dt.datetime(2026, 6, 30, 12, 0, tzinfo=dt.UTC)  # 2026-07-01 02:00 local
    for day, item, value in [
        ("2026-07-01", good, 2),
        ("2026-06-20", good, 3),
        ("2026-06-20", bad, 1),
        ("2026-06-01", good, 9),
        ("2026-05-31", good, 100),
    ]:
        r = client.put(
            "/entries",
            headers=a.headers,
            json={
                "deed_item_id": item["items"][0]["deed_item_id"],
                "entry_date": day,
                "count_value": value,
            },
        )
        assert r.status_code == 201, r.text
    dash = client.get("/dashboard", headers=a.headers).json()
    assert (dash["since"], dash["until"]) == ("2026-06-02", "2026-07-01")
    assert dash["totals"]["hasanaat"] == {
        "entries": 2,
        "total_count": 5.0,
        "scale_entries": 0,
        "active_days": 2,
        "average_per_day": 0.17,
    }
    assert dash["totals"]["saiyyiaat"]["total_count"] == 1.0
    assert [(p["entry_date"], p["category"]) for p in dash["series"]] == [
        ("2026-06-20", "hasanaat"),
        ("2026-06-20", "saiyyiaat"),
        ("2026-07-01", "hasanaat"),
    ]


def test_reflections_and_messages(
    client: TestClient, signup: Callable[..., Account], kitaab_url: str, app: Any
) -> None:
    a = signup("laila")
    r = client.post(
        "/reflections",
        headers=a.headers,
        json={"reflection_date": "2026-04-01", "content": "A calm day"},
    )
    assert r.status_code == 201
    dup = client.post(
        "/reflections",
        headers=a.headers,
        json={"reflection_date": "2026-04-01", "content": "again"},
    )
    assert dup.status_code == 409 and dup.json()["detail"] == "one reflection per type per day"
    other_type = client.post(
        "/reflections",
        headers=a.headers,
        json={"reflection_date": "2026-04-01", "type": "saiyyiaat", "content": "Impatience"},
    )
    assert other_type.status_code == 201
    empty = client.post(
        "/reflections", headers=a.headers, json={"reflection_date": "2026-04-02", "content": " "}
    )
    assert empty.status_code == 422 and "some text" in empty.json()["detail"]
    assert count(kitaab_url, "kitaab.reflection_messages") == 2
    edit = client.patch(
        f"/reflections/{r.json()['reflection_id']}", headers=a.headers, json={"content": "Calm"}
    )
    assert edit.json()["content"] == "Calm"
    assert len(client.get("/reflections", headers=a.headers).json()) == 2
    sent = client.post(
        "/messages", headers=a.headers, json={"subject": "Help", "content": "How do scales work?"}
    )
    assert sent.status_code == 201
    app.messages.reply(a.user_id, "A scale is a list of values.")
    inbox = client.get("/messages", headers=a.headers).json()
    assert [m["sender"] for m in inbox] == ["support", "user"]
    assert client.get("/messages", headers=a.headers).json()[0]["is_read"] is True
    assert client.post("/messages", headers=a.headers, json={"content": ""}).status_code == 422


def test_recording_checks_the_token_in_its_own_transaction(
    client: TestClient,
    signup: Callable[..., Account],
    deed: Callable[..., dict[str, Any]],
    kitaab_url: str,
) -> None:
    """PUT /entries looks the token up as the first statement of the write's transaction (and
    signs its user as the tenant from there): a missing, forged or logged-out token is a 401
    that writes nothing, and a valid one records as its own user only."""
    a, b = signup("hamza"), signup("layla")
    item = deed(a)["items"][0]["deed_item_id"]
    body = {"deed_item_id": item, "entry_date": "2026-03-03", "count_value": 2}
    before = events(kitaab_url)
    assert client.put("/entries", json=body).status_code == 401
    forged = {"Authorization": "Bearer forged"}
    assert client.put("/entries", headers=forged, json=body).status_code == 401
    # Another user's valid token: the item is not theirs and nothing was shared.
    assert client.put("/entries", headers=b.headers, json=body).status_code in (403, 404)
    assert count(kitaab_url, "kitaab.entries") == 0 and events(kitaab_url) == before
    made = client.put("/entries", headers=a.headers, json=body)
    assert made.status_code == 201
    assert made.json()["user_id"] == made.json()["created_by_user_id"] == a.user_id
    assert client.post("/auth/logout", headers=a.headers).status_code == 204
    assert (
        client.put("/entries", headers=a.headers, json={**body, "count_value": 5}).status_code
        == 401
    )
    with psycopg.connect(kitaab_url) as conn:
        row = conn.execute("select count_value from kitaab.entries").fetchone()
    assert row is not None and float(row[0]) == 2.0
