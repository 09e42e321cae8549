"""The ``pgwarden`` command line contract: exit codes, JSON shapes, messages, safety.

Most tests call the Typer app in-process; one runs the installed script to prove the entry
point. No embedded server is started here (tests/test_server.py covers its lifecycle).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner, Result

from pgwarden.cli import app
from pgwarden.features import registered_features

SPEC = '[tables."public.t"]\ntimestamps = true\n'
CHANGE_FIELDS = {
    "action",
    "feature",
    "table",
    "object",
    "description",
    "lock",
    "transactional",
    "destructive",
    "sql",
    "reverse_sql",
}
TRIGGER_KEY = "trigger public.t/pgwarden_timestamps"


def run(*args: str) -> Result:
    # A wide console so that rich does not wrap the lines the tests look at.
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "250"})


def flat(text: str) -> str:
    """``text`` with box drawing removed and runs of whitespace made one space."""
    return " ".join(text.replace("│", " ").split())


def trigger_exists(conn: psycopg.Connection[Any], table: str) -> bool:
    row = conn.execute(
        "select count(*) from pg_trigger where tgname = 'pgwarden_timestamps'"
        " and tgrelid = to_regclass(%s)",
        [table],
    ).fetchone()
    return row == (1,)


def warden_schema_exists(conn: psycopg.Connection[Any]) -> bool:
    return conn.execute("select to_regnamespace('warden') is not null").fetchone() == (True,)


@pytest.fixture
def table_t(project: Path, conn: psycopg.Connection[Any]) -> Path:
    """A project declaring timestamps on public.t, nothing applied yet."""
    conn.execute("create table t (id int primary key, v text)")
    (project / "pgwarden.toml").write_text(SPEC)
    return project


@pytest.fixture
def applied(table_t: Path) -> Path:
    result = run("apply", "--yes")
    assert result.exit_code == 0, result.output
    return table_t


# -- help ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "purpose"),
    [
        ((), "Declare what your PostgreSQL data needs in pgwarden.toml"),
        (("plan",), "Show the SQL that would make the database match pgwarden.toml"),
        (("apply",), "Apply the plan"),
        (("status",), "What pgwarden has built in the database, what drifted"),
        (("init",), "Write a starter pgwarden.toml"),
        (("demo",), "Run the Kitaab blueprint on pgwarden"),
        (("server",), "Start, stop and inspect the embedded PostgreSQL"),
        (("server", "start"), "Start the embedded server"),
        (("server", "stop"), "Stop the embedded server"),
        (("server", "status"), "Is the embedded server running"),
        (("server", "url"), "Print the server's connection URL"),
    ],
)
def test_help(args: tuple[str, ...], purpose: str) -> None:
    result = run(*args, "--help")
    assert result.exit_code == 0, result.output
    assert purpose in flat(result.stdout)
    assert f"Usage: pgwarden {' '.join(args)}".strip() in flat(result.stdout)


def test_top_level_help_lists_every_command() -> None:
    out = flat(run("--help").stdout)
    for command in ("plan", "apply", "status", "init", "demo", "server"):
        assert f" {command} " in out


# -- plan ------------------------------------------------------------------------------------


def test_plan_json_and_check_when_nothing_is_declared(project: Path) -> None:
    result = run("plan", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["changes"] == []
    result = run("plan", "--check")
    assert result.exit_code == 0, result.output
    assert "No changes" in run("plan").stdout


def test_plan_json_lists_pending_changes(table_t: Path, conn: psycopg.Connection[Any]) -> None:
    result = run("plan", "--json")
    assert result.exit_code == 0, result.output
    changes = json.loads(result.stdout)["changes"]
    assert changes
    for change in changes:
        assert change.keys() >= CHANGE_FIELDS
    assert changes[0]["action"] == "migrate"
    creates = {c["description"]: c for c in changes if c["action"] == "create"}
    trigger = creates["trigger filling timestamps on public.t"]
    assert trigger["feature"] == "timestamps"
    assert trigger["table"] == "public.t"
    assert trigger["object"]["kind"] == "trigger"
    assert trigger["object"]["name"] == "pgwarden_timestamps"
    assert trigger["lock"] == {"mode": "SHARE ROW EXCLUSIVE", "relation": "public.t"}
    assert trigger["transactional"] is True
    assert trigger["destructive"] is False
    assert trigger["sql"].startswith('CREATE OR REPLACE TRIGGER "pgwarden_timestamps"')
    assert trigger["reverse_sql"].startswith('DROP TRIGGER IF EXISTS "pgwarden_timestamps"')
    assert "column created_at on public.t" in creates
    # Planning reads only.
    assert not warden_schema_exists(conn)


def test_plan_check_exit_codes(table_t: Path) -> None:
    result = run("plan", "--check")
    assert result.exit_code == 2, result.output
    assert "trigger filling timestamps on public.t" in result.stdout
    assert run("apply", "--yes").exit_code == 0
    result = run("plan", "--check")
    assert result.exit_code == 0, result.output
    assert run("plan", "--check", "--json").exit_code == 0


def test_plan_check_typo_in_feature_name(table_t: Path) -> None:
    (table_t / "pgwarden.toml").write_text('[tables."public.t"]\ntimestamp = true\n')
    result = run("plan", "--check")
    assert result.exit_code == 1
    err = flat(result.stderr)
    assert "pgwarden.toml:2" in err
    assert "timestamp: unknown feature" in err
    assert "did you mean 'timestamps'?" in err
    assert '[tables."public.t"]' in err  # which table
    assert result.stdout == ""


def test_plan_check_unknown_table_suggests_the_closest(table_t: Path) -> None:
    (table_t / "pgwarden.toml").write_text('[tables."public.tt"]\ntimestamps = true\n')
    result = run("plan", "--check")
    assert result.exit_code == 1
    err = flat(result.stderr)
    assert "no such table" in err
    assert "did you mean 'public.t'?" in err
    assert "public.tt" in err  # which declaration is wrong


def test_missing_config_file_is_an_error(project: Path) -> None:
    result = run("--config", "path/that/does/not/exist.toml", "plan")
    assert result.exit_code == 1
    err = flat(result.stderr)
    assert "path/that/does/not/exist.toml: no such file" in err
    assert "pgwarden init" in err


# -- apply -----------------------------------------------------------------------------------


def test_apply_without_yes_and_without_a_terminal_refuses(
    table_t: Path, conn: psycopg.Connection[Any]
) -> None:
    result = run("apply")
    assert result.exit_code == 1
    assert "refusing to apply without --yes" in flat(result.stderr)
    assert not warden_schema_exists(conn)
    assert not trigger_exists(conn, "public.t")
    assert run("plan", "--check").exit_code == 2


def test_apply_yes_applies_once(table_t: Path, conn: psycopg.Connection[Any]) -> None:
    result = run("apply", "--yes")
    assert result.exit_code == 0, result.output
    # The table's four objects, and the engine's own function (warden.applying()).
    assert "Applied 6 change(s)." in result.stdout
    assert trigger_exists(conn, "public.t")
    conn.execute("insert into t (id) values (1)")
    assert conn.execute("select created_at is not null from t").fetchone() == (True,)

    again = run("apply", "--yes")
    assert again.exit_code == 0, again.output
    assert "No changes" in again.stdout
    assert "Applied" not in again.stdout
    applies = conn.execute("select count(*) from warden.applies").fetchone()
    assert applies == (1,)


def test_apply_json(table_t: Path, conn: psycopg.Connection[Any]) -> None:
    result = run("apply", "--yes", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert isinstance(data["apply_id"], int)
    assert [c["action"] for c in data["applied"]] == ["migrate"] + ["create"] * 5
    assert all(c.keys() >= CHANGE_FIELDS for c in data["applied"])
    assert trigger_exists(conn, "public.t")

    again = run("apply", "--yes", "--json")
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout) == {"applied": [], "apply_id": None}


# -- status and drift ------------------------------------------------------------------------


def test_status_before_anything_was_applied(table_t: Path) -> None:
    result = run("status")
    assert result.exit_code == 0, result.output
    out = flat(result.stdout)
    assert "pgwarden has not been applied to this database yet" in out
    assert "6 change(s) pending" in out
    data = json.loads(run("status", "--json").stdout)
    assert data["schema_version"] == 0
    assert data["objects"] == []
    assert len(data["pending"]) == 6


def test_dropped_trigger_shows_as_drift_and_apply_repairs_it(
    applied: Path, conn: psycopg.Connection[Any]
) -> None:
    data = json.loads(run("status", "--json").stdout)
    assert data["drift"] == []
    assert {o["state"] for o in data["objects"]} == {"ok"}
    assert "Up to date." in run("status").stdout

    conn.execute("DROP TRIGGER pgwarden_timestamps ON t")

    result = run("status", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    states = {
        f"{o['object']['kind']} {o['table']}/{o['object']['name']}": o["state"]
        for o in data["objects"]
    }
    assert states[TRIGGER_KEY] == "missing"
    assert [s for k, s in states.items() if k != TRIGGER_KEY] == ["ok"] * 4
    assert data["drift"] == [TRIGGER_KEY]
    assert [c["action"] for c in data["pending"]] == ["repair"]

    out = flat(run("status").stdout)
    assert "pgwarden_timestamps missing" in out
    assert "1 object(s) drifted" in out

    plan = run("plan")
    assert plan.exit_code == 0, plan.output
    assert "! repair trigger filling timestamps on public.t (dropped outside pgwarden)" in flat(
        plan.stdout
    )
    (change,) = json.loads(run("plan", "--json").stdout)["changes"]
    assert change["action"] == "repair"
    assert change["reason"] == "dropped outside pgwarden"
    assert run("plan", "--check").exit_code == 2

    repaired = run("apply", "--yes")
    assert repaired.exit_code == 0, repaired.output
    assert "Applied 1 change(s)." in repaired.stdout
    assert trigger_exists(conn, "public.t")
    data = json.loads(run("status", "--json").stdout)
    assert data["drift"] == []
    assert data["pending"] == []
    assert run("plan", "--check").exit_code == 0


def test_disabled_trigger_shows_as_altered_and_apply_repairs_it(
    applied: Path, conn: psycopg.Connection[Any]
) -> None:
    conn.execute("ALTER TABLE t DISABLE TRIGGER pgwarden_timestamps")
    data = json.loads(run("status", "--json").stdout)
    assert data["drift"] == [TRIGGER_KEY]
    assert "pgwarden_timestamps altered" in flat(run("status").stdout)
    (change,) = json.loads(run("plan", "--json").stdout)["changes"]
    assert (change["action"], change["reason"]) == ("repair", "altered outside pgwarden")
    assert run("apply", "--yes").exit_code == 0
    enabled = conn.execute(
        "select tgenabled from pg_trigger where tgname = 'pgwarden_timestamps'"
    ).fetchone()
    assert enabled == ("O",)


# -- passwords -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://bob:s3cret@127.0.0.1:1/x",
        "host=127.0.0.1 port=1 user=bob password=s3cret dbname=x",
    ],
)
@pytest.mark.parametrize("command", [("plan",), ("plan", "--json"), ("status",), ("apply", "-y")])
def test_passwords_are_never_printed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str, command: tuple[str, ...]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PGWARDEN_DATABASE_URL", url)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    result = run(*command)
    assert result.exit_code == 1
    assert "cannot connect to" in flat(result.stderr)
    assert "***" in result.stderr
    assert "s3cret" not in result.stderr
    assert "s3cret" not in result.stdout


def test_unreachable_database_hint_keeps_its_brackets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PGWARDEN_DATABASE_URL", "postgresql://bob@127.0.0.1:1/x")
    result = run("plan")
    assert result.exit_code == 1
    assert "check [database] url in pgwarden.toml" in flat(result.stderr)


# -- init ------------------------------------------------------------------------------------


def test_init_writes_the_live_tables_and_refuses_to_overwrite(
    project: Path, conn: psycopg.Connection[Any]
) -> None:
    conn.execute(
        "create table orders (id int primary key);"
        "create schema sales; create table sales.items (id int);"
        "create table ev (at date) partition by range (at);"
        "create table ev_2026 partition of ev for values from ('2026-01-01') to ('2027-01-01')"
    )
    path = project / "pgwarden.toml"
    result = run("init")
    assert result.exit_code == 0, result.output
    text = path.read_text()
    for table in ("public.ev", "public.orders", "sales.items"):
        assert f'[tables."{table}"]\narchive = false\n' in text
    data = tomllib.loads(text)
    off = dict.fromkeys(registered_features(), False)
    assert data["tables"] == {
        "public.ev": off,
        "public.orders": off,
        "sales.items": off,
    }  # the partition follows its parent and is not listed
    assert data["database"] == {"url": "env:PGWARDEN_DATABASE_URL"}

    # The starter file declares nothing to build.
    check = run("plan", "--check")
    assert check.exit_code == 0, check.output
    assert json.loads(run("plan", "--json").stdout)["changes"] == []

    conn.execute("create table later (id int)")
    refused = run("init")
    assert refused.exit_code == 1
    assert "--force" in refused.stderr
    assert path.read_text() == text

    forced = run("init", "--force")
    assert forced.exit_code == 0, forced.output
    assert "public.later" in tomllib.loads(path.read_text())["tables"]


def test_init_on_an_unreachable_database_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PGWARDEN_DATABASE_URL", "postgresql://bob:s3cret@127.0.0.1:1/x")
    result = run("init")
    assert result.exit_code == 1
    assert not (tmp_path / "pgwarden.toml").exists()


# -- demo ------------------------------------------------------------------------------------


@pytest.fixture
def no_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory without a pgwarden.toml and no database in the environment."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("PGWARDEN_DATABASE_URL", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    return tmp_path


def test_demo_on_a_given_database(
    no_project: Path, db_url: str, conn: psycopg.Connection[Any]
) -> None:
    result = run("--database-url", db_url, "demo", "--users", "5", "--days", "3", "--check")
    assert result.exit_code == 0, result.output
    out = flat(result.stdout)
    assert "Kitaab schema migrated" in out
    assert "Its pgwarden.toml planned:" in out and "audit" in out
    assert "Loaded 5 users" in out
    assert "by user:1 changed: count_value, notes" in out  # the entry's history
    assert "Demo login: demo@kitaab.example / kitaab-demo" in out
    assert "API check: ok" in out
    assert not (no_project / ".pgwarden").exists()  # no embedded server was started
    assert conn.execute("select count(*) from kitaab.users").fetchone() == (5,)
    assert trigger_exists(conn, "kitaab.entries")

    again = run("--database-url", db_url, "demo", "--no-serve")
    assert again.exit_code == 0, again.output
    out = flat(again.stdout)
    assert "Its pgwarden.toml planned: 0 change(s)" in out
    assert "Demo data already loaded." in out
    assert "pgwarden kitaab serve" in out
    assert conn.execute("select count(*) from kitaab.users").fetchone() == (5,)


def test_demo_leaves_what_pgwarden_manages_elsewhere_alone(
    applied: Path, db_url: str, conn: psycopg.Connection[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # public.t is pgwarden's (applied above); the demo, run from another directory against
    # the same database, must not drop its columns and trigger.
    conn.execute("insert into t (id) values (1)")
    elsewhere = applied / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = run("--database-url", db_url, "demo", "--users", "3", "--days", "2", "--no-serve")
    assert result.exit_code == 0, result.output
    assert trigger_exists(conn, "public.t")
    assert conn.execute("select created_at is not null from t").fetchone() == (True,)


# -- server ----------------------------------------------------------------------------------


def test_server_status_of_a_never_started_server(tmp_path: Path) -> None:
    data_dir = tmp_path / "never"
    result = run("server", "status", "--data-dir", str(data_dir))
    assert result.exit_code == 3
    assert flat(result.stdout).startswith(f"stopped {data_dir}")
    as_json = run("server", "status", "--data-dir", str(data_dir), "--json")
    assert as_json.exit_code == 3
    data = json.loads(as_json.stdout)
    assert (data["running"], data["pid"], data["url"]) == (False, None, None)
    assert not data_dir.exists()  # status changes nothing


# -- the installed script --------------------------------------------------------------------


def test_installed_script(tmp_path: Path, db_url: str, conn: psycopg.Connection[Any]) -> None:
    script = Path(sys.executable).with_name("pgwarden")
    assert script.exists()
    conn.execute("create table t (id int primary key)")
    (tmp_path / "pgwarden.toml").write_text(SPEC)
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["PGWARDEN_DATABASE_URL"] = db_url

    def pgwarden(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(script), *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
        )

    pending = pgwarden("plan", "--check", "--json")
    assert pending.returncode == 2, pending.stderr
    assert len(json.loads(pending.stdout)["changes"]) == 6

    done = pgwarden("apply", "--yes", "--json")
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["applied"]) == 6
    assert trigger_exists(conn, "public.t")

    clean = pgwarden("plan", "--check")
    assert (clean.returncode, clean.stdout) == (0, "")

    broken = pgwarden("--config", "nope.toml", "plan")
    assert broken.returncode == 1
    assert "nope.toml: no such file" in broken.stderr
