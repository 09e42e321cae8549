"""Test databases on a real PostgreSQL: the embedded server by default, or PGWARDEN_TEST_DSN.

One server per test process (pytest-xdist worker), one template database per process, and a
fresh clone of it for every test that asks for ``db_url``: cheap isolation, no shared state.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from pgwarden import Warden
from pgwarden.spec import parse_spec

TEST_DSN = os.environ.get("PGWARDEN_TEST_DSN")
# Most audit tests pin what trigger capture records (a statement per statement, its own
# clock): audit's default capture = "auto" takes triggers here, on every server alike. The
# tests of "auto" itself (tests/audit/test_capture_modes.py) unset it; those of the WAL
# declare capture = "wal".
os.environ.setdefault("PGWARDEN_AUDIT_CAPTURE", "trigger")

# Throwaway test clusters need no durability; these make them several times faster.
FAST_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    # Lets the tests of audit capture = "wal" run (logical decoding).
    "wal_level": "logical",
}


def _with_db(url: str, dbname: str) -> str:
    params = psycopg.conninfo.conninfo_to_dict(url)
    params["dbname"] = dbname
    return psycopg.conninfo.make_conninfo(**params)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def admin_url() -> Iterator[str]:
    """A URL to a maintenance database on the server under test."""
    if TEST_DSN:
        yield TEST_DSN
        return
    from pgwarden.server import EmbeddedServer

    # Not under pytest's basetemp: pytest prunes old run folders there, and a concurrent
    # pytest run by the same user could delete this server's data while it runs.
    home = Path(tempfile.mkdtemp(prefix="pgwarden-test-"))
    server = EmbeddedServer(home / "pg")
    status = server.start(settings=FAST_SETTINGS)
    try:
        yield status.url("postgres")
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)


@contextlib.contextmanager
def scratch_database(admin_url: str, prefix: str, template: str | None = None) -> Iterator[str]:
    """A database of its own (a clone of ``template`` if given), dropped afterwards; yields
    its name."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template is not None:
        create += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(create)
    try:
        yield name
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            # A logical replication slot (audit capture = "wal") would block the drop.
            conn.execute(
                "select pg_drop_replication_slot(slot_name) from pg_replication_slots "
                "where database = %s",
                (name,),
            )
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@contextlib.contextmanager
def prefixed_roles(admin_url: str, stem: str) -> Iterator[str]:
    """A role prefix of this test process's for a blueprint whose declaration names roles
    (they are cluster-wide; the server may be shared); its four roles are dropped at the end,
    once the databases using them are gone."""
    prefix = f"{stem}{uuid.uuid4().hex[:8]}"
    yield prefix
    with psycopg.connect(admin_url, autocommit=True) as conn:
        for slot in ("app", "readonly", "admin", "owner"):
            name = sql.Identifier(f"{prefix}_{slot}")
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(name))


@pytest.fixture(scope="session")
def template_db(admin_url: str) -> Iterator[str]:
    """A template database each test clones; add extensions here once if tests need them."""
    with scratch_database(admin_url, "pgwarden_tpl") as name:
        yield name


@pytest.fixture
def db_url(admin_url: str, template_db: str) -> Iterator[str]:
    """A fresh database of its own for one test."""
    with scratch_database(admin_url, "pgwarden_t", template_db) as name:
        yield _with_db(admin_url, name)


@pytest.fixture
def conn(db_url: str) -> Iterator[psycopg.Connection[Any]]:
    """An autocommit connection to the test's database."""
    with psycopg.connect(db_url, autocommit=True) as connection:
        yield connection


@pytest.fixture
def make_warden(db_url: str) -> Iterator[Callable[[str], Warden]]:
    """Build a :class:`Warden` on the test database from declaration text."""
    made: list[Warden] = []

    def make(spec_text: str = "", **kw: Any) -> Warden:
        warden = Warden(db_url, spec=parse_spec(spec_text, file="pgwarden.toml"), **kw)
        made.append(warden)
        return warden

    yield make
    for warden in made:
        warden.close()


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db_url: str) -> Path:
    """A project directory (cwd) whose pgwarden.toml the test writes; the test database is
    given through PGWARDEN_DATABASE_URL, as a user would."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PGWARDEN_DATABASE_URL", db_url)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    return tmp_path
