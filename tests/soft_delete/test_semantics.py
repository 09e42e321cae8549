"""A DELETE marks the row, for raw SQL as for anything else; a real delete is privileged."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from psycopg import errors
from tests.soft_delete.conftest import SCHEMA, SPEC, deleted, live

from pgwarden import SoftDeleteError, Warden


def test_delete_marks_row_with_actor_and_time(blog: Warden, conn: psycopg.Connection[Any]) -> None:
    with conn.transaction():
        conn.execute("set local pgwarden.actor = 'alice'")
        cur = conn.execute("delete from comments where id = 100")
    assert cur.rowcount == 0  # the row stays: PostgreSQL reports no row removed
    row = conn.execute(
        "select deleted_at is not null, deleted_by, deletion_id is not null "
        "from comments where id = 100"
    ).fetchone()
    assert row == (True, "alice", True)
    # Without an actor, the login role is recorded.
    conn.execute("delete from comments where id = 101")
    user = conn.execute("select session_user").fetchone()
    assert conn.execute("select deleted_by from comments where id = 101").fetchone() == user
    # Deleting a deleted row changes nothing.
    before = conn.execute("select deleted_at, deletion_id from comments where id = 100").fetchone()
    conn.execute("delete from comments where id = 100")
    after = conn.execute("select deleted_at, deletion_id from comments where id = 100").fetchone()
    assert before == after


def test_live_view_reports_deleted_rows(blog: Warden, conn: psycopg.Connection[Any]) -> None:
    assert conn.execute("select count(*) from comments__live").fetchone() == (3,)
    cur = conn.execute("delete from comments__live where id in (100, 101)")
    assert cur.rowcount == 2  # what ORMs check after a delete
    assert live(conn, "comments") == [102]
    assert conn.execute("select id from comments__live").fetchall() == [(102,)]
    # INSERT and UPDATE go through the view to the table.
    conn.execute("insert into comments__live (id, post_id, body) values (103, 12, 'new')")
    conn.execute("update comments__live set body = 'edited' where id = 103")
    assert conn.execute("select body from comments where id = 103").fetchone() == ("edited",)


def test_setting_deleted_at_is_a_soft_delete_and_clearing_it_a_restore(
    blog: Warden, conn: psycopg.Connection[Any]
) -> None:
    conn.execute("update posts set deleted_at = now() where id = 10")
    assert deleted(conn, "comments") == [100]  # cascaded, as a DELETE would
    by, deletion = conn.execute(
        "select deleted_by, deletion_id from posts where id = 10"
    ).fetchone()  # type: ignore[misc]
    assert by is not None and deletion is not None
    # A deleted row keeps the deletion that removed it, whatever an UPDATE says.
    conn.execute("update posts set deletion_id = 999, deleted_by = 'x' where id = 10")
    assert conn.execute("select deleted_by, deletion_id from posts where id = 10").fetchone() == (
        by,
        deletion,
    )
    conn.execute("update posts set deleted_at = null where id = 10")
    assert live(conn, "posts") == [10, 11, 12] and live(conn, "comments") == [100, 101, 102]
    assert conn.execute("select deleted_by, deletion_id from posts where id = 10").fetchone() == (
        None,
        None,
    )


def test_hard_delete_needs_the_privilege(
    blog: Warden, conn: psycopg.Connection[Any], db_url: str
) -> None:
    with conn.transaction():
        conn.execute("set local pgwarden.hard_delete = 'on'")  # a forged flag does nothing
        conn.execute("delete from comments where id = 102")
    assert deleted(conn, "comments") == [102]
    with pytest.raises(errors.InsufficientPrivilege), conn.transaction():
        conn.execute("truncate comments")
    # The privileged path removes the row for real, and foreign keys act as declared.
    assert blog.soft_delete.hard_delete("public.posts", 12) == 1
    assert conn.execute("select count(*) from posts where id = 12").fetchone() == (0,)
    assert conn.execute("select count(*) from comments where id = 102").fetchone() == (0,)
    with conn.transaction():
        conn.execute("select warden.allow_hard_delete()")
        conn.execute("truncate comments")
    # A role without EXECUTE on warden.allow_hard_delete() cannot take that path.
    conn.execute("create role sd_app login")
    conn.execute("grant usage on schema public to sd_app")
    conn.execute("grant select, insert, update, delete on all tables in schema public to sd_app")
    app_url = psycopg.conninfo.make_conninfo(db_url, user="sd_app")
    try:
        with psycopg.connect(app_url, autocommit=True) as app:
            app.execute("delete from posts where id = 11")  # soft: allowed
            with pytest.raises(errors.InsufficientPrivilege):
                app.execute("select warden.allow_hard_delete()")
        assert deleted(conn, "posts") == [11]
        app_warden = Warden(app_url, spec=blog.spec)
        with pytest.raises(SoftDeleteError, match="allow_hard_delete"):
            app_warden.soft_delete.hard_delete("public.posts", 10)
        app_warden.close()
    finally:
        conn.execute("drop owned by sd_app")
        conn.execute("drop role sd_app")


def test_removing_the_feature_removes_what_it_created(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute(SCHEMA)
    # An existing deleted_at column is adopted, and stays when the feature goes.
    conn.execute("alter table users add column deleted_at timestamp with time zone")
    columns_before = conn.execute(
        "select table_name, column_name from information_schema.columns "
        "where table_schema = 'public' order by 1, 2"
    ).fetchall()
    make_warden(SPEC).apply()
    warden = make_warden("")
    warden.apply()
    assert warden.plan().empty
    columns_after = conn.execute(
        "select table_name, column_name from information_schema.columns "
        "where table_schema = 'public' order by 1, 2"
    ).fetchall()
    assert columns_after == columns_before
    assert conn.execute(
        "select count(*) from pg_trigger where tgname like 'pgwarden%'"
    ).fetchone() == (0,)
    # The email key is a table-wide constraint again.
    assert conn.execute(
        "select count(*) from pg_constraint where conname = 'users_email_key'"
    ).fetchone() == (1,)


def test_bad_declarations_name_the_table_and_change_nothing(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    from pgwarden import FeatureNotApplicable, SpecError

    conn.execute("create table nokey (v int)")
    conn.execute("create table wrong (id int primary key, deleted_at int)")
    with pytest.raises(FeatureNotApplicable, match=r"public\.nokey.*primary key"):
        make_warden('[tables."public.nokey"]\nsoft_delete = true\n').plan()
    with pytest.raises(FeatureNotApplicable, match="deleted_at exists with type integer"):
        make_warden('[tables."public.wrong"]\nsoft_delete = true\n').plan()
    with pytest.raises(SpecError, match="different columns"):
        make_warden('[tables."public.wrong"]\nsoft_delete = { by = "deleted_at" }\n')
    with pytest.raises(SpecError, match="purge"):
        make_warden('[tables."public.wrong"]\nsoft_delete = { purge = "soon" }\n')
    assert conn.execute("select to_regnamespace('warden')").fetchone() == (None,)
