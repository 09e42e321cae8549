"""Fixtures of the audit tests: throwaway roles (cluster-wide, so named per test and dropped)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql


@pytest.fixture
def make_role(conn: psycopg.Connection[Any]) -> Iterator[Callable[[], str]]:
    """Create NOLOGIN roles with unique names; each is dropped (with its grants) at the end."""
    made: list[str] = []

    def make() -> str:
        name = f"pgw_app_{uuid.uuid4().hex[:10]}"
        conn.execute(sql.SQL("CREATE ROLE {}").format(sql.Identifier(name)))
        made.append(name)
        return name

    yield make
    conn.execute("RESET ROLE")
    for name in made:
        conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))
