"""Builds ``v24.sql.gz`` and ``v24_answers.json``: a database made by pgwarden at store version 24
(commit edff86b, the last with one migration stream), and what that code read from it.

Not a test: run once, with edff86b's code, against a PostgreSQL with wal_level = logical::

    python tests/upgrade/build_v24.py postgresql://postgres@127.0.0.1:5499/postgres

It declares audit (trigger and WAL capture; a partitioned table), versioning, soft_delete,
archive and partition, writes history in several transactions, archives audit events and
rows, soft-deletes rows, dumps the database (plain SQL) and records the answers of the reads
(history, as_of, the change feed, revert_transaction) and of the restores (soft delete,
archive), run on the source database after the dump. ``test_upgrade.py`` restores the dump,
applies with today's code and checks every answer is the same.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg

from pgwarden import Warden
from pgwarden.spec import parse_spec

HERE = Path(__file__).parent
DB = "pgw_v24"
SPEC = """
[tables."public.accounts"]
audit = true
versioning = true
soft_delete = true

[tables."public.events"]
audit = true
partition = { column = "at", interval = "1 month", premake = 1 }

[tables."public.orders"]
audit = { archive_after = "30 days" }
archive = { after = "1 year", column = "placed" }

[tables."public.notes"]
audit = { capture = "wal", wal_marker = "plpgsql" }
"""

SCHEMA = """
create table accounts (id int primary key, name text not null, balance int not null);
create table events (id int not null, at timestamptz not null, kind text,
                     primary key (id, at)) partition by range (at);
create table orders (id int primary key, placed date not null, total int not null);
create table notes (id int primary key, body text);
"""


def reads(conn: psycopg.Connection[Any], marks: dict[str, str], txids: list[int]) -> dict[str, Any]:
    """Every read the upgrade must keep identical, as JSON."""

    def rows(query: str, *params: Any) -> list[Any]:
        return [r[0] for r in conn.execute(query, params).fetchall()]

    out: dict[str, Any] = {}
    for table, keys in (("public.accounts", [1, 2, 3]), ("public.events", []),
                        ("public.orders", [1, 2]), ("public.notes", [1, 2])):  # fmt: skip
        for key in keys:
            out[f"history {table} {key}"] = rows(
                "select to_jsonb(h) - 'valid_to' - 'valid_from' || jsonb_build_object("
                "'from', h.valid_from::text, 'to', h.valid_to::text)"
                " from warden.history(%s, warden.audit_key(%s, array[%s::text])) h",
                table,
                table,
                key,
            )
        for name, at in marks.items():
            out[f"as_of {table} {name}"] = rows(
                f"select to_jsonb(r) from warden.as_of(null::{table}, %s::timestamptz) r"
                " order by 1",
                at,
            )
    out["feed"] = rows(
        "select jsonb_build_object('table', c.table_name, 'op', c.op, 'key', c.row_key,"
        " 'old', c.old_row, 'new', c.new_row) from warden.changes_after('0'::xid8, 0, 1000) c"
    )
    out["events by table"] = rows(
        "select jsonb_build_object('table', t.schema_name || '.' || t.table_name, 'n', count(*))"
        " from warden.audit_events_all e join warden.audit_tables t using (table_id)"
        " group by t.schema_name, t.table_name order by 1"
    )
    out["versions"] = rows(
        "select to_jsonb(v) - 'valid_from' - 'valid_to' from warden.versions((select table_id from warden.audit_tables"
        " where table_name = 'accounts')) v"
        " order by 1"
    )
    return out


def main(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"drop database if exists {DB} with (force)")
        admin.execute(f"create database {DB}")
    db_url = psycopg.conninfo.make_conninfo(url, dbname=DB)
    warden = Warden(db_url, spec=parse_spec(SPEC, file="pgwarden.toml"))
    marks: dict[str, str] = {}
    txids: list[int] = []
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(SCHEMA)
        conn.execute(
            "insert into orders select g, date '2020-01-01' + g * 30, g * 10"
            " from generate_series(1, 6) g"
        )
        warden.apply()

        def write(statements: str, actor: str) -> None:
            with warden.session(actor=actor, reason=f"fixture: {actor}") as db:
                db.connection.execute(statements)
                row = db.connection.execute("select pg_current_xact_id()::text").fetchone()
                assert row is not None
                txids.append(int(row[0]))
            time.sleep(0.01)

        write(
            "insert into accounts values (1, 'ann', 10), (2, 'bob', 20), (3, 'cy', 30);"
            "insert into notes values (1, 'first'), (2, 'second');"
            "insert into events values (1, now(), 'open'), (2, now(), 'close')",
            "alice",
        )
        marks["after first"] = conn.execute("select now()::text").fetchone()[0]  # type: ignore[index]
        time.sleep(0.01)
        write(
            "update accounts set balance = balance + 5 where id in (1, 2);"
            "update notes set body = 'first, edited' where id = 1;"
            "update orders set total = total + 1 where id = 6",
            "bob",
        )
        write("alter table accounts rename column name to full_name", "admin")
        write(
            "update accounts set full_name = 'ann b' where id = 1; delete from notes where id = 2;"
            "update events set kind = 'reopened' where id = 2",
            "carol",
        )
        marks["after renames"] = conn.execute("select now()::text").fetchone()[0]  # type: ignore[index]
        time.sleep(0.01)
        write("update accounts set balance = 99 where id = 3", "dave")
        # Soft delete: bob's account (the delete is an UPDATE pgwarden makes).
        write("delete from accounts where id = 2", "erin")
        warden.ingest_audit()
        # Audit events older than archive_after move to the archive store; old orders move
        # to archive.orders.
        conn.execute(
            "update warden.audit_events set at = at - interval '90 days'"
            " where table_id = (select table_id from warden.audit_tables"
            " where table_name = 'orders')"
        )
        for result in warden.maintain():
            print(result)
        warden.ingest_audit()  # the feed stops at the ingester's horizon
        marks["now"] = conn.execute("select now()::text").fetchone()[0]  # type: ignore[index]
        answers = reads(conn, marks, txids)
        version = conn.execute("select max(version) from warden.migrations").fetchone()
        assert version == (24,), version
    dump = subprocess.run(
        [
            "pg_dump",
            "--no-owner",
            "--no-comments",
            "--exclude-table-data=warden.applies",
            "--dbname",
            db_url,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    lines, copying = [], False
    for line in dump.splitlines():
        if copying:  # data, kept as is, up to its end marker
            lines.append(line)
            copying = line != "\\."
        elif line and not line.startswith(("--", "\\restrict", "\\unrestrict")):
            lines.append(line)
            copying = line.startswith("COPY ")
    (HERE / "v24.sql.gz").write_bytes(gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0))
    # What the writes of this code do from that state: revert the last transaction of
    # carol, restore bob's account, restore the archived orders.
    with psycopg.connect(db_url, autocommit=True) as conn:
        answers["revert"] = [list(r) for r in warden.revert_transaction(txids[3])]
        answers["restored"] = warden.restore("public.accounts", 2).total
        answers["restored archived"] = warden.restore_archived("public.orders", where="true")
        answers["after writes"] = {
            t: [r[0] for r in conn.execute(f"select to_jsonb(t) from {t} t order by 1").fetchall()]
            for t in ("public.accounts", "public.notes", "public.orders", "archive.orders")
        }
    answers["marks"] = marks
    answers["txids"] = txids
    (HERE / "v24_answers.json").write_text(json.dumps(answers, indent=1, sort_keys=True) + "\n")
    warden.close()
    print("built at", dt.datetime.now(dt.UTC))


if __name__ == "__main__":
    main(sys.argv[1])
