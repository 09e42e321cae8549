"""``search`` on a table with rows: batched fill under concurrent writes, then indexes built
CONCURRENTLY on the engine's non-transactional path, and an interrupted build repaired."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from pgwarden import Warden
from pgwarden.engine import Change
from pgwarden.errors import ApplyError

SETUP = """
create table notes (id bigserial primary key, title text, n int not null default 0);
insert into notes (title, n) select 'note ' || g || ' about ' || (array['owls','cats','rain'])[1 + g % 3], 0
  from generate_series(1, 6000) g;
"""
DECL = """
[tables."public.notes"]
search = { columns = { title = "A" }, fuzzy = ["title"], batch = 100 }
"""
EXPECTED = "setweight(to_tsvector('english'::regconfig, coalesce(title::text, '')), 'A')"


def _writer(url: str, stop: threading.Event, seed: int, done: list[int]) -> None:
    rnd = random.Random(seed)
    with psycopg.connect(url, autocommit=True) as conn:
        while not stop.is_set():
            key = rnd.randint(1, 6000)
            what = rnd.random()
            if what < 0.4:
                conn.execute("update notes set n = n + 1 where id = %s", (key,))
            elif what < 0.8:
                conn.execute(
                    "update notes set title = %s where id = %s", (f"edited {key} herons", key)
                )
            else:
                conn.execute("insert into notes (title) values ('new about badgers')")
            done.append(1)


def test_fill_under_concurrent_writes_loses_nothing(
    db_url: str, conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute(SETUP)
    warden = make_warden(DECL)
    plan = warden.plan()
    outside = [c for c in plan.changes if not c.transactional]
    # The plan says which path: the fill, then each index, outside the transaction.
    assert [c.ref.kind for c in outside if c.ref] == ["function", "index", "index", "function"]
    assert "CONCURRENTLY" in outside[1].sql and "committed batch" in outside[0].description
    stop, done = threading.Event(), []
    writers = [threading.Thread(target=_writer, args=(db_url, stop, s, done)) for s in range(3)]
    for w in writers:
        w.start()
    try:
        while len(done) < 50:
            time.sleep(0.01)
        warden.apply()
        seen = len(done)
        while len(done) < seen + 50:  # writes go on after the apply too
            time.sleep(0.01)
    finally:
        stop.set()
        for w in writers:
            w.join()
    wrong = conn.execute(
        f"select count(*) from notes where search_vector is distinct from {EXPECTED}"
    ).fetchone()
    assert wrong == (0,)
    assert conn.execute(
        "select count(*) from pg_index where indrelid = 'notes'::regclass and not indisvalid"
    ).fetchone() == (0,)
    assert warden.plan().empty


def test_interrupted_concurrent_build_is_repaired_on_retry(
    db_url: str, conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute(SETUP)
    warden = make_warden(DECL)
    # A writer that opens its transaction once the fill is done makes the CREATE INDEX
    # CONCURRENTLY that follows wait; cancelling it then leaves the index INVALID, as a crash
    # or a timeout in the middle of a build would.
    with psycopg.connect(db_url) as writer:

        def open_writer(change: Change) -> None:
            if change.ref is not None and change.ref.name == "public_notes__search_filled":
                writer.execute("insert into notes (title) values ('open transaction')")
                killer.start()

        def cancel() -> None:
            with psycopg.connect(db_url, autocommit=True) as watcher:
                for _ in range(600):
                    row = watcher.execute(
                        "select pid from pg_stat_activity where datname = current_database()"
                        " and query like 'CREATE INDEX"
                        " CONCURRENTLY%' and wait_event = 'virtualxid'"
                    ).fetchone()
                    if row:
                        watcher.execute("select pg_cancel_backend(%s)", row)
                        return
                    time.sleep(0.05)

        killer = threading.Thread(target=cancel)
        with pytest.raises(ApplyError, match="cancel"):
            warden.apply(on_change=open_writer)
        killer.join()
        writer.rollback()
    invalid = conn.execute(
        "select c.relname from pg_index i join pg_class c on c.oid = i.indexrelid"
        " where i.indrelid = 'notes'::regclass and not i.indisvalid"
    ).fetchall()
    assert invalid == [("public_notes__search",)]
    plan = warden.plan()
    index = [c for c in plan.changes if c.ref and c.ref.kind == "index"]
    assert any("INVALID" in c.description for c in index)
    warden.apply()
    assert warden.plan().empty
    assert conn.execute(
        "select count(*) from pg_index where indrelid = 'notes'::regclass and not indisvalid"
    ).fetchone() == (0,)
    hits = warden.search.query("notes", "owls", limit=3)  # type: ignore[attr-defined]
    assert len(hits) == 3
    # Removal takes everything away, whichever name the index ended with.
    make_warden("").apply()
    assert conn.execute("select count(*) from pg_indexes where tablename = 'notes'").fetchone() == (
        1,
    )
