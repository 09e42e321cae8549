"""``rls = true``: deleted rows are invisible to application roles, not only through views."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg

from pgwarden import Warden


def test_application_role_sees_live_rows_only(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden], db_url: str
) -> None:
    conn.execute("create table notes (id int primary key, body text)")
    warden = make_warden('[tables."public.notes"]\nsoft_delete = { rls = true }\n')
    warden.apply()
    assert warden.plan().empty
    conn.execute("insert into notes values (1, 'a'), (2, 'b'), (3, 'c')")
    conn.execute("create role rls_app login")
    conn.execute("grant select, insert, update, delete on notes to rls_app")
    try:
        app_url = psycopg.conninfo.make_conninfo(db_url, user="rls_app")
        with psycopg.connect(app_url, autocommit=True) as app:
            app.execute("delete from notes where id = 2")
            assert app.execute("select id from notes order by id").fetchall() == [(1,), (3,)]
            app.execute("update notes set body = 'x'")  # touches live rows only
            app.execute("insert into notes values (4, 'd')")
        # The owner sees everything; the deleted row was not updated.
        rows = conn.execute("select id, body, deleted_at is not null from notes order by id")
        assert rows.fetchall() == [
            (1, "x", False),
            (2, "b", True),
            (3, "x", False),
            (4, "d", False),
        ]
        # Removing the option turns row security off again (pgwarden had turned it on).
        make_warden('[tables."public.notes"]\nsoft_delete = true\n').apply()
        assert conn.execute(
            "select relrowsecurity from pg_class where oid = 'notes'::regclass"
        ).fetchone() == (False,)
    finally:
        conn.execute("drop owned by rls_app")
        conn.execute("drop role rls_app")
