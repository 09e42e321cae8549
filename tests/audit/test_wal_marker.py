"""wal_marker: WAL capture's context trigger in C (extension pgwarden_wal) or in PL/pgSQL.
Both make the same flag and the same signed context, so one transaction may write tables
marked by either and its context is sent once."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from psycopg import sql

from pgwarden import Warden
from pgwarden.errors import FeatureNotApplicable, SpecError
from pgwarden.spec import parse_spec

from ._support import applied, events, needs_logical_wal

TABLE = "create table {} (id int primary key, v text)"
BOTH = (
    '[tables."public.by_c"]\naudit = { capture = "wal", wal_marker = "c" }\n'
    '[tables."public.by_plpgsql"]\naudit = { capture = "wal", wal_marker = "plpgsql" }\n'
)
CONTEXT = (
    "actor", "tenant", "reason", "request_id", "login_role", "acting_role", "client_addr",
    "application_name", "backend_pid", "tx_started_at",
)  # fmt: skip


def _available(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute(
        "select exists (select from pg_available_extensions where name = 'pgwarden_wal')"
    ).fetchone()
    return bool(row and row[0])


@pytest.fixture
def c_marker(conn: psycopg.Connection[Any]) -> None:
    needs_logical_wal(conn)
    if not _available(conn):
        pytest.skip("extension pgwarden_wal is not installed on this server")


def _marker(conn: psycopg.Connection[Any], table: str) -> str:
    row = conn.execute(
        "select tgfoid::regproc::text from pg_trigger "
        "where tgrelid = %s::regclass and tgname = 'pgwarden_audit_w'",
        (table,),
    ).fetchone()
    assert row is not None
    return str(row[0])


def _contexts(conn: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        return cur.execute(
            "select txid::text::bigint as txid, context_seq, "
            + ", ".join(CONTEXT)
            + " from warden.audit_contexts order by txid, context_seq"
        ).fetchall()


def test_the_embedded_server_has_the_c_marker(conn: psycopg.Connection[Any]) -> None:
    """`make` builds and installs pgwarden_wal into the embedded server: without it, WAL
    capture's tests would silently run the PL/pgSQL trigger only."""
    if os.environ.get("PGWARDEN_TEST_DSN"):
        pytest.skip("another server: pgwarden_wal is installed there by its administrator")
    assert _available(conn)


