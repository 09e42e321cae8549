"""Foreign-key policy: CASCADE keys into tables that keep history, converted online."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import errors
from typer.testing import CliRunner

from pgwarden import Warden
from pgwarden.cli import app

SPEC = """
[tables."public.entries"]
audit = true
"""


def _schema(conn: psycopg.Connection[Any]) -> None:
    conn.execute(
        "create table owners (id int primary key);"
        "create table entries (id bigint generated always as identity primary key, "
        "owner_id int not null references owners on delete cascade on update cascade, v int);"
        "create table scratch (id int primary key, owner_id int references owners "
        "on delete cascade)"
    )
    conn.execute("insert into owners select generate_series(1, 50)")
    conn.execute(
        "insert into entries (owner_id, v) select 1 + g % 50, g from generate_series(1, 5000) g"
    )


def test_report_and_online_conversion_under_traffic(
    conn: psycopg.Connection[Any], project: Path, db_url: str
) -> None:
    _schema(conn)
    (project / "pgwarden.toml").write_text(SPEC)
    runner = CliRunner()
    listed = runner.invoke(app, ["foreign-keys", "list", "--json"])
    assert listed.exit_code == 2, listed.output  # found some
    keys = json.loads(listed.stdout)
    assert [(k["table"], k["constraint"], k["features"]) for k in keys] == [
        ("public.entries", "entries_owner_id_fkey", ["audit"])
    ]  # scratch keeps no history: not reported
    # The plan shows it too, as a note with the command (not a change: the key is the user's).
    plan = json.loads(runner.invoke(app, ["plan", "--json"]).stdout)
    [note] = plan["notes"]
    assert "foreign key entries_owner_id_fkey of public.entries is ON DELETE CASCADE" in note
    assert "pgwarden foreign-keys restrict public.entries entries_owner_id_fkey" in note
    assert not any("entries_owner_id_fkey" in c["description"] for c in plan["changes"])
    assert "note foreign key entries_owner_id_fkey" in runner.invoke(app, ["plan"]).stdout

    stop = threading.Event()
    failures: list[BaseException] = []
    writes = [0]

    def traffic() -> None:
        with psycopg.connect(db_url, autocommit=True) as w:
            i = 0
            while not stop.is_set():
                i += 1
                try:
                    w.execute("insert into entries (owner_id, v) values (%s, %s)", (1 + i % 50, i))
                    w.execute("update entries set v = v + 1 where owner_id = %s", (1 + i % 50,))
                    writes[0] += 1
                except BaseException as exc:
                    failures.append(exc)
                    return

    workers = [threading.Thread(target=traffic) for _ in range(2)]
    for t in workers:
        t.start()
    try:
        done = runner.invoke(app, ["foreign-keys", "restrict", "--all"])
    finally:
        stop.set()
        for t in workers:
            t.join(10)
    assert done.exit_code == 0, done.output
    assert failures == []
    assert writes[0] > 0
    row = conn.execute(
        "select confdeltype, confupdtype, convalidated from pg_constraint "
        "where conname = 'entries_owner_id_fkey'"
    ).fetchone()
    assert row == ("r", "c", True)  # RESTRICT, ON UPDATE kept, validated
    assert runner.invoke(app, ["foreign-keys", "list"]).exit_code == 0  # nothing left
    assert json.loads(runner.invoke(app, ["plan", "--json"]).stdout)["notes"] == []
    # RESTRICT now (PostgreSQL 15 reports it as a foreign key violation, 18 as restrict).
    with pytest.raises((errors.RestrictViolation, errors.ForeignKeyViolation)):
        conn.execute("delete from owners where id = 3")


def test_conversion_finishes_after_an_interruption(
    conn: psycopg.Connection[Any], make_warden: Any
) -> None:
    _schema(conn)
    warden: Warden = make_warden(SPEC)
    # A run stopped after its first step left the new key, not yet validated.
    conn.execute(
        "alter table entries add constraint entries_owner_id_fkey__restrict foreign key "
        "(owner_id) references owners on delete restrict on update cascade not valid"
    )
    assert (
        warden.soft_delete.restrict_foreign_key("public.entries", "entries_owner_id_fkey") is True
    )
    names = [
        r[0]
        for r in conn.execute(
            "select conname from pg_constraint where conrelid = 'entries'::regclass "
            "and contype = 'f'"
        )
    ]
    assert names == ["entries_owner_id_fkey"]
    assert (
        warden.soft_delete.restrict_foreign_key("public.entries", "entries_owner_id_fkey") is False
    )
