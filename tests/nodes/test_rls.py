"""Attacks on owner isolation: another user's token, a forged token, a tenant set by hand in
SQL, links into another owner's graph, reads through search, history and analytics."""

from __future__ import annotations

import datetime as dt
import uuid

import psycopg
import pytest
from tests.nodes.conftest import Caller

from pgwarden.blueprints import nodes
from pgwarden.blueprints._roles import app_url
from pgwarden.blueprints.nodes.services import Nodes
from pgwarden.blueprints.nodes.services._core import NodesError


def test_another_owner_sees_and_touches_nothing(alice: Caller, mallory: Caller) -> None:
    a = alice.post("/nodes", json={"type": "spindle", "name": "Secret plan"}).json()
    b = alice.post("/nodes", json={"type": "spindle", "name": "Other"}).json()
    edge = alice.post("/relationships", json={"source_node_id": a["node_id"],
                      "target_node_id": b["node_id"], "relationship_type": "parent"}).json()  # fmt: skip
    key, rel = a["node_id"], edge["relationship_id"]
    assert mallory.get(f"/nodes/{key}").status_code == 404
    assert mallory.patch(f"/nodes/{key}", json={"name": "mine"}).status_code == 404
    assert mallory.delete(f"/nodes/{key}").status_code == 404
    assert mallory.post(f"/nodes/{key}/restore").status_code == 404
    assert mallory.get(f"/nodes/{key}/history").status_code == 404
    assert mallory.get(f"/relationships/{rel}/history").status_code == 404
    assert mallory.post(f"/nodes/{key}/revert", json={"version": 1}).status_code == 404
    assert mallory.delete(f"/relationships/{rel}").status_code == 404
    assert mallory.get(f"/nodes/{key}/traverse").json() == []
    assert mallory.get("/search", params={"q": "secret"}).json() == []
    assert mallory.get("/search", params={"q": "secrit"}).json() == []  # the fuzzy path too
    # linking their node into mine, or mine to theirs: the key names no node of mine
    mine = mallory.post("/nodes", json={"type": "spindle", "name": "Bait"}).json()["node_id"]
    for s, t in ((mine, key), (key, mine)):
        answer = mallory.post("/relationships", json={"source_node_id": s, "target_node_id": t,
                                                      "relationship_type": "related"})  # fmt: skip
        assert answer.status_code == 404, answer.text
    # a name taken by another owner is no conflict (and tells nothing)
    taken = mallory.post("/nodes", json={"type": "spindle", "name": "Secret plan"})
    assert taken.status_code == 201
    assert alice.get(f"/nodes/{key}").json()["name"] == "Secret plan"


def test_forged_tokens_are_refused(alice: Caller, mallory: Caller) -> None:
    alice.post("/nodes", json={"type": "spindle", "name": "x"})
    forged = {"Authorization": f"Bearer {alice.user}.{'0' * 64}"}
    assert alice.client.get("/nodes", headers=forged).status_code == 401
    swapped = mallory.headers["Authorization"].replace(str(mallory.user), str(alice.user))
    assert alice.client.get("/nodes", headers={"Authorization": swapped}).status_code == 401
    assert alice.client.get("/nodes").status_code == 401
    assert len(alice.get("/nodes").json()) == 1


def test_the_app_role_cannot_claim_a_tenant_in_sql(
    app: Nodes, nodes_url: str, role_prefix: str
) -> None:
    owner = uuid.uuid4()
    app.graph.create_node(owner, {"type": "spindle", "name": "Theirs"})
    url = app_url(nodes_url, nodes.declaration(role_prefix))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("select set_config('pgwarden.tenant', %s, false)", (str(owner),))
        conn.execute("select set_config('pgwarden.tenant_mac', repeat('0', 64), false)")
        assert conn.execute("select count(*) from nodes.nodes").fetchone() == (0,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("insert into nodes.nodes (owner_id, type, name) values (%s, 'spindle',"
                         " 'planted')", (owner,))  # fmt: skip
        with pytest.raises(psycopg.Error):
            conn.execute("select * from warden.secrets")


def test_services_refuse_across_owners(app: Nodes) -> None:
    me, them = uuid.uuid4(), uuid.uuid4()
    theirs = app.graph.create_node(them, {"type": "spindle", "name": "T"})["node_id"]
    mine = app.graph.create_node(me, {"type": "spindle", "name": "M"})["node_id"]
    with pytest.raises(NodesError):
        app.graph.link(me, mine, theirs, "related")
    with pytest.raises(NodesError):
        app.insight.as_of(me, "node", theirs, dt.datetime.now(dt.UTC))
    assert app.graph.nodes(me) and all(n["owner_id"] == me for n in app.graph.nodes(me))
