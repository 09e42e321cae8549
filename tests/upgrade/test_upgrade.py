"""Upgrade in place: a database built by pgwarden at store version 24 (one migration stream,
edff86b) upgrades to one stream per feature with nothing lost and every read the same.

``v24.sql.gz`` is that database, dumped as plain SQL (see ``build_v24.py``; compressed: it
restates every function of the old store, which the tree defines once); ``v24_answers.json`` is what
edff86b's code read from it, and what its revert and restores did. A dump carries neither
object ids nor transaction ids, which an in-place upgrade keeps: the test gives back the two
things of that kind the store relies on (each registration's table oid, found by name; a
transaction counter past the recorded transactions), then applies with today's code.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from pgwarden import Warden
from pgwarden.errors import PgwardenError

from .build_v24 import SPEC, reads

HERE = Path(__file__).parent


def _restore(conn: psycopg.Connection[Any], dump: str) -> None:
    """Run a plain pg_dump script: statements, and COPY blocks fed through COPY FROM STDIN."""
    statement: list[str] = []
    body: str | None = None  # the dollar quote we are inside, if any
    # The store sets lz4 where the server has it (the dump was made on one that has).
    row = conn.execute(
        "select 'lz4' = any(enumvals) from pg_settings where name = 'default_toast_compression'"
    ).fetchone()
    lz4 = bool(row and row[0])
    lines = iter(dump.splitlines())
    for line in lines:
        if body is None and line.startswith("COPY ") and line.endswith("FROM stdin;"):
            with conn.cursor().copy(line[: -len(" FROM stdin;")] + " FROM STDIN") as copy:
                for data in lines:
                    if data == "\\.":
                        break
                    copy.write(data + "\n")
            continue
        statement.append(line)
        for tag in re.findall(r"\$[A-Za-z_]*\$", line):
            if body is None:
                body = tag
            elif tag == body:
                body = None
        if body is None and line.endswith(";"):
            text = "\n".join(statement)
            if lz4 or "SET COMPRESSION lz4" not in text:
                conn.execute(text.encode())
            statement = []
    assert not "".join(statement).strip()


def _spec(conn: psycopg.Connection[Any]) -> str:
    # Without logical decoding, the table captured from the WAL keeps its history and is
    # captured by triggers from now on (the reads are of the store, the same either way).
    if conn.execute("show wal_level").fetchone() == ("logical",):
        return SPEC
    return SPEC.replace('audit = { capture = "wal", wal_marker = "plpgsql" }', "audit = true")


@pytest.fixture
def upgraded(conn: psycopg.Connection[Any]) -> psycopg.Connection[Any]:
    """The v24 database restored into this test's database, with what a dump loses."""
    _restore(conn, gzip.decompress((HERE / "v24.sql.gz").read_bytes()).decode())
    conn.execute("select pg_catalog.set_config('search_path', 'public', false)")
    conn.execute(
        "update warden.audit_tables set relid = to_regclass(format('%I.%I', schema_name,"
        " table_name)) where dropped_at is null"
    )
    row = conn.execute("select max(txid)::text::bigint from warden.audit_events_all").fetchone()
    assert row is not None
    while True:
        now = conn.execute("select pg_current_xact_id()::text::bigint").fetchone()
        if now is None or now[0] > row[0]:
            break
    conn.execute("set timezone = 'UTC'")
    return conn


def test_a_store_version_24_database_upgrades_with_every_read_identical(
    upgraded: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn = upgraded
    expected = json.loads((HERE / "v24_answers.json").read_text())
    assert conn.execute("select max(version) from warden.migrations").fetchone() == (24,)
    warden = make_warden(_spec(conn))
    plan = warden.plan()
    migrate = [c for c in plan.changes if c.action == "migrate"]
    assert len(migrate) == 1
    # The state is there already: the baselines are recorded, not run; nothing is dropped.
    assert "audit 0001_store" in migrate[0].description
    # (Without logical decoding, public.notes leaves WAL capture: that is all that goes.)
    dropped = {str(c.table) for c in plan.changes if c.action == "drop"}
    assert dropped == (set() if _spec(conn) == SPEC else {"public.notes"})
    # The event triggers, filed under a table until now, become database-wide.
    refiled = {
        c.ref.name for c in plan.changes if c.ref and "now database-wide" in (c.reason or "")
    }
    assert refiled == {"pgwarden_audit_columns", "pgwarden_audit_partitions"}
    warden.apply()
    assert warden.plan().empty
    if "capture" in _spec(conn):
        warden.audit.ingest()
    streams = dict(
        conn.execute("select stream, max(version) from warden.migrations group by 1").fetchall()
    )
    assert streams == {"engine": 2, "legacy": 24, "audit": 4, "soft_delete": 1, "partition": 1}
    # Defined once, planned as objects: as_of is the file's, not a migration's.
    owned = {r[0] for r in conn.execute("select object_key from warden.owned_objects")}
    assert "function warden.as_of(anyelement,timestamp with time zone)" in owned
    assert "view warden.audit_events_all" in owned
    event_tables = conn.execute(
        "select table_name from warden.owned_objects where kind = 'event_trigger'"
    ).fetchall()
    assert event_tables == [(None,), (None,)]  # JSON null: database-wide

    got = reads(conn, expected["marks"], expected["txids"])
    for name, value in got.items():
        assert value == expected[name], name

    txid = expected["txids"][3]
    reverted = [list(r) for r in warden.audit.revert_transaction(txid)]
    assert json.loads(json.dumps(reverted)) == expected["revert"]
    assert warden.soft_delete.restore("public.accounts", 2).total == expected["restored"]
    assert warden.archive.restore("public.orders", where="true") == expected["restored archived"]
    for table, rows in expected["after writes"].items():
        now = conn.execute(f"select to_jsonb(t) from {table} t order by 1").fetchall()
        assert [r[0] for r in now] == rows, table


def test_a_store_older_than_version_24_is_refused_and_left_as_it_is(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute("create schema warden")
    conn.execute(
        "create table warden.migrations (version int primary key, name text not null,"
        " applied_at timestamptz not null default now())"
    )
    conn.execute("insert into warden.migrations (version, name) select g, 'old' from"
                 " generate_series(1, 12) g")  # fmt: skip
    conn.execute("create table warden.owned_objects (object_key text)")
    conn.execute("create table t (id int primary key)")
    with pytest.raises(PgwardenError, match="at version 12") as caught:
        make_warden('[tables."public.t"]\naudit = true\n').plan()
    assert "edff86b" in (caught.value.hint or "")
    assert conn.execute("select count(*), max(version) from warden.migrations").fetchone() == (
        12,
        12,
    )
