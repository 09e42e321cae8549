"""capture = "wal": the same events as trigger capture, written by the ingester from the WAL,
exactly once, with the feed never passing a transaction that is not ingested yet."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from pgwarden import Warden
from pgwarden.errors import FeatureNotApplicable
from pgwarden.features.audit import _wal

from ._support import applied, events, needs_logical_wal, now, rows

WAL = '[tables."public.t"]\naudit = { capture = "wal" }\n'
TABLE = "create table {} (id int primary key, v text, n numeric, tags int[], doc jsonb, secret text, noise int)"


@pytest.fixture
def logical(conn: psycopg.Connection[Any]) -> None:
    needs_logical_wal(conn)


def _slot(conn: psycopg.Connection[Any]) -> tuple[Any, ...] | None:
    return conn.execute(
        "select slot_name, plugin from pg_replication_slots where database = current_database()"
    ).fetchone()


def _workload(conn: psycopg.Connection[Any], table: str, role: str) -> None:
    """Every kind of change, from raw SQL, with context set the ways applications set it."""
    t = sql.Identifier(table)
    run = lambda q, *a: conn.execute(sql.SQL(q).format(t), a)  # noqa: E731
    with conn.transaction():
        conn.execute("set local pgwarden.actor = 'alice'")
        conn.execute("set local pgwarden.reason = 'import'")
        run("insert into {} values (1, 'a', 1.50, '{{1,NULL}}', '{{\"k\": [1]}}', 's1', 0), "
            "(2, 'b', null, null, null, null, 0), (3, 'c''q', -2, '{{}}', 'null', 's3', 0)")  # fmt: skip
        run("update {} set v = 'a2' where id = 1")
        conn.execute("set local pgwarden.actor = 'bob'")  # a new context mid-transaction
        run("update {} set n = n + 1 where id < 9")
    run("update {} set noise = noise + 1")  # excluded column only: no event
    run("update {} set v = v")  # changes nothing: no event
    run("update {} set id = id + 10 where id in (1, 2)")  # key change, two rows at once
    with conn.transaction():
        conn.execute(sql.SQL("set local role {}").format(sql.Identifier(role)))
        run("delete from {} where id = 3")
        run("insert into {} (id, v, secret) values (4, repeat('x', 5000), 'big')")
    run("update {} set n = 7 where id = 4")  # the big v is TOASTed and unchanged
    run("truncate {}")
    run("insert into {} (id, v) values (5, 'after')")


def _what(e: dict[str, Any]) -> tuple[Any, ...]:
    return (e["op"], e["row_key"], e["old_key"], e["old_row"], e["new_row"], e["actor"],
            e["reason"], e["login_role"], e["acting_role"], e["application_name"],
            e["has_context"])  # fmt: skip


def _same_events(by_wal: list[dict[str, Any]], by_trigger: list[dict[str, Any]]) -> None:
    """The same events, in an order that keeps the trigger capture's statements in order
    (WAL capture makes each row its own statement, outside key-changing UPDATEs)."""
    assert sorted(map(_what, by_wal), key=repr) == sorted(map(_what, by_trigger), key=repr)
    order = {sid: i for i, sid in enumerate(sorted({e["statement_id"] for e in by_trigger}))}
    statement_of = {repr(_what(e)): order[e["statement_id"]] for e in by_trigger}
    assert len(statement_of) == len(by_trigger)  # each event told apart by what it records
    in_wal_order = sorted(by_wal, key=lambda e: (e["statement_id"], e["event_id"]))
    ranks = [statement_of[repr(_what(e))] for e in in_wal_order]
    assert ranks == sorted(ranks)


def test_wal_capture_records_exactly_what_trigger_capture_records(
    conn: psycopg.Connection[Any],
    make_warden: Callable[..., Warden],
    make_role: Callable[[], str],
    logical: None,
) -> None:
    role = make_role()
    options = 'exclude = ["noise"], redact = ["secret"]'
    for name in ("by_trigger", "by_wal"):
        conn.execute(sql.SQL(TABLE).format(sql.Identifier(name)))
        conn.execute(
            sql.SQL("grant all on {} to {}").format(sql.Identifier(name), sql.Identifier(role))
        )
    spec = (
        f'[tables."public.by_trigger"]\naudit = {{ {options} }}\n'
        f'[tables."public.by_wal"]\naudit = {{ {options}, capture = "wal" }}\n'
    )
    warden = applied(make_warden, spec)
    _workload(conn, "by_trigger", role)
    _workload(conn, "by_wal", role)
    assert events(conn, "public.by_wal") == []  # not ingested yet
    done = warden.audit.ingest()
    assert done.events > 0 and done.lag_bytes >= 0

    by_trigger = events(conn, "public.by_trigger")
    by_wal = events(conn, "public.by_wal")
    assert len(by_wal) == len(by_trigger) == 16
    _same_events(by_wal, by_trigger)
    assert {e["actor"] for e in by_wal} == {"alice", "bob", None}
    assert any(e["acting_role"] == role for e in by_wal)
    big = [e for e in by_wal if e["op"] == "U" and e["row_key"] == [4]]
    assert big and big[0]["new_row"]["v"] == "x" * 5000  # unchanged TOAST value filled in
    # Commit order, one time per transaction: the time it committed.
    assert [e["event_id"] for e in by_wal] == sorted(e["event_id"] for e in by_wal)
    # Python reads ingest first: the history is complete without an explicit ingest.
    conn.execute("update by_wal set v = 'latest' where id = 5")
    assert warden.audit.history("public.by_wal", 5)[-1].row["v"] == "latest"
    assert warden.plan().empty


def test_a_killed_ingester_loses_nothing_and_writes_nothing_twice(
    conn: psycopg.Connection[Any],
    make_warden: Callable[..., Warden],
    db_url: str,
    logical: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    conn.execute(sql.SQL(TABLE).format(sql.Identifier("t")))
    warden = applied(make_warden, WAL)
    for i in range(300):
        with conn.transaction():
            conn.execute(
                "insert into t (id, v) select %s * 10 + g, 'x' from generate_series(0, 2) g", (i,)
            )
            conn.execute("update t set n = %s where id = %s", (i, i * 10))

    # Deterministic: the events commit, the slot is not advanced (a crash in between).
    calls = []

    def crash(*args: Any) -> None:
        calls.append(args)
        raise KeyboardInterrupt

    monkeypatch.setattr(_wal, "_advance", crash)
    with pytest.raises(KeyboardInterrupt), psycopg.connect(db_url, autocommit=True) as c:
        _wal.ingest(c, batch=200)  # the next call re-reads (a smaller batch) and skips
    monkeypatch.undo()
    assert calls and len(events(conn, "public.t")) > 0

    # Random: SIGKILL an ingesting process at any moment, again and again.
    code = (
        "import sys, psycopg\nfrom pgwarden.features.audit import _wal\n"
        "with psycopg.connect(sys.argv[1], autocommit=True) as c:\n"
        "    _wal.ingest(c, batch=150)\n"
    )
    for delay in (0.05, 0.1, 0.2, 0.3, 0.4, 0.6):
        proc = subprocess.Popen([sys.executable, "-c", code, db_url])
        time.sleep(delay)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    warden.audit.ingest()

    found = events(conn, "public.t")
    inserts = [e for e in found if e["op"] == "I"]
    updates = [e for e in found if e["op"] == "U"]
    assert len(inserts) == 900 and len({tuple(e["row_key"]) for e in inserts}) == 900
    assert len(updates) == 300 and len({e["txid"] for e in updates}) == 300
    assert warden.audit.ingest().events == 0


def test_messages_a_session_forges_are_dropped(
    conn: psycopg.Connection[Any],
    make_warden: Callable[..., Warden],
    make_role: Callable[[], str],
    logical: None,
) -> None:
    """Any role may emit logical messages with pgwarden's prefix; only the capture's own,
    signed with the owner's secret for their transaction, are believed."""
    role = make_role()
    conn.execute(sql.SQL(TABLE).format(sql.Identifier("t")))
    conn.execute(sql.SQL("grant all on t to {}").format(sql.Identifier(role)))
    warden = applied(make_warden, WAL)
    tid, relid = conn.execute(
        "select warden.audit_table_id('public.t'), 'public.t'::regclass::oid::bigint"
    ).fetchone() or (0, 0)
    emit = "select pg_logical_emit_message(true, 'pgwarden.audit', %s)"
    with conn.transaction():
        conn.execute(sql.SQL("set local role {}").format(sql.Identifier(role)))
        conn.execute("insert into t (id, v) values (1, 'a')")
        # A context claiming someone else, a TRUNCATE that never happened, a removed row:
        # with no MAC, a wrong one, and one copied from nowhere.
        fake_who = json.dumps(["root", "root", "10.0.0.1", 1, "mallory", None, None, None, "x",
                               "2026-01-01T00:00:00+00:00"])  # fmt: skip
        conn.execute(emit, ("C" + fake_who,))
        conn.execute(emit, ("C" + fake_who + "\x1f" + "0" * 64,))
        conn.execute(emit, ("T" + json.dumps([tid, relid, []]) + "\x1f" + "ab" * 32,))
        conn.execute(emit, ('R{"id": 99, "v": "ghost"}\x1f' + "cd" * 32,))
        conn.execute("update t set v = 'b' where id = 1")
        # Anyone may ask for its context to be sent: it only ever tells the truth.
        conn.execute("select warden_wal.context()")
        denied = pytest.raises(psycopg.errors.InsufficientPrivilege)
        with denied, conn.transaction():  # nobody else can sign
            conn.execute("select warden.audit_wal_signed('C[]')")
    done = warden.audit.ingest()
    assert done.rejected == 4 and done.events == 2
    found = events(conn, "public.t")
    assert [(e["op"], e["row_key"]) for e in found] == [("I", [1]), ("U", [1])]
    assert {(e["login_role"], e["acting_role"], e["actor"]) for e in found} == {
        ("postgres", role, None)
    }


