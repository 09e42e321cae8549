"""Property: whatever the order of archive runs (any clock, any batch size), restores and
writes, every row is exactly once in live + archive, with its content, and only due rows
are archived."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.archive._support import NOW, make_entries, spec

from pgwarden import Warden

Op = tuple[str, int]
ops = st.lists(
    st.one_of(
        st.tuples(st.just("archive"), st.integers(0, 1500)),  # clock: NOW + days
        st.tuples(st.just("restore_user"), st.integers(0, 4)),
        st.tuples(st.just("restore_key"), st.integers(1, 60)),
        st.tuples(st.just("insert"), st.integers(0, 2000)),  # entry_date: 2021-01-01 + days
        st.tuples(st.just("update"), st.integers(1, 60)),
    ),
    max_size=12,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=ops, batch=st.integers(1, 40))
def test_every_row_exactly_once(
    conn: psycopg.Connection[Any],
    make_warden: Callable[..., Warden],
    ops: list[Op],
    batch: int,
) -> None:
    conn.execute("drop table if exists entries, shadow cascade")
    conn.execute("drop schema if exists archive cascade; drop schema if exists warden cascade")
    make_entries(conn, old=30, new=30)
    conn.execute("create table shadow as select * from entries")
    warden = make_warden(spec())
    warden.apply()
    latest = NOW
    for op, arg in ops:
        if op == "archive":
            clock = NOW + dt.timedelta(days=arg)
            latest = max(latest, clock)
            warden.archive.run(now=clock, batch=batch)
            # Two calendar years are at least 730 days: nothing younger was ever archived.
            young = conn.execute(
                "select count(*) from archive.entries where entry_date >= %s",
                ((latest - dt.timedelta(days=730)).date(),),
            ).fetchone()
            assert young == (0,)
        elif op == "restore_user":
            warden.archive.restore("entries", where=f"user_id = {arg}")
        elif op == "restore_key":
            warden.archive.restore("entries", arg)
        elif op == "insert":
            conn.execute(
                """with r as (insert into entries (user_id, entry_date, note, score)
                   values (1, date '2021-01-01' + %s, 'ins', 0) returning *)
                   insert into shadow select * from r""",
                (arg,),
            )
        else:
            conn.execute(
                """with u as (update entries set note = note || '+' where entry_id = %s
                   returning entry_id, note)
                   update shadow s set note = u.note from u where u.entry_id = s.entry_id""",
                (arg,),
            )
        assert conn.execute(
            "select count(*) from entries join archive.entries using (entry_id)"
        ).fetchone() == (0,)
    diff = conn.execute(
        """select count(*) from (
             (select entry_id, user_id, entry_date, note, score from entries__all
              except all select * from shadow)
             union all
             (select * from shadow
              except all select entry_id, user_id, entry_date, note, score from entries__all)) d"""
    ).fetchone()
    assert diff == (0,)
