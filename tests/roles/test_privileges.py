"""Least privilege, proven: what each role may and may not do, with audit, soft delete and
versioning on the table (pgwarden's own machinery must keep working for the app role)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from psycopg import errors, sql
from tests.roles.conftest import Names, login

from pgwarden import Warden

SETUP = """
create schema app;
create table app.items (id serial primary key, name text);
create table app.notes (id bigint generated always as identity primary key, body text);
insert into app.items (name) values ('a'), ('b');
"""

TABLE_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
# role slot -> table privileges it holds on every table of the schema; the rest it must not.
EXPECTED = {
    "app": {"SELECT", "INSERT", "UPDATE", "DELETE"},
    "readonly": {"SELECT"},
    "admin": {"SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE"},
}
SEQUENCES = {
    "app": {"SELECT", "USAGE"},
    "readonly": {"SELECT"},
    "admin": {"SELECT", "UPDATE", "USAGE"},
}


@pytest.fixture
def applied(
    conn: psycopg.Connection[Any], names: Names, make_warden: Callable[[str], Warden]
) -> Iterator[Names]:
    conn.execute(SETUP)
    make_warden(
        f"""[roles]
schemas = ["app"]
owner = "{names.owner}"
app = "{names.app}"
readonly = "{names.readonly}"
admin = "{names.admin}"

[tables."app.items"]
audit = true
soft_delete = true
versioning = true
"""
    ).apply()
    yield names


def test_privilege_matrix(conn: psycopg.Connection[Any], applied: Names) -> None:
    """role x object x privilege, asserted both ways."""
    wrong = []
    for slot, allowed in EXPECTED.items():
        role = getattr(applied, slot)
        for table in ("app.items", "app.notes", "app.items__live", "app.items__versions"):
            for privilege in TABLE_PRIVILEGES:
                has = conn.execute(
                    "select has_table_privilege(%s, %s, %s)", (role, table, privilege)
                ).fetchone()
                if has != ((privilege in allowed),):
                    wrong.append((slot, table, privilege, has))
        for privilege in ("SELECT", "USAGE", "UPDATE"):
            has = conn.execute(
                "select has_sequence_privilege(%s, 'app.items_id_seq', %s)", (role, privilege)
            ).fetchone()
            if has != ((privilege in SEQUENCES[slot]),):
                wrong.append((slot, "app.items_id_seq", privilege, has))
        for schema, privilege, expected in [
            ("app", "USAGE", True),
            ("app", "CREATE", False),
            ("warden", "USAGE", True),
            ("warden", "CREATE", False),
        ]:
            has = conn.execute(
                "select has_schema_privilege(%s, %s, %s)", (role, schema, privilege)
            ).fetchone()
            if has != (expected,):
                wrong.append((slot, schema, privilege, has))
        for table in ("warden.audit_events", "warden.audit_contexts", "warden.owned_objects"):
            for privilege in ("INSERT", "UPDATE", "DELETE", "TRUNCATE"):
                has = conn.execute(
                    "select has_table_privilege(%s, %s, %s)", (role, table, privilege)
                ).fetchone()
                if has != (False,):
                    wrong.append((slot, table, privilege, has))
        for table, expected in [
            ("warden.audit_events", True),
            ("warden.owned_objects", False),
            ("warden.secrets", False),
        ]:
            has = conn.execute(
                "select has_table_privilege(%s, %s, 'SELECT')", (role, table)
            ).fetchone()
            if has != (expected,):
                wrong.append((slot, table, "SELECT", has))
        hard = conn.execute(
            "select has_function_privilege(%s, 'warden.allow_hard_delete()', 'EXECUTE')", (role,)
        ).fetchone()
        if hard != ((slot == "admin"),):
            wrong.append((slot, "warden.allow_hard_delete()", "EXECUTE", hard))
    assert not wrong, wrong


def test_app_works_through_pgwarden(db_url: str, applied: Names) -> None:
    with login(db_url, applied.app) as app:
        app.execute("insert into app.items (name) values ('c')")
        app.execute("update app.items set name = 'A' where id = 1")
        app.execute("delete from app.items where id = 2")  # a soft delete
        app.execute("insert into app.notes (body) values ('n')")
        live = app.execute("select id from app.items__live order by id").fetchall()
        assert live == [(1,), (3,)]
        marked = app.execute("select deleted_at is not null from app.items where id = 2")
        assert marked.fetchone() == (True,)
        history = app.execute(
            "select op from warden.history('app.items', '[1]') order by version"
        ).fetchall()
        assert [r[0] for r in history][-1] == "update"
        versions = app.execute("select count(*) from app.items__versions where id = 1")
        assert versions.fetchone()[0] >= 1  # type: ignore[index]
        as_of = app.execute(
            "select (warden.as_of(i, now() - interval '1 hour')) is null from app.items i"
            " where id = 3"
        ).fetchone()
        assert as_of is not None


APP_CANNOT = [
    "drop table app.items",
    "alter table app.items add column x int",
    "truncate app.items",
    "create table app.mine (id int)",
    "create index on app.items (name)",
    "delete from warden.audit_events",
    "update warden.audit_tables set retention = null",
    "insert into warden.audit_contexts default values",
    "select * from warden.secrets",
    "select warden.allow_hard_delete()",
    "select * from warden.audit_erase('app.items', '[1]', null)",
    "select * from warden.owned_objects",
    "alter table app.items disable trigger all",
    "alter table app.items no force row level security",
    "create table warden.mine (id int)",
    "set role {owner}",
    "set role {admin}",
]


def test_app_cannot(db_url: str, applied: Names) -> None:
    """Each refused with a privilege error (one login, each statement on its own)."""
    allowed = []
    with login(db_url, applied.app) as app:
        for statement in APP_CANNOT:
            text = sql.SQL(statement).format(  # type: ignore[arg-type]
                owner=sql.Identifier(applied.owner), admin=sql.Identifier(applied.admin)
            )
            try:
                app.execute(text)
            except errors.InsufficientPrivilege:
                continue
            allowed.append(statement)
    assert not allowed


def test_readonly_reads_only(db_url: str, applied: Names) -> None:
    with login(db_url, applied.readonly, direct=False) as ro:
        assert ro.execute("select count(*) from app.items").fetchone() == (2,)
        ro.execute("select * from warden.history('app.items', '[1]')")
        for statement in (
            "insert into app.items (name) values ('x')",
            "update app.items set name = 'x'",
            "delete from app.items",
            "select nextval('app.items_id_seq')",
        ):
            with pytest.raises(errors.InsufficientPrivilege):
                ro.execute(statement)


def test_admin_operates(db_url: str, applied: Names) -> None:
    with login(db_url, applied.admin) as admin:
        admin.execute("delete from app.items where id = 1")
        with admin.transaction():
            admin.execute("select warden.allow_hard_delete()")
            admin.execute("delete from app.items where id = 1")  # a real delete now
        assert admin.execute("select count(*) from app.items where id = 1").fetchone() == (0,)
        assert admin.execute("select count(*) > 0 from warden.audit_events").fetchone() == (True,)
        with pytest.raises(errors.InsufficientPrivilege):
            admin.execute("delete from warden.audit_events")


def test_admin_erases_personal_data_from_the_history(db_url: str, applied: Names) -> None:
    """audit_erase runs as the store's owner for the admin, who cannot otherwise write it."""
    with login(db_url, applied.admin) as admin:
        admin.execute("update app.items set name = 'secret name' where id = 1")
        erased = admin.execute(
            "select columns, events from warden.audit_erase('app.items', '[1]', '{name}')"
        ).fetchone()
        assert erased is not None and erased[0] == ["name"] and erased[1] == 1
        left = admin.execute(
            "select count(*) from warden.audit_events where row_key = '[1]'"
            " and (old_row ? 'name' or new_row ? 'name')"
        ).fetchone()
        assert left == (0,)
        assert admin.execute("select count(*) from warden.audit_erasures").fetchone() == (1,)


