"""Passwords never shown (plan, --json, apply, errors, ledger), and ``pgwarden roles``."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from tests.roles.conftest import Names
from typer.testing import CliRunner

from pgwarden.cli import app as cli
from pgwarden.roles._password import password_statement


def _verifier(conn: psycopg.Connection[Any], role: str) -> str | None:
    row = conn.execute("select rolpassword from pg_authid where rolname = %s", (role,)).fetchone()
    return None if row is None else row[0]


def test_password_is_never_shown(
    project: Path, conn: psycopg.Connection[Any], names: Names, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = f"pw-{uuid.uuid4().hex}"
    monkeypatch.setenv("ROLES_TEST_PASSWORD", secret)
    conn.execute("create schema app; create table app.items (id int primary key)")
    (project / "pgwarden.toml").write_text(
        f'[roles]\nschemas = ["app"]\nowner = "{names.owner}"\n'
        f'app = {{ name = "{names.app}", password = "env:ROLES_TEST_PASSWORD" }}\n'
    )
    runner = CliRunner()
    outputs = []
    for args in (["plan"], ["plan", "--json"], ["apply", "--yes"], ["roles", "show", "--json"]):
        done = runner.invoke(cli, args)
        assert done.exit_code == 0, done.output
        outputs.append(done.output)
    assert "$ROLES_TEST_PASSWORD" in outputs[0]
    assert all(secret not in out for out in outputs)
    stored = conn.execute(
        "select (select string_agg(o::text, ' ') from warden.owned_objects o)"
        " || (select string_agg(a::text, ' ') from warden.applies a)"
    ).fetchone()
    assert stored is not None and secret not in stored[0] and "SCRAM" not in stored[0]
    verifier = _verifier(conn, names.app)
    assert verifier is not None and verifier.startswith("SCRAM-SHA-256$")
    assert secret not in verifier
    # What reaches the server (and so pg_stat_activity or a statement log) is the verifier.
    sent = password_statement(conn, names.app, "env:ROLES_TEST_PASSWORD", file="f", key="k")
    assert secret not in sent.as_string(conn) and "SCRAM-SHA-256$" in sent.as_string(conn)

    shown = {r["slot"]: r for r in json.loads(outputs[3])}
    assert shown["app"]["created"] is True and "LOGIN" in shown["app"]["attributes"]
    assert shown["app"]["privileges"]["table app.items"] == ["DELETE", "INSERT", "SELECT", "UPDATE"]
    assert "CREATE" in shown["owner"]["privileges"]["schema app"]  # it owns the schema now

    rotated = f"pw-{uuid.uuid4().hex}"
    monkeypatch.setenv("ROLES_TEST_PASSWORD", rotated)
    done = runner.invoke(cli, ["roles", "password", "app"])
    assert done.exit_code == 0 and rotated not in done.output
    assert _verifier(conn, names.app) not in (None, verifier)
    assert runner.invoke(cli, ["plan", "--check"]).exit_code == 0  # a rotation is no drift


def test_unset_password_variable_changes_nothing(
    project: Path, conn: psycopg.Connection[Any], names: Names, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ROLES_TEST_UNSET", raising=False)
    conn.execute("create schema app")
    (project / "pgwarden.toml").write_text(
        f'[roles]\nschemas = ["app"]\n'
        f'app = {{ name = "{names.app}", password = "env:ROLES_TEST_UNSET" }}\n'
    )
    done = CliRunner().invoke(cli, ["apply", "--yes"])
    said = " ".join(done.output.split())
    assert done.exit_code == 1
    assert "error (roles)" in said and "ROLES_TEST_UNSET is not set" in said
    assert conn.execute("select to_regnamespace('warden')").fetchone() == (None,)
    assert (
        conn.execute("select 1 from pg_roles where rolname = %s", (names.app,)).fetchone() is None
    )
