"""``search`` on a partitioned table: the vector filled per partition, the indexes made ON ONLY
the parent, built CONCURRENTLY on each partition and attached; later partitions get them from
PostgreSQL; an interrupted partition build is resumed on the next apply."""

from __future__ import annotations

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
create table notes (id int, day date, title text, primary key (id, day)) partition by range (day);
create table notes_2024 partition of notes for values from ('2024-01-01') to ('2025-01-01');
create table notes_2025 partition of notes for values from ('2025-01-01') to ('2026-01-01');
insert into notes select g, date '2024-01-01' + g % 700, 'note ' || g || ' about '
       || (array['owls','cats','rain'])[1 + g % 3] from generate_series(1, 3000) g;
"""
DECL = """
[tables."public.notes"]
search = { columns = { title = "A" }, fuzzy = ["title"], batch = 200, common = 100, top = 20 }
"""
INDEXES = """
select c.relname::text, i.indisvalid, coalesce(p.relname::text, '')
  from pg_index i join pg_class c on c.oid = i.indexrelid
  left join pg_inherits h on h.inhrelid = c.oid left join pg_class p on p.oid = h.inhparent
 where c.relname like '%%search%%' and (i.indrelid = 'notes'::regclass
       or i.indrelid in (select inhrelid from pg_inherits where inhparent = 'notes'::regclass))
 order by 1"""


def _invalid(conn: psycopg.Connection[Any]) -> list[str]:
    return [name for name, valid, _ in conn.execute(INDEXES) if not valid]


def test_partitioned_table_is_searched_online(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute(SETUP)
    warden = make_warden(DECL)
    plan = warden.plan()
    index = next(
        c for c in plan.changes if c.ref and c.ref.key == "index public.public_notes__search"
    )
    text = " ".join(s.as_string(None) for s in index.statements)
    assert "ON ONLY" in text and text.count("CONCURRENTLY") == 2 and "ATTACH PARTITION" in text
    warden.apply()
    assert _invalid(conn) == []
    attached = {(name, parent) for name, _, parent in conn.execute(INDEXES)}
    assert ("public_notes_2024__search", "public_notes__search") in attached
    assert conn.execute("select count(*) from notes where search_vector is null").fetchone() == (0,)
    hits = warden.search.query("notes", "owls", limit=5)  # type: ignore[attr-defined]
    assert len(hits) == 5 and all("owls" in h.row["title"] for h in hits)
    # a partition made later gets the indexes and the trigger from the parent
    conn.execute(
        "create table notes_2026 partition of notes for values from ('2026-01-01') to ('2027-01-01')"
    )
    conn.execute("insert into notes values (9001, '2026-05-01', 'heron over the owls owls')")
    assert _invalid(conn) == []
    assert sum(1 for _, _, parent in conn.execute(INDEXES) if parent == "public_notes__search") == 3
    top = warden.search.query("notes", "owls", limit=1)  # type: ignore[attr-defined]
    assert top[0].row["id"] == 9001
    assert warden.plan().empty  # the new partition needs nothing more
    make_warden("").apply()
    assert conn.execute(INDEXES).fetchall() == []


def test_interrupted_partition_build_is_resumed(
    db_url: str, conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute(SETUP)
    warden = make_warden(DECL)
    with psycopg.connect(db_url) as writer:

        def open_writer(change: Change) -> None:
            if change.ref is not None and change.ref.name == "public_notes__search_filled":
                # into the partition: no lock on the parent, whose ON ONLY index goes first
                writer.execute("insert into notes_2025 values (9002, '2025-02-02', 'open')")
                killer.start()

        def cancel() -> None:
            # the written partition's build: another one may be waiting on the writer too
            with psycopg.connect(db_url, autocommit=True) as watcher:
                for _ in range(600):
                    row = watcher.execute(
                        "select pid from pg_stat_activity where datname = current_database()"
                        " and query like 'CREATE INDEX CONCURRENTLY%public_notes_2025__search%'"
                        " and wait_event = 'virtualxid'"
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
    # the parent ON ONLY and the build on the written partition are left INVALID
    assert _invalid(conn) == ["public_notes_2025__search", "public_notes__search"]
    warden.apply()
    assert _invalid(conn) == []
    assert warden.plan().empty
    assert len(warden.search.query("notes", "cats", limit=3)) == 3  # type: ignore[attr-defined]
