"""SQL pieces the archive feature shares: time predicates, relation facts, predicate checks."""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg
from psycopg import sql

from pgwarden._names import QualifiedName
from pgwarden.catalog import Table
from pgwarden.spec import Duration

DATE_TYPES = ("date", "timestamp with time zone", "timestamp without time zone")
EPOCH_TYPES = ("smallint", "integer", "bigint")
TIME_TYPES = DATE_TYPES + EPOCH_TYPES


def check_predicate(
    conn: psycopg.Connection[Any], table: QualifiedName, predicate: str, alias: str | None = None
) -> str | None:
    """Why ``predicate`` is not a valid WHERE clause on ``table`` named ``alias`` (default:
    its own name, as the mover names it), or None when it is.

    The server plans it (``EXPLAIN``, never executed) in a read-only transaction, or a
    savepoint of the caller's, that is always rolled back: nothing it names can run or change.
    """
    query = sql.SQL("EXPLAIN SELECT 1 FROM {} AS {} WHERE ({})").format(
        table.ident,
        sql.Identifier(table.name),
        sql.SQL(predicate),
    )
    try:
        with conn.transaction(force_rollback=True):
            conn.execute("set local transaction_read_only = on")
            conn.execute(query)
    except psycopg.Error as exc:
        return exc.diag.message_primary or str(exc)
    return None


def trusted(predicate: str) -> sql.Composable:
    """The user's ``where`` (their own configuration, checked by :func:`check_predicate`)."""
    return sql.SQL("({})").format(sql.SQL(predicate))


def cutoff(conn: psycopg.Connection[Any], now: dt.datetime, age: Duration) -> dt.datetime:
    """``now - age`` with PostgreSQL's calendar arithmetic ("2 years" is two calendar years)."""
    row = conn.execute("select %s::timestamptz - %s::interval", (now, age.interval)).fetchone()
    assert row is not None
    value: dt.datetime = row[0]
    return value


def older_than(table: Table, column: str, when: dt.datetime) -> sql.Composable:
    """``column < when``, for a date/timestamp column or an integer of Unix seconds."""
    col = table.column(column)
    assert col is not None
    bound: sql.Composable = sql.Literal(when)
    if col.type in EPOCH_TYPES:
        bound = sql.Literal(int(when.timestamp()))
    return sql.SQL("{} < {}").format(sql.Identifier(column), bound)


def partition_columns(conn: psycopg.Connection[Any], table: Table) -> tuple[str, ...] | None:
    """The plain columns of a partitioned table's key (None: the key has an expression)."""
    row = conn.execute(
        """select array(select a.attname from unnest(p.partattrs::int2[]) with ordinality k(n, o)
                        join pg_attribute a on a.attrelid = p.partrelid and a.attnum = k.n
                        order by k.o),
                  0 = any(p.partattrs::int2[])
           from pg_partitioned_table p where p.partrelid = %s""",
        (table.oid,),
    ).fetchone()
    if row is None or row[1]:
        return None
    return tuple(row[0])


def count(
    conn: psycopg.Connection[Any], name: QualifiedName, alias: str, where: sql.Composable
) -> int:
    row = conn.execute(
        sql.SQL("select count(*) from {} as {} where {}").format(
            name.ident, sql.Identifier(alias), where
        )
    ).fetchone()
    return int(row[0]) if row else 0
