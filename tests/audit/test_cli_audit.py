"""The audit commands: history, log, revert, revert-transaction (in-process, real database)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from typer.testing import CliRunner, Result

from pgwarden import Warden
from pgwarden.cli import app

from ._support import applied, rows

SPEC = '[tables."public.t"]\naudit = true\n'


def _cli(db_url: str) -> Callable[..., Result]:
    def run(*args: str) -> Result:
        # A wide console so that rich does not wrap the lines the tests look at. The console
        # is created at import (COLUMNS in env= comes too late when another test imported it).
        from pgwarden.cli import _common

        saved = _common.console.width
        _common.console.width = 250
        try:
            return CliRunner().invoke(app, ["--database-url", db_url, *args])
        finally:
            _common.console.width = saved

    return run


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_history_log_and_revert(
    project: Path,
    conn: psycopg.Connection[Any],
    make_warden: Callable[..., Warden],
    db_url: str,
) -> None:
    conn.execute("create table t (id int primary key, v text)")
    conn.execute("create table plain (id int primary key)")
    warden = applied(make_warden, SPEC)
    with warden.session(actor="alice", reason="first import") as db:
        db.execute("insert into t values (1, 'a'), (2, 'x')")
    with warden.session(actor="bob") as db:
        db.execute("update t set v = 'b' where id = 1")
    run = _cli(db_url)

    shown = run("history", "public.t", "1")
    assert shown.exit_code == 0, shown.output
    lines = [_flat(line) for line in shown.stdout.splitlines() if line.strip()]
    assert lines[0].split() == ["ver", "from", "op", "actor", "reason", "txid", "changes"]
    assert lines[1].startswith("1 ") and " insert alice first import " in lines[1]
    assert lines[2].startswith("2 ") and " update bob " in lines[2]
    assert lines[2].endswith('v: "a" → "b"')

    as_json = run("history", "public.t", "1", "--json")
    assert as_json.exit_code == 0, as_json.output
    versions = json.loads(as_json.stdout)
    assert [(v["version"], v["op"], v["actor"], v["row"]) for v in versions] == [
        (1, "insert", "alice", {"id": 1, "v": "a"}),
        (2, "update", "bob", {"id": 1, "v": "b"}),
    ]
    assert versions[1]["changed"] == ["v"] and isinstance(versions[1]["txid"], int)
    empty = run("history", "public.t", "99")
    assert (empty.exit_code, _flat(empty.stdout)) == (0, "no recorded history for public.t 99")

    logged = run("log", "--table", "public.t", "--actor", "alice", "--json")
    assert logged.exit_code == 0, logged.output
    assert [(e["op"], e["key"], e["actor"], e["reason"]) for e in json.loads(logged.stdout)] == [
        ("insert", [2], "alice", "first import"),
        ("insert", [1], "alice", "first import"),
    ]
    everything = run("log")
    assert everything.exit_code == 0, everything.output
    assert [_flat(line).split()[3:6] for line in everything.stdout.splitlines()[1:]] == [
        ["public.t", "update", "[1]"],
        ["public.t", "insert", "[2]"],
        ["public.t", "insert", "[1]"],
    ]
    future = run("log", "--since", "2999-01-01T00:00:00+00:00", "--json")
    assert (future.exit_code, json.loads(future.stdout)) == (0, [])

    reverted = run("revert", "public.t", "1", "--to", "1", "--reason", "undo bob", "--yes")
    assert reverted.exit_code == 0, reverted.output
    assert _flat(reverted.stdout).startswith("Reverted public.t 1: {")
    assert '"v": "a"' in reverted.stdout
    assert rows(conn, "select v from t where id = 1") == [("a",)]
    last = warden.audit.history("public.t", 1)[-1]
    assert (last.op, last.actor, last.reason, last.row) == (
        "update",
        "cli",
        "undo bob",
        {"id": 1, "v": "a"},
    )
    # No --yes and no terminal: refused, nothing done.
    asked = run("revert", "public.t", "1", "--to", "2")
    assert asked.exit_code == 1
    assert "refusing without --yes" in asked.stderr
    assert rows(conn, "select v from t where id = 1") == [("a",)]

    # A table that is not audited, or does not exist: exit 1 and a clear message.
    for args in (
        ("history", "public.plain", "1"),
        ("log", "--table", "public.plain"),
        ("revert", "public.plain", "1", "--to", "1", "--yes"),
        ("history", "public.nope", "1"),
    ):
        failed = run(*args)
        assert failed.exit_code == 1, args
        assert "is not audited" in failed.stderr, args
        assert failed.stdout == ""
    bad_time = run("log", "--since", "yesterday")
    assert bad_time.exit_code == 1 and "yesterday" in bad_time.stderr
    bad_key = run("history", "public.t", "1", "2")
    assert bad_key.exit_code == 1 and "the key of" in bad_key.stderr


def test_revert_transaction(
    project: Path,
    conn: psycopg.Connection[Any],
    make_warden: Callable[..., Warden],
    db_url: str,
) -> None:
    conn.execute("create table t (id int primary key, v text)")
    warden = applied(make_warden, SPEC)
    with warden.session(actor="alice") as db:
        db.execute("insert into t values (1, 'a'), (2, 'b')")
        first = int(db.execute("select pg_current_xact_id()::text").fetchone()[0])
    with warden.session(actor="bob") as db:
        db.execute("update t set v = 'b2' where id = 2")
        second = int(db.execute("select pg_current_xact_id()::text").fetchone()[0])
    run = _cli(db_url)

    refused = run("revert-transaction", str(first), "--yes")
    assert refused.exit_code == 1
    message = _flat(refused.stderr)
    assert f"cannot revert transaction {first}" in message
    assert "row [2] of public.t" in message and "changed" in message
    assert "hint" in message
    assert rows(conn, "select * from t order by id") == [(1, "a"), (2, "b2")]

    done = run("revert-transaction", str(second), "--reason", "bad edit", "--yes")
    assert done.exit_code == 0, done.output
    assert f"Reverted transaction {second} (1 change(s) undone)" in _flat(done.stdout)
    assert "public.t [2]: updated back" in _flat(done.stdout)
    assert rows(conn, "select * from t order by id") == [(1, "a"), (2, "b")]
    assert warden.audit.history("public.t", 2)[-1].reason == "bad edit"

    nothing = run("revert-transaction", "12345", "--yes")
    assert nothing.exit_code == 1
    assert "transaction 12345 changed no audited row" in nothing.stderr
    unasked = run("revert-transaction", str(second))
    assert unasked.exit_code == 1 and "refusing without --yes" in unasked.stderr
