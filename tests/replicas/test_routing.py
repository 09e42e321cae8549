"""Reads on the replica, writes on the primary; a lagging, paused or stopped replica is
avoided and comes back; a read cancelled by a conflict with recovery is run again."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg import errors as pg_errors
from tests.replicas.conftest import Pair, until

from pgwarden import Warden
from pgwarden.db import Session


def _state(warden: Warden) -> str:
    assert warden.replicas is not None
    now = time.monotonic()
    (state,) = warden.replicas.states()
    return state.verdict(now, warden.replicas.max_lag)


def _in_recovery(session: Session) -> bool:
    return bool(session.execute("select pg_is_in_recovery()").fetchone()[0])


def test_reads_go_to_the_replica_writes_to_the_primary(
    pair: Pair, make_warden: Callable[..., Warden]
) -> None:
    table = f"split_{uuid.uuid4().hex[:8]}"
    warden = make_warden()
    with warden.session(actor="user:7") as db:
        assert not _in_recovery(db) and db.server == "primary"
        db.execute(f"create table {table} (v int)")
        db.execute(f"insert into {table} values (1)")
    assert db.commit_lsn is not None
    # (On a busy machine the first measures may not bound the lag yet: the primary then.)
    until(lambda: _state(warden) == "ok", 10, "the replica never became usable")
    with warden.session(readonly=True, actor="user:7", reason="report", after=db.commit_lsn) as r:
        assert _in_recovery(r) and r.server == f"127.0.0.1:{pair.standby_port}/postgres"
        # The context is set on the standby too, for this transaction.
        row = r.execute(
            "select current_setting('pgwarden.actor'), current_setting('pgwarden.reason'),"
            f" (select count(*) from {table})"
        ).fetchone()
        assert row == ("user:7", "report", 1)
    # Read-only wherever it runs: a write in a read session fails, replica or primary alike.
    with pytest.raises(pg_errors.ReadOnlySqlTransaction), warden.session(readonly=True) as r:
        r.execute(f"insert into {table} values (2)")
    alone = Warden(pair.primary_url())
    try:
        with (
            pytest.raises(pg_errors.ReadOnlySqlTransaction),
            alone.session(readonly=True) as r,
        ):
            assert r.server == "primary" and not _in_recovery(r)
            r.execute(f"insert into {table} values (2)")
        with alone.session() as w:
            w.execute(f"insert into {table} values (2)")
        assert w.commit_lsn is None  # no replicas: nothing more is asked at commit
    finally:
        alone.close()
    # read() routes the same way
    assert warden.read(_in_recovery) is True
    assert warden.run(_in_recovery) is False


def test_a_paused_replica_beyond_max_lag_is_avoided_then_used_again(
    pair: Pair, make_warden: Callable[..., Warden]
) -> None:
    table = f"pause_{uuid.uuid4().hex[:8]}"
    warden = make_warden('max_lag = "1s"')
    with warden.session() as db:
        db.execute(f"create table {table} (v int)")
    until(lambda: _state(warden) == "ok", 10, "the replica never became usable")
    with pair.standby_conn() as standby:
        standby.execute("select pg_wal_replay_pause()")
        try:
            with warden.session() as db:
                db.execute(f"insert into {table} values (1)")
            until(lambda: _state(warden) == "lagging", 10, "the paused replica never lagged")
            assert warden.replicas is not None
            (state,) = warden.replicas.states()
            assert state.paused and state.lag_bytes and state.lag_bytes > 0
            with warden.session(readonly=True) as r:
                # The primary: it has the row the paused replica lacks.
                assert r.server == "primary"
                assert r.execute(f"select count(*) from {table}").fetchone() == (1,)
        finally:
            standby.execute("select pg_wal_replay_resume()")
    until(lambda: _state(warden) == "ok", 10, "the resumed replica never came back")
    with warden.session(readonly=True) as r:
        assert _in_recovery(r)
        assert r.execute(f"select count(*) from {table}").fetchone() == (1,)


def test_a_stopped_replica_is_avoided_without_error_and_comes_back(
    pair: Pair, make_warden: Callable[..., Warden]
) -> None:
    warden = make_warden()
    until(lambda: warden.read(_in_recovery), 10, "never read from the replica")
    pair.stop_standby()
    try:
        # At once, before any measure saw it: the pooled connection fails while the context
        # is set, the replica is marked down, and the primary answers.
        with warden.session(readonly=True) as r:
            assert r.server == "primary" and not _in_recovery(r)
        assert _state(warden) == "down"
        for _ in range(5):
            assert warden.read(_in_recovery) is False
    finally:
        pair.start_standby()
    until(lambda: _state(warden) == "ok", 30, "the restarted replica never came back")
    assert warden.read(_in_recovery) is True, warden.replicas.states()  # type: ignore[union-attr]


def test_a_recovery_conflict_cancel_is_run_again(
    pair: Pair, make_warden: Callable[..., Warden]
) -> None:
    table = f"conflict_{uuid.uuid4().hex[:8]}"
    warden = make_warden()
    with warden.session() as db:
        db.execute(f"create table {table} (v int)")
        db.execute(f"insert into {table} values (1), (2)")
    pair.caught_up()
    until(lambda: _state(warden) == "ok", 10, "the replica never became usable")
    attempts: list[str] = []
    errors: list[BaseException] = []

    def lock_on_primary() -> None:
        with pair.primary_conn() as conn, conn.transaction():
            conn.execute(f"lock table {table} in access exclusive mode")

    def work(session: Session) -> Any:
        attempts.append(session.server)
        count = session.execute(f"select count(*) from {table}").fetchone()[0]
        if len(attempts) == 1:
            # The primary takes a lock the standby must replay: the standby cancels this
            # transaction (it holds the table) after max_standby_streaming_delay.
            threading.Thread(target=lock_on_primary).start()
            try:
                session.execute("select pg_sleep(20)")
            except pg_errors.SerializationFailure as exc:
                errors.append(exc)
                raise
        return count

    assert warden.read(work) == 2
    assert len(attempts) == 2 and attempts[0] != "primary" and attempts[1] == "primary"
    assert "conflict with recovery" in str(errors[0])
    assert isinstance(errors[0], psycopg.Error) and errors[0].sqlstate == "40001"


def test_replicas_command_and_metrics_show_the_lag(
    pair: Pair, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prometheus_client.parser import text_string_to_metric_families
    from tests.serve.conftest import serving
    from typer.testing import CliRunner

    from pgwarden.api import create_app
    from pgwarden.cli import app

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PGWARDEN_DATABASE_URL", pair.primary_url())
    monkeypatch.setenv("REPLICA1_URL", pair.standby_url())
    (tmp_path / "pgwarden.toml").write_text(
        '[database]\nreplicas = ["env:REPLICA1_URL"]\nmax_lag = "1s"\n'
    )
    pair.caught_up()
    found: list[Any] = []

    def shown_ok() -> bool:
        # (the command measures once, twice when the first cannot bound the lag; on a
        # machine under heavy load that may not be enough at the first call)
        result = CliRunner().invoke(app, ["replicas", "--json"])
        found[:] = [result]
        return result.exit_code == 0

    until(shown_ok, 20, "pgwarden replicas never showed the replica ok")
    body = json.loads(found[0].output)
    (shown,) = body["replicas"]
    assert body["max_lag_seconds"] == 1.0
    assert shown["name"] == f"127.0.0.1:{pair.standby_port}/postgres"
    assert shown["state"] == "ok" and shown["lag_seconds"] <= 1 and shown["lag_bytes"] >= 0
    assert not shown["replay_paused"] and shown["error"] is None
    human = CliRunner().invoke(app, ["replicas"], env={"COLUMNS": "250"})
    assert human.output.startswith(("ok ", "lagging ")) and " lag " in human.output
    warden = Warden.from_config()
    with serving(create_app(warden, close_warden=True)) as base:
        text = httpx.get(f"{base}/metrics", timeout=30).text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    (sample,) = families["pgwarden_replica_lag_seconds"].samples
    assert sample.labels == {"replica": shown["name"]} and sample.value >= 0
    (usable,) = families["pgwarden_replica_usable"].samples
    if sample.value > 1:
        assert usable.value == 0
    elif sample.value < 0.5:  # (usable also counts the measure's age)
        assert usable.value == 1
    pair.stop_standby()
    try:
        down = CliRunner().invoke(app, ["replicas", "--json"])
        assert down.exit_code == 2
        assert json.loads(down.output)["replicas"][0]["state"] == "down"
    finally:
        pair.start_standby()
