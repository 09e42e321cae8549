"""``versioning``: the typed view of every version, and a clear refusal when it cannot be made."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from pgwarden import FeatureNotApplicable, Warden


def test_versions_view_lists_every_version(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute("create table doc (id int primary key, title text)")
    warden = make_warden('[tables."public.doc"]\naudit = true\nversioning = true\n')
    warden.apply()
    conn.execute("insert into doc values (1, 'a')")
    conn.execute("update doc set title = 'b' where id = 1")
    rows = conn.execute(
        "select version, op, title, valid_to is null from doc__versions order by version"
    ).fetchall()
    assert [r[:3] for r in rows] == [(1, "insert", "a"), (2, "update", "b")]
    assert [r[3] for r in rows] == [False, True]


def test_a_column_named_like_the_views_own_is_refused_clearly(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute("create table scales (id int primary key, version int, name text)")
    warden = make_warden('[tables."public.scales"]\naudit = true\nversioning = true\n')
    with pytest.raises(FeatureNotApplicable, match=r"public\.scales.*column version"):
        warden.plan()
    assert conn.execute("select to_regnamespace('warden')").fetchone() == (None,)
    # Without the view, versions are read through warden.audit.history().
    make_warden('[tables."public.scales"]\naudit = true\nversioning = { view = false }\n').apply()


def test_versioning_with_columns_added_in_the_same_apply_settles(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute("create table doc (id int primary key, title text)")
    warden = make_warden(
        '[tables."public.doc"]\naudit = true\nversioning = true\ntimestamps = true\n'
        "soft_delete = true\n"
    )
    warden.apply()
    assert warden.plan().empty
    conn.execute("insert into doc (id, title) values (1, 'a')")
    row = conn.execute("select updated_at is not null, deleted_at from doc__versions").fetchone()
    assert row == (True, None)


def test_as_of_leaves_the_callers_work_mem_as_it_was(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    """as_of runs its query with at least 32 MB of work_mem, then puts the caller's back:
    a smaller one is restored, a larger one is kept, inside and after the transaction."""
    conn.execute("create table doc (id int primary key, title text)")
    make_warden('[tables."public.doc"]\naudit = true\n').apply()
    conn.execute("insert into doc values (1, 'a'), (2, 'b')")
    at = conn.execute("select clock_timestamp()").fetchone()
    conn.execute("update doc set title = 'c' where id = 1")
    query = "select id, title, current_setting('work_mem') from warden.as_of(null::doc, %s)"
    for setting in ("1MB", "4MB", "256MB"):
        conn.execute(f"set work_mem = '{setting}'")
        with conn.transaction():
            found = conn.execute(query + " order by id", at).fetchall()
            assert found == [(1, "a", setting), (2, "b", setting)]  # read after the call
            assert conn.execute("show work_mem").fetchone() == (setting,)
        assert conn.execute("show work_mem").fetchone() == (setting,)
    conn.execute("reset work_mem")
