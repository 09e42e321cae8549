"""Partitioned sources: whole old partitions move without copying; the rest in batches."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from tests.archive._support import NOW, checksum, counts, spec

from pgwarden import Warden
from pgwarden._names import QualifiedName
from pgwarden.errors import MaintenanceError
from pgwarden.features.archive import ArchiveOptions, archive_partition


def _partitioned(conn: psycopg.Connection[Any]) -> None:
    conn.execute(
        """create table entries (entry_id bigint, user_id int not null, entry_date date not null,
             note text, score numeric, primary key (entry_id, entry_date))
           partition by range (entry_date)"""
    )
    for year in range(2021, 2027):
        conn.execute(
            f"create table entries_{year} partition of entries "
            f"for values from ('{year}-01-01') to ('{year + 1}-01-01')"
        )
    conn.execute("create table entries_default partition of entries default")
    conn.execute(
        """insert into entries select g, g % 5, date '2021-01-01' + (g % 2000), 'n' || g, g
           from generate_series(1, 3000) g"""
    )


def _relfilenode(conn: psycopg.Connection[Any], name: str) -> Any:
    row = conn.execute("select relfilenode from pg_class where oid = %s::regclass", (name,))
    return row.fetchone()


def test_whole_partitions_detached_straddling_moved_in_batches(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    _partitioned(conn)
    warden = make_warden(spec(', retention = "4 years"'))
    warden.apply()
    assert conn.execute("select pg_get_partkeydef('archive.entries'::regclass)").fetchone() == (
        "RANGE (entry_date)",
    )
    before = checksum(conn)
    file_2022 = _relfilenode(conn, "entries_2022")
    due = conn.execute("select count(*) from entries where entry_date < '2024-06-01'").fetchone()
    [result] = warden.archive.run(now=NOW, batch=50)
    assert due is not None and result.rows == due[0]
    assert "3 whole partitions" in result.detail  # 2021, 2022, 2023
    # Not copied: the same file, now a partition of the archive.
    assert _relfilenode(conn, "archive.entries_2022") == file_2022
    assert conn.execute("select to_regclass('public.entries_2022')").fetchone() == (None,)
    assert (
        conn.execute("select count(*) from archive.entries_2024").fetchone()
        == conn.execute(
            "select count(*) from entries__all where row_location = 'archive' "
            "and entry_date >= '2024-01-01'"
        ).fetchone()
    )
    assert checksum(conn) == before
    assert conn.execute("select min(entry_date) >= '2024-06-01' from entries").fetchone() == (True,)
    # The 2024 partition later lies wholly before the cutoff, but the archive already has
    # rows of 2024: its rest moves by batches into the same archive partition.
    [later] = warden.archive.run(now=NOW.replace(year=2027), batch=50)
    assert "whole" not in later.detail
    assert checksum(conn) == before
    # Retention (4 years, on entry_date): whole archive partitions dropped, the rest deleted.
    [kept] = warden.maintain(now=NOW, names=["archive-retention"])
    assert "whole partitions" in kept.detail
    left = conn.execute("select min(entry_date) from archive.entries").fetchone()
    assert left is not None and str(left[0]) >= "2022-06-01"
    assert kept.rows + sum(counts(conn)) == before[0]


def test_archive_partition_for_the_partition_manager(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    _partitioned(conn)
    warden = make_warden(spec())
    warden.apply()
    before = checksum(conn)
    options = ArchiveOptions(after="2 years", column="entry_date")  # type: ignore[arg-type]
    parent = QualifiedName("public", "entries")
    rows = archive_partition(conn, parent, QualifiedName("public", "entries_2021"), options)
    assert rows > 0
    bounds = conn.execute(
        "select pg_get_expr(relpartbound, oid) from pg_class where oid = 'entries_2022'::regclass"
    ).fetchone()
    assert bounds is not None
    conn.execute("alter table entries detach partition entries_2022")
    moved = archive_partition(
        conn, parent, QualifiedName("public", "entries_2022"), options, bounds=bounds[0]
    )
    assert moved > 0
    assert checksum(conn) == before
    # Detached without its bounds: refused (the partitioned archive needs them), unchanged.
    conn.execute("alter table entries detach partition entries_2023")
    with pytest.raises(MaintenanceError, match="bounds are not known"):
        archive_partition(conn, parent, QualifiedName("public", "entries_2023"), options)
    assert conn.execute("select count(*) from entries_2023").fetchone() != (0,)
