"""Capture: every operation, from any SQL, recorded with its keys, images and context."""

from __future__ import annotations

import ipaddress
import itertools
import random
import threading
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from psycopg import sql

from pgwarden import Warden

from ._support import applied, events, rows

SPEC = '[tables."public.t"]\naudit = true\n'


def _with(url: str, **params: Any) -> str:
    base = psycopg.conninfo.conninfo_to_dict(url)
    base.update(params)
    return psycopg.conninfo.make_conninfo(**base)  # type: ignore[arg-type]


def test_every_operation_is_recorded_with_keys_images_and_changed_columns(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute("create table t (id int primary key, v text, n int)")
    conn.execute("insert into t values (9, 'before', 0)")  # exists before auditing
    warden = applied(make_warden, SPEC)

    conn.execute("insert into t values (1, 'a', 1), (2, 'b', 2)")
    conn.execute("update t set v = 'a2' where id = 1")
    conn.execute("update t set n = n + 10, v = v where id < 9")  # v unchanged: only n listed
    conn.execute("update t set id = 3 where id = 2")  # key change
    conn.execute("delete from t where id = 9")
    conn.execute("insert into t values (4, 'x', 0) on conflict (id) do nothing")
    conn.execute("insert into t values (4, 'y', 0) on conflict (id) do update set v = excluded.v")
    conn.execute(
        "merge into t using (values (1, 'm'), (5, 'new')) s(id, v) on t.id = s.id "
        "when matched then update set v = s.v when not matched then insert values (s.id, s.v, 5)"
    )

    # In statement order; the rows of one statement by key (their order is the scan's).
    captured = sorted(events(conn), key=lambda e: (e["statement_id"], e["row_key"]))
    got = [(e["op"], e["row_key"], e["old_key"], e["old_values"]) for e in captured]
    assert got == [
        ("I", [1], None, None),
        ("I", [2], None, None),
        ("U", [1], None, {"v": "a"}),
        ("U", [1], None, {"n": 1}),
        ("U", [2], None, {"n": 2}),
        ("U", [3], [2], {"id": 2}),
        ("D", [9], None, {"id": 9, "v": "before", "n": 0}),
        ("I", [4], None, None),
        ("U", [4], None, {"v": "x"}),
        ("U", [1], None, {"v": "a2"}),
        ("I", [5], None, None),
    ]
    assert events(conn)[-1]["new_row"] == {"id": 5, "v": "new", "n": 5}

    one = warden.audit.history("public.t", 1)
    assert [(v.version, v.op, v.changed) for v in one] == [
        (1, "insert", None),
        (2, "update", ["v"]),
        (3, "update", ["n"]),
        (4, "update", ["v"]),
    ]
    assert [v.row for v in one] == [
        {"id": 1, "v": "a", "n": 1},
        {"id": 1, "v": "a2", "n": 1},
        {"id": 1, "v": "a2", "n": 11},
        {"id": 1, "v": "m", "n": 11},
    ]
    assert all(a.valid_to == b.valid_from for a, b in itertools.pairwise(one))
    assert one[-1].valid_to is None
    # A row older than auditing has a version 0: as it was before its first recorded change.
    nine = warden.audit.history("public.t", 9)
    assert [(v.version, v.op, v.row) for v in nine] == [
        (0, "existing", {"id": 9, "v": "before", "n": 0}),
        (1, "delete", None),
    ]
    # The key change ends the history of 2 and starts that of 3.
    assert [v.op for v in warden.audit.history("public.t", 2)] == [
        "insert",
        "update",
        "update (key moved away)",
    ]
    assert [(v.op, v.row) for v in warden.audit.history("public.t", 3)] == [
        ("update", {"id": 3, "v": "b", "n": 12})
    ]
    # A TRUNCATE is recorded too (the fact and, by default, every row it removed).
    conn.execute("truncate t")
    truncated = events(conn)[-5:]
    assert truncated[0]["op"] == "T"
    assert sorted((e["op"], e["row_key"]) for e in truncated[1:]) == [
        ("D", [1]),
        ("D", [3]),
        ("D", [4]),
        ("D", [5]),
    ]
    assert warden.audit.as_of("public.t", "2999-01-01") == []


def test_session_context_roles_and_transaction_id_are_recorded(
    conn: psycopg.Connection[Any],
    make_warden: Callable[..., Warden],
    make_role: Callable[[], str],
) -> None:
    conn.execute("create table t (id int primary key, v text)")
    warden = applied(make_warden, SPEC)
    with warden.session(actor="user:42", tenant="acme", reason="import", request_id="req-7") as db:
        db.execute("insert into t values (1, 'a')")
        db.execute("insert into t values (2, 'b')")
        txid = int(db.execute("select pg_current_xact_id()::text").fetchone()[0])
        login = db.execute("select session_user").fetchone()[0]

    [v1] = warden.audit.history("public.t", 1)
    assert (v1.actor, v1.tenant, v1.reason, v1.request_id, v1.txid) == (
        "user:42",
        "acme",
        "import",
        "req-7",
        txid,
    )
    first = events(conn)
    assert {(e["txid"], e["context_seq"]) for e in first} == {(txid, 1)}  # one context per tx
    assert all(e["has_context"] for e in first)
    assert (first[0]["login_role"], first[0]["acting_role"]) == (login, login)
    assert first[0]["application_name"] == "pgwarden"  # the Warden pool's connections

    # SET ROLE shows as the acting role; the login role stays; a plain transaction has no actor.
    role = make_role()
    conn.execute(sql.SQL("grant insert, select on t to {}").format(sql.Identifier(role)))
    conn.execute("set application_name = 'billing-worker'")
    with conn.transaction():
        conn.execute(sql.SQL("set local role {}").format(sql.Identifier(role)))
        conn.execute("insert into t values (3, 'c')")
        txid3 = int(conn.execute("select pg_current_xact_id()::text").fetchone()[0])  # type: ignore[index]
    last = events(conn)[-1]
    assert (last["login_role"], last["acting_role"]) == (login, role)
    assert (last["txid"], last["application_name"]) == (txid3, "billing-worker")
    assert (last["actor"], last["tenant"], last["reason"], last["request_id"]) == (None,) * 4


def test_client_address_is_recorded_over_tcp_and_null_over_a_socket(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden], db_url: str
) -> None:
    conn.execute("create table t (id int primary key)")
    applied(make_warden, SPEC)
    port = conn.execute("show port").fetchone()[0]  # type: ignore[index]
    with psycopg.connect(_with(db_url, host="127.0.0.1", port=port), autocommit=True) as tcp:
        tcp.execute("insert into t values (1)")
    assert events(conn)[-1]["client_addr"] == ipaddress.ip_address("127.0.0.1")

    socket_dir = (
        conn.execute("show unix_socket_directories").fetchone()[0].split(",")[0].strip(' "')
    )  # type: ignore[index]
    try:
        local = psycopg.connect(_with(db_url, host=socket_dir, port=port), autocommit=True)
    except psycopg.OperationalError as exc:  # pragma: no cover - depends on the server
        pytest.skip(f"no Unix socket connection to this server: {exc}")
    with local:
        local.execute("insert into t values (2)")
    assert events(conn)[-1]["row_key"] == [2]
    assert events(conn)[-1]["client_addr"] is None


