"""Archive on a soft-deletable table: moving a row out is not a soft delete."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import psycopg

from pgwarden import Warden


def test_archive_moves_rows_of_a_soft_deletable_table(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute("create table notes (id int primary key, day date not null, body text)")
    warden = make_warden(
        '[tables."public.notes"]\nsoft_delete = true\n'
        'archive = { after = "1 year", column = "day" }\n'
    )
    warden.apply()
    assert warden.plan().empty  # the archive mirrors soft delete's columns in the same apply
    conn.execute(
        "insert into notes values (1, '2020-01-01', 'old'), (2, '2020-02-01', 'old, deleted'),"
        " (3, current_date, 'new')"
    )
    conn.execute("delete from notes where id = 2")  # soft: stays, marked
    results = warden.maintain(now=dt.datetime.now(dt.UTC), names=["archive"])
    assert [r.rows for r in results] == [2]
    assert conn.execute("select id from notes").fetchall() == [(3,)]
    archived = conn.execute(
        "select id, deleted_at is not null from archive.notes order by id"
    ).fetchall()
    assert archived == [(1, False), (2, True)]  # the soft-delete mark travels with the row
    warden.archive.restore("public.notes", key=1)
    assert conn.execute("select id, deleted_at from notes order by id").fetchall() == [
        (1, None),
        (3, None),
    ]
