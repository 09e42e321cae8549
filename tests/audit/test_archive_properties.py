"""Archiving the audit store changes no read: whatever DML ran, history, time travel, the
versions view, the log and the feed are identical before and after the ``audit-archive`` job
moved every event older than a random cut, and reverting to a time before the cut works.
A job killed at any moment leaves every event in exactly one store."""

from __future__ import annotations

import datetime as dt
import itertools
import random
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql
from psycopg.types.json import Jsonb

from pgwarden import Warden
from pgwarden.spec import parse_spec

from ._support import applied, now, rows
from .test_time_travel_properties import COLUMNS, TRANSACTION, _run, items_table

ARCHIVE_ONLY = ["audit-archive"]
_schemas = itertools.count()


def _keys(conn: psycopg.Connection[Any], table: str) -> list[Any]:
    found = rows(
        conn,
        "select distinct k from warden.audit_events_all e, "
        "lateral (values (e.row_key), (e.old_key)) v(k) "
        "where e.table_id = warden.audit_table_id(%s) and k is not null order by 1",
        table,
    )
    return [r[0] for r in found]


def _reads(
    conn: psycopg.Connection[Any], warden: Warden, schema: str, times: list[dt.datetime]
) -> dict[str, Any]:
    """Everything a reader can ask of the trail of ``schema.items``."""
    name = f"{schema}.items"
    ident = sql.Identifier(schema, "items")
    keys = _keys(conn, name)
    as_of = sql.SQL("select {} from warden.as_of(null::{}, %s) order by id").format(
        sql.SQL(COLUMNS), ident
    )
    row_as_of = sql.SQL("select {} from warden.row_as_of(null::{}, %s, %s)").format(
        sql.SQL(COLUMNS), ident
    )
    versions = sql.SQL("select * from {} order by row_key, version").format(
        sql.Identifier(schema, "items__versions")
    )
    return {
        "history": {
            str(k): rows(conn, "select * from warden.history(%s, %s)", name, Jsonb(k)) for k in keys
        },
        "python history": {str(k): warden.audit.history(name, k[0]) for k in keys},
        "as_of": [conn.execute(as_of, (at,)).fetchall() for at in times],
        "row_as_of": [
            conn.execute(row_as_of, (Jsonb(k), at)).fetchall() for k in keys for at in times
        ],
        "versions": conn.execute(versions).fetchall(),
        "log": warden.audit.log(table=name, limit=10_000),
        "feed": _whole_feed(conn, warden, name),
    }


def _whole_feed(
    conn: psycopg.Connection[Any], warden: Warden, name: str, after: tuple[int, int] = (0, 0)
) -> list[Any]:
    """The feed of ``name`` after ``after``, once it holds every event of it there: the feed
    holds back events behind any transaction it cannot prove belongs to another database,
    which the tests running beside this one may briefly start."""
    events = rows(
        conn,
        "select count(*) from warden.audit_events_all where table_id = warden.audit_table_id(%s) "
        "and (txid::text::bigint, event_id) > (%s, %s)",
        name,
        *after,
    )[0][0]
    for _ in range(100):
        feed = warden.audit.changes(after=after, table=name, limit=10_000)
        if len(feed) == events:
            break
        time.sleep(0.05)
    return feed


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(transactions=st.lists(TRANSACTION, min_size=1, max_size=6), data=st.data())
def test_every_read_is_identical_across_the_archive(
    conn: psycopg.Connection[Any], db_url: str, transactions: list[list[Any]], data: st.DataObject
) -> None:
    schema = f"ar{next(_schemas)}"
    table, ordered = items_table(conn, schema)
    spec = f'[tables."{schema}.items"]\naudit = {{ archive_after = "1 day" }}\nversioning = true\n'
    with Warden(db_url, spec=parse_spec(spec)) as warden:
        warden.apply()
        commits = [(now(conn), conn.execute(ordered).fetchall())]
        for steps in transactions:
            with conn.transaction():
                for step in steps:
                    _run(conn, table, step)
            commits.append((now(conn), conn.execute(ordered).fetchall()))
        times = [at for at, _ in commits]
        before = _reads(conn, warden, schema, times)

        # Archive everything captured before a random commit: the clock is moved so that
        # exactly those events are older than archive_after.
        cut = data.draw(st.integers(0, len(commits) - 1), label="cut after commit")
        mine = "select event_id from warden.{} where table_id = warden.audit_table_id(%s) {}"
        name = f"{schema}.items"
        due = rows(conn, mine.format("audit_events", "and at < %s order by 1"), name, times[cut])
        warden.maintain(now=times[cut] + dt.timedelta(days=1), names=ARCHIVE_ONLY, batch=3)
        assert rows(conn, mine.format("audit_events_archive", "order by 1"), name) == due
        assert rows(conn, mine.format("audit_events", "and at < %s"), name, times[cut]) == []
        after = _reads(conn, warden, schema, times)
        for read in before:
            assert after[read] == before[read], read

        # Revert every row to a commit before the cut (its events are archived now).
        at, snapshot = commits[data.draw(st.integers(0, cut), label="revert to")]
        for key in _keys(conn, f"{schema}.items"):
            warden.audit.revert(f"{schema}.items", key[0], to=at)
        assert conn.execute(ordered).fetchall() == snapshot


