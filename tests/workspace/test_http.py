"""Every workflow of the workspace through HTTP, on a real database, as the app role."""

from __future__ import annotations

from fastapi.testclient import TestClient
from tests.workspace.conftest import T0, Org


def test_sign_up_users_and_tokens(client: TestClient, acme: Org) -> None:
    assert client.get("/organization", headers=acme.headers).json()["slug"] == "acme"
    added = client.post(
        "/users", headers=acme.headers, json={"email": "bo@acme.test", "full_name": "Bo"}
    )
    assert added.status_code == 201
    member = {"Authorization": f"Bearer {added.json()['token']}"}
    assert [u["email"] for u in client.get("/users", headers=member).json()] == [
        "owner@acme.test",
        "bo@acme.test",
    ]
    # a member adds no one; no token, a wrong token: 401
    refused = client.post("/users", headers=member, json={"email": "x@acme.test", "full_name": "X"})
    assert refused.status_code == 403
    assert client.get("/users").status_code == 401
    assert client.get("/users", headers={"Authorization": "Bearer nope"}).status_code == 401
    again = client.post(
        "/organizations",
        json={"name": "A", "slug": "acme", "owner_email": "a@a.test", "owner_name": "A"},
    )
    assert again.status_code == 409


def test_projects_tasks_board_and_history(client: TestClient, acme: Org) -> None:
    h = acme.headers
    project = client.post("/projects", headers=h, json={"name": "Launch"}).json()
    pid = project["project_id"]
    ids = []
    for title, priority in (("write the schema", 2), ("build the api", 1), ("ship it", 3)):
        got = client.post(
            "/tasks",
            headers=h,
            json={
                "title": title,
                "priority": priority,
                "project_id": pid,
                "metadata": {"labels": ["v1"]},
            },
        )
        assert got.status_code == 201, got.text
        ids.append(got.json()["task_id"])
    board = client.get("/tasks", headers=h).json()
    assert [t["title"] for t in board] == ["build the api", "write the schema", "ship it"]
    moved = client.patch(f"/tasks/{ids[0]}", headers=h, json={"status": "in_progress"})
    assert moved.json()["status"] == "in_progress"
    assert [t["task_id"] for t in client.get("/tasks?status=in_progress", headers=h).json()] == [
        ids[0]
    ]
    done = client.patch(
        f"/tasks/{ids[0]}", headers=h, json={"status": "done", "actual_duration_minutes": 45}
    ).json()
    assert done["completed_at"] is not None
    history = client.get(f"/tasks/{ids[0]}/history", headers=h).json()
    assert [(v["version"], v["status"], v["actor"]) for v in history] == [
        (1, "todo", f"user:{acme.user_id}"),
        (2, "in_progress", f"user:{acme.user_id}"),
        (3, "done", f"user:{acme.user_id}"),
    ]
    reopened = client.patch(f"/tasks/{ids[0]}", headers=h, json={"status": "todo"}).json()
    assert reopened["completed_at"] is None
    # rules of the data: a clear 422, nothing changed
    bad = client.post("/tasks", headers=h, json={"title": "x", "metadata": {"labels": "v1"}})
    assert bad.status_code == 422 and "labels" in bad.json()["detail"]
    assert client.post("/tasks", headers=h, json={"title": "  "}).status_code == 422
    assert client.post("/tasks", headers=h, json={"title": "x", "priority": 9}).status_code == 422
    # soft delete: gone from the board and from reads, restorable; a project with live tasks
    # is kept
    assert client.delete(f"/projects/{pid}", headers=h).status_code == 409
    assert client.delete(f"/tasks/{ids[2]}", headers=h).status_code == 204
    assert client.get(f"/tasks/{ids[2]}", headers=h).status_code == 404
    assert ids[2] not in [t["task_id"] for t in client.get("/tasks", headers=h).json()]
    assert client.post(f"/tasks/{ids[2]}/restore", headers=h).json()["task_id"] == ids[2]
    assert client.get(f"/tasks/{ids[2]}", headers=h).status_code == 200
    counts = client.get("/projects", headers=h).json()[0]
    assert (counts["open"], counts["done"]) == (3, 0)


def test_dependencies_blockers_and_cycles(client: TestClient, acme: Org) -> None:
    h = acme.headers
    a, b, c, d = (
        client.post("/tasks", headers=h, json={"title": t}).json()["task_id"]
        for t in ("design", "build", "test", "ship")
    )

    def dep(task: int, on: int) -> int:
        return client.post(
            f"/tasks/{task}/dependencies", headers=h, json={"depends_on_id": on}
        ).status_code

    assert dep(b, a) == 201 and dep(c, b) == 201 and dep(d, c) == 201
    cycle = client.post(f"/tasks/{a}/dependencies", headers=h, json={"depends_on_id": d})
    assert cycle.status_code == 409
    assert (
        "cycle" in cycle.json()["detail"] and f"{d} -> {c} -> {b} -> {a}" in cycle.json()["detail"]
    )
    assert dep(a, a) == 422
    assert dep(b, a) == 409  # exists
    assert dep(b, 10**9) == 404
    blockers = client.get(f"/tasks/{d}/blockers", headers=h).json()
    assert [t["task_id"] for t in blockers] == [a, b, c]
    assert [t["task_id"] for t in client.get(f"/tasks/{a}/unblocks", headers=h).json()] == [b, c, d]
    # done may not pass an open dependency; once its blockers are done it may
    refused = client.patch(f"/tasks/{b}", headers=h, json={"status": "done"})
    assert refused.status_code == 409 and str(a) in refused.json()["detail"]
    assert client.patch(f"/tasks/{a}", headers=h, json={"status": "done"}).status_code == 200
    assert client.patch(f"/tasks/{b}", headers=h, json={"status": "done"}).status_code == 200
    assert [t["task_id"] for t in client.get(f"/tasks/{d}/blockers", headers=h).json()] == [c]
    assert len(client.get(f"/tasks/{d}/blockers?all=true", headers=h).json()) == 3
    assert client.delete(f"/tasks/{d}/dependencies/{c}", headers=h).status_code == 204
    assert client.get(f"/tasks/{d}/blockers?all=true", headers=h).json() == []
    assert client.delete(f"/tasks/{d}/dependencies/{c}", headers=h).status_code == 404
    assert dep(a, d) == 201  # the cycle is gone with the edge


