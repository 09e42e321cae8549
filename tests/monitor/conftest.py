"""Fixtures of the monitor tests: one database per module for planted problems that do not
interfere, and helpers to find findings."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from tests.conftest import _with_db, scratch_database

from pgwarden import Warden
from pgwarden.ops.monitor import Finding, Report
from pgwarden.spec import parse_spec


@pytest.fixture(scope="module")
def module_db(admin_url: str, template_db: str) -> Iterator[str]:
    """A database shared by one module's tests (planted problems that do not interfere)."""
    with scratch_database(admin_url, "pgwarden_mon", template_db) as name:
        yield _with_db(admin_url, name)


@pytest.fixture(scope="module")
def module_conn(module_db: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(module_db, autocommit=True) as connection:
        yield connection


def warden_for(url: str, toml: str = "") -> Warden:
    return Warden(url, spec=parse_spec(toml, file="pgwarden.toml"))


def found(report: Report, check: str, obj: str | None = None) -> list[Finding]:
    return [f for f in report.findings if f.check == check and (obj is None or f.object == obj)]


def objects(report: Report, check: str) -> set[str]:
    return {f.object for f in report.findings if f.check == check}


def has_statements(conn: psycopg.Connection[Any]) -> bool:
    """The server preloads pg_stat_statements (the embedded one does; the machine's 15 not)."""
    row = conn.execute("select current_setting('shared_preload_libraries')").fetchone()
    return bool(row and "pg_stat_statements" in str(row[0]))


@pytest.fixture
def require_statements(module_conn: psycopg.Connection[Any]) -> None:
    if not has_statements(module_conn):
        pytest.skip("this server does not preload pg_stat_statements")
    module_conn.execute("create extension if not exists pg_stat_statements")


MakeWarden = Callable[[str], Warden]
