"""Soft delete on a partitioned table: the triggers cover every partition; keys are composite."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import psycopg

from pgwarden import Warden


def test_partitioned_table_with_composite_key(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute(
        "create table ev (id int, day date, v text, primary key (id, day)) "
        "partition by range (day);"
        "create table ev_2025 partition of ev for values from ('2025-01-01') to ('2026-01-01');"
        "create table notes (id int primary key, ev_id int, ev_day date, "
        "foreign key (ev_id, ev_day) references ev on delete cascade)"
    )
    warden = make_warden(
        '[tables."public.ev"]\nsoft_delete = { purge = "1 day" }\n'
        '[tables."public.notes"]\nsoft_delete = true\n'
    )
    warden.apply()
    # A partition created later is covered too (row triggers are cloned to it).
    conn.execute(
        "create table ev_2026 partition of ev for values from ('2026-01-01') to ('2027-01-01')"
    )
    assert warden.plan().empty
    conn.execute("insert into ev values (1, '2026-03-01', 'a'), (2, '2025-03-01', 'b')")
    conn.execute("insert into notes values (10, 1, '2026-03-01')")
    conn.execute("delete from ev where id = 1")
    assert conn.execute("select id from ev where deleted_at is null").fetchall() == [(2,)]
    assert conn.execute("select deleted_at is not null from notes").fetchone() == (True,)
    restored = warden.soft_delete.restore("public.ev", (1, "2026-03-01"))
    assert restored.rows == {"public.ev": 1, "public.notes": 1}
    conn.execute("delete from ev__live where id = 2")
    conn.execute("update ev set deleted_at = now() - interval '3 days' where id = 2")
    assert [r.rows for r in warden.soft_delete.purge(now=dt.datetime.now(dt.UTC))] == [1]
    assert conn.execute("select id from ev order by id").fetchall() == [(1,)]
