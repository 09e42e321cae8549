"""Soft delete with audit: a delete and a restore are changes like any other in history."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from typer.testing import CliRunner

from pgwarden import Warden
from pgwarden.cli import app


def test_history_shows_delete_and_restore(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden], project: Path
) -> None:
    conn.execute("create table docs (id int primary key, title text)")
    spec = '[tables."public.docs"]\naudit = true\nsoft_delete = true\n'
    (project / "pgwarden.toml").write_text(spec)
    warden = make_warden(spec)
    warden.apply()
    assert warden.plan().empty
    conn.execute("insert into docs values (1, 'draft')")
    with warden.session(actor="carol", reason="cleanup") as db:
        db.execute("delete from docs where id = 1")
    result = CliRunner().invoke(app, ["restore", "public.docs", "1", "--actor", "dave"])
    assert result.exit_code == 0, result.output
    assert "Restored 1 row(s): 1 from public.docs" in result.stdout
    versions = warden.audit.history("public.docs", 1)
    assert [(v.op, v.actor, v.reason) for v in versions] == [
        ("insert", None, None),
        ("update", "carol", "cleanup"),
        ("update", "dave", "restore"),
    ]
    assert versions[1].row is not None and versions[1].row["deleted_by"] == "carol"
    assert versions[2].row is not None and versions[2].row["deleted_at"] is None
    again = CliRunner().invoke(app, ["restore", "public.docs", "1", "--json"])
    assert again.exit_code == 0 and '"restored": {}' in again.stdout
