"""Bringing a conversion's copy up to date with the table, and proving it is."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql

from pgwarden.errors import MaintenanceError

if TYPE_CHECKING:
    from pgwarden.features.partition._convert import ConvertProgress, Target


def replay(conn: psycopg.Connection[Any], target: Target, batch: int | None) -> int:
    """Bring the shadow's rows for logged keys to their current version; inside the caller's
    transaction. Log entries are removed by number: one written by a transaction still in
    progress (invisible here) stays for the next pass."""
    limit = sql.SQL(" LIMIT {}").format(sql.Literal(batch)) if batch else sql.SQL("")
    seqs = [
        r[0]
        for r in conn.execute(
            sql.SQL("SELECT seq FROM {} ORDER BY seq{}").format(target.log.ident, limit)
        ).fetchall()
    ]
    if not seqs:
        return 0
    keys = sql.SQL(
        "SELECT DISTINCT {rk} FROM {log} l, jsonb_populate_record(NULL::{old}, l.key) r "
        "WHERE l.seq = ANY({seqs})"
    ).format(
        rk=target.keys("r"), log=target.log.ident, old=target.table.ident, seqs=sql.Literal(seqs)
    )
    conn.execute(
        sql.SQL("DELETE FROM {} WHERE ({}) IN ({})").format(
            target.shadow.ident, target.keys(), keys
        )
    )
    conn.execute(
        sql.SQL(
            "INSERT INTO {shadow} ({cols}) OVERRIDING SYSTEM VALUE SELECT {cols} FROM {old} "
            "WHERE ({k}) IN ({keys})"
        ).format(
            shadow=target.shadow.ident,
            cols=target.cols(),
            old=target.table.ident,
            k=target.keys(),
            keys=keys,
        )
    )
    conn.execute(
        sql.SQL("DELETE FROM {} WHERE seq = ANY({})").format(target.log.ident, sql.Literal(seqs))
    )
    return len(seqs)


def catch_up(
    conn: psycopg.Connection[Any], target: Target, batch: int, progress: ConvertProgress
) -> int:
    """Replay the log in batches until less than one batch is left (the swap does the
    rest under its lock); bounded, so a table written faster than replay still swaps."""
    total = 0
    for _ in range(1000):
        with conn.transaction():
            done = replay(conn, target, batch)
        total += done
        progress("replay changes", total, None)
        if done < batch:
            break
    return total


def verify(conn: psycopg.Connection[Any], target: Target) -> int:
    """Count and checksum of every row whose key is not in the log, in the table and in
    the shadow, read in one snapshot; raises when they differ. Returns the rows compared."""
    keys = sql.SQL(
        "WITH k AS MATERIALIZED (SELECT DISTINCT {rk} FROM {log} l, "
        "jsonb_populate_record(NULL::{old}, l.key) r) "
    ).format(rk=target.keys("r"), log=target.log.ident, old=target.table.ident)
    match = sql.SQL(" AND ").join(
        sql.SQL("k.{c} = t.{c}").format(c=sql.Identifier(c)) for c in target.key
    )
    sums = []
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        for rel in (target.table, target.shadow):
            row = conn.execute(
                keys
                + sql.SQL(
                    "SELECT count(*), coalesce(sum(hashtextextended(t::text, 0)), 0) FROM {} t "
                    "WHERE NOT EXISTS (SELECT 1 FROM k WHERE {})"
                ).format(rel.ident, match)
            ).fetchone()
            sums.append(row)
    if sums[0] != sums[1]:
        raise MaintenanceError(
            f"{target.table}: the copy does not match (table: {sums[0]}, copy: {sums[1]} as "
            "count, checksum); nothing was swapped",
            hint="run the conversion again to resume; the table itself is untouched",
        )
    return int(sums[0][0]) if sums[0] else 0
