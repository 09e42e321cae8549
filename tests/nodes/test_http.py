"""Every workflow through HTTP on a real database: create, update, link, unlink, traverse,
search, delete, restore, history, as-of, revert, events and analytics."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.nodes.conftest import Caller

from pgwarden import Warden


def _node(who: Caller, name: str, type: str = "event-storm", **kw: Any) -> dict[str, Any]:
    answer = who.post("/nodes", json={"type": type, "name": name, **kw})
    assert answer.status_code == 201, answer.text
    result: dict[str, Any] = answer.json()
    return result


def _link(who: Caller, a: str, b: str, kind: str) -> Any:
    return who.post("/relationships", json={"source_node_id": a, "target_node_id": b,
                                            "relationship_type": kind})  # fmt: skip


def test_node_lifecycle_through_http(alice: Caller) -> None:
    a = _node(alice, "Order placed", description="a customer places an order",
              metadata={"tag": "checkout"})  # fmt: skip
    b = _node(alice, "Place order", type="function-model")
    c = _node(alice, "Pricing rules", type="knowledge-base")
    ab = _link(alice, a["node_id"], b["node_id"], "parent")
    assert ab.status_code == 201, ab.text
    assert _link(alice, b["node_id"], c["node_id"], "parent").status_code == 201
    # rules: a cycle of an acyclic type, a self link, a live duplicate
    cycle = _link(alice, c["node_id"], a["node_id"], "parent")
    assert cycle.status_code == 409 and "cycle" in cycle.json()["detail"]
    assert _link(alice, a["node_id"], a["node_id"], "related").status_code == 422
    assert _link(alice, a["node_id"], b["node_id"], "parent").status_code == 409
    related = _link(alice, c["node_id"], a["node_id"], "related")  # related may cycle
    assert related.status_code == 201
    # read with neighbours, traverse two hops
    got = alice.get(f"/nodes/{b['node_id']}").json()
    assert {(n["direction"], n["name"]) for n in got["neighbours"]} == {
        ("in", "Order placed"), ("out", "Pricing rules")}  # fmt: skip
    reached = alice.get(f"/nodes/{a['node_id']}/traverse", params={"depth": 2}).json()
    assert [(r["name"], r["depth"]) for r in reached] == [("Place order", 1),
                                                           ("Pricing rules", 2)]  # fmt: skip
    # update, search (full text with highlight, then a typo)
    changed = alice.patch(f"/nodes/{a['node_id']}", json={"name": "Order was placed"})
    assert changed.json()["name"] == "Order was placed"
    hits = alice.get("/search", params={"q": "order"}).json()
    assert hits[0]["name"] == "Order was placed" and "<b>Order</b>" in hits[0]["headline"]
    fuzzy = alice.get("/search", params={"q": "pricng"}).json()
    assert fuzzy and fuzzy[0]["fuzzy"] and fuzzy[0]["name"] == "Pricing rules"
    # delete takes the node's live relationships; restore brings exactly them back
    alice.delete(f"/relationships/{related.json()['relationship_id']}")
    deleted = alice.delete(f"/nodes/{b['node_id']}").json()
    assert deleted == {"relationships_deleted": 2}
    assert alice.get(f"/nodes/{b['node_id']}").status_code == 404
    assert alice.get(f"/nodes/{a['node_id']}").json()["neighbours"] == []
    assert _link(alice, a["node_id"], b["node_id"], "related").status_code == 409
    back = alice.post(f"/nodes/{b['node_id']}/restore").json()
    assert back["relationships_restored"] == 2
    assert len(alice.get(f"/nodes/{b['node_id']}").json()["neighbours"]) == 2
    assert len(alice.get(f"/nodes/{a['node_id']}").json()["neighbours"]) == 1  # unlink stays
    # history, as-of, revert
    history = alice.get(f"/nodes/{a['node_id']}/history").json()
    assert [v["op"] for v in history][:2] == ["insert", "update"]
    assert all(v["actor"] == f"user:{alice.user}" for v in history)
    before = history[0]["valid_to"]
    as_of = alice.get(f"/nodes/{a['node_id']}/as-of",
                      params={"at": dt.datetime.fromisoformat(before).isoformat()})  # fmt: skip
    assert as_of.status_code == 200 and as_of.json()["name"] == "Order was placed"
    first = alice.get(f"/nodes/{a['node_id']}/as-of", params={"at": history[0]["valid_from"]})
    assert first.json()["name"] == "Order placed"
    reverted = alice.post(f"/nodes/{a['node_id']}/revert", json={"version": 1})
    assert reverted.status_code == 200, reverted.text
    assert alice.get(f"/nodes/{a['node_id']}").json()["name"] == "Order placed"
    last = alice.get(f"/nodes/{a['node_id']}/history").json()[-1]
    assert last["reason"] == "revert to version 1"
    edge_history = alice.get(f"/relationships/{ab.json()['relationship_id']}/history").json()
    assert edge_history[0]["op"] == "insert"


def test_refusals_name_the_rule(alice: Caller) -> None:
    assert alice.post("/nodes", json={"type": "Bad Type", "name": "x"}).status_code == 422
    assert alice.post("/nodes", json={"type": "spindle", "name": ""}).json()["detail"] == (
        "name: 1 to 255 characters")  # fmt: skip
    far = alice.post("/nodes", json={"type": "spindle", "name": "x", "position_x": 20000,
                                     "position_y": 0})  # fmt: skip
    assert far.status_code == 422 and "10,000" in far.json()["detail"]
    _node(alice, "Same", type="spindle")
    assert alice.post("/nodes", json={"type": "spindle", "name": "Same"}).status_code == 409
    assert alice.get("/nodes/00000000-0000-0000-0000-000000000000").status_code == 404


def test_analytics_from_events(alice: Caller, mallory: Caller, operator: Warden) -> None:
    a = _node(alice, "Used a lot")
    b = _node(alice, "Linked", type="spindle")
    _link(alice, a["node_id"], b["node_id"], "related")
    for _ in range(3):
        assert alice.post("/events", json={"feature": "event-storm", "action": "view",
                                           "node_id": a["node_id"]}).status_code == 201  # fmt: skip
    mallory.post("/events", json={"feature": "spindle", "action": "view"})
    for view in ("nodes.node_usage", "nodes.feature_usage_daily", "nodes.cross_feature"):
        operator.materialized_views.refresh(view)  # type: ignore[attr-defined]
    usage = alice.get("/analytics/usage").json()
    assert usage == [{**usage[0], "node_id": a["node_id"], "usage_type": "view",
                      "usage_count": 3}]  # fmt: skip
    assert alice.get("/analytics/features").json()[0]["actions"] == 3
    cross = alice.get("/analytics/cross-feature").json()
    assert [(c["source_feature"], c["target_feature"]) for c in cross] == [
        ("event-storm", "spindle")]  # fmt: skip
    assert [f["feature"] for f in mallory.get("/analytics/features").json()] == ["spindle"]
