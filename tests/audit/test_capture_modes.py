"""capture = "auto" (the default) and moving between capture modes: the WAL where the server
and role allow it, triggers otherwise, the plan saying which and why; a table moved from one
mode to the other while writers keep writing loses and duplicates no event; the follower
streams the slot, and reads wait for it."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql

from pgwarden import Warden
from pgwarden.errors import ConfigError
from pgwarden.spec import parse_spec

from ._support import events, needs_logical_wal


@pytest.fixture(autouse=True)
def _auto_as_shipped(monkeypatch: pytest.MonkeyPatch) -> None:
    """The suite pins "auto" to triggers (tests/conftest.py): here it decides itself."""
    monkeypatch.delenv("PGWARDEN_AUDIT_CAPTURE", raising=False)


def _spec(table: str, capture: str | None) -> str:
    value = "true" if capture is None else f'{{ capture = "{capture}" }}'
    return f'[tables."public.{table}"]\naudit = {value}\n'


def _registration(warden: Warden) -> str:
    (found,) = [c.description for c in warden.plan().changes if "registration" in c.description]
    return found


def test_auto_takes_the_wal_where_the_server_allows_it_and_says_what_would_unlock_it(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute("create table t (id int primary key, v int)")
    warden = make_warden(_spec("t", None))
    level = conn.execute("show wal_level").fetchone()
    described = _registration(warden)
    if level == ("logical",):
        assert 'capture = "auto": the server and role allow capture from the WAL' in described
        assert "captured from the WAL" in described
    else:
        assert 'capture = "auto": trigger capture' in described
        assert "needs wal_level = logical" in described and "restart" in described
        assert "with trigger capture (docs/benchmarks.md)" in described  # measured difference
    warden.apply()
    mode = conn.execute("select capture from warden.audit_tables").fetchone()
    assert mode == (("wal",) if level == ("logical",) else ("trigger",))
    # Either way, a change is in the history the API reads (WAL: ingested first).
    conn.execute("insert into t values (1, 1)")
    assert [v.row["v"] for v in warden.audit.history("public.t", 1)] == [1]
    assert warden.plan().empty


def test_auto_falls_back_to_triggers_for_a_role_without_replication(
    conn: psycopg.Connection[Any], db_url: str, make_role: Callable[[], str]
) -> None:
    needs_logical_wal(conn)
    role = make_role()
    conn.execute(sql.SQL("alter role {} login").format(sql.Identifier(role)))
    conn.execute("create table t (id int primary key, v int)")
    params = psycopg.conninfo.conninfo_to_dict(db_url)
    params["user"] = role
    url = psycopg.conninfo.make_conninfo(**params)  # type: ignore[arg-type]
    with Warden(url, spec=parse_spec(_spec("t", None))) as warden:
        described = _registration(warden)
    assert 'capture = "auto": trigger capture' in described
    assert f"role {role} to have REPLICATION (ALTER ROLE {role} REPLICATION)" in described


def _writer(url: str, table: str, stop: threading.Event, done: list[tuple[int, int]]) -> None:
    """Small transactions until stopped: each UPDATE's (id, new v), each INSERT's (id, 0)."""
    t = sql.Identifier(table)
    rng = random.Random(7)
    with psycopg.connect(url, autocommit=True) as conn:
        while not stop.is_set():
            if rng.random() < 0.2:
                row = conn.execute(
                    sql.SQL(
                        "insert into {} (id, v) select coalesce(max(id), 0) + 1, 0 from {} "
                        "returning id, v"
                    ).format(t, t)
                ).fetchone()
            else:
                row = conn.execute(
                    sql.SQL("update {} set v = v + 1 where id = %s returning id, v").format(t),
                    (rng.randint(1, 10),),
                ).fetchone()
            if row is not None:
                done.append((row[0], row[1]))


@settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(modes=st.lists(st.sampled_from(["trigger", "wal", "auto"]), min_size=2, max_size=4))
def test_moving_between_capture_modes_under_writes_loses_and_duplicates_no_event(
    conn: psycopg.Connection[Any], db_url: str, modes: list[str]
) -> None:
    needs_logical_wal(conn)
    table = f"m_{uuid.uuid4().hex[:8]}"
    conn.execute(sql.SQL("create table {} (id int primary key, v int not null)").format(
        sql.Identifier(table)))  # fmt: skip
    written: list[tuple[int, int]] = []
    stop = threading.Event()
    writer: threading.Thread | None = None
    try:
        for i, mode in enumerate(modes):
            with Warden(db_url, spec=parse_spec(_spec(table, mode))) as warden:
                warden.apply()
            if i == 0:
                conn.execute(sql.SQL("insert into {} select g, 0 from generate_series(1, 10) g")
                             .format(sql.Identifier(table)))  # fmt: skip
                written += [(g, 0) for g in range(1, 11)]
                writer = threading.Thread(target=_writer, args=(db_url, table, stop, written))
                writer.start()
            time.sleep(0.3)
    finally:
        stop.set()
        if writer is not None:
            writer.join()
    with Warden(db_url, spec=parse_spec(_spec(table, modes[-1]))) as warden:
        warden.audit.ingest()
    found = [(e["row_key"][0], e["new_row"]["v"]) for e in events(conn, f"public.{table}")]
    assert sorted(found) == sorted(written)
    assert len(written) > 20  # the writer was writing across the moves


def test_the_follower_streams_events_and_reads_wait_for_it(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    needs_logical_wal(conn)
    conn.execute("create table t (id int primary key, v int)")
    warden = make_warden(_spec("t", "wal"))
    warden.apply()
    stop = threading.Event()
    totals: list[int] = []
    follower = threading.Thread(
        target=lambda: totals.append(warden.audit.follow(stop=stop.is_set).events)
    )
    follower.start()
    try:
        # ingest() waits only for a follower that is streaming: until the thread has opened
        # the slot, it reads the slot itself (nothing lost, but not what is tested here).
        deadline = time.monotonic() + 30
        while not conn.execute(
            "select coalesce(bool_or(active), false) from pg_replication_slots"
            " where database = current_database()"
        ).fetchone()[0]:  # type: ignore[index]
            assert time.monotonic() < deadline, "the follower did not start streaming"
            time.sleep(0.05)
        conn.execute("insert into t select g, 0 from generate_series(1, 100) g")
        for _ in range(20):
            conn.execute("update t set v = v + 1 where id = 7")
        # ingest() does not read the slot the follower streams: it waits for it.
        assert warden.audit.ingest().events == 0
        assert len(events(conn, "public.t")) == 120
        assert warden.audit.history("public.t", 7)[-1].row["v"] == 20
        # The feed's horizon follows too (about once a second), past every write above.
        row = conn.execute("select pg_snapshot_xmax(pg_current_snapshot())").fetchone()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and conn.execute(
            "select horizon < %s from warden.audit_wal", row
        ).fetchone() == (True,):
            time.sleep(0.1)
        assert conn.execute("select horizon >= %s from warden.audit_wal", row).fetchone() == (True,)
        # Back to triggers: the apply ends the follower's stream and drops the slot.
        make_warden(_spec("t", "trigger")).apply()
        conn.execute("delete from t where id = 1")
        assert len(events(conn, "public.t")) == 121
    finally:
        stop.set()
        follower.join()
    assert totals == [120]
    assert conn.execute(
        "select count(*) from pg_replication_slots where database = current_database()"
    ).fetchone() == (0,)


def test_the_environment_can_pin_what_auto_takes_and_a_bad_value_is_refused(
    conn: psycopg.Connection[Any],
    make_warden: Callable[..., Warden],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    conn.execute("create table t (id int primary key, v int)")
    monkeypatch.setenv("PGWARDEN_AUDIT_CAPTURE", "trigger")
    warden = make_warden(_spec("t", None))
    assert 'capture = "auto"' not in _registration(warden)  # as if declared
    warden.apply()
    assert conn.execute("select capture from warden.audit_tables").fetchone() == ("trigger",)
    monkeypatch.setenv("PGWARDEN_AUDIT_CAPTURE", "fast")
    with pytest.raises(ConfigError, match="PGWARDEN_AUDIT_CAPTURE='fast'"):
        make_warden(_spec("t", None)).apply()
    assert conn.execute("select capture from warden.audit_tables").fetchone() == ("trigger",)
