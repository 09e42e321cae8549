"""Merits and targets: count sums, scale matches, AND / OR completion, completed_at once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
from fastapi.testclient import TestClient
from tests.kitaab.conftest import Account


def put(client: TestClient, who: Account, item: int, day: str, **value: Any) -> None:
    r = client.put(
        "/entries", headers=who.headers, json={"deed_item_id": item, "entry_date": day, **value}
    )
    assert r.status_code in (200, 201), r.text


def test_merit_and_completion(
    client: TestClient, signup: Callable[..., Account], deed: Callable[..., dict[str, Any]]
) -> None:
    a = signup("tariq")
    d = deed(a)
    fajr, reading = d["items"][0]["deed_item_id"], d["items"][2]["deed_item_id"]
    early = d["scale"]["values"][2]["scale_value_id"]
    merit = client.post("/merits", headers=a.headers, json={
        "deed_id": d["deed_id"], "name": "Steady", "completion_type": "and",
        "start_date": "2026-01-01", "end_date": "2026-01-31",
        "items": [{"deed_item_id": reading, "target_value": 5},
                  {"deed_item_id": fajr, "target_value": 2, "scale_value_id": early}]})  # fmt: skip
    assert merit.status_code == 201, merit.text
    merit_id = merit.json()["merit_id"]
    assert merit.json()["complete"] is False and merit.json()["completed_at"] is None
    put(client, a, reading, "2026-01-02", count_value=3)
    put(client, a, reading, "2026-02-01", count_value=50)  # outside the dates
    put(client, a, fajr, "2026-01-02", scale_value_id=early)
    put(client, a, fajr, "2026-01-03", scale_value_id=d["scale"]["values"][0]["scale_value_id"])
    state = client.get(f"/merits/{merit_id}", headers=a.headers).json()
    assert [(i["achieved"], i["complete"]) for i in state["items"]] == [(3.0, False), (1, False)]
    put(client, a, reading, "2026-01-05", count_value=2.5)
    put(client, a, fajr, "2026-01-05", scale_value_id=early)
    done = client.get(f"/merits/{merit_id}", headers=a.headers).json()
    assert done["complete"] is True and done["completed_at"] is not None
    # The entry that completed it set completed_at in its own transaction; it stays put.
    put(client, a, reading, "2026-01-06", count_value=1)
    assert (
        client.get(f"/merits/{merit_id}", headers=a.headers).json()["completed_at"]
        == done["completed_at"]
    )


def test_target_or_across_deeds_and_rules(
    client: TestClient, signup: Callable[..., Account], deed: Callable[..., dict[str, Any]]
) -> None:
    a, b = signup("umar"), signup("vida")
    good, bad = deed(a), deed(a, "saiyyiaat")
    theirs = deed(b)
    body = {"name": "Any of two", "completion_type": "or", "start_date": "2026-01-01", "end_date": "2026-12-31",
            "items": [{"deed_item_id": good["items"][0]["deed_item_id"], "target_value": 10},
                      {"deed_item_id": bad["items"][2]["deed_item_id"], "target_value": 1}]}  # fmt: skip
    target = client.post("/targets", headers=a.headers, json=body)
    assert target.status_code == 201, target.text
    put(client, a, bad["items"][2]["deed_item_id"], "2026-03-03", count_value=1)
    reached = client.get(f"/targets/{target.json()['target_id']}", headers=a.headers).json()
    assert reached["complete"] is True and reached["completed_at"]
    assert (
        client.get(f"/targets/{target.json()['target_id']}", headers=b.headers).status_code == 403
    )
    wrong_dates = client.post(
        "/targets", headers=a.headers, json={**body, "end_date": "2025-01-01"}
    )
    assert wrong_dates.status_code == 422 and "end_date" in wrong_dates.json()["detail"]
    foreign = client.post(
        "/targets",
        headers=a.headers,
        json={
            **body,
            "items": [{"deed_item_id": theirs["items"][0]["deed_item_id"], "target_value": 1}],
        },
    )
    assert foreign.status_code == 403
    zero = client.post(
        "/targets",
        headers=a.headers,
        json={
            **body,
            "items": [{"deed_item_id": good["items"][0]["deed_item_id"], "target_value": 0}],
        },
    )
    assert zero.status_code == 422 and "positive" in zero.json()["detail"]
    merit_wrong_deed = client.post(
        "/merits", headers=a.headers, json={**body, "deed_id": good["deed_id"]}
    )
    assert (
        merit_wrong_deed.status_code == 422 and "its own deed" in merit_wrong_deed.json()["detail"]
    )
    refreshed = client.post("/progress/refresh", headers=a.headers).json()
    assert refreshed == {"merits": [], "targets": []}  # the only target is completed


def test_a_writers_entry_completes_the_owners_goal(
    client: TestClient,
    signup: Callable[..., Account],
    deed: Callable[..., dict[str, Any]],
    kitaab_url: str,
) -> None:
    """The app connects as the app role, under row-level security: the writer's tenant sees
    only the entries of the item shared with it, yet the goal its entry completes counts all
    the owner's (evaluated as the owner's tenant, then the writer's again)."""
    from tests.kitaab.test_permissions import connect

    owner, writer = signup("owner"), signup("writer")
    d = deed(owner)
    fajr, reading = d["items"][0]["deed_item_id"], d["items"][2]["deed_item_id"]
    merit = client.post("/merits", headers=owner.headers, json={
        "deed_id": d["deed_id"], "name": "Both", "completion_type": "and",
        "start_date": "2026-01-01", "end_date": "2026-01-31",
        "items": [{"deed_item_id": reading, "target_value": 3},
                  {"deed_item_id": fajr, "target_value": 2}]})  # fmt: skip
    merit_id = merit.json()["merit_id"]
    put(client, owner, fajr, "2026-01-02", count_value=2)  # not shared with the writer
    put(client, owner, reading, "2026-01-02", count_value=1)
    relation = connect(client, writer, owner)
    granted = client.put(
        f"/connections/{relation}/permissions",
        headers=owner.headers,
        json={"deed_item_id": reading, "permission_type": "write"},
    )
    assert granted.status_code in (200, 201), granted.text
    # The writer cannot see the owner's fajr entry (neither the service nor the policies).
    seen = client.get(f"/entries?owner_id={owner.user_id}", headers=writer.headers).json()
    assert {e["deed_item_id"] for e in seen} == {reading}
    put(client, writer, reading, "2026-01-03", count_value=2)  # reading reaches 3: complete
    with psycopg.connect(kitaab_url) as conn:  # the superuser: no policy applies
        done = conn.execute(
            "select completed_at is not null from kitaab.merits where merit_id = %s", [merit_id]
        ).fetchone()
        tenant = conn.execute("select current_setting('pgwarden.tenant', true)").fetchone()
    assert done == (True,), "the writer's entry completed the goal in its own transaction"
    assert tenant in ((None,), ("",))
    state = client.get(f"/merits/{merit_id}", headers=owner.headers).json()
    assert [(i["achieved"], i["complete"]) for i in state["items"]] == [(3.0, True), (2.0, True)]
    # After the refresh the writer's transaction acted as the writer again: its next read
    # still sees only the shared item.
    again = client.get(f"/entries?owner_id={owner.user_id}", headers=writer.headers).json()
    assert {e["deed_item_id"] for e in again} == {reading}


def test_the_api_role_is_under_row_level_security(
    app: Any,
    client: TestClient,
    signup: Callable[..., Account],
    deed: Callable[..., dict[str, Any]],
    kitaab_url: str,
) -> None:
    """The services' connections log in as the app role: no superuser, no BYPASSRLS, and
    without a tenant they see no entry at all (the superuser sees them)."""
    a = signup("rls")
    put(client, a, deed(a)["items"][2]["deed_item_id"], "2026-01-02", count_value=1)
    with app.warden.connect() as conn:
        who = conn.execute(
            "select rolname, rolsuper, rolbypassrls from pg_roles where rolname = current_user"
        ).fetchone()
        assert who is not None and who[0].endswith("_app") and who[1:] == (False, False)
        assert conn.execute("select count(*) from kitaab.entries").fetchone() == (0,)
    with psycopg.connect(kitaab_url) as conn:
        assert conn.execute("select count(*) from kitaab.entries").fetchone() == (1,)
