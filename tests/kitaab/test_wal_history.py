"""Kitaab served with audit capture as shipped (``auto``: from the WAL where the server allows
it): the API's follower streams the slot, so an entry's history shows an edit made through the
API without anyone running ``pgwarden audit ingest``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from tests.audit._support import needs_logical_wal
from tests.conftest import _with_db, scratch_database

from pgwarden.blueprints import kitaab
from pgwarden.blueprints.kitaab.api import create_app
from pgwarden.blueprints.kitaab.services import FAST_HASHER, Kitaab


@pytest.fixture
def wal_url(
    admin_url: str, template_db: str, role_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    with psycopg.connect(admin_url) as conn:
        needs_logical_wal(conn)
    monkeypatch.delenv("PGWARDEN_AUDIT_CAPTURE", raising=False)  # "auto" decides itself
    with scratch_database(admin_url, "kitaab_wal", template_db) as name:
        url = _with_db(admin_url, name)
        kitaab.install(url, role_prefix=role_prefix).close()
        yield url


def _history(client: TestClient, entry_id: int, headers: dict[str, str]) -> list[Any]:
    """The entry's history once it shows three versions (the follower's linger, typically a
    quarter of a second); what it shows after 20 s otherwise."""
    deadline = time.monotonic() + 20
    while True:
        got = client.get(f"/entries/{entry_id}/history", headers=headers)
        versions = got.json() if got.status_code == 200 else []
        if len(versions) >= 3 or time.monotonic() > deadline:
            return list(versions)
        time.sleep(0.1)


def test_history_shows_api_edits_captured_from_the_wal(wal_url: str, role_prefix: str) -> None:
    with psycopg.connect(wal_url) as conn:
        captures = conn.execute("select distinct capture from warden.audit_tables").fetchall()
    assert captures == [("wal",)]  # the slot, not triggers, records the edits below
    spec = kitaab.declaration(role_prefix)
    app = Kitaab(kitaab.app_warden(wal_url, spec, pool_size=2), hasher=FAST_HASHER)
    with TestClient(create_app(app, close=True, ingest_url=wal_url)) as client:
        reg = client.post(
            "/auth/register",
            json={"email": "wal@example.org", "password": "correct horse", "full_name": "W",
                  "timezone": "UTC"},
        )  # fmt: skip
        assert reg.status_code == 201, reg.text
        client.post("/auth/verify", json={"token": reg.json()["verification_token"]})
        token = client.post(
            "/auth/login", json={"email": "wal@example.org", "password": "correct horse"}
        ).json()["token"]
        me = {"Authorization": f"Bearer {token}"}
        onboarded = client.post(
            "/onboarding",
            headers=me,
            json={"deed": {"name": "Prayer", "category_type": "hasanaat"},
                  "items": [{"name": "Fajr"}]},
        )  # fmt: skip
        assert onboarded.status_code == 201, onboarded.text
        item = onboarded.json()["items"][0]["deed_item_id"]
        entry = client.put(
            "/entries",
            headers=me,
            json={"deed_item_id": item, "entry_date": "2026-05-05", "count_value": 1},
        ).json()
        for body in ({"count_value": 2}, {"notes": "checked"}):
            patched = client.patch(f"/entries/{entry['entry_id']}", headers=me, json=body)
            assert patched.status_code == 200, patched.text
        history = _history(client, entry["entry_id"], me)
    user = f"user:{reg.json()['user']['user_id']}"
    assert [(v["version"], v["op"], v["actor"]) for v in history] == [
        (1, "insert", user),
        (2, "update", user),
        (3, "update", user),
    ]
    assert history[2]["row"]["notes"] == "checked"
