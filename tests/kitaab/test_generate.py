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


def test_serve_with_two_worker_processes(kitaab_url: str, tmp_path: Path) -> None:
    """``kitaab serve --workers 2``: two server processes share the port, each with its own
    pools; a login made through one is accepted by the other (state is in the database), and
    SIGTERM stops them all."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import httpx

    from pgwarden.blueprints.kitaab._cli import free_port

    generate(kitaab_url, 2, 1, today=dt.date(2026, 6, 30))
    port = free_port(0)
    pgwarden = str(Path(sys.executable).parent / "pgwarden")
    server = subprocess.Popen(
        [pgwarden, "--database-url", kitaab_url, "kitaab", "serve", "--port", str(port),
         "--workers", "2"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120  # two processes start (slow on a loaded machine)
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, server.stdout.read() if server.stdout else ""
            assert time.monotonic() < deadline, "the API did not start"
            time.sleep(0.2)
        # Each process opens its own pools as it starts (the second may still be starting).
        with psycopg.connect(kitaab_url, autocommit=True) as conn:
            while True:
                pools = conn.execute(
                    "select count(*) from pg_stat_activity where datname = current_database() "
                    "and application_name = 'pgwarden kitaab-auth'"
                ).fetchone()
                if pools is not None and pools[0] >= 2:
                    break
                assert time.monotonic() < deadline, "the second server process did not start"
                time.sleep(0.2)
        login = httpx.post(
            f"{base}/auth/login", json={"email": DEMO_EMAIL, "password": DEMO_PASSWORD}
        )
        headers = {"Authorization": f"Bearer {login.json()['token']}"}
        # Fresh connections land on either process: every one of them knows the token.
        for _ in range(8):
            with httpx.Client(base_url=base) as fresh:
                assert fresh.get("/me", headers=headers).status_code == 200
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
