"""Nodes tests: the blueprint installed once per test process, cloned for each test; the
services connect as the app role (row-level security applies); the API runs in-process."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from tests.conftest import _with_db, prefixed_roles, scratch_database

from pgwarden import Warden
from pgwarden.blueprints import nodes
from pgwarden.blueprints.nodes.api import create_app
from pgwarden.blueprints.nodes.api._auth import issue, token_key
from pgwarden.blueprints.nodes.services import Nodes


@pytest.fixture(scope="session")
def role_prefix(admin_url: str) -> Iterator[str]:
    """The blueprint's roles under a prefix of this test process's."""
    with prefixed_roles(admin_url, "nd") as prefix:
        yield prefix


@pytest.fixture(scope="session")
def nodes_template(admin_url: str, template_db: str, role_prefix: str) -> Iterator[str]:
    with scratch_database(admin_url, "nodes_tpl", template_db) as name:
        nodes.install(_with_db(admin_url, name), role_prefix=role_prefix).close()
        yield name


@pytest.fixture
def nodes_url(admin_url: str, nodes_template: str) -> Iterator[str]:
    with scratch_database(admin_url, "nodes_t", nodes_template) as name:
        yield _with_db(admin_url, name)


@pytest.fixture
def app(nodes_url: str, role_prefix: str) -> Iterator[Nodes]:
    warden = nodes.app_warden(nodes_url, role_prefix, pool_size=4)
    try:
        yield Nodes(warden)
    finally:
        warden.close()


@pytest.fixture
def operator(nodes_url: str, role_prefix: str) -> Iterator[Warden]:
    """pgwarden as the operator runs it (archive, views, maintenance): the installer's role."""
    with Warden(nodes_url, spec=nodes.declaration(role_prefix)) as warden:
        yield warden


class Caller:
    """A TestClient acting as one user (its bearer token)."""

    def __init__(self, client: TestClient, key: bytes, user: uuid.UUID):
        self.client, self.user = client, user
        self.headers = {"Authorization": f"Bearer {issue(key, user)}"}

    def __getattr__(self, method: str):  # type: ignore[no-untyped-def]
        call = getattr(self.client, method)
        return lambda path, **kw: call(path, headers=self.headers, **kw)


@pytest.fixture
def client(app: Nodes) -> Iterator[TestClient]:
    with TestClient(create_app(app)) as test_client:
        yield test_client


@pytest.fixture
def alice(client: TestClient, app: Nodes) -> Caller:
    return Caller(client, token_key(app.warden.tenant_key), uuid.uuid4())


@pytest.fixture
def mallory(client: TestClient, app: Nodes) -> Caller:
    return Caller(client, token_key(app.warden.tenant_key), uuid.uuid4())
