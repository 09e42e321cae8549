"""The archive table follows the source's columns in place; archived data is never dropped."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
from tests.archive._support import NOW, make_entries, spec

from pgwarden import Warden


def _columns(conn: psycopg.Connection[Any], table: str) -> dict[str, str]:
    rows = conn.execute(
        """select attname, format_type(atttypid, atttypmod) from pg_attribute
           where attrelid = %s::regclass and attnum > 0 and not attisdropped""",
        (table,),
    ).fetchall()
    return {r[0]: r[1] for r in rows}


def test_added_column_is_added_in_place_and_dropped_column_kept(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    make_entries(conn, old=10, new=5)
    warden = make_warden(spec())
    warden.apply()
    warden.archive.run(now=NOW)
    oid = conn.execute("select 'archive.entries'::regclass::oid").fetchone()

    conn.execute("alter table entries add column mood text")
    plan = warden.plan()
    assert [(c.action, str(c.ref)) for c in plan.changes] == [
        ("create", "column archive.entries/mood"),
        ("replace", "view public.entries__all"),
    ]
    assert not any(c.destructive for c in plan.changes)
    warden.apply()
    assert warden.plan().empty
    assert conn.execute("select 'archive.entries'::regclass::oid").fetchone() == oid
    assert _columns(conn, "archive.entries")["mood"] == "text"
    assert conn.execute("select count(*) from archive.entries").fetchone() == (10,)
    conn.execute("update entries set mood = 'ok'")
    conn.execute("update entries set entry_date = '2020-01-01' where note = 'new 1'")
    warden.archive.run(now=NOW)
    assert conn.execute(
        "select mood from entries__all where note = 'new 1' and row_location = 'archive'"
    ).fetchone() == ("ok",)

    # The source drops a column: the archive keeps it, with the values archived so far.
    conn.execute("drop view entries__all")
    conn.execute("alter table entries drop column score")
    plan = warden.plan()
    assert [(c.action, str(c.ref)) for c in plan.changes] == [
        ("replace", "view public.entries__all")
    ]
    warden.apply()
    assert "score" in _columns(conn, "archive.entries")
    kept = conn.execute("select count(score) from archive.entries").fetchone()
    assert kept == (11,)
    assert conn.execute(
        "select count(*), count(score) from entries__all where row_location = 'live'"
    ).fetchone() == (4, 0)
    # Archiving and restoring still work with the retired column.
    conn.execute("update entries set entry_date = '2020-01-01' where note = 'new 2'")
    assert [r.rows for r in warden.archive.run(now=NOW)] == [1]
    assert warden.archive.restore("entries", where="note like 'old%'") == 10
    assert warden.plan().empty


def test_removing_the_feature_is_flagged_destructive(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    make_entries(conn, old=2, new=1)
    make_warden(spec()).apply()
    plan = make_warden("").plan()
    dropped = {str(c.ref): c.destructive for c in plan.changes if c.action == "drop"}
    assert dropped["data_table archive.entries"] is True
    assert "view public.entries__all" in dropped
