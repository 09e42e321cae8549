"""Erasing a row's personal data from the history (``warden.audit.erase``): gone from every
event, hot and archived, under every key and name it had, and from checkpoints; other rows
untouched; recorded without the values; bad requests change nothing."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from pgwarden import Warden
from pgwarden.errors import AuditError

from ._support import applied, rows

SPEC = """[tables."public.users"]
audit = { archive_after = "1 day", checkpoint_every = 1 }
"""
SECRET = "alice@example.org"


def _images(conn: psycopg.Connection[Any]) -> str:
    """Every image of the store, hot, archived and in checkpoints, as one text."""
    parts = [
        str(r)
        for store in ("audit_events", "audit_events_archive")
        for r in rows(conn, f"select old_row, new_row from warden.{store}")
    ]
    for (rel,) in rows(
        conn,
        "select format('warden.%%I', 'audit_checkpoint__' || checkpoint_id) "
        "from warden.audit_checkpoints",
    ):
        parts += [str(r) for r in rows(conn, f"select * from {rel}")]
    return "\n".join(parts)


def _fill(conn: psycopg.Connection[Any], warden: Warden) -> None:
    conn.execute("create table users (id int primary key, email text, name text, plan text)")
    warden.apply()
    conn.execute(
        "insert into users values (1, %s, 'Alice', 'free'), (2, 'bob@example.org', 'Bob', 'pro')",
        (SECRET,),
    )
    # archived: everything so far
    warden.maintain(now=dt.datetime.now(dt.UTC) + dt.timedelta(days=2), names=["audit-archive"])
    conn.execute("update users set plan = 'pro' where id = 1")
    warden.maintain(names=["audit-checkpoint"])  # a checkpoint holding alice's email
    conn.execute("update users set email = 'alice@new.example', id = 10 where id = 1")  # moved
    conn.execute("update users set email = %s where id = 10", (SECRET,))


def test_a_rows_columns_leave_every_version_archive_and_checkpoint(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    warden = make_warden(SPEC)
    _fill(conn, warden)
    assert SECRET in _images(conn)
    assert rows(conn, "select count(*) from warden.audit_events_archive") == [(2,)]
    bob_before = warden.audit.history("public.users", 2)

    done = warden.audit.erase("public.users", 10, columns=["email"], reason="GDPR request 7")
    assert SECRET not in _images(conn) and "alice@new.example" not in _images(conn)
    assert sorted(done.keys) == [[1], [10]] and done.columns == ["email"]
    assert done.events == 4 and done.checkpoint_rows == 1
    # history reads the email as unknown, and keeps the rest
    versions = warden.audit.history("public.users", 10)
    assert all(v.row is None or v.row.get("email") is None for v in versions)
    assert [v.row["plan"] for v in warden.audit.history("public.users", 1) if v.row] == [
        "free",
        "pro",
    ]
    assert warden.audit.history("public.users", 2) == bob_before  # another row: untouched
    assert rows(conn, "select email from users where id = 10") == [(SECRET,)]  # the live row
    recorded = rows(
        conn, "select row_keys, columns, events, checkpoint_rows, reason from warden.audit_erasures"
    )
    assert recorded == [([[1], [10]], ["email"], 4, 1, "GDPR request 7")]


def test_all_but_the_key_by_default_and_names_before_a_rename(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    warden = make_warden(SPEC)
    _fill(conn, warden)
    conn.execute("alter table users rename column email to mail")
    conn.execute("update users set name = 'Alice B.' where id = 10")
    done = warden.audit.erase("public.users", 10)
    assert sorted(done.columns) == ["email", "mail", "name", "plan"]
    assert SECRET not in _images(conn) and "Alice" not in _images(conn)
    assert all(set(v.row or {}) <= {"id"} for v in warden.audit.history("public.users", 10))


BAD = [
    ("public.users", 10, ["id"], "id is a key column of public.users"),
    ("public.users", 10, ["phone"], "public.users has no column phone"),
    ("public.nothing", 1, None, '"public"."nothing" is not audited'),
]


@pytest.mark.parametrize(("table", "key", "columns", "message"), BAD)
def test_bad_requests_name_the_table_or_column_and_change_nothing(
    conn: psycopg.Connection[Any],
    make_warden: Callable[..., Warden],
    table: str,
    key: Any,
    columns: list[str] | None,
    message: str,
) -> None:
    warden = make_warden(SPEC)
    _fill(conn, warden)
    before = _images(conn)
    with pytest.raises(AuditError, match=re.escape(message)):
        warden.audit.erase(table, key, columns=columns)
    assert _images(conn) == before
    assert rows(conn, "select count(*) from warden.audit_erasures") == [(0,)]


def test_a_table_without_a_key_is_refused(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute("create table notes (body text)")
    warden = applied(make_warden, '[tables."public.notes"]\naudit = true\n')
    conn.execute("insert into notes values (%s)", (SECRET,))
    with pytest.raises(AuditError, match=r"\"notes\" has no key"):
        warden.audit.erase("public.notes", SECRET)
    with pytest.raises(psycopg.errors.FeatureNotSupported, match="known by their whole content"):
        conn.execute("select * from warden.audit_erase('public.notes', '[1]', null)")


def test_the_cli_erases_with_json(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden], db_url: str
) -> None:
    from pgwarden.cli import app

    warden = make_warden(SPEC)
    _fill(conn, warden)
    result = CliRunner().invoke(
        app,
        ["--database-url", db_url, "audit", "erase", "public.users", "10", "-c", "email",
         "-c", "name", "--yes", "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert sorted(out["columns"]) == ["email", "name"] and out["events"] >= 4
    refused = CliRunner().invoke(
        app, ["--database-url", db_url, "audit", "erase", "public.users", "10", "-c", "id", "-y"]
    )
    assert refused.exit_code != 0 and "key column" in refused.output


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    writes=st.lists(st.tuples(st.integers(1, 6), st.sampled_from(["name", "email"])), max_size=20),
    victim=st.integers(1, 6),
)
def test_only_the_erased_rows_images_change(
    conn: psycopg.Connection[Any],
    make_warden: Callable[..., Warden],
    writes: list[tuple[int, str]],
    victim: int,
) -> None:
    if conn.execute("select to_regclass('people')").fetchone() == (None,):
        conn.execute("create table people (id int primary key, name text, email text)")
        applied(make_warden, '[tables."public.people"]\naudit = true\n')
    warden = make_warden('[tables."public.people"]\naudit = true\n')
    conn.execute("delete from people")
    conn.execute("insert into people select i, 'n' || i, 'e' || i from generate_series(1, 6) i")
    for n, (key, column) in enumerate(writes):
        conn.execute(f"update people set {column} = %s where id = %s", (f"{column}{n}", key))
    store = (
        "select e.event_id, e.row_key, e.old_row, e.new_row from warden.audit_events e "
        "join warden.audit_tables t using (table_id) where t.table_name = 'people' order by 1"
    )
    before = rows(conn, store)
    warden.audit.erase("public.people", victim, columns=["email"])
    after = rows(conn, store)
    for (eid, key, old, new), (eid2, _, old2, new2) in zip(before, after, strict=True):
        assert eid == eid2
        if key == [victim]:
            assert old2 == (None if old is None else {k: v for k, v in old.items() if k != "email"})
            assert new2 == (None if new is None else {k: v for k, v in new.items() if k != "email"})
        else:
            assert (old2, new2) == (old, new)
