"""Trigger capture's statements in C (``warden_wal.audit_capture()``, extension pgwarden_wal
1.2) write the events the PL/pgSQL capture function writes, byte for byte: two identical
tables, one captured by each, the same statements on both in the same transactions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from pgwarden import Warden

from ._support import applied

SHAPE = (
    "create table {t} (id int primary key, code text not null, n numeric(10, 3), "
    "amount numeric, tags text[], doc jsonb, at timestamptz default '2026-01-02 03:04:05+00', "
    "mood mood, secret text, notes text, gone int, pair point, flag bool, day date, "
    "f float8, j json, c pair_t, big int8, ts timestamp, unique (code))"
)
DECLARE = (
    '[tables."public.{t}"]\naudit = {{ capture = "trigger", exclude = ["notes"], '
    'redact = ["secret"]{more} }}\n'
)
# Every statement runs on c_<t> (captured in C) and p_<t> (by the PL/pgSQL function).
STATEMENTS = [
    "insert into {t} (id, code, n, amount, tags, doc, mood, secret, notes, gone, pair, flag, day, "
    "f, j, c, big, ts) "
    "select i, 'c' || i, i / 7.0, 1.50 * i, array['a', null, 'b\"q'], "
    "jsonb_build_object('k', i, 'nested', jsonb_build_array(1, 'x', null)), "
    "(array['ok', 'sad'])[1 + i % 2]::mood, case when i % 3 = 0 then null else 's' || i end, "
    "'note', i, point(i, 1), i % 2 = 0, date '2026-01-01' + i, "
    "(array[1.5, 'NaN', 'Infinity', -0.25, 1e300])[1 + i % 5]::float8, "
    '(\'{{"b": [1, {{"c": null}}], "a": \' || i || \', "a": "dup"}}\')::json, '
    "row(i, 'p' || i)::pair_t, 9007199254740993 + i, timestamp '2026-05-06 07:08:09.123456' "
    "from generate_series(1, 40) i",
    "alter table {t} drop column gone",
    "update {t} set amount = amount + 1 where id <= 5",
    "update {t} set notes = 'changed only an excluded column' where id = 6",
    "update {t} set code = code where id between 7 and 9",  # unchanged rows
    "update {t} set id = id + 100 where id > 30",  # keys change
    "update {t} set id = id + 1000, code = code || '.' where id in (1, 2)",
    "update {t} set secret = 'redacted ' || id, doc = null where id % 4 = 0",
    "update {t} set tags = '{{}}', n = 1.000 where id = 3",
    "update {t} set j = '5', f = 2.50, flag = null, c = null where id between 13 and 15",
    "insert into {t} (id, code) values (3, 'conflict') "
    "on conflict (id) do update set code = excluded.code || '!'",
    "insert into {t} (id, code) values (500, 'new') on conflict (id) do nothing",
    "delete from {t} where id in (10, 11, 12)",
    "update {t} set id = id where false",  # no row
    "alter table {t} rename column id to ident",  # keys then read by audit_live_key
    "update {t} set code = code || '+' where ident in (4, 5)",
    "delete from {t} where ident = 4",
]


def _to_plpgsql(conn: psycopg.Connection[Any], table: str) -> None:
    """The table's INSERT, UPDATE and DELETE triggers call its PL/pgSQL function instead."""
    function = f"warden.public_{table}__audit"
    for name, events in (
        ("pgwarden_audit_i", "insert on {t} referencing new table as new_rows"),
        (
            "pgwarden_audit_u",
            "update on {t} referencing old table as old_rows new table as new_rows",
        ),
        ("pgwarden_audit_d", "delete on {t} referencing old table as old_rows"),
    ):
        conn.execute(
            f"create or replace trigger {name} after {events.format(t=table)} "
            f"for each statement execute function {function}()"
        )


def _calls(conn: psycopg.Connection[Any], table: str) -> set[str]:
    rows = conn.execute(
        "select distinct p.proname from pg_trigger g join pg_proc p on p.oid = g.tgfoid "
        "where g.tgrelid = %s::regclass and g.tgname <> 'pgwarden_audit_t'",
        (table,),
    ).fetchall()
    return {r[0] for r in rows}


def _events(conn: psycopg.Connection[Any], table: str) -> list[tuple[Any, ...]]:
    """Each event as text, in statement order (within one, ordered by content: the SQL
    path's pairing join does not keep the rows' order)."""
    return conn.execute(
        "select dense_rank() over (order by e.statement_id), e.txid::text, e.context_seq, "
        "e.op::text, e.row_key::text, e.old_key::text, e.old_row::text, e.new_row::text, "
        "count(*) over (partition by e.statement_id, e.at) "
        "from warden.audit_events e where e.table_id = warden.audit_table_id(%s) "
        "order by 1, 4, 5, 6, 7, 8",
        (f"public.{table}",),
    ).fetchall()


