"""Connections and per-item permissions: no read without permission, a writer creates the
owner's entry and is recorded, revoking works at once; the entry's audit and history."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
from fastapi.testclient import TestClient
from tests.kitaab.conftest import Account, count


def connect(client: TestClient, a: Account, b: Account) -> int:
    """``a`` asks to follow ``b``; ``b`` accepts."""
    r = client.post("/connections", headers=a.headers, json={"email": b.email})
    assert r.status_code == 201, r.text
    relation = int(r.json()["relation_id"])
    assert client.post(f"/connections/{relation}/accept", headers=a.headers).status_code == 403
    ok = client.post(f"/connections/{relation}/accept", headers=b.headers)
    assert ok.status_code == 200 and ok.json()["status"] == "accepted"
    return relation


def test_connection_rules(
    client: TestClient, signup: Callable[..., Account], kitaab_url: str
) -> None:
    a, b = signup("maryam"), signup("nuh")
    selfish = client.post("/connections", headers=a.headers, json={"email": a.email})
    assert (
        selfish.status_code == 422 and selfish.json()["detail"] == "you cannot connect to yourself"
    )
    assert (
        client.post(
            "/connections", headers=a.headers, json={"email": "nobody@example.org"}
        ).status_code
        == 404
    )
    relation = connect(client, a, b)
    again = client.post("/connections", headers=a.headers, json={"email": b.email})
    assert again.status_code == 409 and "already exists" in again.json()["detail"]
    assert client.post(f"/connections/{relation}/reject", headers=b.headers).status_code == 422
    reverse = client.post("/connections", headers=b.headers, json={"email": a.email})
    assert reverse.status_code == 201  # unidirectional: b may ask to follow a too
    assert count(kitaab_url, "kitaab.relations") == 2


def test_permissions_read_write_revoke(
    client: TestClient,
    signup: Callable[..., Account],
    deed: Callable[..., dict[str, Any]],
    kitaab_url: str,
) -> None:
    writer, owner = signup("omar"), signup("parveen")
    d = deed(owner)
    item, hidden = d["items"][0]["deed_item_id"], d["items"][2]["deed_item_id"]
    mine = client.put(
        "/entries",
        headers=owner.headers,
        json={"deed_item_id": item, "entry_date": "2026-05-01", "count_value": 1},
    ).json()
    client.put(
        "/entries",
        headers=owner.headers,
        json={"deed_item_id": hidden, "entry_date": "2026-05-01", "count_value": 7},
    )
    pending = client.post(
        "/connections", headers=writer.headers, json={"email": owner.email}
    ).json()["relation_id"]
    early = client.put(
        f"/connections/{pending}/permissions",
        headers=owner.headers,
        json={"deed_item_id": item, "permission_type": "read"},
    )
    assert early.status_code == 409 and "not been accepted" in early.json()["detail"]
    assert client.post(f"/connections/{pending}/accept", headers=owner.headers).status_code == 200
    relation = pending

    # No permission: nothing to read, nothing to write.
    assert client.get(f"/entries/{mine['entry_id']}", headers=writer.headers).status_code == 404
    assert (
        client.get("/entries", headers=writer.headers, params={"owner_id": owner.user_id}).json()
        == []
    )
    denied = client.put(
        "/entries",
        headers=writer.headers,
        json={"deed_item_id": item, "entry_date": "2026-05-02", "count_value": 1},
    )
    assert denied.status_code == 403 and "no write permission" in denied.json()["detail"]
    assert client.get(f"/items/{item}/access", headers=writer.headers).json()["access"] is None

    # Only the owner grants, only on their own items.
    assert (
        client.put(
            f"/connections/{relation}/permissions",
            headers=writer.headers,
            json={"deed_item_id": item, "permission_type": "write"},
        ).status_code
        == 403
    )
    read = client.put(
        f"/connections/{relation}/permissions",
        headers=owner.headers,
        json={"deed_item_id": item, "permission_type": "read"},
    )
    assert read.status_code == 200, read.text
    assert client.get(f"/entries/{mine['entry_id']}", headers=writer.headers).status_code == 200
    visible = client.get(
        "/entries", headers=writer.headers, params={"owner_id": owner.user_id}
    ).json()
    assert [e["deed_item_id"] for e in visible] == [item]  # not the hidden item's entry
    assert (
        client.put(
            "/entries",
            headers=writer.headers,
            json={"deed_item_id": item, "entry_date": "2026-05-02", "count_value": 1},
        ).status_code
        == 403
    )

    # Write: the entry is the owner's, the writer is recorded.
    write = client.put(
        f"/connections/{relation}/permissions",
        headers=owner.headers,
        json={"deed_item_id": item, "permission_type": "write"},
    )
    assert write.json()["permission_id"] == read.json()["permission_id"]
    made = client.put(
        "/entries",
        headers=writer.headers,
        json={"deed_item_id": item, "entry_date": "2026-05-02", "count_value": 3},
    )
    assert made.status_code == 201, made.text
    assert (made.json()["user_id"], made.json()["created_by_user_id"]) == (
        owner.user_id,
        writer.user_id,
    )
    assert made.json()["entry_id"] in [
        e["entry_id"] for e in client.get("/entries", headers=owner.headers).json()
    ]

    # Revoke: refused at the very next request.
    revoked = client.delete(f"/permissions/{write.json()['permission_id']}", headers=owner.headers)
    assert revoked.status_code == 200 and revoked.json()["is_active"] is False
    assert (
        client.put(
            "/entries",
            headers=writer.headers,
            json={"deed_item_id": item, "entry_date": "2026-05-03", "count_value": 1},
        ).status_code
        == 403
    )
    assert (
        client.get(f"/entries/{made.json()['entry_id']}", headers=writer.headers).status_code == 404
    )

    # The permission's versions: read, write, revoked; each by the owner.
    with psycopg.connect(kitaab_url) as conn:
        versions = conn.execute(
            "select permission_type::text, is_active, actor from kitaab.permissions__versions "
            "where permission_id = %s order by version",
            [read.json()["permission_id"]],
        ).fetchall()
    actor = f"user:{owner.user_id}"
    assert versions == [("read", True, actor), ("write", True, actor), ("write", False, actor)]


def test_entry_history_by_owner_and_writer(
    client: TestClient, signup: Callable[..., Account], deed: Callable[..., dict[str, Any]]
) -> None:
    writer, owner, stranger = signup("qasim"), signup("rania"), signup("sami")
    d = deed(owner)
    item = d["items"][0]["deed_item_id"]
    relation = connect(client, writer, owner)
    client.put(
        f"/connections/{relation}/permissions",
        headers=owner.headers,
        json={"deed_item_id": item, "permission_type": "write"},
    )
    entry = client.put(
        "/entries",
        headers=owner.headers,
        json={"deed_item_id": item, "entry_date": "2026-05-05", "count_value": 1},
    ).json()
    assert (
        client.patch(
            f"/entries/{entry['entry_id']}", headers=writer.headers, json={"count_value": 2}
        ).status_code
        == 200
    )
    assert (
        client.patch(
            f"/entries/{entry['entry_id']}", headers=owner.headers, json={"notes": "checked"}
        ).status_code
        == 200
    )
    history = client.get(f"/entries/{entry['entry_id']}/history", headers=owner.headers)
    assert history.status_code == 200, history.text
    steps = [(v["version"], v["op"], v["actor"], v["changed"]) for v in history.json()]
    assert steps == [
        (1, "insert", f"user:{owner.user_id}", None),
        (2, "update", f"user:{writer.user_id}", ["count_value", "created_by_user_id"]),
        (3, "update", f"user:{owner.user_id}", ["created_by_user_id", "notes"]),
    ]
    assert history.json()[1]["row"]["created_by_user_id"] == writer.user_id
    assert (
        client.get(f"/entries/{entry['entry_id']}/history", headers=writer.headers).status_code
        == 200
    )
    assert (
        client.get(f"/entries/{entry['entry_id']}/history", headers=stranger.headers).status_code
        == 404
    )
    mine = client.get("/audit", headers=writer.headers).json()
    assert [(e["table"], e["op"]) for e in mine if e["table"] == "kitaab.entries"] == [
        ("kitaab.entries", "update")
    ]
    assert all(
        e["new"] is None
        or "password_hash" not in e["new"]
        or e["new"]["password_hash"].startswith("sha256:")
        for e in client.get("/audit", headers=owner.headers).json()
    )
