"""Shared schema for the soft-delete tests: users -> posts -> comments, and orders."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from pgwarden import Warden

SCHEMA = """
create table users (id int primary key, email text unique, name text);
create table posts (id int primary key, user_id int references users on delete cascade,
                    title text);
create table comments (id int primary key, post_id int references posts on delete cascade,
                       body text);
create table orders (id int primary key, user_id int references users on delete restrict);
"""

SPEC = """
[tables."public.users"]
soft_delete = { purge = "30 days" }
[tables."public.posts"]
soft_delete = true
[tables."public.comments"]
soft_delete = true
"""


@pytest.fixture
def blog(conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]) -> Warden:
    """The blog schema with soft delete applied (the next plan is empty), and some rows."""
    conn.execute(SCHEMA)
    warden = make_warden(SPEC)
    warden.apply()
    assert warden.plan().empty
    conn.execute("insert into users values (1, 'a@x', 'a'), (2, 'b@x', 'b')")
    conn.execute("insert into posts values (10, 1, 'p1'), (11, 1, 'p2'), (12, 2, 'p3')")
    conn.execute("insert into comments values (100, 10, 'c1'), (101, 11, 'c2'), (102, 12, 'c3')")
    return warden


def live(conn: psycopg.Connection[Any], table: str) -> list[int]:
    return [
        r[0] for r in conn.execute(f"select id from {table} where deleted_at is null order by id")
    ]


def deleted(conn: psycopg.Connection[Any], table: str) -> list[int]:
    return [
        r[0]
        for r in conn.execute(f"select id from {table} where deleted_at is not null order by id")
    ]
