"""SQL pieces the archive feature shares: time predicates, relation facts, predicate checks."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Leaf:
    """One partition holding rows (or the table itself when it is not partitioned)."""

    name: QualifiedName
    bounds: str | None
    """``FOR VALUES ...`` / ``DEFAULT`` as the server renders it; None for a plain table."""
    parent: QualifiedName | None
    pages: int


def leaves(conn: psycopg.Connection[Any], table: QualifiedName) -> list[Leaf]:
    """The tables that really hold ``table``'s rows, at any depth, in name order."""
    rows = conn.execute(
        """with recursive tree(oid) as (
               select %s::regclass::oid
               union all select i.inhrelid from pg_inherits i join tree on i.inhparent = tree.oid)
           select n.nspname, c.relname,
                  case when c.relispartition then pg_get_expr(c.relpartbound, c.oid) end,
                  pn.nspname, pc.relname,
                  pg_relation_size(c.oid) / current_setting('block_size')::int
           from tree join pg_class c on c.oid = tree.oid
           join pg_namespace n on n.oid = c.relnamespace
           left join pg_inherits i on i.inhrelid = c.oid
           left join pg_class pc on pc.oid = i.inhparent
           left join pg_namespace pn on pn.oid = pc.relnamespace
           where c.relkind = 'r' order by 1, 2""",
        (table.regclass_text,),
    ).fetchall()
    return [
        Leaf(QualifiedName(r[0], r[1]), r[2], QualifiedName(r[3], r[4]) if r[3] else None, r[5])
        for r in rows
    ]


_UPPER = re.compile(r"^FOR VALUES FROM \((.+)\) TO \((.+)\)$", re.S)


def range_upper(bounds: str | None) -> str | None:
    """The upper bound literal of a one-column range partition (None: not such a partition,
    or unbounded). The text is the server's own rendering of the bound (a quoted literal)."""
    match = _UPPER.match(bounds or "")
    if match is None:
        return None
    upper = match.group(2)
    if upper in ("MAXVALUE", "MINVALUE"):
        return None
    return upper


def relkind(conn: psycopg.Connection[Any], name: QualifiedName) -> str | None:
    row = conn.execute(
        "select relkind::text from pg_class where oid = to_regclass(%s)", (name.regclass_text,)
    ).fetchone()
    return None if row is None else str(row[0])


def count(
    conn: psycopg.Connection[Any], name: QualifiedName, alias: str, where: sql.Composable
) -> int:
    row = conn.execute(
        sql.SQL("select count(*) from {} as {} where {}").format(
            name.ident, sql.Identifier(alias), where
        )
    ).fetchone()
    return int(row[0]) if row else 0