def test_c_and_plpgsql_markers_send_the_same_context_once(
    conn: psycopg.Connection[Any],
    make_warden: Callable[..., Warden],
    make_role: Callable[[], str],
    db_url: str,
    c_marker: None,
) -> None:
    role = make_role()
    for name in ("by_c", "by_plpgsql"):
        conn.execute(sql.SQL(TABLE).format(sql.Identifier(name)))
        conn.execute(sql.SQL("grant all on {} to {}").format(sql.Identifier(name), sql.Identifier(role)))  # fmt: skip
    warden = applied(make_warden, BOTH)
    assert _marker(conn, "by_c") == "warden_wal.statement"
    assert _marker(conn, "by_plpgsql") == "warden.audit_wal_statement"

    def both(query: str, *args: Any, first: str = "by_c") -> None:
        second = "by_plpgsql" if first == "by_c" else "by_c"
        for table in (first, second):
            conn.execute(sql.SQL(query).format(sql.Identifier(table)), args)

    flag_matches = "select current_setting('pgwarden._said') = warden_wal.said()"
    with conn.transaction():
        conn.execute("set local pgwarden.actor = 'alice'")
        conn.execute("set local pgwarden.reason = 'import ''quoted'' \"and\" \\ more'")
        both("insert into {} values (1, 'a'), (2, 'b')")
        assert conn.execute(flag_matches).fetchone() == (True,)  # the C flag, byte for byte
        both("update {} set v = 'a2' where id = 1", first="by_plpgsql")
        conn.execute("set local pgwarden.actor = 'bob'")  # a new context mid-transaction
        conn.execute("set local pgwarden.tenant = 'ünïcode'")
        both("update {} set v = v || '!' where id = 2")
        both("update {} set v = v || '?' where id = 2", first="by_plpgsql")
    with conn.transaction():
        conn.execute("set local pgwarden.actor = 'carol'")
        conn.execute("savepoint s")
        both("insert into {} values (3, 'gone')")
        conn.execute("rollback to savepoint s")  # the context sent inside is gone with it
        both("insert into {} values (4, 'kept')")
    with conn.transaction():
        conn.execute(sql.SQL("set local role {}").format(sql.Identifier(role)))
        conn.execute("set local application_name = 'second app'")
        both("delete from {} where id = 1", first="by_plpgsql")
    with conn.transaction():
        both("insert into {} values (5, 'no context declared')")
    # Over TCP: the client's address is part of the context.
    params = psycopg.conninfo.conninfo_to_dict(db_url)
    params["host"] = "127.0.0.1"
    tcp_url = psycopg.conninfo.make_conninfo(**params)  # type: ignore[arg-type]
    with psycopg.connect(tcp_url, autocommit=True) as tcp, tcp.transaction():
        tcp.execute("set local pgwarden.request_id = 'req-7'")
        tcp.execute("insert into by_c values (6, 'tcp')")
        tcp.execute("insert into by_plpgsql values (6, 'tcp')")

    done = warden.audit.ingest()
    assert done.rejected == 0  # every context the C function signed is believed
    by_c, by_plpgsql = events(conn, "public.by_c"), events(conn, "public.by_plpgsql")
    assert len(by_c) == len(by_plpgsql) == 9
    for c_event, plpgsql_event in zip(by_c, by_plpgsql, strict=True):
        assert c_event["row_key"] == plpgsql_event["row_key"]
        # The same context row: whichever trigger ran first sent it, the other saw its flag.
        assert (c_event["txid"], c_event["context_seq"]) == (
            plpgsql_event["txid"], plpgsql_event["context_seq"],
        )  # fmt: skip
    contexts = _contexts(conn)
    # One per transaction, and one more for each change of context within it.
    assert [(c["actor"], c["tenant"], c["application_name"]) for c in contexts][:3] == [
        ("alice", None, contexts[0]["application_name"]),
        ("bob", "ünïcode", contexts[0]["application_name"]),
        ("carol", None, contexts[0]["application_name"]),
    ]
    assert contexts[0]["reason"] == "import 'quoted' \"and\" \\ more"
    assert len(contexts) == 6
    assert (contexts[3]["acting_role"], contexts[3]["application_name"]) == (role, "second app")
    assert contexts[4]["actor"] is None and contexts[4]["login_role"] == "postgres"
    assert contexts[5]["request_id"] == "req-7" and str(contexts[5]["client_addr"]) == "127.0.0.1"
    mine = conn.execute("select inet_client_addr()").fetchone()
    assert mine is not None and contexts[0]["client_addr"] == mine[0]
    assert {c["backend_pid"] for c in contexts[:5]} == {conn.info.backend_pid}


def test_each_marker_alone_sends_each_context_once(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden], c_marker: None
) -> None:
    for name in ("by_c", "by_plpgsql"):
        conn.execute(sql.SQL(TABLE).format(sql.Identifier(name)))
    warden = applied(make_warden, BOTH)
    for table in ("by_c", "by_plpgsql"):
        t = sql.Identifier(table)
        with conn.transaction():
            conn.execute("set local pgwarden.actor = 'alice'")
            for i in range(5):
                conn.execute(sql.SQL("insert into {} values (%s, 'x')").format(t), (i,))
            conn.execute("set local pgwarden.actor = 'bob'")
            conn.execute(sql.SQL("update {} set v = 'y'").format(t))
            conn.execute(sql.SQL("delete from {} where id = 0").format(t))
    assert warden.audit.ingest().rejected == 0
    found = _contexts(conn)
    assert [c["actor"] for c in found] == ["alice", "bob", "alice", "bob"]
    assert found[0]["txid"] == found[1]["txid"] != found[2]["txid"] == found[3]["txid"]


def test_the_c_marker_refuses_to_be_a_row_trigger(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden], c_marker: None
) -> None:
    """A BEFORE ROW trigger returning NULL would skip the row: the function refuses instead."""
    conn.execute(sql.SQL(TABLE).format(sql.Identifier("by_c")))
    conn.execute(sql.SQL(TABLE).format(sql.Identifier("other")))
    applied(make_warden, '[tables."public.by_c"]\naudit = { capture = "wal" }\n')
    conn.execute(
        "create trigger misused before insert on other for each row "
        "execute function warden_wal.statement()"
    )
    with pytest.raises(psycopg.errors.TriggerProtocolViolated, match="FOR EACH STATEMENT"):
        conn.execute("insert into other values (1, 'x')")
    assert conn.execute("select count(*) from other").fetchone() == (0,)


