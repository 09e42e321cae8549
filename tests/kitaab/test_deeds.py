"""Deed hierarchy rules (levels, depth limit, cycles, same deed) and versioned scales."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
from fastapi.testclient import TestClient
from tests.kitaab.conftest import Account, count


def test_hierarchy_levels_depth_and_cycles(
    client: TestClient, signup: Callable[..., Account], kitaab_url: str
) -> None:
    a = signup("esa")
    d = client.post(
        "/deeds", headers=a.headers, json={"name": "Charity", "category_type": "hasanaat"}
    ).json()
    chain = []
    parent = None
    for n in range(5):
        r = client.post(
            f"/deeds/{d['deed_id']}/items",
            headers=a.headers,
            json={"name": f"L{n + 1}", "parent_deed_item_id": parent},
        )
        assert r.status_code == 201, r.text
        assert r.json()["level"] == n + 1
        parent = r.json()["deed_item_id"]
        chain.append(parent)
    items = count(kitaab_url, "kitaab.deed_items")
    deep = client.post(
        f"/deeds/{d['deed_id']}/items",
        headers=a.headers,
        json={"name": "L6", "parent_deed_item_id": parent},
    )
    assert (
        deep.status_code == 422 and deep.json()["detail"] == "deed items nest at most 5 levels deep"
    )
    assert count(kitaab_url, "kitaab.deed_items") == items
    cycle = client.patch(
        f"/items/{chain[1]}",
        headers=a.headers,
        json={"move": True, "parent_deed_item_id": chain[3]},
    )
    assert cycle.status_code == 422 and "descendant" in cycle.json()["detail"]
    self_parent = client.patch(
        f"/items/{chain[1]}",
        headers=a.headers,
        json={"move": True, "parent_deed_item_id": chain[1]},
    )
    assert self_parent.status_code == 422
    # Moving a subtree to the top re-levels it.
    top = client.patch(
        f"/items/{chain[2]}", headers=a.headers, json={"move": True, "parent_deed_item_id": None}
    )
    assert top.status_code == 200 and top.json()["level"] == 1
    tree = client.get(f"/deeds/{d['deed_id']}/items", headers=a.headers).json()
    levels = {i["deed_item_id"]: i["level"] for i in tree}
    assert [levels[i] for i in chain] == [1, 2, 1, 2, 3]
    other = client.post(
        "/deeds", headers=a.headers, json={"name": "Other", "category_type": "saiyyiaat"}
    ).json()
    cross = client.post(
        f"/deeds/{other['deed_id']}/items",
        headers=a.headers,
        json={"name": "x", "parent_deed_item_id": chain[0]},
    )
    assert cross.status_code == 422 and "same deed" in cross.json()["detail"]


def test_items_of_others_and_restrict(
    client: TestClient, signup: Callable[..., Account], deed: Callable[..., dict[str, Any]]
) -> None:
    a, b = signup("farah"), signup("ghazi")
    d = deed(a)
    item = d["items"][2]["deed_item_id"]
    assert (
        client.post(
            f"/deeds/{d['deed_id']}/items", headers=b.headers, json={"name": "x"}
        ).status_code
        == 403
    )
    assert client.delete(f"/items/{item}", headers=b.headers).status_code == 403
    client.put(
        "/entries",
        headers=a.headers,
        json={"deed_item_id": item, "entry_date": "2026-01-02", "count_value": 1},
    )
    restrict = client.delete(f"/items/{item}", headers=a.headers)
    assert restrict.status_code == 409 and "deactivate" in restrict.json()["detail"]
    assert (
        client.patch(f"/items/{item}", headers=a.headers, json={"is_active": False}).json()[
            "is_active"
        ]
        is False
    )
    closed = client.put(
        "/entries",
        headers=a.headers,
        json={"deed_item_id": item, "entry_date": "2026-01-03", "count_value": 1},
    )
    assert closed.status_code == 422 and "deactivated" in closed.json()["detail"]


def test_scales_are_versioned(
    client: TestClient,
    signup: Callable[..., Account],
    deed: Callable[..., dict[str, Any]],
    kitaab_url: str,
) -> None:
    a = signup("hana")
    d = deed(a)
    r = client.post(
        f"/deeds/{d['deed_id']}/scales",
        headers=a.headers,
        json={"name": "Quality", "values": ["weak", "good"]},
    )
    assert r.status_code == 201 and r.json()["scale_version"] == 2
    scales = client.get(f"/deeds/{d['deed_id']}/scales", headers=a.headers).json()
    assert [(s["scale_version"], s["is_active"]) for s in scales] == [(1, False), (2, True)]
    dup = client.post(
        f"/deeds/{d['deed_id']}/scales",
        headers=a.headers,
        json={"name": "Dup", "values": ["a", "a"]},
    )
    assert dup.status_code == 409 and "value of that name" in dup.json()["detail"]
    assert len(client.get(f"/deeds/{d['deed_id']}/scales", headers=a.headers).json()) == 2
    with psycopg.connect(kitaab_url) as conn:
        versions = conn.execute(
            "select version, op, is_active, actor from kitaab.scales__versions where scale_id = %s order by version",
            [d["scale"]["scale_id"]],
        ).fetchall()
    assert versions == [
        (1, "insert", True, f"user:{a.user_id}"),
        (2, "update", False, f"user:{a.user_id}"),
    ]


def test_concurrent_moves_cannot_make_a_cycle(
    client: TestClient, signup: Callable[..., Account], kitaab_url: str
) -> None:
    """Two moves that are each fine alone (a under b, b under a) but a cycle together: the
    second waits for the first (advisory lock per deed), then sees it and is refused."""
    a = signup("ilyas")
    d = client.post(
        "/deeds", headers=a.headers, json={"name": "Moves", "category_type": "hasanaat"}
    ).json()
    first = client.post(
        f"/deeds/{d['deed_id']}/items", headers=a.headers, json={"name": "a"}
    ).json()["deed_item_id"]
    second = client.post(
        f"/deeds/{d['deed_id']}/items", headers=a.headers, json={"name": "b"}
    ).json()["deed_item_id"]
    move = (
        "update kitaab.deed_items set parent_deed_item_id = %s, level = 2 where deed_item_id = %s"
    )
    outcome: list[BaseException | None] = []
    with psycopg.connect(kitaab_url) as one, psycopg.connect(kitaab_url, autocommit=True) as watch:
        one.execute(move, [second, first])  # a under b, not committed yet

        def other() -> None:
            try:
                with psycopg.connect(kitaab_url) as two:
                    two.execute(move, [first, second])  # b under a
                    two.commit()
                outcome.append(None)
            except psycopg.Error as exc:
                outcome.append(exc)

        thread = threading.Thread(target=other)
        thread.start()
        waiting = (
            "select count(*) from pg_locks where locktype = 'advisory' and not granted "
            "and database = (select oid from pg_database where datname = current_database())"
        )
        while watch.execute(waiting).fetchone() != (1,):  # the second move waits for the first
            time.sleep(0.01)
        one.commit()
        thread.join()
    assert isinstance(outcome[0], psycopg.errors.CheckViolation)
    assert outcome[0].diag.constraint_name == "deed_items_no_cycle"
    tree = client.get(f"/deeds/{d['deed_id']}/items", headers=a.headers).json()
    assert [(i["name"], i["level"]) for i in tree] == [("b", 1), ("a", 2)]