def test_set_local_in_raw_sql_is_attributed_and_a_change_midway_starts_a_new_context(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute("create table t (id int primary key)")
    warden = applied(make_warden, SPEC)
    with conn.transaction():
        conn.execute("set local pgwarden.actor = 'psql:alice'")
        conn.execute("set local pgwarden.reason = 'fix typo'")
        conn.execute("insert into t values (1)")
        conn.execute("insert into t values (2)")
        conn.execute("set local pgwarden.actor = 'psql:bob'")
        conn.execute("insert into t values (3)")
        txid = int(conn.execute("select pg_current_xact_id()::text").fetchone()[0])  # type: ignore[index]
    # The settings ended with the transaction: the next one is nobody's.
    conn.execute("insert into t values (4)")

    got = [(e["row_key"], e["actor"], e["reason"], e["txid"]) for e in events(conn)]
    assert got[:3] == [
        ([1], "psql:alice", "fix typo", txid),
        ([2], "psql:alice", "fix typo", txid),
        ([3], "psql:bob", "fix typo", txid),
    ]
    assert got[3][:3] == ([4], None, None)
    assert got[3][3] != txid
    contexts = rows(
        conn, "select actor from warden.audit_contexts where txid = %s::text::xid8", txid
    )
    assert sorted(a for (a,) in contexts) == ["psql:alice", "psql:bob"]
    assert [v.actor for v in warden.audit.history("public.t", 3)] == ["psql:bob"]


def test_concurrent_sessions_from_one_pool_never_leak_their_context(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute(
        "create table t (id int generated by default as identity primary key, tag text, "
        "tenant text)"
    )
    warden = applied(make_warden, SPEC, pool_size=3)
    errors: list[BaseException] = []
    rolled_back: list[str] = []
    lock = threading.Lock()

    class Abort(Exception):
        pass

    def worker(n: int) -> None:
        rnd = random.Random(n)
        try:
            for i in range(25):
                actor = rnd.choice([f"user:{n}:{i}", f"svc:{rnd.randrange(3)}", None])
                tenant = f"tenant-{n}" if rnd.random() < 0.5 else None
                choice = rnd.random()
                if choice < 0.15:
                    # A session that fails: nothing of it may remain.
                    tag = f"rolled-back:{n}:{i}"
                    with lock:
                        rolled_back.append(tag)
                    try:
                        with warden.session(actor=tag, tenant=tenant) as db:
                            db.execute("insert into t (tag, tenant) values (%s, %s)", [tag, tenant])
                            raise Abort
                    except Abort:
                        pass
                elif choice < 0.25:
                    # Raw use of a pooled connection, after sessions ran on it: no actor.
                    with warden.pool.connection() as raw:
                        raw.execute("insert into t (tag) values (null)")
                else:
                    with warden.session(actor=actor, tenant=tenant) as db:
                        for _ in range(rnd.randint(1, 3)):
                            db.execute(
                                "insert into t (tag, tenant) values (%s, %s)", [actor, tenant]
                            )
                        db.execute(
                            "update t set tenant = tenant where id = "
                            "(select max(id) from t where tag is not distinct from %s)",
                            [actor],
                        )
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors

    captured = events(conn)
    assert len(captured) == rows(conn, "select count(*) from t")[0][0] > 100
    for e in captured:
        assert e["op"] == "I"
        assert e["actor"] == e["new_row"]["tag"], e
        assert e["tenant"] == e["new_row"]["tenant"], e
    assert rows(conn, "select count(*) from t where tag like %s", "rolled-back:%") == [(0,)]
    gone = rows(
        conn,
        "select count(*) from warden.audit_contexts where actor = any(%s)",
        rolled_back,
    )
    assert rolled_back and gone == [(0,)]
    # Every context belongs to exactly one transaction and one actor.
    per_tx = rows(
        conn,
        "select txid, count(distinct coalesce(actor, '-')) from warden.audit_contexts "
        "group by txid having count(distinct coalesce(actor, '-')) > 1",
    )
    assert per_tx == []


def test_a_big_update_pairs_every_old_row_with_its_new_row(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute("create table t (id int primary key, v text)")
    warden = applied(make_warden, SPEC)
    conn.execute("insert into t values (1, 'one')")
    conn.execute("update t set v = 'small'")  # a one-row statement first (plans get cached)
    conn.execute("insert into t select i, 'v' || i from generate_series(2, 600) i")
    conn.execute("update t set id = id + 1000, v = v || '!' where id % 3 = 0")
    conn.execute("update t set v = upper(v) where id > 300 and id < 1000")
    got = [e for e in events(conn) if e["op"] == "U"][1:]
    moved = [e for e in got if e["old_key"] is not None]
    assert len(moved) == 200
    for e in moved:
        old = e["old_key"][0]
        assert e["row_key"] == [old + 1000]
        assert e["old_values"] == {"id": old, "v": f"v{old}"}
        assert e["new_row"] == {"id": old + 1000, "v": f"v{old}!"}
    upper = [e for e in got if e["old_key"] is None]
    assert len(upper) == 200  # ids 301..999 not moved away
    for e in upper:
        key = e["row_key"][0]
        assert e["old_values"] == {"v": f"v{key}"} and e["new_row"]["v"] == f"V{key}"
    assert [v.row for v in warden.audit.history("public.t", 1003)] == [{"id": 1003, "v": "v3!"}]


def test_odd_names_and_columns_named_like_the_capture_internals(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute('create schema "Odd Schema"')
    conn.execute(
        'create table "Odd Schema"."My.Table" ("Id" int primary key, sid text, ctx text, '
        'tid text, at_ text, n text, o text, oj text, nj text, ok text, nk text, "select" text)'
    )
    table = '"Odd Schema"."My.Table"'
    warden = applied(make_warden, f"[tables.'{table}']\naudit = true\n")
    conn.execute(
        f"insert into {table} values (1, 'sid', 'ctx', 'tid', 'at', 'n', 'o', 'oj', 'nj', "
        "'ok', 'nk', 'sel')"
    )
    conn.execute(f"update {table} set oj = 'x', \"select\" = 'y'")
    got = events(conn)
    assert [(e["op"], e["row_key"], e["table_name"]) for e in got] == [
        ("I", [1], "Odd Schema.My.Table"),
        ("U", [1], "Odd Schema.My.Table"),
    ]
    assert got[1]["old_values"] == {"oj": "oj", "select": "sel"}
    assert got[0]["new_row"]["sid"] == "sid" and got[0]["new_row"]["nk"] == "nk"
    history = warden.audit.history(table, 1)
    assert [v.changed for v in history] == [None, ["oj", "select"]]
    assert warden.audit.as_of(table, "2999-01-01")[0]["oj"] == "x"


def test_history_of_a_row_keyed_by_a_user_defined_type(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute("create type color as enum ('red', 'green')")
    conn.execute("create domain code as text check (value <> '')")
    conn.execute("create table t (c color, k code, v text, primary key (c, k))")
    warden = applied(make_warden, SPEC)
    conn.execute("insert into t values ('red', 'x', 'a')")
    conn.execute("update t set v = 'b'")
    assert [v.row for v in warden.audit.history("public.t", ("red", "x"))] == [
        {"c": "red", "k": "x", "v": "a"},
        {"c": "red", "k": "x", "v": "b"},
    ]
    warden.audit.revert("public.t", ("red", "x"), to=1)
    assert rows(conn, "select v from t") == [("a",)]