def test_revert_of_an_archived_transaction_and_the_feed_behind_the_horizon(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute("create table t (id int primary key, v text)")
    warden = applied(make_warden, '[tables."public.t"]\naudit = { archive_after = "1 day" }\n')
    conn.execute("insert into t values (1, 'a'), (2, 'b')")
    with conn.transaction():
        txid = conn.execute("select pg_current_xact_id()::text::bigint").fetchone()[0]  # type: ignore[index]
        conn.execute("update t set v = v || '2'")
        conn.execute("delete from t where id = 2")
    feed = _whole_feed(conn, warden, "public.t")
    assert len(feed) == 5
    warden.maintain(now=now(conn) + dt.timedelta(days=2), names=ARCHIVE_ONLY)
    assert rows(conn, "select count(*) from warden.audit_events") == [(0,)]
    # A reader that starts from the beginning gets the archived events, in order.
    assert _whole_feed(conn, warden, "public.t") == feed
    assert _whole_feed(conn, warden, "public.t", feed[1].position) == feed[2:]
    assert [e.event_id for e in warden.audit.log(table="public.t")] == [5, 4, 3, 2, 1]
    warden.audit.revert_transaction(txid)
    assert rows(conn, "select * from t order by id") == [(1, "a"), (2, "b")]


def test_a_dropped_tables_archived_history_stays_readable(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute("create table t (id int primary key, v text)")
    conn.execute("create table keep (id int primary key)")
    warden = applied(
        make_warden,
        '[tables."public.t"]\naudit = { archive_after = "1 day" }\n'
        '[tables."public.keep"]\naudit = { archive_after = "1 day" }\n',
    )
    with warden.session(actor="alice") as db:
        db.execute("insert into t values (1, 'a'), (2, 'b')")
    middle = now(conn)
    conn.execute("update t set v = 'a2' where id = 1")
    conn.execute("drop table t")
    before = (warden.audit.history("public.t", 1), warden.audit.as_of("public.t", middle),
              warden.audit.log(table="public.t"))  # fmt: skip
    warden.maintain(now=now(conn) + dt.timedelta(days=2), names=ARCHIVE_ONLY)
    assert rows(conn, "select count(*) from warden.audit_events_archive") == [(3,)]
    after = (warden.audit.history("public.t", 1), warden.audit.as_of("public.t", middle),
             warden.audit.log(table="public.t"))  # fmt: skip
    assert after == before
    assert [(v.op, v.actor) for v in after[0]] == [("insert", "alice"), ("update", None)]


_MOVER = """
import datetime as dt, sys
from pgwarden import Warden
from pgwarden.spec import parse_spec
with Warden(sys.argv[1], spec=parse_spec(sys.argv[2])) as warden:
    warden.maintain(now=dt.datetime.fromisoformat(sys.argv[3]), names=["audit-archive"],
                    batch=50, wait=True)
"""


def test_killing_the_job_at_any_moment_loses_and_duplicates_nothing(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden], db_url: str
) -> None:
    spec = '[tables."public.t"]\naudit = { archive_after = "1 day" }\n'
    conn.execute("create table t (id int primary key, v int)")
    warden = applied(make_warden, spec)
    conn.execute("insert into t select g, 0 from generate_series(1, 2000) g")
    conn.execute("update t set v = 1 where id % 2 = 0")
    everything = [r[0] for r in rows(conn, "select event_id from warden.audit_events order by 1")]
    clock = (now(conn) + dt.timedelta(days=2)).isoformat()
    where = "select event_id, archived from warden.audit_events_all order by 1"  # one snapshot
    chance = random.Random(len(everything))
    for _ in range(5):
        mover = subprocess.Popen([sys.executable, "-c", _MOVER, db_url, spec, clock])
        time.sleep(chance.uniform(0.2, 2.0))  # when to kill, not what to assert
        mover.kill()
        mover.wait()
        seen = rows(conn, where)
        assert [r[0] for r in seen] == everything
    warden.maintain(now=dt.datetime.fromisoformat(clock), names=ARCHIVE_ONLY, wait=True)
    assert rows(conn, where) == [(e, True) for e in everything]
