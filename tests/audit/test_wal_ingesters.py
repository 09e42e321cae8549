"""Both ingesters of WAL capture at once, in any order: followers started and stopped (two at a
time too), passes of ingest() that wait for a follower or read the slot themselves, one that
takes the slot over, while writers keep committing (with ``synchronous_commit = off`` on the
test clusters, where a commit returns before its WAL is flushed). Every committed row has its
event stored exactly once; every ingest() sees every row committed before it was called; the
change feed's horizon never passes a committed transaction whose events are not stored."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from pgwarden import Warden
from pgwarden.features.audit._wal import Ingested, last_record_end
from pgwarden.features.audit._wal import ingest as wal_ingest

from ._support import needs_logical_wal

SPEC = '[tables."public.w"]\naudit = { capture = "wal" }\n'


class _Writer(threading.Thread):
    """Inserts rows ``first``, ``first + step``, ... in small transactions until stopped: some
    of one row, some of two, some rolled back. ``committed`` gets (row id, transaction id)
    once the commit returned, ``aborted`` a row's id once its rollback did."""

    def __init__(self, url: str, first: int, step: int) -> None:
        super().__init__(name=f"writer-{first}")
        self.url, self.next, self.step = url, first, step
        self.stop = threading.Event()
        self.committed: list[tuple[int, int]] = []
        self.aborted: list[int] = []
        self.rng = random.Random(first)

    def run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self.stop.is_set():
                ids = [self.next + i * self.step for i in range(self.rng.choice([1, 1, 2]))]
                self.next = ids[-1] + self.step
                abort = self.rng.random() < 0.1
                with conn.transaction():
                    row = conn.execute(
                        "insert into w select unnest(%s::int[]), 0 "
                        "returning pg_current_xact_id()::text::bigint",
                        (ids,),
                    ).fetchone()
                    if abort:
                        raise psycopg.Rollback
                if abort:
                    self.aborted.extend(ids)
                else:
                    self.committed.extend((i, row[0]) for i in ids)  # type: ignore[index]
                time.sleep(0.003)


class _Follower(threading.Thread):
    def __init__(self, warden: Warden) -> None:
        super().__init__(name="follower")
        self.warden = warden
        self.stop = threading.Event()
        self.done: list[Ingested] = []

    def run(self) -> None:
        self.done.append(self.warden.audit.follow(stop=self.stop.is_set))


def start_writing(
    conn: psycopg.Connection[Any], db_url: str, make_warden: Callable[..., Warden]
) -> tuple[Warden, list[_Writer]]:
    """Table ``w`` audited by WAL capture, and two writers committing into it, started."""
    needs_logical_wal(conn)
    conn.execute("create table w (id int primary key, v int not null)")
    warden = make_warden(SPEC)
    warden.apply()
    writers = [_Writer(db_url, first, 2) for first in (1, 2)]
    for writer in writers:
        writer.start()
    return warden, writers


def _committed(writers: list[_Writer]) -> dict[int, int]:
    """{row id: transaction id} of every row committed so far."""
    return {i: x for w in writers for i, x in list(w.committed)}


def _check_horizon(conn: psycopg.Connection[Any], writers: list[_Writer]) -> None:
    """Every committed transaction older than the ingesters' horizon has its events stored."""
    row = conn.execute("select horizon::text::bigint from warden.audit_wal").fetchone()
    horizon = row[0] if row else 0
    stored = _stored(conn)
    behind = sorted(i for i, x in _committed(writers).items() if x < horizon and i not in stored)
    assert behind == [], (horizon, behind[:10])


def _stored(conn: psycopg.Connection[Any]) -> dict[int, int]:
    """Events stored per row id."""
    return dict(
        conn.execute(
            "select (row_key ->> 0)::int, count(*) from warden.audit_events "
            "where table_id = warden.audit_table_id('public.w') group by 1"
        ).fetchall()
    )


@pytest.mark.parametrize("seed", [1, 2])
def test_followers_and_passes_in_any_order_store_each_committed_row_once(
    conn: psycopg.Connection[Any],
    db_url: str,
    make_warden: Callable[..., Warden],
    seed: int,
) -> None:
    warden, writers = start_writing(conn, db_url, make_warden)
    rng = random.Random(seed)
    followers: list[_Follower] = []
    passes: list[Ingested] = []
    steps: list[str] = []  # what was done, for the failure message
    try:
        for _ in range(25):
            step = rng.choice(["start", "start", "stop", "ingest", "ingest", "take over"])
            steps.append(step)
            running = [f for f in followers if not f.stop.is_set()]
            if step == "start" and len(running) < 2:
                followers.append(_Follower(warden))
                followers[-1].start()
            elif step == "stop" and running:
                rng.choice(running).stop.set()  # not joined: it ends while the rest goes on
            elif step in ("ingest", "take over"):
                before = _committed(writers).keys()
                if step == "ingest":
                    passes.append(warden.audit.ingest())
                else:
                    with warden.connect(autocommit=True) as own:
                        passes.append(wal_ingest(own, take_over=True))
                stored = _stored(conn)
                missing = sorted(before - stored.keys())
                assert missing == [], (steps, missing[:10])
                assert {i: n for i, n in stored.items() if n != 1} == {}, steps
            _check_horizon(conn, writers)
            time.sleep(rng.uniform(0, 0.3))
    finally:
        for writer in writers:
            writer.stop.set()
            writer.join()
        for follower in followers:
            follower.stop.set()
            follower.join()
    passes.append(warden.audit.ingest())
    committed = [i for w in writers for i, _ in w.committed]
    aborted = {i for w in writers for i in w.aborted}
    stored = _stored(conn)
    assert stored == dict.fromkeys(committed, 1), steps
    assert not aborted & stored.keys()
    # Each event was written by one ingester, once: what they report adds up to the store.
    written = [d.events for f in followers for d in f.done] + [p.events for p in passes]
    assert sum(written) == len(committed)
    assert len(committed) > 200 and aborted  # the writers wrote across all of it


def test_the_end_of_the_last_record_is_before_a_fresh_page_header() -> None:
    block, segment = 8192, 16 * 1024 * 1024
    # Records end anywhere past a page's header: the insert position is that end.
    assert last_record_end(5 * block + 24 + 8, block, segment) == 5 * block + 32
    assert last_record_end(3 * segment + 40 + 64, block, segment) == 3 * segment + 104
    # Nothing on the page yet: the last record ended the page before it.
    assert last_record_end(5 * block + 24, block, segment) == 5 * block
    assert last_record_end(3 * segment + 40, block, segment) == 3 * segment  # long header
    assert last_record_end(3 * segment + block + 24, block, segment) == 3 * segment + block
