"""The archive feature: what apply creates, what the mover moves, restore, dry runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg

from pgwarden import Warden
from tests.archive._support import NOW, checksum, counts, make_entries, spec


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
