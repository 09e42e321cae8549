"""Unique keys hold among live rows: a deleted email can be registered again."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from psycopg import errors

from pgwarden import Warden


def test_unique_constraints_become_live_only(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute(
        "create table accounts (id int primary key, email text unique, "
        "handle text, tenant int, code text unique)"
    )
    conn.execute("create unique index accounts_handle on accounts (tenant, handle)")
    conn.execute("create table tokens (id int primary key, code text references accounts (code))")
    warden = make_warden('[tables."public.accounts"]\nsoft_delete = true\n')
    plan = warden.plan()
    shown = {str(c.ref): c.description for c in plan.changes if c.ref and c.ref.kind == "index"}
    assert "accounts_email_key" in shown["index public.accounts_email_key__live"]
    assert (
        "ON CONFLICT (email) WHERE deleted_at IS NULL"
        in shown["index public.accounts_email_key__live"]
    )
    assert "index public.accounts_handle__live" in shown
    # A key a foreign key points at stays table-wide.
    assert not any("accounts_code_key" in key for key in shown)
    warden.apply()
    assert warden.plan().empty

    conn.execute("insert into accounts values (1, 'a@x', 'ann', 1, 'c1')")
    with pytest.raises(errors.UniqueViolation):
        conn.execute("insert into accounts values (2, 'a@x', 'bob', 1, 'c2')")
    conn.execute("delete from accounts where id = 1")
    conn.execute("insert into accounts values (2, 'a@x', 'ann', 1, 'c2')")  # live again: ok
    with pytest.raises(errors.UniqueViolation):
        conn.execute("insert into accounts values (3, 'a@x', 'x', 2, 'c3')")
    # Upserts name the live-rows key.
    conn.execute(
        "insert into accounts values (4, 'a@x', 'z', 3, 'c4') "
        "on conflict (email) where deleted_at is null do update set handle = excluded.handle"
    )
    assert conn.execute("select handle from accounts where id = 2").fetchone() == ("z",)
    # Restoring a row whose key is taken again by a live row is refused by the index.
    with pytest.raises(Exception, match="accounts_email_key__live"):
        warden.soft_delete.restore("public.accounts", 1)

    # Removing the feature puts the constraint back (once duplicates are gone).
    conn.execute("select warden.allow_hard_delete()")
    with conn.transaction():
        conn.execute("select warden.allow_hard_delete()")
        conn.execute("delete from accounts where id = 1")
    remover = make_warden("")
    remover.apply()
    kinds = dict(
        conn.execute(
            "select conname, contype::text from pg_constraint where conrelid = 'accounts'::regclass"
        ).fetchall()
    )
    assert kinds.get("accounts_email_key") == "u"
    assert conn.execute("select to_regclass('accounts_handle')").fetchone() is not None
    assert conn.execute("select to_regclass('accounts_email_key__live')").fetchone() == (None,)
