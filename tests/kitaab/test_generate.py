"""The data generator (COPY) and ``pgwarden kitaab generate``: realistic, consistent rows the
API then serves."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from pgwarden.blueprints.kitaab.generate import DEMO_EMAIL, DEMO_PASSWORD, generate
from pgwarden.cli import app as cli


def test_generated_data_is_consistent(client: TestClient, kitaab_url: str) -> None:
    result = generate(kitaab_url, 30, 10, today=dt.date(2026, 6, 30))
    assert result.demo_email == DEMO_EMAIL and result.entries > 300
    with psycopg.connect(kitaab_url) as conn:
        counts = conn.execute(
            "select (select count(*) from kitaab.users), (select count(*) from kitaab.entries), "
            "(select count(*) from kitaab.relations where status = 'accepted'), "
            "(select count(*) from kitaab.permissions), "
            "(select count(*) from kitaab.notifications where next_due_at is not null), "
            "(select min(entry_date) from kitaab.entries), "
            "(select count(*) from warden.audit_events e join warden.audit_tables t "
            " using (table_id) where t.table_name = 'entries')"
        ).fetchone()
    assert counts == (30, result.entries, 30, 40, 15, dt.date(2026, 6, 21), result.entries)
    login = client.post("/auth/login", json={"email": DEMO_EMAIL, "password": DEMO_PASSWORD})
    assert login.status_code == 200, login.text
    headers = {"Authorization": f"Bearer {login.json()['token']}"}
    owner = result.first_user_id + 1  # the demo user follows the next user
    theirs = client.get("/entries", headers=headers, params={"owner_id": owner}).json()
    assert theirs and {e["user_id"] for e in theirs} == {owner}
    again = generate(kitaab_url, 5, 2, today=dt.date(2026, 6, 30))
    assert again.demo_email is None and again.first_user_id == result.first_user_id + 30


def test_generate_command(kitaab_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    out = CliRunner().invoke(
        cli, ["--database-url", kitaab_url, "kitaab", "generate", "--users", "4", "--days", "2"]
    )
    assert out.exit_code == 0, out.output
    assert "4 users and" in out.output and "Demo login: demo@kitaab.example" in out.output
