"""Shared pieces of the archive tests: a source table with old and new rows, a fixed clock."""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
"""The maintenance clock the tests pass (ctx.now); rows are dated relative to it."""

SPEC = (
    '[tables."public.entries"]\narchive = {{ after = "2 years", column = "entry_date"{extra} }}\n'
)


def spec(extra: str = "") -> str:
    return SPEC.format(extra=extra)


def make_entries(conn: psycopg.Connection[Any], old: int = 30, new: int = 20) -> None:
    """``entries``: ``old`` rows dated 3-4 years before NOW, ``new`` rows within the last year."""
    conn.execute(
        """create table entries (entry_id bigint generated always as identity primary key,
             user_id int not null, entry_date date not null, note text, score numeric)"""
    )
    conn.execute(
        """insert into entries (user_id, entry_date, note, score)
           select g %% 5, date '2022-06-01' + (g %% 300), 'old ' || g, g * 1.5
           from generate_series(1, %s) g""",
        (old,),
    )
    conn.execute(
        """insert into entries (user_id, entry_date, note, score)
           select g %% 5, date '2025-07-01' + (g %% 300), 'new ' || g, g
           from generate_series(1, %s) g""",
        (new,),
    )


def checksum(
    conn: psycopg.Connection[Any], columns: str = "entry_id, user_id, entry_date, note, score"
) -> tuple[int, str]:
    """(rows, md5 of every row) over live + archived rows, through the union view."""
    row = conn.execute(
        f"select count(*), md5(string_agg(r::text, ',' order by entry_id)) "
        f"from (select {columns} from entries__all) r"
    ).fetchone()
    assert row is not None
    return int(row[0]), str(row[1])


def counts(conn: psycopg.Connection[Any]) -> tuple[int, int]:
    live = conn.execute("select count(*) from entries").fetchone()
    archived = conn.execute("select count(*) from archive.entries").fetchone()
    assert live is not None and archived is not None
    return int(live[0]), int(archived[0])
