"""Registration, verification, login, preferences, onboarding and account deletion."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
from fastapi.testclient import TestClient
from tests.kitaab.conftest import Account, count

from pgwarden import Warden


def test_register_verify_login(client: TestClient, kitaab_url: str) -> None:
    r = client.post(
        "/auth/register",
        json={"email": "Aisha@Example.org", "password": "s3cret-pass", "full_name": "Aisha"},
    )
    assert r.status_code == 201, r.text
    user, token = r.json()["user"], r.json()["verification_token"]
    assert user["email"] == "aisha@example.org" and user["email_verified"] is False
    with psycopg.connect(kitaab_url) as conn:
        stored = conn.execute("select password_hash from kitaab.users").fetchone()
    assert stored is not None and stored[0].startswith("$argon2id$")
    assert client.post("/auth/verify", json={"token": "nope"}).status_code == 422
    assert client.post("/auth/verify", json={"token": token}).json()["email_verified"] is True
    assert client.post("/auth/verify", json={"token": token}).status_code == 422  # used
    bad = client.post("/auth/login", json={"email": "aisha@example.org", "password": "wrong-pass"})
    assert bad.status_code == 401 and bad.json()["detail"] == "wrong email or password"
    login = client.post(
        "/auth/login", json={"email": "AISHA@example.org", "password": "s3cret-pass"}
    )
    assert login.status_code == 200
    headers = {"Authorization": f"Bearer {login.json()['token']}"}
    assert client.get("/me", headers=headers).json()["user_id"] == user["user_id"]
    assert client.get("/me").status_code == 401
    assert client.get("/me", headers={"Authorization": "Bearer forged"}).status_code == 401
    assert client.post("/auth/logout", headers=headers).status_code == 204
    assert client.get("/me", headers=headers).status_code == 401


def test_registration_rules(client: TestClient, kitaab_url: str) -> None:
    body = {"email": "a@example.org", "password": "s3cret-pass", "full_name": "A"}
    assert client.post("/auth/register", json=body).status_code == 201
    dup = client.post("/auth/register", json={**body, "email": "A@example.org"})
    assert dup.status_code == 409 and "already exists" in dup.json()["detail"]
    cases = [
        ({**body, "email": "b@example.org", "password": "short"}, 422),
        ({**body, "email": "not-an-email"}, 422),
        ({**body, "email": "c@example.org", "timezone": "Mars/Olympus"}, 422),
        ({**body, "email": "d@example.org", "full_name": "  "}, 422),
    ]
    for payload, status in cases:
        r = client.post("/auth/register", json=payload)
        assert r.status_code == status, (payload, r.text)
        assert r.json()["detail"]
    assert count(kitaab_url, "kitaab.users") == 1


def test_preferences(client: TestClient, signup: Callable[..., Account]) -> None:
    a = signup("bilal")
    r = client.patch("/me", headers=a.headers, json={"timezone": "Asia/Karachi", "theme": "dark"})
    assert (
        r.status_code == 200
        and r.json()["timezone"] == "Asia/Karachi"
        and r.json()["theme"] == "dark"
    )
    assert client.patch("/me", headers=a.headers, json={"theme": "neon"}).status_code == 422
    assert client.patch("/me", headers=a.headers, json={"week_start": 9}).status_code == 422
    assert (
        client.patch("/me", headers=a.headers, json={"timezone": "Nowhere/City"}).status_code == 422
    )
    assert client.get("/me", headers=a.headers).json()["theme"] == "dark"


def test_onboarding_in_one_transaction(
    client: TestClient,
    signup: Callable[..., Account],
    deed: Callable[..., dict[str, Any]],
    kitaab_url: str,
) -> None:
    a = signup("chen")
    made = deed(a)
    assert [i["level"] for i in made["items"]] == [1, 2, 1]
    assert [v["value_name"] for v in made["scale"]["values"]] == ["late", "on time", "early"]
    assert client.get("/me", headers=a.headers).json()["onboarded_at"] is not None
    before = count(kitaab_url, "kitaab.deeds")
    bad = client.post(
        "/onboarding",
        headers=a.headers,
        json={
            "deed": {"name": "Fasting", "category_type": "hasanaat"},
            "items": [{"name": "Monday"}, {"name": "Orphan", "parent": 5}],
        },
    )
    assert bad.status_code == 422 and "earlier item" in bad.json()["detail"]
    assert count(kitaab_url, "kitaab.deeds") == before  # nothing written


def test_account_deletion_is_a_soft_delete(
    client: TestClient,
    signup: Callable[..., Account],
    deed: Callable[..., dict[str, Any]],
    kitaab_url: str,
    operator: Warden,
) -> None:
    a = signup("dawud")
    deed(a)
    assert client.delete("/me", headers=a.headers).status_code == 204
    assert client.get("/me", headers=a.headers).status_code == 401
    with psycopg.connect(kitaab_url) as conn:
        row = conn.execute(
            "select deleted_at is not null, deleted_by from kitaab.users where user_id = %s",
            [a.user_id],
        ).fetchone()
        assert row == (True, f"user:{a.user_id}")
        deeds = conn.execute(
            "select count(*) from kitaab.deeds where user_id = %s and deleted_at is not null",
            [a.user_id],
        ).fetchone()
        assert deeds == (1,)  # cascaded softly
    restored = operator.soft_delete.restore("kitaab.users", a.user_id, actor="ops:test")
    assert restored.total == 2
    login = client.post("/auth/login", json={"email": a.email, "password": "correct horse"})
    assert login.status_code == 200
