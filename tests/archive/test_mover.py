"""The archive feature: what apply creates, what the mover moves, restore, dry runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from tests.archive._support import NOW, checksum, counts, make_entries, spec

from pgwarden import Warden
from pgwarden.errors import MaintenanceError


def test_apply_creates_archive_and_view(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    make_entries(conn)
    warden = make_warden(spec())
    warden.apply()
    assert warden.plan().empty
    cols = conn.execute(
        """select attname from pg_attribute where attrelid = 'archive.entries'::regclass
           and attnum > 0 and not attisdropped order by attname"""
    ).fetchall()
    assert {c[0] for c in cols} == {
        "entry_id", "user_id", "entry_date", "note", "score",
        "archived_at", "archived_by", "archive_reason",
    }  # fmt: skip
    pk = conn.execute(
        "select pg_get_constraintdef(oid) from pg_constraint "
        "where conrelid = 'archive.entries'::regclass and contype = 'p'"
    ).fetchone()
    assert pk == ("PRIMARY KEY (entry_id)",)
    assert conn.execute("select count(*) from entries__all").fetchone() == (50,)


def test_moves_only_due_rows_and_view_shows_both(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    make_entries(conn)
    warden = make_warden(spec())
    warden.apply()
    before = checksum(conn)
    dry = warden.maintain(now=NOW, dry_run=True, names=["archive"])
    assert [(r.job, r.rows) for r in dry] == [("archive", 30)]
    assert counts(conn) == (50, 0)
    [result] = warden.maintain(now=NOW, batch=7, names=["archive"])
    assert result.rows == 30
    assert counts(conn) == (20, 30)
    assert checksum(conn) == before
    left = conn.execute("select min(entry_date) from entries").fetchone()
    assert left is not None and str(left[0]) >= "2024-06-01"
    where = conn.execute(
        "select row_location, count(*) from entries__all group by 1 order by 1"
    ).fetchall()
    assert where == [("archive", 30), ("live", 20)]
    by = conn.execute("select distinct archived_by, archive_reason from archive.entries").fetchall()
    assert by == [("pgwarden", "archive: entry_date older than 2 years")]
    # A second run finds nothing.
    assert [r.rows for r in warden.maintain(now=NOW, names=["archive"])] == [0]


def test_where_limits_rows_and_restore_by_key_and_predicate(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    make_entries(conn)
    warden = make_warden(spec(", where = \"user_id <> 0 and entries.note like 'old%'\""))
    warden.apply()
    before = checksum(conn)
    [result] = warden.archive.run(now=NOW, batch=5)
    assert result.rows == 24  # user_id = g % 5: one in five old rows stays
    assert conn.execute("select count(*) from entries where note like 'old%'").fetchone() == (6,)
    key = conn.execute("select min(entry_id) from archive.entries").fetchone()
    assert key is not None
    assert warden.archive.restore("public.entries", key[0]) == 1
    assert warden.archive.restore("entries", key[0]) == 0  # already back
    ones = conn.execute("select count(*) from archive.entries where user_id = 1").fetchone()
    assert ones is not None and ones[0] > 0
    assert (
        warden.archive.restore("entries", where="user_id = 1 and archived_at <= now()") == ones[0]
    )
    assert counts(conn) == (20 + 6 + 1 + ones[0], 24 - 1 - ones[0])
    assert checksum(conn) == before
    # Identity values came back as they were (OVERRIDING SYSTEM VALUE).
    assert conn.execute("select count(*) from entries where entry_id = %s", key).fetchone() == (1,)


def test_restore_conflict_is_clear_and_changes_nothing(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    make_entries(conn, old=3, new=0)
    warden = make_warden(spec())
    warden.apply()
    warden.archive.run(now=NOW)
    conn.execute(
        "insert into entries (entry_id, user_id, entry_date) overriding system value "
        "values (2, 9, '2026-01-01')"
    )
    with pytest.raises(MaintenanceError, match=r"entry_id\)=\(2\) already exists"):
        warden.archive.restore("entries", where="true")
    assert counts(conn) == (1, 3)
    with pytest.raises(MaintenanceError, match="not a valid predicate"):
        warden.archive.restore("entries", where="no_such_column = 1")
    with pytest.raises(MaintenanceError, match="no archive is declared"):
        warden.archive.restore("other", key=1)


def test_moves_are_distinguishable_in_the_audit_trail(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    make_entries(conn, old=4, new=1)
    warden = make_warden(
        '[tables."public.entries"]\naudit = true\n'
        'archive = { after = "2 years", column = "entry_date" }\n'
    )
    warden.apply()
    conn.execute("set pgwarden.actor = 'ops:alice'")
    conn.execute("delete from entries where note = 'new 1'")
    warden.archive.run(now=NOW)
    events = warden.audit.log(table="public.entries")
    deletes = sorted((e.actor, e.reason or "") for e in events if e.op == "D")
    # The application's own delete and the archive's moves, told apart by reason.
    assert deletes == [("ops:alice", "")] + [("pgwarden", "archive")] * 4
    assert conn.execute("select distinct archived_by from archive.entries").fetchall() == [
        ("pgwarden",)
    ]


def test_dry_run_changes_nothing(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    make_entries(conn)
    warden = make_warden(spec(', retention = "3 years"'))
    warden.apply()
    before = checksum(conn)
    results = warden.maintain(now=NOW, dry_run=True)
    assert [(r.job, r.rows) for r in results] == [("archive", 30), ("archive-retention", 0)]
    assert counts(conn) == (50, 0)
    assert checksum(conn) == before
