"""Tenant isolation, attacked: one organization's token reaches nothing of another's through
the API (ids in URLs and bodies), and the app role's raw SQL reaches nothing either (no
tenant, a forged tenant setting, another organization's keys in its rows)."""

from __future__ import annotations

import psycopg
import pytest
from fastapi.testclient import TestClient
from tests.workspace.conftest import T0, Org

from pgwarden.blueprints import workspace
from pgwarden.blueprints._roles import app_url
from pgwarden.blueprints.workspace.services import Workspace


def _seed(client: TestClient, org: Org) -> dict[str, int]:
    h = org.headers
    project = client.post("/projects", headers=h, json={"name": "secret"}).json()["project_id"]
    a = client.post("/tasks", headers=h, json={"title": "secret plan", "project_id": project})
    b = client.post("/tasks", headers=h, json={"title": "secret step"})
    ids = {"project": project, "a": a.json()["task_id"], "b": b.json()["task_id"]}
    assert (
        client.post(
            f"/tasks/{ids['b']}/dependencies", headers=h, json={"depends_on_id": ids["a"]}
        ).status_code
        == 201
    )
    client.post("/prompts", headers=h, json={"name": "secret", "content": "secret prompt"})
    repo = client.post("/repositories", headers=h, json={"name": "secret"}).json()
    ids["repo"] = repo["repository_id"]
    client.post(
        "/events",
        headers=h,
        json={
            "events": [
                {
                    "source": "slack",
                    "external_id": "s1",
                    "event_type": "message",
                    "occurred_at": T0.isoformat(),
                }
            ]
        },
    )
    return ids


def test_another_organizations_ids_in_urls_and_bodies(
    client: TestClient, acme: Org, globex: Org
) -> None:
    theirs = _seed(client, globex)
    mine = _seed(client, acme)
    h = acme.headers
    # reads by their ids: 404, as for ids that do not exist
    for path in (f"/tasks/{theirs['a']}", f"/projects/{theirs['project']}"):
        assert client.get(path, headers=h).status_code == 404
    for path in (
        f"/tasks/{theirs['b']}/blockers?all=true",
        f"/tasks/{theirs['a']}/unblocks",
        f"/tasks/{theirs['a']}/history",
        f"/repositories/{theirs['repo']}/trend",
    ):
        assert client.get(path, headers=h).json() == [], path
    # writes to their rows: 404, nothing changed
    assert (
        client.patch(f"/tasks/{theirs['a']}", headers=h, json={"title": "mine now"}).status_code
        == 404
    )
    assert client.delete(f"/tasks/{theirs['a']}", headers=h).status_code == 404
    assert client.post(f"/tasks/{theirs['a']}/restore", headers=h).status_code == 404
    assert client.delete(f"/projects/{theirs['project']}", headers=h).status_code == 404
    assert (
        client.delete(f"/tasks/{theirs['b']}/dependencies/{theirs['a']}", headers=h).status_code
        == 404
    )
    # their ids in my bodies: no task under their project, no edge to their task, no run of
    # their repository, no user of theirs as my assignee
    assert (
        client.post(
            "/tasks", headers=h, json={"title": "x", "project_id": theirs["project"]}
        ).status_code
        == 404
    )
    assert (
        client.post(
            "/tasks", headers=h, json={"title": "x", "assignee_id": globex.user_id}
        ).status_code
        == 404
    )
    assert (
        client.patch(
            f"/tasks/{mine['a']}", headers=h, json={"project_id": theirs["project"]}
        ).status_code
        == 404
    )
    for on in (theirs["a"], theirs["b"]):
        assert (
            client.post(
                f"/tasks/{mine['a']}/dependencies", headers=h, json={"depends_on_id": on}
            ).status_code
            == 404
        )
    assert (
        client.post(
            f"/tasks/{theirs['a']}/dependencies", headers=h, json={"depends_on_id": mine["a"]}
        ).status_code
        == 404
    )
    assert (
        client.post(
            f"/repositories/{theirs['repo']}/analyses", headers=h, json={"commit_sha": "x"}
        ).status_code
        == 404
    )
    # an organization_id in a body is refused, not obeyed
    sneaky = client.post(
        "/tasks", headers=h, json={"title": "x", "organization_id": globex.organization_id}
    )
    assert sneaky.status_code == 422
    # lists and searches show my rows only
    assert {t["title"] for t in client.get("/tasks", headers=h).json()} == {
        "secret plan",
        "secret step",
    }
    assert len(client.get("/tasks/search", headers=h, params={"q": "secret"}).json()) == 2
    assert len(client.get("/prompts/search", headers=h, params={"q": "secret"}).json()) == 1
    assert len(client.get("/events", headers=h).json()) == 1
    assert [u["user_id"] for u in client.get("/users", headers=h).json()] == [acme.user_id]
    # and theirs is intact
    g = globex.headers
    assert client.get(f"/tasks/{theirs['a']}", headers=g).json()["title"] == "secret plan"
    assert [
        t["task_id"] for t in client.get(f"/tasks/{theirs['b']}/blockers", headers=g).json()
    ] == [theirs["a"]]


