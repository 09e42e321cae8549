"""The mover killed with SIGKILL at random moments, many times, while other sessions write:
afterwards every row is exactly once in live + archive, with the same content."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from tests.archive._support import make_entries, spec

from pgwarden import Warden

PGWARDEN = str(Path(sys.executable).parent / "pgwarden")
KILLS = 20


def _writer(db_url: str, stop: threading.Event, seed: int) -> None:
    """Inserts old and new rows, updates new rows, and re-writes old ones unchanged (taking
    their row locks and moving them to new pages); a shadow table gets the same changes in
    the same transaction, so it is what live + archive must hold at the end."""
    rnd = random.Random(seed)
    with psycopg.connect(db_url, autocommit=True) as conn:
        while not stop.is_set():
            _retrying(lambda: _write(conn, rnd))


def _retrying(work: Callable[[], None]) -> None:
    """Deadlocks between the writers (not the mover: it never waits on a row) are retried;
    the rolled-back transaction changed neither the table nor the shadow."""
    while True:
        try:
            work()
            return
        except psycopg.errors.DeadlockDetected:
            continue


def _write(conn: psycopg.Connection[Any], rnd: random.Random) -> None:
    with conn.transaction():
        kind = rnd.randrange(3)
        if kind == 0:
            conn.execute(
                """with r as (insert into entries (user_id, entry_date, note, score)
                              values (%s, %s, %s, %s) returning *)
                   insert into shadow select * from r""",
                (rnd.randrange(5), rnd.choice(["2021-03-01", "2026-01-01"]), "w", 1),
            )
        elif kind == 1:
            conn.execute(
                """with u as (update entries set score = score + 1
                              where entry_date > '2025-01-01' and entry_id %% 7 = %s
                              returning entry_id, score)
                   update shadow s set score = u.score from u
                   where u.entry_id = s.entry_id""",
                (rnd.randrange(7),),
            )
        else:
            conn.execute(
                "update entries set note = note where entry_id in "
                "(select entry_id from entries where entry_date < '2023-01-01' "
                "order by random() limit 20)"
            )


def _archived(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("select count(*) from archive.entries").fetchone()
    return int(row[0]) if row else 0


def _age(conn: psycopg.Connection[Any], rows: int) -> None:
    """Make ``rows`` live rows due (in the shadow too), so every round has work to kill."""
    _retrying(lambda: _age_once(conn, rows))


def _age_once(conn: psycopg.Connection[Any], rows: int) -> None:
    with conn.transaction():
        conn.execute(
            """with u as (update entries set entry_date = '2021-06-01' where entry_id in
                          (select entry_id from entries where entry_date > '2023-01-01'
                           limit %s) returning entry_id, entry_date)
               update shadow s set entry_date = u.entry_date from u
               where u.entry_id = s.entry_id""",
            (rows,),
        )


def test_sigkill_at_random_moments_loses_and_duplicates_nothing(
    conn: psycopg.Connection[Any],
    make_warden: Callable[..., Warden],
    db_url: str,
    tmp_path: Path,
) -> None:
    make_entries(conn, old=20_000, new=130_000)
    conn.execute("create table shadow as select * from entries")
    warden = make_warden(spec())
    warden.apply()
    (tmp_path / "pgwarden.toml").write_text(spec())
    env = {**os.environ, "PGWARDEN_DATABASE_URL": db_url}
    command = [PGWARDEN, "archive", "run", "--batch", "23", "--wait", "--json"]
    rnd = random.Random(4)
    stop = threading.Event()
    failures: list[BaseException] = []

    def write() -> None:
        try:
            _writer(db_url, stop, 7)
        except BaseException as exc:  # the test must fail if the writers stopped early
            failures.append(exc)

    writer = threading.Thread(target=write)
    writer.start()
    killed = 0
    try:
        for _ in range(KILLS):
            _age(conn, 6_000)
            mover = subprocess.Popen(
                command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
            # Kill once it is moving rows (not while Python starts), at a random moment.
            start = _archived(conn)
            while mover.poll() is None and _archived(conn) == start:
                time.sleep(0.005)
            time.sleep(rnd.uniform(0, 0.08))
            if mover.poll() is None:
                mover.send_signal(signal.SIGKILL)
                killed += 1
            mover.communicate()
            # After every kill: no row in both places.
            both = conn.execute(
                "select count(*) from entries e join archive.entries a using (entry_id)"
            ).fetchone()
            assert both == (0,)
    finally:
        stop.set()
        writer.join()
    assert not failures
    assert killed >= KILLS // 2, "the mover finished before most kills: make the table bigger"
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    # Every row exactly once, with the content the writers left (the shadow).
    dup = conn.execute("select count(*) - count(distinct entry_id) from entries__all").fetchone()
    assert dup == (0,)
    diff = conn.execute(
        """select count(*) from (
             (select entry_id, user_id, entry_date, note, score from entries__all
              except all select * from shadow)
             union all
             (select * from shadow
              except all select entry_id, user_id, entry_date, note, score from entries__all)) d"""
    ).fetchone()
    assert diff == (0,)
    assert conn.execute(
        "select count(*) from entries where entry_date < '2023-01-01'"
    ).fetchone() == (0,)
