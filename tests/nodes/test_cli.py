"""``pgwarden nodes generate | token`` and ``pgwarden demo nodes --check``."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
from psycopg import sql
from tests.conftest import _with_db, scratch_database
from typer.testing import CliRunner

from pgwarden.blueprints.nodes.api._auth import token_key, verify
from pgwarden.blueprints.nodes.services import Nodes
from pgwarden.cli import app as cli

ENV = {"COLUMNS": "200"}
PGWARDEN = str(Path(sys.executable).parent / "pgwarden")


def test_generate_is_idempotent_and_tokens_verify(nodes_url: str, app: Nodes) -> None:
    runner = CliRunner()
    args = ["--database-url", nodes_url, "nodes", "generate", "--json", "--owners", "2",
            "--per-owner", "300"]  # fmt: skip
    made = runner.invoke(cli, args, env=ENV)
    assert made.exit_code == 0, made.output
    counts = json.loads(made.output[made.output.index("{") :])
    assert counts["nodes"] == 600 and counts["relationships"] > 1200
    again = runner.invoke(cli, args, env=ENV)
    assert json.loads(again.output[again.output.index("{") :])["relationships"] == 0
    user = uuid.uuid4()
    token = runner.invoke(cli, ["--database-url", nodes_url, "nodes", "token", str(user)])
    assert token.exit_code == 0, token.output
    assert verify(token_key(app.warden.tenant_key), f"Bearer {token.output.strip()}") == user
    bad = runner.invoke(cli, ["--database-url", nodes_url, "nodes", "token", "nope"])
    assert bad.exit_code == 2


def test_demo_check(admin_url: str, template_db: str) -> None:
    """The demo as a user runs it: its own roles (nodes_*), a fresh database, the API."""
    with scratch_database(admin_url, "nodes_demo", template_db) as name:
        url = _with_db(admin_url, name)
        done = subprocess.run([PGWARDEN, "--database-url", url, "demo", "nodes", "--check"],
                              capture_output=True, text=True, timeout=300, env=None)  # fmt: skip
    with psycopg.connect(admin_url, autocommit=True) as conn:
        for slot in ("app", "readonly", "admin", "owner"):
            with contextlib.suppress(psycopg.Error):  # still used by another database
                conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(
                    sql.Identifier(f"nodes_{slot}")))  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "API check: ok" in done.stdout and "restore brought 1 back" in done.stdout