TABLES = (
    "organizations",
    "users",
    "projects",
    "tasks",
    "task_dependencies",
    "events",
    "event_deliveries",
    "prompts",
    "repositories",
)


def test_raw_sql_as_the_app_role(
    client: TestClient,
    acme: Org,
    globex: Org,
    workspace_url: str,
    role_prefix: str,
    app: Workspace,
) -> None:
    theirs = _seed(client, globex)
    url = app_url(workspace_url, workspace.declaration(role_prefix))
    with psycopg.connect(url, autocommit=True) as conn:
        # no tenant: nothing visible, nothing writable
        for table in TABLES:
            got = conn.execute(f"select count(*) from workspace.{table}").fetchone()
            assert got == (0,), table
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(
                "insert into workspace.projects (organization_id, name) values (%s, 'x')",
                [globex.organization_id],
            )
        # a forged tenant: the setting without a MAC, with a made-up one, and with a MAC
        # copied from another transaction
        for forged in (
            "set pgwarden.tenant = '{0}'",
            "set pgwarden.tenant = '{0}'; set pgwarden.tenant_mac = 'ab12'",
        ):
            conn.execute(forged.format(globex.organization_id))
            for table in TABLES:
                assert conn.execute(f"select count(*) from workspace.{table}").fetchone() == (0,)
            assert conn.execute("update workspace.tasks set title = 'owned'").rowcount == 0
            assert conn.execute("delete from workspace.task_dependencies").rowcount == 0
        # the analytics: materialized views are out of reach, the tenant views show nothing
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select * from workspace_analytics.daily_task_summary")
        conn.execute("reset all")
        assert conn.execute("select count(*) from workspace_analytics.task_days").fetchone() == (0,)
    # a signed session of acme's: its own rows only; globex's keys in its rows are refused
    # (row-level security for the row's own tenant, the composite keys for what it points at)
    with app.warden.session(tenant=str(acme.organization_id)) as db:
        assert db.execute("select count(*) from workspace.tasks").fetchone() == (0,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            db.execute(
                "insert into workspace.tasks (organization_id, title) values (%s, 'x')",
                [globex.organization_id],
            )
    with (
        pytest.raises(psycopg.errors.ForeignKeyViolation),
        app.warden.session(tenant=str(acme.organization_id)) as db,
    ):
        db.execute(
            "insert into workspace.tasks (organization_id, title, project_id) values (%s, 'x', %s)",
            [acme.organization_id, theirs["project"]],
        )
    # the cycle walk of the graph runs as its owner: an edge claimed for another organization
    # is refused before it, so its refusal cannot name that organization's tasks
    with (
        pytest.raises(psycopg.errors.InsufficientPrivilege) as refused,
        app.warden.session(tenant=str(acme.organization_id)) as db,
    ):
        db.execute(
            "insert into workspace.task_dependencies (organization_id, task_id,"
            " depends_on_id) values (%s, %s, %s)",
            [globex.organization_id, theirs["a"], theirs["b"]],
        )
    assert str(theirs["a"]) not in str(refused.value)
