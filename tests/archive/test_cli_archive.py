"""``pgwarden archive run / restore`` and ``pgwarden maintain`` with archive declared."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from tests.archive._support import counts, make_entries, spec
from typer.testing import CliRunner

from pgwarden import Warden
from pgwarden.cli import app


def test_cli_run_restore_and_maintain(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden], project: Path
) -> None:
    make_entries(conn, old=12, new=3)
    (project / "pgwarden.toml").write_text(spec())
    make_warden(spec()).apply()
    cli = CliRunner()

    dry = cli.invoke(app, ["archive", "run", "--dry-run", "--json"])
    assert dry.exit_code == 0, dry.output
    assert [(r["job"], r["rows"], r["dry_run"]) for r in json.loads(dry.stdout)] == [
        ("archive", 12, True)
    ]
    assert counts(conn) == (15, 0)

    done = cli.invoke(app, ["archive", "run", "--table", "entries", "--batch", "5"])
    assert done.exit_code == 0, done.output
    assert "archive public.entries" in done.output and "12" in done.output
    assert counts(conn) == (3, 12)

    back = cli.invoke(app, ["archive", "restore", "public.entries", "1", "--json"])
    assert back.exit_code == 0, back.output
    assert json.loads(back.stdout) == {"table": "public.entries", "restored": 1}
    missing = cli.invoke(app, ["archive", "restore", "entries", "1"])
    assert missing.exit_code == 1
    assert "no archived row" in missing.output
    some = cli.invoke(app, ["archive", "restore", "entries", "--where", "note like 'old 1%'"])
    assert some.exit_code == 0, some.output
    bad = cli.invoke(app, ["archive", "restore", "entries", "--where", "nope"])
    assert bad.exit_code == 1 and "not a valid predicate" in bad.output
    neither = cli.invoke(app, ["archive", "restore", "entries"])
    assert neither.exit_code == 1

    live, _ = counts(conn)
    conn.execute("update entries set entry_date = '2020-01-01'")
    maintained = cli.invoke(app, ["maintain", "--json"])
    assert maintained.exit_code == 0, maintained.output
    assert ("archive", live) in [(r["job"], r["rows"]) for r in json.loads(maintained.stdout)]
