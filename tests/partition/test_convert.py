"""Converting a plain table while other sessions write to it: every row, key, trigger and
feature survives, also when the converting process is killed midway and run again."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest

from pgwarden import Warden

SPEC = """[tables."public.items"]
partition = { column = "at", interval = "1 month", premake = 1 }
audit = true
"""


def _schema(conn: psycopg.Connection[Any], rows: int) -> None:
    conn.execute("create table owners (id int primary key)")
    conn.execute("insert into owners select generate_series(1, 10)")
    conn.execute(
        "create table items (id bigint generated always as identity, at timestamptz not null,"
        " owner_id int not null references owners (id), v int not null, primary key (id, at))"
    )
    conn.execute("create index items_owner on items (owner_id, v)")
    conn.execute("create table item_log (item_id bigint)")
    conn.execute(
        "create function log_item() returns trigger language plpgsql as"
        " $$ begin insert into item_log values (new.id); return new; end $$"
    )
    conn.execute(
        "create trigger items_logged after insert on items for each row execute function log_item()"
    )
    conn.execute("create table mirror (id bigint primary key, at timestamptz, v int)")
    conn.execute(
        "insert into items (at, owner_id, v) select '2025-11-01'::timestamptz"
        " + mod(g, 2000) * interval '1 hour', 1 + mod(g, 10), g from generate_series(1, %s) g",
        (rows,),
    )
    conn.execute("insert into mirror select id, at, v from items")
    conn.execute(
        "create table notes (item_id bigint, item_at timestamptz,"
        " foreign key (item_id, item_at) references items (id, at) on delete cascade)"
    )
    conn.execute("insert into notes select id, at from items where id <= 100")


@contextmanager
def _writers(db_url: str, count: int = 2) -> Iterator[list[BaseException]]:
    """Sessions inserting, updating and deleting rows (ids above 100) and the same in
    ``mirror``, in one transaction each: the mirror is what the table must hold."""
    stop, errors = threading.Event(), []

    def write(seed: int) -> None:
        rnd = random.Random(seed)
        try:
            with psycopg.connect(db_url, autocommit=True) as own:
                while not stop.is_set():
                    with own.transaction():
                        op = rnd.random()
                        if op < 0.4:
                            row = own.execute(
                                "insert into items (at, owner_id, v) values"
                                " (now() - random() * interval '60 days', 1, 1)"
                                " returning id, at, v"
                            ).fetchone()
                            own.execute("insert into mirror values (%s, %s, %s)", row)
                        elif op < 0.8:
                            key = rnd.randrange(101, 3000)
                            own.execute("update items set v = v + 1 where id = %s", (key,))
                            own.execute("update mirror set v = v + 1 where id = %s", (key,))
                        else:
                            key = rnd.randrange(101, 3000)
                            own.execute("delete from items where id = %s", (key,))
                            own.execute("delete from mirror where id = %s", (key,))
        except BaseException as exc:  # any failure fails the test
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    try:
        yield errors
    finally:
        stop.set()
        for t in threads:
            t.join()


def _assert_converted(conn: psycopg.Connection[Any], warden: Warden) -> None:
    assert conn.execute(
        "select relkind from pg_class where oid = 'items'::regclass"
    ).fetchone() == ("p",)
    differ = conn.execute(
        "(select 'table', id, at, v from items except select 'table', * from mirror)"
        " union all (select 'mirror', * from mirror except select 'mirror', id, at, v from items)"
    ).fetchall()
    assert differ == []
    assert conn.execute("select count(*) = count(distinct id) from items").fetchone() == (True,)
    assert conn.execute("select to_regclass('items__pgw_new')").fetchone() == (None,)
    fks = conn.execute(
        "select conname, conrelid::regclass::text, confrelid::regclass::text, convalidated"
        " from pg_constraint where contype = 'f' and conparentid = 0"
        " and (conrelid = 'items'::regclass or confrelid = 'items'::regclass) order by 1"
    ).fetchall()
    assert fks == [
        ("items_owner_id_fkey", "items", "owners", True),
        ("notes_item_id_item_at_fkey", "notes", "items", True),
    ]
    names = {r[0] for r in conn.execute(
        "select indexrelid::regclass::text from pg_index where indrelid = 'items'::regclass"
    ).fetchall()}  # fmt: skip
    assert names == {"items_pkey", "items_owner"}
    # The user's trigger and the foreign keys work on the new table.
    conn.execute("insert into items (at, owner_id, v) values (now(), 2, 0)")
    assert conn.execute(
        "select count(*) from item_log where item_id = (select max(id) from items)"
    ).fetchone() == (1,)
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        conn.execute("insert into items (at, owner_id, v) values (now(), 99, 0)")
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        conn.execute("insert into notes values (-1, now())")
    conn.execute("delete from items where id = 1")
    assert conn.execute("select count(*) from notes where item_id = 1").fetchone() == (0,)
    # Features: audit still records, under the same table; and nothing is left to plan.
    conn.execute("update items set v = -5 where id = 2")
    assert [
        (v.row or {}).get("v") for v in warden.audit.history("public.items", (2, _at(conn, 2)))
    ][-1] == -5
    assert warden.plan().empty


def _at(conn: psycopg.Connection[Any], key: int) -> Any:
    row = conn.execute("select at from items where id = %s", (key,)).fetchone()
    assert row is not None
    return row[0]


def test_convert_under_writes_keeps_rows_keys_triggers_features(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden], db_url: str
) -> None:
    _schema(conn, 3000)
    warden = make_warden(SPEC.replace('partition = { column = "at", interval = "1 month", '
                                      'premake = 1 }\n', ""))  # fmt: skip
    warden.apply()  # audit first, on the plain table
    conn.execute("update items set v = 77 where id = 2")
    conn.execute("update mirror set v = 77 where id = 2")
    warden = make_warden(SPEC)
    seen: list[str] = []
    with _writers(db_url) as errors:
        result = warden.partitions.convert(
            "public.items", batch=200, progress=lambda step, done, total: seen.append(step)
        )
    assert errors == []
    assert "copy rows" in seen and result.rows > 0 and result.partitions > 2
    _assert_converted(conn, warden)
    # One history across the conversion: the update before it is still there.
    assert len(warden.audit.history("public.items", (2, _at(conn, 2)))) >= 3


def test_convert_killed_midway_resumes_losing_and_duplicating_nothing(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden], db_url: str, tmp_path: Path
) -> None:
    _schema(conn, 20_000)
    (tmp_path / "pgwarden.toml").write_text(SPEC)
    env = {**os.environ, "PGWARDEN_DATABASE_URL": db_url}
    with _writers(db_url) as errors:
        child = subprocess.Popen(
            [sys.executable, "-c", "from pgwarden.cli import main; main()", "partitions", "convert",
             "public.items", "--batch", "50"],
            cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        try:
            copied = 0
            while copied < 2000 and child.poll() is None:
                time.sleep(0.005)
                row = conn.execute(
                    "select coalesce(max(copied), 0) from warden.partition_conversions"
                ).fetchone() if _has_state(conn) else (0,)  # fmt: skip
                copied = int(row[0]) if row else 0
            assert child.poll() is None, child.stderr.read() if child.stderr else ""
            child.send_signal(signal.SIGKILL)
            child.wait()
        finally:
            if child.poll() is None:
                child.kill()
        state = conn.execute("select state, copied from warden.partition_conversions").fetchone()
        assert state is not None and state[0] == "copying" and 0 < state[1] < 25_000
        warden = make_warden(SPEC)
        result = warden.partitions.convert("public.items", batch=500)
    assert errors == []
    assert result.resumed
    _assert_converted(conn, warden)


def _has_state(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute("select to_regclass('warden.partition_conversions') is not null").fetchone()
    return bool(row and row[0])
