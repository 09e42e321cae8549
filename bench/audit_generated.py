"""Audit reads of a table with generated columns: what computing them costs, side by side.

Two tables with the same rows, ``plain (id, ms, name)`` and ``gen``, which adds a generated
column reading ``ms`` (virtual on PostgreSQL 18, stored before) and a stored one reading
``name``; both audited with versioning. ``--rows`` inserts, then one UPDATE of every row.
Timed (best of ``--repeat``): ``as_of`` at a time before the UPDATE (every row's image is read
and its generated columns computed), ``as_of`` now (rows from the table itself), and a count
over the ``__versions`` view. The database is dropped at the end.

.venv/bin/python bench/audit_generated.py               # on a throwaway embedded server
.venv/bin/python bench/audit_generated.py --dsn postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).parent))
from _common import load, machine, print_table, scratch_db, server_url, server_version, timed
from pgwarden import Warden, __version__
from pgwarden.spec import parse_spec

SPEC = "".join(
    f'[tables."public.{t}"]\naudit = true\nversioning = true\n' for t in ("plain", "gen")
)


def _time(
    conn: psycopg.Connection[Any], query: str, table: str, params: list[Any], repeat: int
) -> float:
    name = table + "__versions" if "as_of" not in query else table
    statement = sql.SQL(query).format(sql.Identifier(name))
    return timed(lambda: conn.execute(statement, params).fetchone(), repeat)


def run(url: str, rows: int, repeat: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        kind = "virtual" if conn.info.server_version >= 180000 else "stored"
        conn.execute("create table plain (id int primary key, ms int, name text)")
        conn.execute(
            "create table gen (id int primary key, ms int, name text, "
            f"mins numeric generated always as (round(ms / 60000.0, 2)) {kind}, "
            "up text generated always as (upper(name)) stored)"
        )
        with Warden(url, spec=parse_spec(SPEC)) as warden:
            warden.apply()
        for t in (sql.Identifier("plain"), sql.Identifier("gen")):
            conn.execute(
                sql.SQL(
                    "insert into {} (id, ms, name) select i, i, 'n' || i "
                    "from generate_series(1, {}) i"
                ).format(t, rows)
            )
        before = conn.execute("select clock_timestamp()").fetchone()[0]  # type: ignore[index]
        for t in (sql.Identifier("plain"), sql.Identifier("gen")):
            conn.execute(sql.SQL("update {} set ms = ms + 1").format(t))
        conn.execute("analyze")
        reads = (
            (
                "as_of before the UPDATE",
                "select count(*) from warden.as_of(null::{}, %s)",
                [before],
            ),
            ("as_of now", "select count(*) from warden.as_of(null::{}, now())", []),
            ("versions view", "select count(*) from {}", []),
        )
        found = []
        for label, query, params in reads:
            seconds = [_time(conn, query, t, params, repeat) for t in ("plain", "gen")]
            ratio = seconds[1] / seconds[0]
            found.append([label, f"{seconds[0]:.2f} s", f"{seconds[1]:.2f} s", f"{ratio:.2f}x"])
    print_table(
        f"{rows:,} rows, one UPDATE of every row ({kind} + stored generated columns)",
        ["read", "no generated column", "generated columns", "ratio"],
        found,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dsn", help="server to use (default: a throwaway embedded one)")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with server_url(args.dsn) as admin:
        print(f"pgwarden {__version__}; {server_version(admin)}; {machine()}; load {load()}")
        with scratch_db(admin) as url:
            run(url, args.rows, args.repeat)


if __name__ == "__main__":
    main()