def test_auto_installs_the_extension_and_removing_wal_capture_drops_it(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden], c_marker: None
) -> None:
    installed = "select extversion from pg_extension where extname = 'pgwarden_wal'"
    newest = conn.execute(
        "select default_version from pg_available_extensions where name = 'pgwarden_wal'"
    ).fetchone()  # what pgwarden brings one of its own to
    conn.execute(sql.SQL(TABLE).format(sql.Identifier("t")))
    conn.execute("create table p (id int primary key) partition by range (id)")
    conn.execute("create table p1 partition of p for values from (0) to (10)")
    spec = '[tables."public.t"]\naudit = { capture = "wal" }\n[tables."public.p"]\naudit = { capture = "wal" }\n'
    warden = make_warden(spec)
    plan = warden.plan()
    said = [c.description for c in plan.changes]
    assert any(d.startswith("extension pgwarden_wal (audit's context trigger") for d in said)
    assert any("context trigger in C, extension pgwarden_wal" in d for d in said)
    warden.apply()
    assert warden.plan().empty
    assert conn.execute(installed).fetchone() == newest
    assert {_marker(conn, t) for t in ("t", "p", "p1")} == {"warden_wal.statement"}
    # A partition made by hand gets the same trigger at once (the event trigger copies it).
    conn.execute("create table p2 partition of p for values from (10) to (20)")
    assert _marker(conn, "p2") == "warden_wal.statement"
    # Moving every table to PL/pgSQL: the triggers change; the extension, still called by
    # them when its drop runs, is left installed (and no longer pgwarden's).
    plpgsql = spec.replace('capture = "wal"', 'capture = "wal", wal_marker = "plpgsql"')
    make_warden(plpgsql).apply()
    assert {_marker(conn, t) for t in ("t", "p", "p1", "p2")} == {"warden.audit_wal_statement"}
    assert make_warden(plpgsql).plan().empty
    # Back to auto: the installed extension is used as the database's own, never dropped.
    auto = make_warden(spec)
    auto.apply()
    assert _marker(conn, "t") == "warden_wal.statement" and auto.plan().empty
    # An extension pgwarden installed goes with the last table it served (trigger capture
    # records its context with it too, where it is there).
    conn.execute("drop extension pgwarden_wal cascade")
    auto.apply()  # repairs the triggers; the extension is pgwarden's again
    assert _marker(conn, "t") == "warden_wal.statement"
    make_warden('[tables."public.t"]\naudit = { capture = "trigger" }\n').apply()
    assert conn.execute(installed).fetchone() == newest
    make_warden("").apply()
    assert conn.execute(installed).fetchone() is None


def test_wal_marker_c_is_refused_with_the_reason(
    conn: psycopg.Connection[Any], db_url: str, make_role: Callable[[], str], c_marker: None
) -> None:
    role = make_role()
    conn.execute(sql.SQL("alter role {} login replication").format(sql.Identifier(role)))
    conn.execute(sql.SQL(TABLE).format(sql.Identifier("t")))
    params = psycopg.conninfo.conninfo_to_dict(db_url)
    params["user"] = role
    url = psycopg.conninfo.make_conninfo(**params)  # type: ignore[arg-type]
    c_spec = '[tables."public.t"]\naudit = { capture = "wal", wal_marker = "c" }\n'
    with (
        Warden(url, spec=parse_spec(c_spec)) as warden,
        pytest.raises(FeatureNotApplicable, match="CREATE EXTENSION pgwarden_wal") as refused,
    ):
        warden.plan()
    assert "public.t" in str(refused.value) and role in str(refused.value)
    # auto: PL/pgSQL, since this role cannot install the extension.
    auto_spec = '[tables."public.t"]\naudit = { capture = "wal" }\n'
    with Warden(url, spec=parse_spec(auto_spec)) as warden:
        changes = warden.plan().changes
    made = " ".join(c.sql for c in changes)
    assert "warden.audit_wal_statement" in made and "pgwarden_wal" not in made
    said = " ".join(c.description for c in changes)  # the plan says why it is PL/pgSQL
    assert f"context trigger in PL/pgSQL (role {role} is not a superuser" in said


def test_wal_marker_needs_wal_capture() -> None:
    with pytest.raises(SpecError, match=r"public\.t.*wal_marker applies only to capture"):
        parse_spec('[tables."public.t"]\naudit = { capture = "trigger", wal_marker = "c" }\n')