def test_forging_the_context_flag_only_loses_the_forgers_own_context(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden], logical: None
) -> None:
    conn.execute(sql.SQL(TABLE).format(sql.Identifier("t")))
    warden = applied(make_warden, WAL)
    with conn.transaction():
        conn.execute("set local pgwarden.actor = 'alice'")
        conn.execute("insert into t (id) values (1)")
    with conn.transaction():
        conn.execute("set local pgwarden.actor = 'mallory'")
        # What the trigger would compare, set before the first write: no context is sent.
        conn.execute(
            "select set_config('pgwarden._said', concat(pg_current_xact_id(), chr(31), "
            "'mallory', chr(31), chr(31), chr(31), chr(31), "
            "current_setting('application_name'), chr(31), current_setting('role')), true)"
        )
        conn.execute("update t set v = 'hidden' where id = 1")
    warden.audit.ingest()
    found = events(conn, "public.t")
    assert [(e["op"], e["actor"], e["has_context"]) for e in found] == [
        ("I", "alice", True),
        ("U", None, False),  # no context at all: never alice's, never another transaction's
    ]


def test_the_feed_never_passes_a_transaction_waiting_to_be_ingested(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden], logical: None
) -> None:
    conn.execute("create table w (id int primary key)")
    conn.execute("create table tr (id int primary key)")
    warden = applied(
        make_warden,
        '[tables."public.w"]\naudit = { capture = "wal" }\n[tables."public.tr"]\naudit = true\n',
    )
    conn.execute("insert into w values (1)")  # older transaction, events not written yet
    conn.execute("insert into tr values (1)")  # newer one, its event is in the store
    feed = "select table_name from warden.changes_after('0'::xid8, 0)"
    assert conn.execute(feed).fetchall() == []  # held back behind the un-ingested one
    warden.audit.ingest()
    assert [r[0] for r in conn.execute(feed)] == ["public.w", "public.tr"]
    assert [e.table for e in warden.audit.changes()] == ["public.w", "public.tr"]