def test_search_tasks_and_prompts(client: TestClient, acme: Org) -> None:
    h = acme.headers
    for title in ("Migrate the billing database", "Fix login redirect", "Billing report"):
        client.post("/tasks", headers=h, json={"title": title, "description": "quarterly"})
    hits = client.get("/tasks/search", headers=h, params={"q": "billing"}).json()
    assert sorted(x["title"] for x in hits) == ["Billing report", "Migrate the billing database"]
    assert "<b>" in hits[0]["headline"]
    typo = client.get("/tasks/search", headers=h, params={"q": "redirct"}).json()
    assert [x["title"] for x in typo] == ["Fix login redirect"] and typo[0]["fuzzy"]
    for content in ("Summarize the {ticket}", "Summarize the {ticket} in one line"):
        got = client.post(
            "/prompts", headers=h, json={"name": "summary", "content": content, "tags": ["support"]}
        )
        assert got.status_code == 201
    assert client.get("/prompts/summary", headers=h).json()["version"] == 2
    assert [v["version"] for v in client.get("/prompts/summary/versions", headers=h).json()] == [
        1,
        2,
    ]
    found = client.get("/prompts/search", headers=h, params={"q": "support"}).json()
    assert {x["version"] for x in found} == {1, 2}


def test_webhooks_and_events(client: TestClient, acme: Org) -> None:
    h = acme.headers
    github = {**h, "X-GitHub-Delivery": "d-1", "X-GitHub-Event": "pull_request"}
    body = {"action": "opened", "sender": {"login": "octo"}}
    first = client.post("/webhooks/github", headers=github, json=body)
    assert first.status_code == 202 and first.json()["stored"] is True
    assert first.json()["event_type"] == "pull_request.opened"
    assert client.post("/webhooks/github", headers=github, json=body).json()["stored"] is False
    linear = {
        "action": "create",
        "type": "Issue",
        "webhookId": "w-1",
        "createdAt": T0.isoformat(),
        "data": {"id": "i1", "creatorId": "u9"},
    }
    assert client.post("/webhooks/linear", headers=h, json=linear).json()["stored"] is True
    slack = {
        "event_id": "Ev1",
        "event_time": int(T0.timestamp()) + 60,
        "event": {"type": "message", "user": "U1"},
    }
    assert client.post("/webhooks/slack", headers=h, json=slack).json()["stored"] is True
    assert client.post("/webhooks/slack", headers=h, json={"event": {}}).status_code == 422
    assert client.post("/webhooks/jira", headers=h, json={}).status_code == 422
    batch = [
        {
            "source": "github",
            "external_id": f"b{i}",
            "event_type": "push",
            "occurred_at": T0.isoformat(),
        }
        for i in range(50)
    ]
    got = client.post("/events", headers=h, json={"events": batch + batch[:5]}).json()
    assert got == {"received": 55, "stored": 50, "duplicates": 5}
    assert client.post("/events", headers=h, json={"events": batch}).json()["stored"] == 0
    recent = client.get("/events", headers=h, params={"source": "slack"}).json()
    assert [(e["external_id"], e["event_type"], e["actor"]) for e in recent] == [
        ("Ev1", "message", "U1")
    ]
    assert len(client.get("/events", headers=h, params={"limit": 500}).json()) == 53


def test_learning_and_codebase(client: TestClient, acme: Org) -> None:
    h = acme.headers
    model = client.post(
        "/models",
        headers=h,
        json={"name": "triage", "model_type": "classifier", "algorithm": "gbdt", "accuracy": 0.91},
    )
    assert model.status_code == 201
    bad = client.post(
        "/models",
        headers=h,
        json={"name": "x", "model_type": "c", "algorithm": "a", "accuracy": 1.5},
    )
    assert bad.status_code == 422 and "accuracy" in bad.json()["detail"]
    assert [m["name"] for m in client.get("/models", headers=h).json()] == ["triage"]
    assert (
        client.post(
            "/evaluations", headers=h, json={"evaluation_type": "evolve", "population_size": 0}
        ).status_code
        == 422
    )
    repo = client.post("/repositories", headers=h, json={"name": "api"}).json()["repository_id"]
    for sha, score in (("a1", 70), ("b2", 75.5), ("c3", 72)):
        got = client.post(
            f"/repositories/{repo}/analyses",
            headers=h,
            json={"commit_sha": sha, "quality_score": score},
        )
        assert got.status_code == 201
    trend = client.get(f"/repositories/{repo}/trend", headers=h).json()
    assert [(r["commit_sha"], r["change"]) for r in trend] == [
        ("a1", None),
        ("b2", 5.5),
        ("c3", -3.5),
    ]


def test_openapi_and_health(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "/tasks/{task_id}/blockers" in spec["paths"]
    assert "/webhooks/{source}" in spec["paths"]
    assert client.get("/health").json()["status"] == "ok"
