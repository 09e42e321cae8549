"""Soft delete with audit: a delete and a restore are changes like any other in history."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from tests.audit._support import needs_logical_wal
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


def test_a_row_referencing_itself_is_restored_and_reverted(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    """Found by the audit hunt (HR shape): an employee who is her own manager. Restoring
    her is not "a live row under a deleted one": the row it references is itself."""
    conn.execute("create table staff (id int primary key, boss int references staff, name text)")
    spec = '[tables."public.staff"]\naudit = true\nsoft_delete = true\n'
    warden = make_warden(spec)
    warden.apply()
    conn.execute("insert into staff values (1, 1, 'ada'), (2, 1, 'bob')")
    conn.execute("delete from staff where id = 2")
    conn.execute("delete from staff where id = 1")
    with conn.transaction():
        conn.execute("update staff set deleted_at = null where id = 1")
        txid = conn.execute("select pg_current_xact_id()::text::bigint").fetchone()
    assert conn.execute("select id from staff where deleted_at is null").fetchall() == [(1,)]
    assert txid is not None
    warden.audit.revert_transaction(txid[0])  # deleted again
    warden.audit.revert("public.staff", 1, to=1)  # and back, by the audit trail
    assert conn.execute("select id, boss from staff where deleted_at is null").fetchall() == [
        (1, 1)
    ]
    # Another deleted row is still refused as a boss.
    with pytest.raises(psycopg.errors.ForeignKeyViolation, match="deleted row"):
        conn.execute("update staff set boss = 2 where id = 1")


@pytest.mark.parametrize("capture", ["trigger", "wal"])
def test_reverting_a_cascaded_soft_delete_brings_parent_and_children_back(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden], capture: str
) -> None:
    """Found by the audit hunt (music store shape, WAL capture): read from the WAL, the
    cascade's child rows come after their parent's, so undoing newest first put a child back
    live under a still-deleted parent, which soft delete refuses. The child now waits."""
    if capture == "wal":
        needs_logical_wal(conn)
    conn.execute("create table artist (id int primary key, name text)")
    conn.execute(
        "create table album (id int primary key, "
        "artist int references artist on delete cascade, title text)"
    )
    conn.execute("insert into artist values (1, 'a'), (2, 'b')")
    conn.execute("insert into album values (1, 1, 'x'), (2, 1, 'y'), (3, 2, 'z')")
    spec = "".join(
        f'[tables."public.{t}"]\naudit = {{ capture = "{capture}" }}\nsoft_delete = true\n'
        for t in ("artist", "album")
    )
    warden = make_warden(spec)
    warden.apply()
    with conn.transaction():
        conn.execute("update album set title = 'x2' where id = 1")
        conn.execute("delete from artist where id = 1")
        txid = conn.execute("select pg_current_xact_id()::text::bigint").fetchone()
    assert txid is not None
    done = warden.audit.revert_transaction(txid[0])
    assert sorted(a for _, _, a in done) == ["updated back"] * 4
    live = "select id, title from album where deleted_at is null order by id"
    assert conn.execute(live).fetchall() == [(1, "x"), (2, "y"), (3, "z")]
    assert conn.execute("select count(*) from artist where deleted_at is null").fetchone() == (2,)
