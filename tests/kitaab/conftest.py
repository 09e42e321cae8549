"""Kitaab tests: a database with the blueprint installed (migrations + apply) is built once
per test process and cloned for each test; the API runs in-process on it (TestClient)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import sql
from tests.conftest import _with_db, prefixed_roles, scratch_database

from pgwarden import Warden
from pgwarden.blueprints import kitaab
from pgwarden.blueprints.kitaab.api import create_app
from pgwarden.blueprints.kitaab.services import FAST_HASHER, Kitaab


@pytest.fixture(scope="session")
def role_prefix(admin_url: str) -> Iterator[str]:
    """The blueprint's roles under a prefix of this test process's."""
    with prefixed_roles(admin_url, "kt") as prefix:
        yield prefix


@pytest.fixture(scope="session")
def kitaab_template(admin_url: str, template_db: str, role_prefix: str) -> Iterator[str]:
    with scratch_database(admin_url, "kitaab_tpl", template_db) as name:
        kitaab.install(_with_db(admin_url, name), role_prefix=role_prefix).close()
        yield name


@pytest.fixture
def kitaab_url(admin_url: str, kitaab_template: str) -> Iterator[str]:
    with scratch_database(admin_url, "kitaab_t", kitaab_template) as name:
        yield _with_db(admin_url, name)


@dataclass
class Clock:
    """The app's clock: real time unless a test sets ``at``."""

    at: dt.datetime | None = None

    def __call__(self) -> dt.datetime:
        return self.at or dt.datetime.now(dt.UTC)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(kitaab_url: str, clock: Clock, role_prefix: str) -> Iterator[Kitaab]:
    """The services as the API runs them: connected as the app role, under row-level
    security."""
    warden = kitaab.app_warden(kitaab_url, kitaab.declaration(role_prefix), pool_size=4)
    try:
        yield Kitaab(warden, clock=clock, hasher=FAST_HASHER)
    finally:
        warden.close()


@pytest.fixture
def operator(kitaab_url: str, role_prefix: str) -> Iterator[Warden]:
    """pgwarden as the operator runs it (maintenance, restore, audit reads across users): the
    installer's role, not the app's."""
    with Warden(kitaab_url, spec=kitaab.declaration(role_prefix)) as warden:
        yield warden


@pytest.fixture
def client(app: Kitaab) -> Iterator[TestClient]:
    with TestClient(create_app(app)) as test_client:
        yield test_client


@dataclass
class Account:
    user_id: int
    email: str
    headers: dict[str, str]
    extra: dict[str, Any] = field(default_factory=dict)


@pytest.fixture
def signup(client: TestClient) -> Callable[..., Account]:
    """Register, verify and log in a user through the API."""

    def make(name: str = "user", timezone: str = "UTC") -> Account:
        email = f"{name}-{uuid.uuid4().hex[:6]}@example.org"
        reg = client.post(
            "/auth/register",
            json={"email": email, "password": "correct horse", "full_name": name.title(),
                  "timezone": timezone},
        )  # fmt: skip
        assert reg.status_code == 201, reg.text
        ok = client.post("/auth/verify", json={"token": reg.json()["verification_token"]})
        assert ok.status_code == 200, ok.text
        login = client.post("/auth/login", json={"email": email, "password": "correct horse"})
        assert login.status_code == 200, login.text
        token = login.json()["token"]
        return Account(reg.json()["user"]["user_id"], email, {"Authorization": f"Bearer {token}"})

    return make


@pytest.fixture
def deed(client: TestClient) -> Callable[..., dict[str, Any]]:
    """A deed with items (a nested under its first item) and a 3-value scale."""

    def make(account: Account, category: str = "hasanaat") -> dict[str, Any]:
        r = client.post(
            "/onboarding",
            headers=account.headers,
            json={
                "deed": {"name": "Prayer", "category_type": category},
                "items": [{"name": "Fajr"}, {"name": "Sunnah of Fajr", "parent": 0},
                          {"name": "Reading"}],
                "scale": {"name": "How", "values": ["late", "on time", "early"]},
            },
        )  # fmt: skip
        assert r.status_code == 201, r.text
        return dict(r.json())

    return make


def count(url: str, table: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            sql.SQL("select count(*) from {}").format(sql.Identifier(*table.split(".")))
        ).fetchone()
        assert row is not None
        return int(row[0])
