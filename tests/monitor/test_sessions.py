"""Sessions and replication: idle in transaction, long running, a blocking tree (with
``pgwarden top``'s data layer and cancel / terminate on the real blocked sessions),
connection usage, wraparound thresholds, inactive slots."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from tests.monitor.conftest import found, objects, warden_for

from pgwarden.ops.monitor import Severity


def _pid(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("select pg_backend_pid()").fetchone()
    assert row is not None
    return int(row[0])


def _wait_until(conn: psycopg.Connection[Any], query: str, params: Any) -> None:
    """Poll until ``query`` returns true (sessions reaching a state); fail after 30 s."""
    for _ in range(600):
        row = conn.execute(query, params).fetchone()
        if row and row[0]:
            return
        time.sleep(0.05)
    raise AssertionError(f"never true: {query} {params}")


class Background:
    """A statement running in a thread on its own connection; keeps the error it ended with."""

    def __init__(self, url: str, statement: str, *, autocommit: bool = True):
        self.conn = psycopg.connect(url, autocommit=autocommit)
        self.pid = _pid(self.conn)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(statement,), daemon=True)
        self.thread.start()

    def _run(self, statement: str) -> None:
        try:
            self.conn.execute(statement)
        except BaseException as exc:
            self.error = exc

    def join(self) -> None:
        self.thread.join(30)
        self.conn.close()


@pytest.fixture
def idle_in_tx(module_db: str) -> Iterator[psycopg.Connection[Any]]:
    conn = psycopg.connect(module_db)
    conn.execute("select 1")  # a transaction opened and left idle
    yield conn
    conn.close()


def test_idle_in_transaction(
    module_db: str, idle_in_tx: psycopg.Connection[Any], module_conn: psycopg.Connection[Any]
) -> None:
    pid = _pid(idle_in_tx)
    with psycopg.connect(module_db, autocommit=True) as idle:  # idle, no transaction
        other = _pid(idle)
        _wait_until(
            module_conn,
            "select state = 'idle in transaction' from pg_stat_activity where pid = %s",
            (pid,),
        )
        with warden_for(module_db, '[monitor]\nidle_in_transaction = "1ms"') as warden:
            report = warden.monitor.doctor(["connections.idle_in_transaction"])
        with warden_for(module_db) as warden:  # default threshold: a minute
            calm = warden.monitor.doctor(["connections.idle_in_transaction"])
    assert f"pid {pid}" in objects(report, "connections.idle_in_transaction")
    assert f"pid {other}" not in objects(report, "connections.idle_in_transaction")
    assert f"pid {pid}" not in objects(calm, "connections.idle_in_transaction")


def test_blocking_tree_top_data_cancel_and_terminate(
    module_db: str, module_conn: psycopg.Connection[Any]
) -> None:
    module_conn.execute("create table locked (id int primary key, v int)")
    module_conn.execute("insert into locked values (1, 0)")
    holder = psycopg.connect(module_db)
    holder.execute("update locked set v = 1 where id = 1")  # holds the row, idle in tx
    root = _pid(holder)
    writer = Background(module_db, "update locked set v = 2 where id = 1")
    locker = Background(module_db, "lock table locked in access exclusive mode", autocommit=False)
    try:
        _wait_until(
            module_conn,
            "select cardinality(pg_blocking_pids(%s)) > 0 and cardinality(pg_blocking_pids(%s)) > 0",
            (writer.pid, locker.pid),
        )
        with warden_for(module_db, '[monitor]\nlock_wait = "1ms"') as warden:
            report = warden.monitor.doctor(["connections.blocked"])
            (tree,) = found(report, "connections.blocked", f"pid {root}")
            assert tree.evidence["waiting"] == 2
            assert f"pid {writer.pid}" not in objects(report, "connections.blocked")
            # pgwarden top's data: who blocks whom.
            rows = {a.pid: a for a in warden.monitor.activity()}
            assert root in rows[writer.pid].blocked_by
            assert rows[root].state == "idle in transaction"
            # Cancel the lock request, then end the root's session: the writer goes on.
            assert warden.monitor.cancel(locker.pid)
            locker.join()
            assert isinstance(locker.error, psycopg.errors.QueryCanceled)
            assert warden.monitor.terminate(root)
            writer.join()
            assert writer.error is None
            # A terminated backend lingers a moment while it exits (a signal still reaches it)
            _wait_until(
                module_conn,
                "select not exists (select from pg_stat_activity where pid = %s)",
                (root,),
            )
            assert not warden.monitor.cancel(root)  # gone: nothing signalled
    finally:
        holder.close()
        writer.join()
        locker.join()
    row = module_conn.execute("select v from locked").fetchone()
    assert row == (2,)
    with warden_for(module_db, '[monitor]\nlock_wait = "1ms"') as warden:
        assert f"pid {root}" not in objects(
            warden.monitor.doctor(["connections.blocked"]), "connections.blocked"
        )


def test_long_running_query_and_its_fix(
    module_db: str, module_conn: psycopg.Connection[Any]
) -> None:
    sleeper = Background(module_db, "select pg_sleep(60)")
    try:
        _wait_until(
            module_conn,
            "select state = 'active' from pg_stat_activity where pid = %s",
            (sleeper.pid,),
        )
        with warden_for(module_db, '[monitor]\nlong_running = "1ms"') as warden:
            report = warden.monitor.doctor(["connections.long_running"])
            assert f"pid {sleeper.pid}" in objects(report, "connections.long_running")
            fixed = warden.monitor.fix("connections.long_running", f"pid {sleeper.pid}")
            assert [f.object for f in fixed] == [f"pid {sleeper.pid}"]
        sleeper.join()
        assert isinstance(sleeper.error, psycopg.errors.QueryCanceled)
    finally:
        sleeper.join()


def test_thresholds_of_server_wide_checks(module_db: str) -> None:
    toml = "[monitor]\nconnections_pct = 0.01\nwraparound_pct = 0.0000001\n"
    with warden_for(module_db, toml) as warden:
        tight = warden.monitor.doctor(
            ["connections.usage", "xid.wraparound", "multixact.wraparound"]
        )
    with warden_for(module_db) as warden:
        calm = warden.monitor.doctor(
            ["connections.usage", "xid.wraparound", "multixact.wraparound"]
        )
    (usage,) = found(tight, "connections.usage")
    assert usage.evidence["connections"] >= 1 and usage.severity is Severity.WARNING
    assert found(tight, "xid.wraparound")
    assert not calm.findings  # far from 80 % of connections and 40 % of xids


def test_inactive_slot_holding_wal(module_db: str, module_conn: psycopg.Connection[Any]) -> None:
    holding, idle = f"mon_hold_{uuid.uuid4().hex[:8]}", f"mon_idle_{uuid.uuid4().hex[:8]}"
    module_conn.execute("select pg_create_physical_replication_slot(%s, true)", (holding,))
    module_conn.execute("select pg_create_physical_replication_slot(%s, false)", (idle,))
    try:
        with warden_for(module_db) as warden:
            report = warden.monitor.doctor(["replication"])
            slots = objects(report, "replication.inactive_slot")
            assert f"slot {holding}" in slots and f"slot {idle}" not in slots
            warden.monitor.fix("replication.inactive_slot", f"slot {holding}")
            after = warden.monitor.doctor(["replication.inactive_slot"])
        assert f"slot {holding}" not in objects(after, "replication.inactive_slot")
        assert not objects(report, "replication.lag")  # no standby streams from here
    finally:
        module_conn.execute(
            "select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name in (%s, %s)",
            (holding, idle),
        )


def test_streaming_consumer_lag_and_slot_retention(
    module_db: str, module_conn: psycopg.Connection[Any], tmp_path: Any
) -> None:
    """A real WAL consumer (pg_receivewal) on a slot: it appears in pg_stat_replication and
    its slot is active. Judged against thresholds of 0 bytes (reported) and the defaults
    (not reported: it keeps up)."""
    import subprocess

    from pgwarden.server import bin_path

    slot = f"mon_recv_{uuid.uuid4().hex[:8]}"
    module_conn.execute("select pg_create_physical_replication_slot(%s, true)", (slot,))
    params = psycopg.conninfo.conninfo_to_dict(module_db)
    receiver = subprocess.Popen(
        [str(bin_path() / "pg_receivewal"), "-D", str(tmp_path), "-S", slot, "--no-loop",
         "-h", str(params.get("host", "127.0.0.1")), "-p", str(params.get("port", 5432)),
         "-U", str(params.get("user", "postgres")), "-w"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        for _ in range(600):
            row = module_conn.execute(
                "select active from pg_replication_slots where slot_name = %s", (slot,)
            ).fetchone()
            if row == (True,) or receiver.poll() is not None:
                break
            time.sleep(0.05)
        if receiver.poll() is not None:
            error = receiver.stderr.read().decode() if receiver.stderr else ""
            if "pg_hba.conf" in error:
                pytest.skip("this server refuses replication connections (pg_hba.conf)")
            raise AssertionError(f"pg_receivewal ended: {error}")
        tight = '[monitor]\nreplication_lag = "0 B"\nslot_retained = "0 B"\n'
        with warden_for(module_db, tight) as warden:
            report = warden.monitor.doctor(["replication"])
        with warden_for(module_db) as warden:
            calm = warden.monitor.doctor(["replication"])
        assert f"slot {slot}" in objects(report, "replication.slot_retention")
        assert objects(report, "replication.lag")  # the receiver, as a standby
        assert f"slot {slot}" not in objects(report, "replication.inactive_slot")
        assert f"slot {slot}" not in objects(calm, "replication.slot_retention")
        assert not objects(calm, "replication.lag")
    finally:
        if receiver.poll() is None:
            receiver.terminate()
        receiver.wait(30)
        _wait_until(
            module_conn,
            "select not active from pg_replication_slots where slot_name = %s",
            (slot,),
        )
        module_conn.execute("select pg_drop_replication_slot(%s)", (slot,))


def test_horizon_held_by_a_logical_slot(
    module_db: str, module_conn: psycopg.Connection[Any]
) -> None:
    if module_conn.execute("show wal_level").fetchone() != ("logical",):
        pytest.skip("logical slots need wal_level = logical (the machine's 15 runs replica)")
    slot = f"mon_logical_{uuid.uuid4().hex[:8]}"
    module_conn.execute("select pg_create_logical_replication_slot(%s, 'pgoutput')", (slot,))
    try:
        with warden_for(module_db, "[monitor]\nhorizon_xids = 0\n") as warden:
            held = warden.monitor.doctor(["xid.horizon"])
        with warden_for(module_db) as warden:
            calm = warden.monitor.doctor(["xid.horizon"])
        assert f"replication slot {slot}" in objects(held, "xid.horizon")
        assert f"replication slot {slot}" not in objects(calm, "xid.horizon")
    finally:
        module_conn.execute("select pg_drop_replication_slot(%s)", (slot,))
