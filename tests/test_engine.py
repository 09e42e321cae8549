"""Plan and apply: idempotency, drift, exact removal, atomicity, locks and retries."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, ClassVar

import psycopg
import pytest
from psycopg import sql

from pgwarden import ApplyError, LockNotGranted, UnknownTable, Warden
from pgwarden._names import QualifiedName
from pgwarden.catalog import Table
from pgwarden.engine import DesiredObject, ObjectRef
from pgwarden.features import Feature, PlanContext, registered_features
from pgwarden.spec import FeatureOptions, parse_spec

SPEC = '[tables."public.t"]\ntimestamps = true\n'


def _owned(conn: psycopg.Connection[Any]) -> set[str]:
    return {r[0] for r in conn.execute("select object_key from warden.owned_objects")}


def _triggers(conn: psycopg.Connection[Any], table: str = "t") -> list[str]:
    return [
        r[0]
        for r in conn.execute(
            "select tgname from pg_trigger where tgrelid = to_regclass(%s) and not tgisinternal",
            (table,),
        )
    ]


def test_apply_is_idempotent_and_records_ledger(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute("create table t (id int primary key)")
    warden = make_warden(SPEC)
    plan = warden.plan()
    assert [c.action for c in plan.changes] == ["migrate"] + ["create"] * 5
    # The engine's own function (its stream's, database-wide) first, then the table's.
    assert [c.table for c in plan.changes[1:]] == [None] + [QualifiedName("public", "t")] * 4
    assert {str(c.lock) for c in plan.changes} >= {"ACCESS EXCLUSIVE on public.t"}
    result = warden.apply(expected=plan.fingerprint)
    assert len(result.applied) == 6
    assert warden.plan().empty
    assert warden.apply().applied == ()
    assert _owned(conn) == {
        "column public.t/created_at",
        "column public.t/updated_at",
        "function warden.public_t__timestamps",
        "trigger public.t/pgwarden_timestamps",
        "function warden.applying",
    }
    assert conn.execute("select count(*) from warden.applies").fetchone() == (1,)
    reverse = plan.changes[-1].reverse()
    assert reverse is not None and reverse.action == "drop"


def test_drift_dropped_and_altered_objects_are_repaired(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute("create table t (id int primary key)")
    warden = make_warden(SPEC)
    warden.apply()

    conn.execute("drop trigger pgwarden_timestamps on t")
    conn.execute(
        "create or replace function warden.public_t__timestamps() returns trigger "
        "language plpgsql as 'begin return new; end'"
    )
    conn.execute("alter table t alter column updated_at drop not null")
    plan = warden.plan()
    drift = {c.ref.key: c.reason for c in plan.drift if c.ref}
    assert drift == {
        "trigger public.t/pgwarden_timestamps": "dropped outside pgwarden",
        "function warden.public_t__timestamps": "altered outside pgwarden",
        "column public.t/updated_at": "altered outside pgwarden",
    }
    states = {o.owned.ref.key: o.state for o in warden.status().drift}
    assert states["trigger public.t/pgwarden_timestamps"] == "missing"
    assert states["function warden.public_t__timestamps"] == "altered"

    conn.execute("insert into t (id) values (1)")
    warden.apply()
    assert warden.plan().empty
    assert _triggers(conn) == ["pgwarden_timestamps"]
    conn.execute("update t set id = 2")
    assert conn.execute("select updated_at > created_at from t").fetchone() == (True,)


def test_removing_a_feature_removes_exactly_what_it_created(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute(
        "create table t (id int primary key, created_at timestamptz);"
        "create table u (id int primary key);"
        "create function public.mine() returns trigger language plpgsql as "
        "'begin return new; end';"
        "create trigger user_trigger before insert on t for each row execute function mine()"
    )
    make_warden(SPEC + '[tables."public.u"]\ntimestamps = true\n').apply()
    warden = make_warden('[tables."public.u"]\ntimestamps = true\n')
    plan = warden.plan()
    assert {(c.action, c.ref.key if c.ref else "") for c in plan.changes} == {
        ("drop", "trigger public.t/pgwarden_timestamps"),
        ("drop", "function warden.public_t__timestamps"),
        ("drop", "column public.t/updated_at"),
    }
    # A function's drop waits until the rest is done (what is rebuilt may call it until then).
    assert [c.ref.kind for c in plan.changes if c.ref] == ["trigger", "column", "function"]
    assert [c.destructive for c in plan.changes] == [False, True, False]
    warden.apply()
    cols = [
        r[0]
        for r in conn.execute(
            "select attname from pg_attribute where attrelid = 't'::regclass and attnum > 0 "
            "and not attisdropped order by attnum"
        )
    ]
    assert cols == ["id", "created_at"]  # the user's column stays
    assert _triggers(conn) == ["user_trigger"]
    assert _triggers(conn, "u") == ["pgwarden_timestamps"]
    assert conn.execute("select to_regprocedure('public.mine()') is not null").fetchone() == (True,)


def test_unknown_table_suggests_closest(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute("create table entries (id int primary key)")
    with pytest.raises(UnknownTable, match=r'\[tables\."public\.entrys"\]: no such table') as info:
        make_warden('[tables."public.entrys"]\ntimestamps = true\n').plan()
    assert info.value.suggestion == "public.entries"


def test_apply_refuses_a_plan_that_moved_on(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute("create table t (id int primary key)")
    warden = make_warden(SPEC)
    shown = warden.plan()
    conn.execute("alter table t add column updated_at timestamptz")  # now adopted: plan differs
    with pytest.raises(ApplyError, match="changed since the plan was shown"):
        warden.apply(expected=shown.fingerprint)
    assert conn.execute("select to_regnamespace('warden')").fetchone() == (None,)


class _BrokenOptions(FeatureOptions):
    pass


class _Broken(Feature):
    """A feature whose second object fails to create: the whole apply must roll back."""

    name = "broken"
    summary = "test only"
    options: ClassVar[type[FeatureOptions]] = _BrokenOptions

    def objects(
        self, table: Table, options: FeatureOptions, ctx: PlanContext
    ) -> list[DesiredObject]:
        return [
            DesiredObject(
                ref=ObjectRef("function", "warden", "zz_broken"),
                feature=self.name,
                table=table.name,
                create=sql.SQL(
                    "CREATE OR REPLACE FUNCTION warden.zz_broken() RETURNS int "
                    "LANGUAGE sql AS 'select no_such_column'"
                ),
                drop=sql.SQL("DROP FUNCTION IF EXISTS warden.zz_broken()"),
                description="a function that does not compile",
            )
        ]


def test_failed_apply_changes_nothing(conn: psycopg.Connection[Any], db_url: str) -> None:
    conn.execute("create table t (id int primary key)")
    features = {**registered_features(), "broken": _Broken()}
    spec = parse_spec(
        '[tables."public.t"]\ntimestamps = true\nbroken = true\n',
        features={k: f.options for k, f in features.items()},
    )
    with Warden(db_url, spec=spec, features=features) as warden:
        with pytest.raises(ApplyError, match=r"does not compile.*no_such_column") as info:
            warden.apply()
        assert info.value.statement and "zz_broken" in info.value.statement
    assert conn.execute("select to_regnamespace('warden')").fetchone() == (None,)
    assert _triggers(conn) == []
    assert conn.execute(
        "select count(*) from information_schema.columns where table_name = 't'"
    ).fetchone() == (1,)


def _hold_lock(
    db_url: str, ready: threading.Event, release: threading.Event, pid: list[int]
) -> None:
    with psycopg.connect(db_url) as holder:
        pid.append(holder.info.backend_pid)
        holder.execute("update t set id = id")  # ROW EXCLUSIVE, conflicts with trigger creation
        holder.execute("select * from t").fetchall()
        ready.set()
        release.wait(30)
        holder.rollback()


def test_apply_waits_retries_and_succeeds_when_lock_released(
    conn: psycopg.Connection[Any], db_url: str, make_warden: Callable[..., Warden]
) -> None:
    conn.execute("create table t (id int primary key); insert into t values (1)")
    warden = make_warden('[database]\nlock_timeout = "100ms"\nretries = 8\n' + SPEC)
    ready, release, pid = threading.Event(), threading.Event(), []
    holder = threading.Thread(target=_hold_lock, args=(db_url, ready, release, pid))
    holder.start()
    ready.wait(10)
    threading.Timer(0.6, release.set).start()
    try:
        result = warden.apply()
    finally:
        release.set()
        holder.join()
    assert result.attempts > 1
    assert _triggers(conn) == ["pgwarden_timestamps"]


def test_apply_fails_cleanly_when_lock_never_granted(
    conn: psycopg.Connection[Any], db_url: str, make_warden: Callable[..., Warden]
) -> None:
    conn.execute("create table t (id int primary key); insert into t values (1)")
    warden = make_warden('[database]\nlock_timeout = "100ms"\nretries = 1\n' + SPEC)
    ready, release, pid = threading.Event(), threading.Event(), []
    holder = threading.Thread(target=_hold_lock, args=(db_url, ready, release, pid))
    holder.start()
    ready.wait(10)
    started = time.monotonic()
    try:
        with pytest.raises(LockNotGranted) as info:
            warden.apply()
    finally:
        release.set()
        holder.join()
    message = str(info.value)
    assert "ACCESS EXCLUSIVE on public.t" in message
    assert "lock_timeout=100ms after 2 attempts" in message
    assert f"pid {pid[0]}" in message and "nothing was applied" in message
    # Each attempt was cut off by lock_timeout instead of waiting for the holder (30 s).
    assert time.monotonic() - started < 15
    assert conn.execute("select to_regnamespace('warden')").fetchone() == (None,)


def test_concurrent_applies_are_serialised(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute("create table t (id int primary key)")
    wardens = [make_warden('[database]\nlock_timeout = "10s"\n' + SPEC) for _ in range(3)]
    results: list[int] = []
    errors: list[BaseException] = []

    def run(w: Warden) -> None:
        try:
            results.append(len(w.apply().applied))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in wardens]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert sorted(results) == [0, 0, 6]
    assert conn.execute("select count(*) from warden.applies").fetchone() == (1,)


def test_altered_column_is_repaired_in_place_keeping_data(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute("create table t (id int primary key)")
    warden = make_warden(SPEC)
    warden.apply()
    conn.execute("insert into t (id, created_at) values (1, '2001-01-01Z')")
    conn.execute("alter table t alter column created_at drop default")
    (change,) = warden.plan().changes
    assert change.action == "repair" and not change.destructive
    assert "DROP" not in change.sql and "SET DEFAULT now()" in change.sql
    warden.apply()
    assert warden.plan().empty
    row = conn.execute("select extract(year from created_at) from t where id = 1").fetchone()
    assert row == (2001,)


def test_replace_reverses_to_the_previous_definition(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute("create table t (id int primary key, made timestamptz)")
    make_warden(SPEC).apply()
    plan = make_warden(
        '[tables."public.t"]\ntimestamps = { updated = "updated_at", created = "made" }\n'
    ).plan()
    function = next(c for c in plan.changes if c.ref and c.ref.kind == "function")
    assert function.action == "replace"
    back = function.reverse()
    assert back is not None and back.action == "replace"
    assert '"created_at"' in back.sql and '"made"' in function.sql


def test_tables_whose_joined_names_coincide_get_distinct_objects(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute(
        "create schema public_a; create table public.a_b (id int); create table public_a.b (id int)"
    )
    warden = make_warden(
        '[tables."public.a_b"]\ntimestamps = true\n[tables."public_a.b"]\ntimestamps = true\n'
    )
    warden.apply()
    functions = {
        r[0]
        for r in conn.execute(
            "select proname from pg_proc where pronamespace = 'warden'::regnamespace"
            " and proname like '%timestamps'"
        )
    }
    assert len(functions) == 2
    make_warden('[tables."public_a.b"]\ntimestamps = true\n').apply()
    conn.execute("insert into public_a.b (id) values (1)")  # its function is still there
    assert conn.execute("select created_at is not null from public_a.b").fetchone() == (True,)


def test_internal_migrations_upgrade_a_managed_database(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute("create table t (id int primary key)")
    warden = make_warden(SPEC)
    assert make_warden("").plan().empty  # an untouched database gets no warden schema
    warden.apply()
    # Pretend this database was managed by an older pgwarden that lacked migration 1.
    conn.execute("delete from warden.migrations")
    conn.execute("drop table warden.owned_objects, warden.applies")
    plan = warden.plan()
    assert plan.changes[0].action == "migrate"