def test_admin_reverts_a_transaction(db_url: str, applied: Names) -> None:
    """revert_transaction and what it calls run as the admin; an insert it undoes on a
    soft-delete table goes for real, and only that DELETE is a hard one."""
    with login(db_url, applied.admin) as admin:
        with admin.transaction():
            admin.execute("insert into app.items (id, name) values (50, 'oops')")
            found = admin.execute("select pg_current_xact_id()::text").fetchone()
        assert found is not None
        with admin.transaction():
            undone = admin.execute(
                "select action from warden.revert_transaction(%s::xid8)", (found[0],)
            ).fetchall()
            admin.execute("delete from app.items where id = 2")  # marks, as before
        assert undone == [("deleted",)]
        marked = admin.execute(
            "select id, deleted_at is not null from app.items where id in (2, 50)"
        ).fetchall()
        assert marked == [(2, True)]


def test_admin_reads_the_change_feed(db_url: str, applied: Names) -> None:
    """changes_after, and the horizon it takes first, run as the admin."""
    with login(db_url, applied.admin) as admin:
        admin.execute("update app.items set name = 'c' where id = 1")
        for _ in range(300):  # a transaction elsewhere may hold the feed back for a read
            found = admin.execute(
                "select op, row_key from warden.changes_after('0'::xid8, 0) "
                "where op = 'U' and row_key = '[1]'"
            ).fetchall()
            if found:
                break
            time.sleep(0.05)
        assert found == [("U", [1])]
        assert admin.execute("select warden.feed_horizon() > '0'::xid8").fetchone() == (True,)


def test_owner_runs_migrations_and_audit_follows(
    conn: psycopg.Connection[Any], db_url: str, applied: Names, make_warden: Callable[[str], Warden]
) -> None:
    with login(db_url, applied.owner, direct=False) as owner:
        owner.execute("alter table app.items add column note text")
        owner.execute("create table app.later (id int primary key)")
    with login(db_url, applied.app) as app:
        app.execute("update app.items set note = 'n' where id = 1")
        app.execute("insert into app.later values (1)")
        history = app.execute(
            "select row_data ->> 'note' from warden.history('app.items', '[1]')"
            " order by version desc limit 1"
        ).fetchone()
        assert history == ("n",)