def test_partitioned_table_from_the_wal_with_partition_truncates(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden], logical: None
) -> None:
    conn.execute("create table p (id int, v text, primary key (id)) partition by range (id)")
    conn.execute("create table p1 partition of p for values from (0) to (100)")
    conn.execute("create table p2 partition of p for values from (100) to (200)")
    warden = applied(make_warden, '[tables."public.p"]\naudit = { capture = "wal" }\n')
    conn.execute("insert into p values (1, 'a'), (150, 'b'), (2, 'c')")
    conn.execute("update p2 set v = 'b2'")  # through a partition directly
    conn.execute("truncate p1")  # one partition: its rows only
    conn.execute("insert into p1 values (3, 'd')")
    conn.execute("truncate p")  # the whole table: each row once
    warden.audit.ingest()
    found = [(e["op"], e["row_key"]) for e in events(conn, "public.p")]
    assert found == [
        ("I", [1]), ("I", [150]), ("I", [2]), ("U", [150]),
        ("D", [1]), ("D", [2]), ("I", [3]),
        ("T", None), ("D", [3]), ("D", [150]),
    ]  # fmt: skip
    assert all(e["actor"] is None and e["has_context"] for e in events(conn, "public.p"))


def test_a_row_moved_to_another_partition_is_one_update_with_its_key_changed(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden], logical: None
) -> None:
    """PostgreSQL moves a row between partitions as a DELETE and an INSERT: from the WAL,
    pgwarden records the pair as the UPDATE it was (trigger capture cannot tell them apart:
    see the strict xfail in test_partitioned.py)."""
    conn.execute(
        "create table p (id int, region text, v text, primary key (id, region)) "
        "partition by list (region)"
    )
    conn.execute("create table p_eu partition of p for values in ('eu')")
    conn.execute("create table p_us partition of p for values in ('us')")
    warden = applied(make_warden, '[tables."public.p"]\naudit = { capture = "wal" }\n')
    conn.execute("insert into p values (1, 'eu', 'a'), (2, 'eu', 'b'), (3, 'us', 'c')")
    before = now(conn)
    conn.execute("update p set region = 'us', v = v || '!' where region = 'eu'")  # two moves
    conn.execute("update p set v = 'c2' where id = 3")  # stays where it is
    with conn.transaction():  # a real DELETE and INSERT in one bracket-free transaction
        conn.execute("delete from p where id = 3")
        conn.execute("insert into p values (3, 'eu', 'c3')")
    warden.audit.ingest()
    moved = [(e["op"], e["row_key"], e["old_key"]) for e in events(conn, "public.p")][3:]
    assert moved == [
        ("U", [1, "us"], [1, "eu"]),
        ("U", [2, "us"], [2, "eu"]),
        ("U", [3, "us"], None),
        ("D", [3, "us"], None),
        ("I", [3, "eu"], None),
    ]
    assert warden.audit.history("public.p", (1, "eu"))[-1].op == "update (key moved away)"
    assert warden.audit.history("public.p", (1, "us"))[-1].row == {
        "id": 1,
        "region": "us",
        "v": "a!",
    }
    by_key = lambda r: (r["id"], r["region"])  # noqa: E731
    assert sorted(warden.audit.as_of("public.p", before), key=by_key) == [
        {"id": 1, "region": "eu", "v": "a"},
        {"id": 2, "region": "eu", "v": "b"},
        {"id": 3, "region": "us", "v": "c"},
    ]
    warden.audit.revert_transaction(events(conn, "public.p")[3]["txid"])  # the moves, undone
    assert rows(conn, "select id, region, v from p order by id") == [
        (1, "eu", "a"),
        (2, "eu", "b"),
        (3, "eu", "c3"),
    ]