def _c_available(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute(
        "select exists (select from pg_available_extension_versions "
        "where name = 'pgwarden_wal' and version = '1.2')"
    ).fetchone()
    return bool(row and row[0])


@pytest.mark.parametrize(
    "more",
    ["", ", skip_unchanged = false", ', key = ["code"]'],
    ids=["primary-key", "every-update", "declared-key"],
)
def test_c_capture_writes_the_events_of_the_plpgsql_function(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden], more: str
) -> None:
    if not _c_available(conn):
        pytest.skip("extension pgwarden_wal 1.2 is not available on this server")
    conn.execute("create type mood as enum ('ok', 'sad')")
    conn.execute("create type pair_t as (x int, y text)")
    for t in ("c_t", "p_t"):
        conn.execute(SHAPE.format(t=t))
    applied(make_warden, DECLARE.format(t="c_t", more=more) + DECLARE.format(t="p_t", more=more))
    assert _calls(conn, "c_t") == {"audit_capture"}
    _to_plpgsql(conn, "p_t")
    assert _calls(conn, "p_t") == {"public_p_t__audit"}
    for statement in STATEMENTS:
        with conn.transaction():
            conn.execute("set local pgwarden.actor = 'ann'")
            for t in ("c_t", "p_t"):
                conn.execute(statement.format(t=t))
    by_c, by_plpgsql = _events(conn, "c_t"), _events(conn, "p_t")
    assert by_c == by_plpgsql
    assert len(by_c) > 60
    ops = {e[3] for e in by_c}
    assert ops == {"I", "U", "D"}
    # what the options say, as recorded by both
    assert not any('"notes"' in (e[6] or "") + (e[7] or "") for e in by_c)
    assert any('"secret": "sha256:' in (e[7] or "") for e in by_c)
    assert any(e[5] is not None for e in by_c)  # keys moved


def test_a_bulk_update_is_written_in_batches_with_one_statement_id(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    """More rows than one insert takes (1,000), and than the transition tables keep in
    memory (they spill to disk): every pair, one statement id, one time."""
    if not _c_available(conn):
        pytest.skip("extension pgwarden_wal 1.2 is not available on this server")
    for t in ("c_t", "p_t"):
        conn.execute(f"create table {t} (id int primary key, v int, pad text)")
        conn.execute(
            f"insert into {t} select i, 0, repeat('x', 300) from generate_series(1, 2500) i"
        )
    spec = '[tables."public.{}"]\naudit = {{ capture = "trigger" }}\n'
    applied(make_warden, spec.format("c_t") + spec.format("p_t"))
    _to_plpgsql(conn, "p_t")
    with conn.transaction():
        conn.execute("set local work_mem = '64kB'")
        for t in ("c_t", "p_t"):
            conn.execute(f"update {t} set v = id, id = id + 10000 where id % 5 <> 0")
            conn.execute(f"delete from {t} where id % 2 = 0")
    by_c = _events(conn, "c_t")
    assert by_c == _events(conn, "p_t")
    assert [(e[0], e[3], e[8]) for e in by_c].count((1, "U", 2000)) == 2000


def test_a_trigger_not_matching_its_table_registration_writes_nothing(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    """Any role may call the C function from a trigger of its own: it refuses to file
    events under a table id that is not the table's, or with other hidden columns, key or
    skip_unchanged than the table's registration says (a redacted column in clear)."""
    if not _c_available(conn):
        pytest.skip("extension pgwarden_wal 1.2 is not available on this server")
    conn.execute("create table audited (id int primary key, secret text)")
    conn.execute("create table forger (id int primary key, secret text)")
    applied(
        make_warden,
        '[tables."public.audited"]\naudit = { capture = "trigger", redact = ["secret"] }\n',
    )
    row = conn.execute("select warden.audit_table_id('public.audited')").fetchone()
    assert row is not None
    create = (
        "create trigger f after insert on {} referencing new table as new_rows "
        "for each statement execute function warden_wal.audit_capture({})"
    )
    for table, args in (
        ("forger", f"'{row[0]}', 'skip', '{{}}', '{{2}}', 'id'"),  # another table's id
        ("audited", f"'{row[0]}', 'skip', '{{}}', '{{}}', 'id'"),  # the secret in clear
        ("audited", f"'{row[0]}', 'all', '{{}}', '{{2}}', 'id'"),
        ("audited", f"'{row[0]}', 'skip', '{{}}', '{{2}}', 'secret'"),
        ("audited", f"'{row[0]}', 'skip', '{{}}', '{{2}}'"),
    ):
        conn.execute(create.format(table, args))
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="not registered"):
            conn.execute(f"insert into {table} values (1, 'x')")
        conn.execute(f"drop trigger f on {table}")
    assert conn.execute("select count(*) from warden.audit_events").fetchone() == (0,)
    conn.execute("insert into audited values (1, 'x')")  # pgwarden's own triggers
    [(image,)] = conn.execute("select new_row->>'secret' from warden.audit_events").fetchall()
    assert image.startswith("sha256:")


def test_dropping_the_extension_moves_the_statements_to_plpgsql(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    """pgwarden's drop of the extension (the table left out of the apply, or by hand) never
    takes the capture triggers with it: they call the table's PL/pgSQL function first (whose
    context functions went with the extension: writes fail until the next apply repairs
    it, rather than go uncaptured)."""
    from pgwarden.features.audit._wal_plan import extension

    if not _c_available(conn):
        pytest.skip("extension pgwarden_wal 1.2 is not available on this server")
    conn.execute("create table t (id int primary key, v text)")
    spec = '[tables."public.t"]\naudit = { capture = "trigger" }\n'
    warden = applied(make_warden, spec)
    assert _calls(conn, "t") == {"audit_capture"}
    drop = extension().drop
    assert drop is not None
    conn.execute(drop.as_string(conn))
    assert _calls(conn, "t") == {"public_t__audit"}
    assert conn.execute(
        "select count(*) from pg_extension where extname = 'pgwarden_wal'"
    ).fetchone() == (0,)
    with pytest.raises(psycopg.errors.UndefinedFunction):
        conn.execute("insert into t values (1, 'a')")
    warden.apply()  # the extension and the C triggers are repaired
    assert _calls(conn, "t") == {"audit_capture"} and warden.plan().empty
    conn.execute("insert into t values (1, 'a')")
    conn.execute("update t set v = 'b'")
    assert [e[3] for e in _events(conn, "t")] == ["I", "U"]
