"""``pgwarden doctor`` / ``queries`` / ``top`` on the command line: JSON shapes, exit codes
(0 clean, 2 findings, 1 error), ``--check``, silencing with ``[monitor] ignore``, ``--fix``
with ``--yes``, and a bounded run of the live view."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner, Result

from pgwarden.cli import app


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "250"})


@pytest.fixture
def planted(project: Path, conn: psycopg.Connection[Any]) -> Path:
    conn.execute("create table t (id int primary key, a int)")
    conn.execute("create index t_a1 on t (a)")
    conn.execute("create index t_a2 on t (a)")
    return project


def test_doctor_json_and_exit_codes(planted: Path) -> None:
    result = run("doctor", "--check", "index.duplicate", "--json")
    assert result.exit_code == 2, result.output
    data = json.loads(result.output)
    (finding,) = data["findings"]
    assert finding["check"] == "index.duplicate" and finding["object"] == "public.t_a2"
    assert finding["severity"] == "warning"
    assert finding["fix"]["sql"] == ["DROP INDEX CONCURRENTLY IF EXISTS public.t_a2"]
    assert finding["fix"]["transactional"] is False
    assert data["checks"] == ["index.duplicate"]
    # A check with nothing to report exits 0; an unknown check is an error (1) with a hint.
    assert run("doctor", "--check", "table.no_primary_key").exit_code == 0
    bad = run("doctor", "--check", "index.duplicat")
    assert bad.exit_code == 1 and "index.duplicate" in bad.output


def test_ignore_silences_until_its_date(planted: Path) -> None:
    toml = planted / "pgwarden.toml"
    toml.write_text(
        '[monitor]\nignore = [{ check = "index.duplicate", object = "public.t_*", '
        'reason = "kept for a migration", until = 2999-01-01 }]\n'
    )
    result = run("doctor", "--check", "index", "--json")
    data = json.loads(result.output)
    assert [f["object"] for f in data["silenced"]] == ["public.t_a2"]
    assert not [f for f in data["findings"] if f["check"] == "index.duplicate"]
    toml.write_text(toml.read_text().replace("2999-01-01", "2020-01-01"))  # expired
    data = json.loads(run("doctor", "--check", "index.duplicate", "--json").output)
    assert [f["object"] for f in data["findings"]] == ["public.t_a2"]


def test_bad_monitor_section_names_file_and_key(planted: Path) -> None:
    (planted / "pgwarden.toml").write_text('[monitor]\nslow_qurey = "2s"\n')
    result = run("doctor")
    assert result.exit_code == 1
    assert "pgwarden.toml" in result.output and "slow_query" in result.output


def test_fix_with_yes(planted: Path, conn: psycopg.Connection[Any]) -> None:
    refused = run("doctor", "--fix", "index.duplicate")  # no terminal, no --yes
    assert refused.exit_code == 1
    assert conn.execute("select to_regclass('public.t_a2')").fetchone() != (None,)
    result = run("doctor", "--fix", "index.duplicate", "--yes", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [f["object"] for f in data["fixed"]] == ["public.t_a2"] and data["findings"] == []
    assert conn.execute("select to_regclass('public.t_a2')").fetchone() == (None,)


def test_list_queries_and_top(planted: Path, conn: psycopg.Connection[Any]) -> None:
    listed = json.loads(run("doctor", "--list", "--json").output)
    assert len(listed) >= 40 and len({c["id"] for c in listed}) == len(listed)
    result = run("queries", "--since", "1h", "--top", "3", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["source"] in ("live", "history") and len(data["queries"]) <= 3
    assert run("queries", "--since", "soon").exit_code == 1
    other = psycopg.connect(conn.info.dsn)
    try:
        other.execute("select 1")  # idle in transaction
        pid = other.info.backend_pid
        shown = run("top", "--iterations", "2", "--interval", "0.1")  # the live loop, bounded
        assert shown.exit_code == 0, shown.output
        assert "sessions" in shown.output and "c: cancel" in shown.output
        # What the live view draws, on a console wide enough to read every column.
        from rich.console import Console

        from pgwarden.cli._top import render
        from pgwarden.warden import Warden

        wide = Console(width=250, record=True)
        with Warden(conn.info.dsn) as warden:
            wide.print(render(warden.monitor.activity()))
        screen = wide.export_text()
        assert str(pid) in screen and "idle in transaction" in screen
        rows = json.loads(run("top", "--json").output)
        assert any(r["pid"] == pid for r in rows)
        assert run("top", "--terminate", str(pid)).exit_code == 1  # asks; no terminal
        assert run("top", "--terminate", str(pid), "--yes").exit_code == 0
    finally:
        other.close()
    assert not any(r["pid"] == pid for r in json.loads(run("top", "--json").output))
