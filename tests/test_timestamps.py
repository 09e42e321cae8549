"""The timestamps feature: what the trigger does to rows written by any SQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from pgwarden import FeatureNotApplicable, Warden


def _apply(make_warden: Callable[..., Warden], spec: str) -> Warden:
    warden = make_warden(spec)
    warden.apply()
    assert warden.plan().empty
    return warden


def test_insert_and_update_keep_timestamps(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute("create table t (id int primary key, v text)")
    _apply(make_warden, '[tables."public.t"]\ntimestamps = true\n')

    conn.execute("insert into t (id, v) values (1, 'a')")
    created, updated = conn.execute("select created_at, updated_at from t").fetchone()  # type: ignore[misc]
    assert created == updated

    with conn.transaction():
        conn.execute("update t set v = 'b'")
        now = conn.execute("select now()").fetchone()[0]  # type: ignore[index]
    created2, updated2 = conn.execute("select created_at, updated_at from t").fetchone()  # type: ignore[misc]
    assert created2 == created
    assert updated2 == now > created

    # An UPDATE that changes nothing is not a modification.
    conn.execute("update t set v = 'b'")
    assert conn.execute("select updated_at from t").fetchone()[0] == updated2  # type: ignore[index]

    # The creation time cannot be rewritten by an UPDATE.
    conn.execute("update t set created_at = '2000-01-01', v = 'c'")
    assert conn.execute("select created_at from t").fetchone()[0] == created  # type: ignore[index]


def test_explicit_values_on_insert_are_kept(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute("create table t (id int primary key)")
    _apply(make_warden, '[tables."public.t"]\ntimestamps = true\n')
    conn.execute("insert into t values (1, '2001-02-03 00:00Z', null)")
    created, updated = conn.execute("select created_at, updated_at from t").fetchone()  # type: ignore[misc]
    assert created == dt.datetime(2001, 2, 3, tzinfo=dt.UTC)
    assert updated == created


def test_custom_names_and_adopted_columns(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute("create table t (id int primary key, inserted timestamp)")
    warden = _apply(
        make_warden,
        '[tables."public.t"]\ntimestamps = { created = "inserted", updated = "touched" }\n',
    )
    cols = dict(
        conn.execute(
            "select column_name, data_type from information_schema.columns where table_name = 't'"
        ).fetchall()
    )
    assert cols == {
        "id": "integer",
        "inserted": "timestamp without time zone",  # adopted as it was
        "touched": "timestamp with time zone",
    }
    conn.execute("insert into t (id) values (1)")
    assert conn.execute("select inserted is not null and touched is not null from t").fetchone()[0]  # type: ignore[index]
    # Removing the feature drops what pgwarden added, and keeps the adopted column.
    warden.spec = type(warden.spec)(file="pgwarden.toml")
    warden.apply()
    left = [
        r[0]
        for r in conn.execute(
            "select column_name from information_schema.columns where table_name = 't' order by 1"
        )
    ]
    assert left == ["id", "inserted"]


def test_partitioned_table_covers_every_partition(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute(
        "create table ev (id int, at date not null) partition by range (at);"
        "create table ev_2026 partition of ev for values from ('2026-01-01') to ('2027-01-01')"
    )
    _apply(make_warden, '[tables."public.ev"]\ntimestamps = true\n')
    conn.execute(
        "create table ev_2027 partition of ev for values from ('2027-01-01') to ('2028-01-01')"
    )
    conn.execute("insert into ev (id, at) values (1, '2026-05-01'), (2, '2027-05-01')")
    rows = conn.execute("select count(*) from ev where created_at is not null").fetchone()
    assert rows == (2,)
    conn.execute("update ev set id = id + 10 where id = 2")
    changed = conn.execute("select updated_at > created_at from ev where id = 12").fetchone()
    assert changed == (True,)


def test_incompatible_column_is_refused_with_reason(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute("create table t (id int primary key, created_at text)")
    warden = make_warden('[tables."public.t"]\ntimestamps = true\n')
    with pytest.raises(FeatureNotApplicable, match=r"created_at exists with type text"):
        warden.plan()
    assert conn.execute("select to_regnamespace('warden')").fetchone() == (None,)


def test_types_without_equality_operator_still_update(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute("create table t (id int primary key, doc json, p point)")
    _apply(make_warden, '[tables."public.t"]\ntimestamps = true\n')
    conn.execute("""insert into t (id, doc, p) values (1, '{"a": 1}', '(1,2)')""")
    before = conn.execute("select updated_at from t").fetchone()
    conn.execute("""update t set doc = '{"a": 1}'""")  # same bytes: not a modification
    assert conn.execute("select updated_at from t").fetchone() == before
    conn.execute("update t set p = '(3,4)'")
    assert conn.execute("select updated_at > created_at from t").fetchone() == (True,)
