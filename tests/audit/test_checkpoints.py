"""Table checkpoints (``checkpoint_every``): ``as_of`` through a checkpoint equals the table as
it was, whatever ran in between (random DML, checkpoints, pruning), on both read paths; a
checkpoint job killed midway leaves nothing a read would use; renames, type changes, a table
dropped and made again, redaction; the declaration's errors."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql

from pgwarden import Warden
from pgwarden.errors import FeatureNotApplicable, SpecError
from pgwarden.spec import parse_spec

from ._support import applied, needs_logical_wal
from .test_time_travel_properties import COLUMNS, TRANSACTION, _run, items_table

HOUR = dt.timedelta(hours=1)
STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("tx"), TRANSACTION),
        st.tuples(st.just("checkpoint"), st.none()),
        st.tuples(st.just("prune"), st.floats(0, 1)),
    ),
    min_size=1,
    max_size=8,
)
_schemas = iter(range(10**6))


def _checkpoint(warden: Warden, now: dt.datetime | None = None) -> None:
    warden.maintain(names=["audit-checkpoint"], now=now)


def _now(conn: psycopg.Connection[Any]) -> dt.datetime:
    return conn.execute("select clock_timestamp()").fetchone()[0]  # type: ignore[index]


def _through(
    conn: psycopg.Connection[Any], table: str, at: dt.datetime, checkpoint: tuple[int, Any] | None
) -> list[tuple[Any, ...]]:
    """The table at ``at`` by one read path: from the live table (``checkpoint`` None), or
    from that checkpoint, backward when it is later than ``at``, forward when earlier."""
    query = "select warden.audit_as_of_sql(warden.audit_table_id(%s), %s, %s, %s, 'c.*', %s)"
    source, upto, since = f"{table} c", "infinity", None
    if checkpoint is not None:
        row = conn.execute(
            "select warden.audit_checkpoint_source(%s, %s::regclass)", (checkpoint[0], table)
        ).fetchone()
        source, upto = row[0], checkpoint[1]  # type: ignore[index]
        since = checkpoint[1] if checkpoint[1] <= at else None
    text = conn.execute(query, (table, at, f"null::{table}", source, since)).fetchone()[0]  # type: ignore[index]
    with psycopg.RawCursor(conn) as cur:
        cur.execute(
            f"select * from ({text}) x order by id",
            (conn.execute("select warden.audit_table_id(%s)", (table,)).fetchone()[0], at, 0, upto),  # type: ignore[index]
        )
        return cur.fetchall()


@pytest.mark.parametrize("capture", ["trigger", "wal"])
@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=STEPS)
def test_as_of_through_checkpoints_equals_every_commit(
    conn: psycopg.Connection[Any], db_url: str, capture: str, steps: list[Any]
) -> None:
    if capture == "wal":
        needs_logical_wal(conn)
    schema = f"ck{next(_schemas)}"
    table, ordered = items_table(conn, schema)
    as_of = sql.SQL("select {} from warden.as_of(null::{}, %s) order by id").format(
        sql.SQL(COLUMNS), table
    )
    spec = (
        f'[tables."{schema}.items"]\n'
        f'audit = {{ capture = "{capture}", checkpoint_every = 1, retention = "1 hour" }}\n'
    )
    with Warden(db_url, spec=parse_spec(spec)) as warden:
        warden.apply()
        commits = [(_now(conn), conn.execute(ordered).fetchall())]
        window = commits[0][0]
        for kind, arg in steps:
            if kind == "tx":
                with conn.transaction():
                    for step in arg:
                        _run(conn, table, step)
                commits.append((_now(conn), conn.execute(ordered).fetchall()))
            elif kind == "checkpoint":
                _checkpoint(warden)
            else:
                # Retention cuts at a commit: events before it go, and checkpoints before it.
                cut = commits[int(arg * (len(commits) - 1))][0]
                window = max(window, cut)
                warden.audit.ingest()
                conn.execute("select warden.audit_prune(100000, %s)", (cut + HOUR,))
                _checkpoint(warden, now=cut + HOUR)
        warden.audit.ingest()
        assert conn.execute(
            "select count(*) = 0 from warden.audit_checkpoints where at < %s", (window,)
        ).fetchone() == (True,) or not any(k == "prune" for k, _ in steps)
        name = f"{schema}.items"
        checkpoints = conn.execute(
            "select checkpoint_id, at from warden.audit_checkpoints "
            "where complete and table_id = warden.audit_table_id(%s)",
            (name,),
        ).fetchall()
        for at, snapshot in commits:
            if at < window:
                continue
            assert conn.execute(as_of, (at,)).fetchall() == snapshot, f"as_of({at})"
            assert _through(conn, name, at, None) == snapshot, f"live, {at}"
            for checkpoint in checkpoints:
                truncated = conn.execute(
                    "select exists (select 1 from warden.audit_events where op = 'T' "
                    "and at > %s and at <= %s)",
                    (checkpoint[1], at),
                ).fetchone()
                if checkpoint[1] > at or truncated == (False,):
                    got = _through(conn, name, at, checkpoint)
                    assert got == snapshot, f"{at} through checkpoint {checkpoint}"


def _accounts(conn: psycopg.Connection[Any], rows: int) -> None:
    conn.execute("create table accounts (id int primary key, balance int, note text)")
    conn.execute(
        "insert into accounts select g, g %% 100, 'row ' || g from generate_series(1, %s) g",
        (rows,),
    )


def _state(conn: psycopg.Connection[Any], at: dt.datetime) -> list[tuple[Any, ...]]:
    return conn.execute(
        "select * from warden.as_of(null::accounts, %s) order by id", (at,)
    ).fetchall()


def test_a_checkpoint_killed_midway_leaves_nothing(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden], admin_url: str
) -> None:
    _accounts(conn, 300_000)
    warden = applied(make_warden, '[tables."public.accounts"]\naudit = { checkpoint_every = 1 }\n')
    before = _now(conn)
    expected = conn.execute("select * from accounts order by id").fetchall()
    conn.execute("update accounts set balance = balance + 1 where id <= 1000")
    failed: list[BaseException] = []

    def job() -> None:
        try:
            _checkpoint(warden)
        except BaseException as exc:
            failed.append(exc)

    thread = threading.Thread(target=job)
    thread.start()
    killed = None
    deadline = time.monotonic() + 60
    while killed is None and time.monotonic() < deadline and thread.is_alive():
        row = conn.execute(
            "select pg_terminate_backend(pid) from pg_stat_activity "
            "where datname = current_database() and state = 'active' "
            "and query like '%%audit_checkpoint_take%%' and pid <> pg_backend_pid()"
        ).fetchone()
        killed = row[0] if row else None
        time.sleep(0.02)
    thread.join()
    assert killed and failed, "the checkpoint was not caught while being taken"
    assert conn.execute("select count(*) from warden.audit_checkpoints").fetchone() == (0,)
    assert conn.execute(
        "select count(*) from pg_class where relname like 'audit\\_checkpoint\\_\\_%%'"
    ).fetchone() == (0,)
    assert _state(conn, before) == expected
    _checkpoint(warden)  # the next run takes it whole
    assert conn.execute(
        "select count(*), bool_and(complete), sum(rows) from warden.audit_checkpoints"
    ).fetchone() == (1, True, 300_000)
    assert _state(conn, before) == expected


def test_wal_checkpoint_is_used_only_once_complete(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    needs_logical_wal(conn)
    _accounts(conn, 50)
    warden = applied(
        make_warden,
        '[tables."public.accounts"]\naudit = { capture = "wal", checkpoint_every = 1 }\n',
    )
    before = _now(conn)
    expected = conn.execute("select * from accounts order by id").fetchall()
    conn.execute("update accounts set balance = -1")
    at = _now(conn)
    # Taken before the update is ingested: the live rows it reads are ahead of the store.
    with conn.transaction():
        conn.execute("set transaction isolation level repeatable read")
        conn.execute(
            "select warden.audit_checkpoint_take(warden.audit_table_id('public.accounts'), %s)",
            (before,),
        )
    assert conn.execute("select complete from warden.audit_checkpoints").fetchone() == (False,)
    warden.audit.ingest()
    assert _state(conn, before) == expected  # the live path: the pending one is not read
    _checkpoint(warden)  # completes it after ingesting
    assert conn.execute(
        "select bool_and(complete) from warden.audit_checkpoints where at = %s", (before,)
    ).fetchone() == (True,)
    assert conn.execute(
        "select warden.audit_checkpoint_source(checkpoint_id, 'accounts') is not null "
        "from warden.audit_checkpoints where at = %s",
        (before,),
    ).fetchone() == (True,)
    assert _state(conn, before) == expected
    assert [r[1] for r in _state(conn, at)] == [-1] * 50


def test_renames_type_changes_and_a_table_made_again(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    _accounts(conn, 20)
    spec = '[tables."public.accounts"]\naudit = { checkpoint_every = 1 }\n'
    warden = applied(make_warden, spec)
    before = _now(conn)
    expected = conn.execute("select * from accounts order by id").fetchall()
    conn.execute("update accounts set balance = balance + 1 where id % 2 = 0")
    _checkpoint(warden)
    conn.execute("update accounts set balance = balance + 1")
    conn.execute("alter table accounts rename column note to label")
    conn.execute("alter table accounts add column extra int")
    uses = "select count(*) from warden.audit_checkpoints where complete"
    assert conn.execute(uses).fetchone() == (1,)
    # Renamed: found by attribute number; added: NULL, as in every image before it.
    assert _state(conn, before) == [(*r, None) for r in expected]
    conn.execute("alter table accounts alter column balance type bigint")
    assert _state(conn, before) == [(*r, None) for r in expected]  # live path: not usable
    conn.execute("drop table accounts")
    _accounts(conn, 5)
    made_again = make_warden(spec)
    made_again.apply()
    _checkpoint(made_again)  # the old relation's checkpoint goes, the new table gets one
    rows = conn.execute("select relid = 'accounts'::regclass from warden.audit_checkpoints")
    assert rows.fetchall() == [(True,)]
    assert len(_state(conn, _now(conn))) == 5


def test_redacted_and_excluded_columns_never_reach_a_checkpoint(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    _accounts(conn, 10)
    warden = applied(
        make_warden,
        '[tables."public.accounts"]\n'
        'audit = { checkpoint_every = 1, redact = ["note"], exclude = ["balance"] }\n',
    )
    conn.execute("update accounts set note = 'secret' where id = 1")
    _checkpoint(warden)
    name = conn.execute("select checkpoint_id from warden.audit_checkpoints").fetchone()[0]  # type: ignore[index]
    stored = conn.execute(
        sql.SQL("select a2, a3 from {} order by a1").format(
            sql.Identifier("warden", f"audit_checkpoint__{name}")
        )
    ).fetchall()
    assert all(balance is None for balance, _ in stored)
    assert all(note.startswith("sha256:") for _, note in stored)


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("checkpoint_every = 0", "audit.checkpoint_every: must be a positive number"),
        ('checkpoint_every = "1 dai"', "audit.checkpoint_every: '1 dai' is not a duration"),
        ("checkpoint_every = true", "audit.checkpoint_every: expected a duration"),
        ('checkpoint_keep = "1 day"', "audit.checkpoint_keep: applies only with checkpoint_every"),
    ],
)
def test_bad_checkpoint_options_name_the_key(option: str, message: str) -> None:
    with pytest.raises(SpecError, match=message.replace(".", r"\.")):
        parse_spec(f'[tables."public.accounts"]\naudit = {{ {option} }}\n', file="pgwarden.toml")


def test_a_table_without_a_key_cannot_be_checkpointed(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute("create table loose (v int)")
    warden = make_warden('[tables."public.loose"]\naudit = { checkpoint_every = "1 day" }\n')
    with pytest.raises(FeatureNotApplicable, match="checkpoint_every needs rows identified"):
        warden.plan()
    assert conn.execute("select to_regclass('warden.audit_checkpoints')").fetchone() == (None,)
