"""One incremental refresh: the change feed since the view's position, applied as deltas.

A pass runs in one transaction holding the view's feed row (``FOR UPDATE``): it reads the
feed (``warden.changes_after``, so never past a transaction still running or not yet
ingested) in batches, turns each event's old image into a ``-1`` row and its new image into a
``+1`` row of the table (``jsonb_populate_record``), evaluates the view's own expressions
over them, and adds the per-group sums to the table (``INSERT ... ON CONFLICT (__key) DO
UPDATE``). Groups left with no rows are deleted; a group whose ``min`` / ``max`` lost its
extreme is recomputed from the table, that group only. The new position is written in the
same transaction: killed at any point, a pass applies all of its events or none.

A recomputed ``min`` / ``max`` reads the table as it is now, which may include transactions
the feed has not reached yet (committed behind one still running); those reach the group
again later as deltas, and since a ``min`` only goes down on an insert and is recomputed when
a value at or below it goes, it converges: once the feed has caught up, every group equals a
full recomputation (the property test checks this with transactions held open).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from pgwarden.features.materialized_views._incremental import (
    Incremental,
    build_select,
    images,
    populate,
    table_columns,
)

BATCH = 50_000
"""Events read per statement (all in the pass's one transaction)."""
WHOLE_ABOVE = 0.02
"""A backlog of more events than this fraction of the table's rows is applied by computing
the view whole instead: an event costs ~20 us (read, two images, merged), a row of a whole
computation ~1-2 us (bench/views.py: at 1 % of a million rows changed the deltas took a third
of the time of REFRESH CONCURRENTLY, at 10 % four times more)."""

_V = sql.Identifier("__pgwarden_v")  # the table's alias: never the user's alias
_O = sql.Identifier("__pgwarden_o")


@dataclass(frozen=True)
class Pass:
    """What one incremental refresh did."""

    events: int
    groups: int
    """Groups written (inserted or updated), before dropping empty ones."""
    recomputed: int
    """Groups whose min / max was recomputed from the table."""
    full: bool
    """The whole view was computed again (first refresh, or asked)."""


def _stale_expr(inc: Incremental) -> sql.Composable:
    parts: list[sql.Composable] = []
    for i, agg in enumerate(inc.shape.aggregates):
        if agg.func not in ("min", "max"):
            continue
        col, gone = sql.Identifier(agg.name), sql.Identifier(f"__gone{i}")
        edge = sql.SQL("least") if agg.func == "min" else sql.SQL("greatest")
        cmp = sql.SQL("<=") if agg.func == "min" else sql.SQL(">=")
        parts.append(
            sql.SQL(
                "(d.{gone} IS NOT NULL AND (o.__key IS NULL OR o.{col} IS NULL "
                "OR d.{gone} {cmp} {edge}(o.{col}, d.{col})))"
            ).format(gone=gone, col=col, cmp=cmp, edge=edge)
        )
    return sql.SQL(" OR ").join(parts) if parts else sql.SQL("false")


def _delta_columns(inc: Incremental) -> list[sql.Composable]:
    """The per-group delta of each column, over ``img`` rows signed by ``__sign``."""
    out: list[sql.Composable] = [
        sql.SQL("jsonb_build_array({}) AS __key").format(sql.SQL(", ").join(inc.key_exprs())),
        sql.SQL("sum(__sign) AS __rows"),
    ]
    keys = dict(zip((c for c, _ in inc.shape.keys), inc.key_exprs(), strict=True))
    aggs = {a.name: (i, a) for i, a in enumerate(inc.shape.aggregates)}
    for column in inc.shape.columns:
        ident = sql.Identifier(column)
        if column in keys:
            out.append(sql.SQL("{} AS {}").format(keys[column], ident))
            continue
        i, agg = aggs[column]
        arg = sql.SQL("({})").format(sql.SQL(agg.arg)) if agg.arg else None
        nonnull = sql.SQL("sum(CASE WHEN {} IS NOT NULL THEN __sign ELSE 0 END)")
        if agg.func == "count":
            out.append(
                sql.SQL("sum(__sign) AS {}").format(ident)
                if arg is None
                else sql.SQL("{} AS {}").format(nonnull.format(arg), ident)
            )
        elif agg.func == "sum":
            out.append(sql.SQL("sum(__sign * {}) AS {}").format(arg, ident))
        else:
            f = sql.SQL(agg.func)
            out.append(sql.SQL("{}({}) FILTER (WHERE __sign > 0) AS {}").format(f, arg, ident))
            out.append(
                sql.SQL("{}({}) FILTER (WHERE __sign < 0) AS {}").format(
                    f, arg, sql.Identifier(f"__gone{i}")
                )
            )
    for i in inc.sums():
        arg = sql.SQL("({})").format(sql.SQL(inc.shape.aggregates[i].arg or "1"))
        out.append(
            sql.SQL("sum(CASE WHEN {} IS NOT NULL THEN __sign ELSE 0 END) AS {}").format(
                arg, sql.Identifier(f"__n{i}")
            )
        )
    return out


def _merge(inc: Incremental) -> list[sql.Composable]:
    """``SET`` items adding a group's delta (``excluded``) to its row."""
    sets: list[sql.Composable] = [sql.SQL("__rows = {v}.__rows + excluded.__rows").format(v=_V)]
    for i, agg in enumerate(inc.shape.aggregates):
        col = sql.Identifier(agg.name)
        if agg.func == "count":
            rule = sql.SQL("{v}.{c} + excluded.{c}")
        elif agg.func == "sum":
            rule = sql.SQL(
                "CASE WHEN {v}.{n} + excluded.{n} > 0 THEN "
                "coalesce({v}.{c} + excluded.{c}, {v}.{c}, excluded.{c}) END"
            )
        else:
            rule = sql.SQL(
                "least({v}.{c}, excluded.{c})"
                if agg.func == "min"
                else "greatest({v}.{c}, excluded.{c})"
            )
        sets.append(
            sql.SQL("{} = ").format(col) + rule.format(v=_V, c=col, n=sql.Identifier(f"__n{i}"))
        )
    for i in inc.sums():
        n = sql.Identifier(f"__n{i}")
        sets.append(sql.SQL("{n} = {v}.{n} + excluded.{n}").format(n=n, v=_V))
    sets.append(sql.SQL("__stale = {v}.__stale OR excluded.__stale").format(v=_V))
    return sets


def delta_statement(inc: Incremental) -> sql.Composed:
    """One batch: read the feed after (txid, event), apply it; returns how many events were
    read and applied (not passed over as already in the last whole computation), the
    position of the last, and how many groups were written.

    The events are read by ``warden.changes_after``'s own rule (after the position, below
    the pass's ``warden.feed_horizon()``, read once as ``%(horizon)s``, in (txid, event)
    order) written inline, without the context columns: the function cannot be inlined (it
    pins its search_path) and cost 4-8x more on a 40,000-event batch. Images become rows as
    ``images`` says."""
    shape = inc.shape
    columns = table_columns(inc)
    values = [sql.SQL("d.{}").format(c) for c in columns[:-1]]
    return sql.SQL(
        "WITH ev AS MATERIALIZED (SELECT e.txid, e.event_id, e.op, e.old_row, e.new_row, "
        "coalesce(pg_visible_in_snapshot(e.txid, %(skip)s::text::pg_snapshot), false) AS seen "
        "FROM warden.audit_events_all e "
        "WHERE e.table_id = (SELECT warden.audit_table_id(%(table)s)) "
        "AND e.txid >= %(txid)s::text::xid8 "
        "AND (e.txid > %(txid)s::text::xid8 OR e.event_id > %(event)s) "
        "AND e.txid < %(horizon)s::text::xid8 "
        "ORDER BY e.txid, e.event_id LIMIT %(limit)s), "
        "img AS ({images}), "
        "d AS (SELECT {deltas} FROM img AS {alias}{where} GROUP BY {keys}), "
        "up AS (INSERT INTO {backing} AS {v} ({columns}) "
        "SELECT {values}, {stale} FROM d LEFT JOIN {backing} AS o ON o.__key = d.__key "
        "ON CONFLICT (__key) DO UPDATE SET {merge} RETURNING 1) "
        "SELECT c.n, c.applied, ARRAY[c.t::text, (SELECT max(ev.event_id) FROM ev "
        "WHERE ev.txid = c.t)::text], (SELECT count(*) FROM up) FROM (SELECT count(*) AS n, "
        "count(*) FILTER (WHERE NOT ev.seen) AS applied, max(ev.txid) AS t FROM ev) c"
    ).format(
        images=images(inc),
        deltas=sql.SQL(", ").join(_delta_columns(inc)),
        alias=sql.Identifier(shape.alias),
        where=sql.SQL(" WHERE {}").format(sql.SQL(shape.where)) if shape.where else sql.SQL(""),
        keys=sql.SQL(", ").join(inc.key_exprs()),
        backing=inc.backing.ident,
        v=_V,
        columns=sql.SQL(", ").join(columns),
        values=sql.SQL(", ").join(values),
        stale=_stale_expr(inc),
        merge=sql.SQL(", ").join(_merge(inc)),
    )


def recompute_statement(inc: Incremental, nulls: tuple[bool, ...]) -> sql.Composed:
    """Recompute the ``min`` / ``max`` of the stale groups whose keys are NULL as ``nulls``
    says, from that group's rows only (``key = value`` or ``key IS NULL``: an index on the
    GROUP BY expressions serves it)."""
    shape = inc.shape
    match: list[sql.Composable] = []
    own: list[sql.Composable] = []
    for (column, _), expr, null in zip(shape.keys, inc.key_exprs(), nulls, strict=True):
        col = sql.SQL("{}.{}").format(_V, sql.Identifier(column))
        match.append(
            sql.SQL("{} IS NULL").format(expr) if null else sql.SQL("{} = {}").format(expr, col)
        )
        own.append(sql.SQL("{} IS {}NULL").format(col, sql.SQL("") if null else sql.SQL("NOT ")))
    extremes = [a for a in shape.aggregates if a.func in ("min", "max")]
    where = [sql.SQL("({})").format(sql.SQL(shape.where))] if shape.where else []
    return sql.SQL(
        "UPDATE {backing} AS {v} SET ({cols}) = (SELECT {aggs} FROM {table} AS {alias} "
        "WHERE {match}), __stale = false WHERE {v}.__stale AND {v}.__rows > 0 AND {own}"
    ).format(
        backing=inc.backing.ident,
        v=_V,
        cols=sql.SQL(", ").join(sql.Identifier(a.name) for a in extremes),
        aggs=sql.SQL(", ").join(
            sql.SQL("{}({})").format(sql.SQL(a.func), sql.SQL(a.arg or "")) for a in extremes
        ),
        table=inc.table.ident,
        alias=sql.Identifier(shape.alias),
        match=sql.SQL(" AND ").join([*where, *match]),
        own=sql.SQL(" AND ").join(own),
    )


def _tidy(conn: psycopg.Connection[Any], inc: Incremental) -> int:
    """Drop the groups left with no rows; recompute the stale extremes."""
    backing = inc.backing.ident
    conn.execute(sql.SQL("DELETE FROM {} WHERE __rows = 0").format(backing))
    keys = [sql.SQL("{} IS NULL").format(sql.Identifier(c)) for c, _ in inc.shape.keys]
    patterns = conn.execute(
        sql.SQL("SELECT DISTINCT {} FROM {} WHERE __stale AND __rows > 0").format(
            sql.SQL(", ").join(keys), backing
        )
    ).fetchall()
    done = 0
    for nulls in patterns:
        done += conn.execute(recompute_statement(inc, tuple(bool(n) for n in nulls))).rowcount
    # A group can only be stale with rows (a removal from an empty group is a full refresh's).
    conn.execute(sql.SQL("UPDATE {} SET __stale = false WHERE __stale").format(backing))
    return done


def _backlog_is_large(
    conn: psycopg.Connection[Any],
    inc: Incremental,
    txid: str,
    event: int,
    skip: str | None,
    horizon: str,
) -> bool:
    """Whether more events wait than ``WHOLE_ABOVE`` of the table's rows (counted up to that
    bound only, by the feed's own index on txid; those of the last whole computation's
    snapshot are not waiting)."""
    found = conn.execute(
        "select greatest(c.reltuples, 0)::bigint from pg_class c where c.oid = %s::regclass",
        (inc.table.regclass_text,),
    ).fetchone()
    bound = int(found[0] * WHOLE_ABOVE) if found else 0
    if bound < 1000:  # a small table (or never analyzed): deltas are cheap either way
        return False
    waiting = conn.execute(
        "select count(*) from (select 1 from warden.audit_events_all e"
        " where e.table_id = (select warden.audit_table_id(%s))"
        " and e.txid >= %s::text::xid8 and (e.txid > %s::text::xid8 or e.event_id > %s)"
        " and e.txid < %s::text::xid8"
        " and not coalesce(pg_visible_in_snapshot(e.txid, %s::text::pg_snapshot), false)"
        " limit %s) s",
        (str(inc.table), txid, txid, event, horizon, skip, bound + 1),
    ).fetchone()
    return bool(waiting and waiting[0] > bound)


def full_refresh(conn: psycopg.Connection[Any], inc: Incremental) -> int:
    """The whole view again (in the caller's transaction): every group computed from the
    table, and the feed position reset to that snapshot."""
    conn.execute(sql.SQL("DELETE FROM {}").format(inc.backing.ident))
    return int(conn.execute(populate(inc, inc.backing)).rowcount)


def catch_up(
    conn: psycopg.Connection[Any], inc: Incremental, *, lock_timeout_ms: int, full: bool = False
) -> Pass:
    """Apply the change feed since ``inc``'s position (``conn`` in autocommit; the caller
    holds the view's refresh lock). ``full``: compute the whole view again instead."""
    with conn.transaction():
        conn.execute("select set_config('lock_timeout', %s, true)", (f"{lock_timeout_ms}ms",))
        conn.execute("select set_config('TimeZone', %s, true)", (inc.timezone,))
        # A batch's events are kept once (a CTE): in memory rather than spilled to disk.
        conn.execute("select set_config('work_mem', '64MB', true)")
        row = conn.execute(
            "select after_txid::text, after_event, skip::text, pg_snapshot_xmax(skip)::text"
            " from warden.view_feeds where view_name = %s for update",
            (str(inc.name),),
        ).fetchone()
        if full or row is None:
            return Pass(0, full_refresh(conn, inc), 0, True)
        txid, event, skip, skip_xmax = row
        # One horizon for the whole pass: read per statement it moves as transactions end,
        # and the backlog counted would not be the one applied.
        found = conn.execute("select warden.feed_horizon()::text").fetchone()
        assert found is not None
        horizon = str(found[0])
        if _backlog_is_large(conn, inc, txid, event, skip, horizon):
            return Pass(0, full_refresh(conn, inc), 0, True)
        statement = delta_statement(inc)
        events = groups = 0
        while True:
            read, applied, last, written = conn.execute(
                statement,
                {
                    "txid": txid,
                    "event": event,
                    "limit": BATCH,
                    "table": str(inc.table),
                    "skip": skip,
                    "horizon": horizon,
                },
            ).fetchone() or (0, 0, None, 0)
            if not read:
                break
            events += applied
            groups += written
            assert last is not None  # events were read
            txid, event = last[0], int(last[1])
            if read < BATCH:
                break
        recomputed = _tidy(conn, inc) if events else 0
        passed = skip is not None and int(txid) >= int(skip_xmax)
        conn.execute(
            "update warden.view_feeds set after_txid = %s::text::xid8, after_event = %s,"
            " skip = case when %s then null else skip end, caught_up_at = %s"
            " where view_name = %s",
            (txid, event, passed, dt.datetime.now(dt.UTC), str(inc.name)),
        )
    return Pass(events, groups, recomputed, False)


__all__ = ["BATCH", "Pass", "build_select", "catch_up", "delta_statement", "full_refresh"]
