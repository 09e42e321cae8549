"""A table audit registers, replaced by another relation of the same name (a conversion to
partitioned swaps the table for its shadow): its registration and recorded column names
follow it, so its history stays one."""

from __future__ import annotations

from typing import Any

import psycopg

from pgwarden._names import QualifiedName


def relation_replaced(conn: psycopg.Connection[Any], old: int, new: QualifiedName) -> None:
    """The audit registration follows the table to its new oid (same table id: one history),
    with attribute numbers found again by name."""
    present = conn.execute("select to_regclass('warden.audit_tables') is not null").fetchone()
    if not present or not present[0]:
        return
    conn.execute(
        """update warden.audit_tables t set relid = to_regclass(%(new)s),
               key_attnums = (select array_agg(a.attnum order by u.o)
                              from unnest(t.key_columns) with ordinality u(c, o)
                              join pg_attribute a on a.attrelid = to_regclass(%(new)s)
                                   and a.attname = u.c),
               hidden_attnums = (select coalesce(array_agg(a.attnum), '{}')
                                 from pg_attribute a where a.attrelid = to_regclass(%(new)s)
                                 and a.attname = any(t.hidden_columns))
           where relid = %(old)s""",
        {"new": new.regclass_text, "old": old},
    )
    # The column names recorded for time travel across renames are by attribute number,
    # which the new table numbers afresh: each column moves to its number there (found by
    # its last recorded name); a dropped one keeps a number of its own below zero. Two steps,
    # so no two rows ever share a number on the way.
    present = conn.execute("select to_regclass('warden.audit_columns') is not null").fetchone()
    if not present or not present[0]:
        return
    params = {"new": new.regclass_text}
    conn.execute(
        """update warden.audit_columns c set attnum = lo.m - c.attnum
           from (select x.table_id, least(min(x.attnum), 0) as m from warden.audit_columns x
                  where x.table_id = (select table_id from warden.audit_tables
                                      where relid = to_regclass(%(new)s))
                  group by x.table_id) lo
           where c.table_id = lo.table_id and c.attnum > 0""",
        params,
    )
    conn.execute(
        """update warden.audit_columns c set attnum = a.attnum
           from (select distinct on (l.attnum) l.table_id, l.attnum as was, l.name
                   from warden.audit_columns l
                  where l.table_id = (select table_id from warden.audit_tables
                                      where relid = to_regclass(%(new)s))
                  order by l.attnum, l.since desc) m
           join pg_attribute a on a.attrelid = to_regclass(%(new)s) and a.attname = m.name
                              and a.attnum > 0 and not a.attisdropped
           where c.table_id = m.table_id and c.attnum = m.was""",
        params,
    )
