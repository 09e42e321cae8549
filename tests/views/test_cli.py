"""``pgwarden views`` and ``pgwarden checks`` from a shell: output, --json, exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from pgwarden.cli import app

QUERY = "select shop, count(*) as n from sales group by shop"


def test_views_refresh_and_status(project: Path, conn: Any) -> None:
    conn.execute(
        "create table sales (id bigint primary key, shop int not null);"
        "insert into sales select g, g % 4 from generate_series(1, 100) g"
    )
    (project / "views").mkdir()
    (project / "views" / "per_shop.sql").write_text(QUERY + ";\n")
    (project / "pgwarden.toml").write_text(
        '[materialized_views."public.per_shop"]\nfile = "views/per_shop.sql"\n'
        'unique_key = ["shop"]\nrefresh = "1h"\nmax_staleness = "2h"\n'
    )
    runner = CliRunner()
    built = runner.invoke(app, ["apply", "--yes"])  # builds it (not a logged refresh)
    assert built.exit_code == 0, built.output
    stale = runner.invoke(app, ["views", "status", "--json"])
    assert stale.exit_code == 2, stale.output  # never refreshed, and a max_staleness
    assert json.loads(stale.stdout)[0]["stale"] is True
    # ...and `pgwarden status` says so among its notes.
    notes = json.loads(runner.invoke(app, ["status", "--json"]).stdout)["notes"]
    assert "view public.per_shop: never refreshed (max 7200s) STALE" in notes
    done = runner.invoke(app, ["views", "refresh", "public.per_shop", "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout) | {"started_at": None, "seconds": None} == {
        "view": "public.per_shop",
        "started_at": None,
        "seconds": None,
        "rows": 4,
        "concurrently": True,
        "skipped": None,
        "incremental": False,
        "events": None,
    }
    fresh = runner.invoke(app, ["views", "status"])
    assert fresh.exit_code == 0 and "public.per_shop: refreshed" in fresh.stdout
    notes = json.loads(runner.invoke(app, ["status", "--json"]).stdout)["notes"]
    [line] = [n for n in notes if n.startswith("view public.per_shop:")]
    assert line.endswith("ago (max 7200s)"), line  # not STALE any more
    unknown = runner.invoke(app, ["views", "refresh", "public.nope"])
    assert unknown.exit_code == 1 and "not a declared materialized view" in unknown.output


def test_checks_violations_command(project: Path, conn: Any) -> None:
    conn.execute(
        "create table t (id bigint primary key, x int); insert into t values (1, 5), (2, -1)"
    )
    (project / "pgwarden.toml").write_text(
        '[tables."public.t".checks]\npositive = { check = "x > 0", not_valid = true }\n'
    )
    runner = CliRunner()
    assert runner.invoke(app, ["apply", "--yes"]).exit_code == 0
    found = runner.invoke(app, ["checks", "violations", "--json"])
    assert found.exit_code == 1, found.output
    [row] = json.loads(found.stdout)
    assert (row["check"], row["rows"], row["examples"]) == ("positive", 1, [{"id": 2, "x": -1}])
    conn.execute("update t set x = 1 where id = 2")
    assert runner.invoke(app, ["checks", "violations"]).exit_code == 0
