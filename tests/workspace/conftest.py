"""Workspace tests: the blueprint installed once per test process (at a fixed date, so event
partitions are known), cloned for each test; the services connect as the app role (row-level
security applies), the API runs in-process (TestClient)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from tests.conftest import _with_db, prefixed_roles, scratch_database

from pgwarden import Warden
from pgwarden.blueprints import workspace
from pgwarden.blueprints.workspace.api import create_app
from pgwarden.blueprints.workspace.services import Caller, Workspace

T0 = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
"""The install's clock: event partitions exist for March, April and May 2026."""


@pytest.fixture(scope="session")
def role_prefix(admin_url: str) -> Iterator[str]:
    """The blueprint's roles under a prefix of this test process's."""
    with prefixed_roles(admin_url, "ws") as prefix:
        yield prefix


@pytest.fixture(scope="session")
def workspace_template(admin_url: str, template_db: str, role_prefix: str) -> Iterator[str]:
    with scratch_database(admin_url, "workspace_tpl", template_db) as name:
        workspace.install(_with_db(admin_url, name), now=T0, role_prefix=role_prefix).close()
        yield name


@pytest.fixture
def workspace_url(admin_url: str, workspace_template: str) -> Iterator[str]:
    with scratch_database(admin_url, "workspace_t", workspace_template) as name:
        yield _with_db(admin_url, name)


@pytest.fixture
def app(workspace_url: str, role_prefix: str) -> Iterator[Workspace]:
    """The services as the API runs them: as the app role, under row-level security."""
    spec = workspace.declaration(role_prefix)
    warden = workspace.app_warden(workspace_url, spec, pool_size=4)
    try:
        yield Workspace(warden)
    finally:
        warden.close()


@pytest.fixture
def operator(workspace_url: str, role_prefix: str) -> Iterator[Warden]:
    """pgwarden as the operator runs it (maintain, refreshes): the installer's role."""
    with Warden(workspace_url, spec=workspace.declaration(role_prefix)) as warden:
        yield warden


@pytest.fixture
def client(app: Workspace) -> Iterator[TestClient]:
    with TestClient(create_app(app)) as test_client:
        yield test_client


@dataclass
class Org:
    """An organization signed up through the API: its id, owner and the owner's token."""

    organization_id: int
    user_id: int
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def caller(self) -> Caller:
        return Caller(self.organization_id, self.user_id)


def sign_up(client: TestClient, slug: str) -> Org:
    got = client.post(
        "/organizations",
        json={
            "name": slug.title(),
            "slug": slug,
            "owner_email": f"owner@{slug}.test",
            "owner_name": "Owner",
        },
    )
    assert got.status_code == 201, got.text
    body = got.json()
    return Org(body["organization"]["organization_id"], body["user"]["user_id"], body["token"])


@pytest.fixture
def acme(client: TestClient) -> Org:
    return sign_up(client, "acme")


@pytest.fixture
def globex(client: TestClient) -> Org:
    return sign_up(client, "globex")


def scalar(url: str, query: str, params: Any = ()) -> Any:
    with psycopg.connect(url) as conn:
        row = conn.execute(query, params).fetchone()  # type: ignore[call-overload]
        assert row is not None
        return row[0]