def test_a_partition_made_by_hand_is_captured_whole_before_the_next_apply(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden], logical: None
) -> None:
    """Made or attached after apply, a partition has its context, its old rows (REPLICA
    IDENTITY FULL) and its TRUNCATE captured at once (event trigger
    pgwarden_audit_partitions), not from the next apply on."""
    conn.execute("create table p (id int, v text, primary key (id)) partition by range (id)")
    conn.execute("create table p1 partition of p for values from (0) to (100)")
    warden = applied(make_warden, '[tables."public.p"]\naudit = { capture = "wal" }\n')
    conn.execute("create table p2 partition of p for values from (100) to (200)")
    conn.execute("create table p3 (like p including all)")
    conn.execute("alter table p attach partition p3 for values from (200) to (300)")
    identity = "select relname, relreplident from pg_class where relname in ('p2', 'p3')"
    assert sorted(rows(conn, identity)) == [("p2", "f"), ("p3", "f")]
    with conn.transaction():
        conn.execute("set local pgwarden.actor = 'ann'")
        conn.execute("insert into p2 values (150, 'a')")  # on the new partition itself
        conn.execute("insert into p3 values (250, 'b')")
    with conn.transaction():
        conn.execute("set local pgwarden.actor = 'bob'")
        conn.execute("update p2 set v = 'a2'")
        conn.execute("delete from p3")
    conn.execute("insert into p2 values (151, 'c')")
    conn.execute("truncate p2")
    warden.audit.ingest()
    found = [(e["op"], e["row_key"], e["actor"], e["old_values"]) for e in events(conn)]
    assert found == [
        ("I", [150], "ann", None),
        ("I", [250], "ann", None),
        ("U", [150], "bob", {"v": "a"}),
        ("D", [250], "bob", {"id": 250, "v": "b"}),
        ("I", [151], None, None),
        ("D", [150], None, {"id": 150, "v": "a2"}),
        ("D", [151], None, {"id": 151, "v": "c"}),
    ]
    assert all(e["has_context"] for e in events(conn))
    warden.apply()  # takes over the triggers and identities made for it
    assert warden.plan().empty
    # Detached, its TRUNCATE is no longer the table's (its own capture triggers are gone).
    conn.execute("alter table p detach partition p3")
    conn.execute("insert into p3 values (260, 'x')")
    conn.execute("truncate p3")
    warden.audit.ingest()
    assert len(events(conn)) == len(found)
    warden.apply()
    assert warden.plan().empty


