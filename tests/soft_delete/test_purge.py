"""Purge: rows deleted longer ago than ``purge`` are really deleted, in batches."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import psycopg
from tests.soft_delete.conftest import SPEC
from typer.testing import CliRunner

from pgwarden import Warden
from pgwarden.cli import app


def _age(conn: psycopg.Connection[Any], table: str, ids: list[int], days: int) -> None:
    conn.execute(
        f"update {table} set deleted_at = now() - make_interval(days => %s) where id = any(%s)",
        (days, ids),
    )


def test_purge_removes_only_rows_past_the_age(blog: Warden, conn: psycopg.Connection[Any]) -> None:
    conn.execute("insert into users select g, 'u' || g || '@x', 'u' from generate_series(3, 40) g")
    conn.execute("delete from users where id between 3 and 40")
    _age(conn, "users", list(range(3, 31)), 45)  # 28 rows due
    # A RESTRICT key protects user 7 (a row written while triggers were off, as a legacy
    # import would: pgwarden's own check would refuse it).
    with conn.transaction():
        conn.execute("set local session_replication_role = replica")
        conn.execute("insert into orders values (1, 7)")

    dry = blog.soft_delete.purge(dry_run=True)
    assert [(r.job, r.rows) for r in dry] == [("purge", 28)]
    assert conn.execute("select count(*) from users").fetchone() == (40,)

    results = blog.soft_delete.purge(batch=5)
    assert [(r.rows, r.detail) for r in results] == [(27, "rows purged; 1 kept: still referenced")]
    left = [r[0] for r in conn.execute("select id from users where id > 2 order by id")]
    assert left == [7, *range(31, 41)]
    # The clock is the caller's: a month later, the rest is due too.
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=31)
    assert [r.rows for r in blog.soft_delete.purge(now=later)] == [10]


def test_purge_from_the_command_line(
    blog: Warden, conn: psycopg.Connection[Any], project: Path
) -> None:
    (project / "pgwarden.toml").write_text(SPEC)
    conn.execute("delete from users where id = 2")
    _age(conn, "users", [2], 60)
    runner = CliRunner()
    dry = runner.invoke(app, ["purge", "--dry-run", "--json"])
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.stdout)[0]["rows"] == 1
    done = runner.invoke(app, ["purge", "--table", "public.users"])
    assert done.exit_code == 0, done.output
    assert "1 rows purged" in done.stdout
    # Its posts and comments went with it: their keys are ON DELETE CASCADE.
    assert conn.execute("select count(*) from posts where user_id = 2").fetchone() == (0,)
    restored = runner.invoke(app, ["restore", "public.users", "2"])
    assert restored.exit_code == 1
    assert "no row with key" in restored.output
