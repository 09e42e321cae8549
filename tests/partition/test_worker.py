"""``pgwarden worker``: one runner across processes, schedules and windows, SIGTERM."""

from __future__ import annotations

import datetime as dt
import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from pgwarden import Warden
from pgwarden.maintenance import MAINTAIN_LOCK
from pgwarden.maintenance._worker import Worker, in_window
from pgwarden.spec import parse_spec

SPEC = """[worker]
tick = "0.1s"
every = "0.3s"

[worker.jobs.partition-retention]
window = "00:00-00:01"

[tables."public.events"]
partition = { column = "at", interval = "1 day", premake = 2, retention = "30 days" }
"""


def _wait_for(check: Callable[[], bool], what: str) -> None:
    """Poll until ``check`` holds; the limit only stops a broken test from hanging."""
    deadline = time.monotonic() + 60
    while not check():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def _runs(conn: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
    return conn.execute(
        "select job, started_at, finished_at, pid from warden.maintenance_runs order by started_at"
    ).fetchall()


def test_two_workers_one_runner_and_graceful_stop(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden], db_url: str, tmp_path: Path
) -> None:
    conn.execute("create table events (at timestamptz not null, v int) partition by range (at)")
    make_warden(SPEC).apply()
    (tmp_path / "pgwarden.toml").write_text(SPEC)
    env = {**os.environ, "PGWARDEN_DATABASE_URL": db_url}
    command = [sys.executable, "-c", "from pgwarden.cli import main; main()", "worker"]
    with psycopg.connect(db_url, autocommit=True) as holder:
        holder.execute("select pg_advisory_lock(%s)", (MAINTAIN_LOCK,))
        logs = [tmp_path / f"worker{i}.log" for i in range(2)]
        workers = [
            subprocess.Popen(command, cwd=tmp_path, env=env, stderr=log.open("w")) for log in logs
        ]
        busy = "another runner holds the maintenance lock"
        try:
            # While someone else holds the maintenance lock, no worker runs anything.
            _wait_for(lambda: all(busy in log.read_text() for log in logs), "both workers to wait")
            assert _runs(conn) == []
            holder.execute("select pg_advisory_unlock(%s)", (MAINTAIN_LOCK,))
            _wait_for(lambda: len(_runs(conn)) >= 6, "a few job runs")
        finally:
            for w in workers:
                w.send_signal(signal.SIGTERM)
            for w in workers:
                w.wait(timeout=60)
        outputs = [log.read_text() for log in logs]
    assert [w.returncode for w in workers] == [0, 0], outputs
    runs = _runs(conn)
    # One runner at a time: no two runs overlap, whichever process ran them.
    for before, after in itertools.pairwise(runs):
        assert after[1] >= before[2]
    assert {r[0] for r in runs} == {"partition-premake", "partition-rescue"}  # not in window
    assert all("stopping after the current job" in out for out in outputs), outputs
    logged = "".join(outputs)
    assert "job partition-premake public.events: " in logged


def test_schedule_and_windows(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden], db_url: str
) -> None:
    assert in_window(None, dt.datetime(2026, 1, 1, 13, 0))
    assert in_window("01:00-05:00", dt.datetime(2026, 1, 1, 1, 0))
    assert not in_window("01:00-05:00", dt.datetime(2026, 1, 1, 5, 0))
    assert in_window("22:00-04:00", dt.datetime(2026, 1, 1, 23, 59))
    assert in_window("22:00-04:00", dt.datetime(2026, 1, 1, 3, 0))
    assert not in_window("22:00-04:00", dt.datetime(2026, 1, 1, 12, 0))

    conn.execute("create table events (at timestamptz not null, v int) partition by range (at)")
    spec = SPEC.replace('every = "0.3s"', 'every = "1 hour"').replace(
        'window = "00:00-00:01"', 'window = "02:00-03:00"'
    )
    make_warden(spec).apply()
    clock = [dt.datetime(2026, 5, 1, 12, 0, tzinfo=dt.UTC)]
    worker = Worker(
        connect=lambda: psycopg.connect(db_url, autocommit=True),
        spec=parse_spec(spec),
        features=make_warden(spec).features,
        clock=lambda: clock[0],
    )
    with psycopg.connect(db_url, autocommit=True) as own:
        assert [r.job for r in worker.tick(own)] == ["partition-premake", "partition-rescue"]
        clock[0] += dt.timedelta(minutes=30)
        assert worker.tick(own) == []  # nothing due within the hour
        clock[0] = dt.datetime(2026, 5, 2, 2, 30, tzinfo=dt.UTC)
        due = [r.job for r in worker.tick(own)]
        assert due == ["partition-premake", "partition-rescue", "partition-retention"]