def test_the_partitions_event_trigger_runs_once_for_a_command_not_once_per_partition(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden], logical: None
) -> None:
    """Its own ALTER TABLE ... REPLICA IDENTITY FULL on each partition fires it again; those
    nested calls return at once. (They used to do the work again, one level deeper per
    partition: applying WAL capture to 1,000 partitions took more than 45 minutes.)"""
    conn.execute("create table p (id int primary key) partition by range (id)")
    for i in range(30):
        conn.execute(f"create table p_{i} partition of p for values from ({i}) to ({i + 1})")
    applied(make_warden, '[tables."public.p"]\naudit = { capture = "wal" }\n')
    conn.execute("alter table p replica identity default")  # the root first: no adoption
    for i in range(30):
        conn.execute(f"alter table p_{i} replica identity default")
    calls = (
        "select pg_stat_get_xact_function_calls('warden.audit_adopt_partitions()'::regprocedure)"
    )
    with conn.transaction():
        conn.execute("set local track_functions = 'pl'")
        conn.execute("alter table p replica identity full")
        # Once for the command, once (returning at once) for each ALTER TABLE it issued.
        assert conn.execute(calls).fetchone() == (31,)
    identities = "select count(*) from pg_class where relname like 'p\\_%' and relreplident = 'f'"
    assert conn.execute(identities).fetchone() == (30,)
    assert conn.execute("select current_setting('pgwarden._adopting', true)").fetchone() in (
        (None,), ("",),
    )  # fmt: skip


def test_schema_changes_between_write_and_ingest_keep_every_value(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden], logical: None
) -> None:
    conn.execute("create table t (id int primary key, a text, gone int)")
    warden = applied(make_warden, WAL)
    conn.execute("insert into t values (1, 'x', 7)")
    conn.execute("alter table t drop column gone")
    conn.execute("alter table t add column added date default '2026-01-02'")
    conn.execute("update t set a = 'y'")
    warden.audit.ingest()
    found = events(conn, "public.t")
    assert found[0]["new_row"] == {"id": 1, "a": "x", "gone": 7}
    assert found[1]["new_row"] == {"id": 1, "a": "y", "added": "2026-01-02"}


def test_dropping_the_table_before_ingest_keeps_its_events(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden], logical: None
) -> None:
    conn.execute(sql.SQL(TABLE).format(sql.Identifier("t")))
    warden = applied(make_warden, WAL)
    conn.execute("insert into t (id, v) values (1, 'kept')")
    conn.execute("drop table t")
    warden.audit.ingest()
    assert [e["new_row"]["v"] for e in events(conn)] == ["kept"]


def test_leaving_wal_capture_ingests_what_is_left_and_drops_the_slot(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden], logical: None
) -> None:
    conn.execute(sql.SQL(TABLE).format(sql.Identifier("t")))
    applied(make_warden, WAL)
    assert _slot(conn) is not None
    conn.execute("insert into t (id) values (1)")
    applied(make_warden, '[tables."public.t"]\naudit = true\n')
    assert _slot(conn) is None
    assert conn.execute("select 1 from pg_publication").fetchone() is None
    conn.execute("insert into t (id) values (2)")  # captured by the trigger again
    assert [e["row_key"] for e in events(conn, "public.t")] == [[1], [2]]
    assert conn.execute(
        "select relreplident from pg_class where oid = 'public.t'::regclass"
    ).fetchone() == ("d",)


def test_a_slot_dropped_by_hand_shows_in_the_plan_and_apply_brings_it_back(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden], logical: None
) -> None:
    conn.execute(sql.SQL(TABLE).format(sql.Identifier("t")))
    warden = applied(make_warden, WAL)
    conn.execute("select pg_drop_replication_slot(slot_name) from pg_replication_slots")
    plan = warden.plan()
    assert [c.action for c in plan.changes] == ["repair"]
    warden.apply()
    assert _slot(conn) is not None and warden.plan().empty


def test_wal_capture_is_refused_with_the_reason_when_the_server_cannot_decode(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    level = conn.execute("show wal_level").fetchone()
    if level == ("logical",):
        pytest.skip("this server decodes its WAL (the refusal is for wal_level < logical)")
    conn.execute("create table t (id int primary key)")
    with pytest.raises(FeatureNotApplicable, match="wal_level = logical"):
        make_warden(WAL).plan()


def test_wal_capture_is_refused_for_a_role_that_cannot_read_a_slot(
    conn: psycopg.Connection[Any], db_url: str, logical: None, make_role: Callable[[], str]
) -> None:
    role = make_role()
    conn.execute(sql.SQL("alter role {} login").format(sql.Identifier(role)))
    conn.execute("create table t (id int primary key)")
    params = psycopg.conninfo.conninfo_to_dict(db_url)
    params["user"] = role
    url = psycopg.conninfo.make_conninfo(**params)  # type: ignore[arg-type]
    from pgwarden.spec import parse_spec

    with (
        Warden(url, spec=parse_spec(WAL)) as warden,
        pytest.raises(FeatureNotApplicable, match="REPLICATION"),
    ):
        warden.plan()


def test_ingest_audit_command_and_the_maintenance_job_write_the_events(
    conn: psycopg.Connection[Any],
    make_warden: Callable[..., Warden],
    project: Path,
    logical: None,
) -> None:
    from typer.testing import CliRunner

    from pgwarden.cli import app

    conn.execute(sql.SQL(TABLE).format(sql.Identifier("t")))
    (project / "pgwarden.toml").write_text(WAL)
    warden = applied(make_warden, WAL)
    assert "audit-ingest" in [j.name for j in warden.jobs()]
    conn.execute("insert into t (id) select generate_series(1, 5)")

    dry = warden.maintain(dry_run=True, names=["audit-ingest"])
    assert dry[0].dry_run and "bytes of WAL to read" in dry[0].detail
    assert events(conn, "public.t") == []
    assert [(r.job, r.rows) for r in warden.maintain(names=["audit-ingest"])] == [
        ("audit-ingest", 5)
    ]

    conn.execute("delete from t where id <= 2")
    result = CliRunner().invoke(app, ["audit", "ingest", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["events"] == 2
    assert len(events(conn, "public.t")) == 7
    result = CliRunner().invoke(app, ["audit", "ingest"])
    assert "Ingested 0 audit event(s)" in result.stdout


def test_status_says_how_much_wal_waits_to_be_ingested(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden], logical: None
) -> None:
    conn.execute(sql.SQL(TABLE).format(sql.Identifier("t")))
    warden = applied(make_warden, WAL)
    with conn.transaction():
        conn.execute(
            "insert into t (id, v) select g, repeat('x', 100) from generate_series(1, 2000) g"
        )
        written = conn.execute("select pg_current_wal_lsn()").fetchone()
    (note,) = warden.status().notes
    waiting = int(note.split(" holds ")[1].split(" bytes")[0].replace(",", ""))
    assert waiting > 200_000 and "last ingestion: never" in note
    warden.audit.ingest()
    (note,) = warden.status().notes
    assert "last ingestion: 20" in note
    # The bytes still waiting count every database's WAL since: the slot is past our insert.
    assert conn.execute(
        "select confirmed_flush_lsn > %s::pg_lsn from pg_replication_slots "
        "where database = current_database()",
        written,
    ).fetchone() == (True,)
    assert [n.split(" holds ")[0] for n in warden.status().to_json()["notes"]] == [
        note.split(" holds ")[0]
    ]
    assert make_warden('[tables."public.t"]\naudit = true\n').status().notes == ()
