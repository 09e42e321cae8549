"""Reverts find each row by its key, typed, through the key's index: composite keys whose
neighbours differ by a space, a digit, a uuid or a microsecond; keys an UPDATE moved; keys
that can only be compared as jsonb (enums, nulls in a declared key)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import psycopg

from pgwarden import Warden

from ._support import applied, rows

T0 = dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC)
U1, U2 = uuid.UUID(int=1), uuid.UUID(int=2)
US = dt.timedelta(microseconds=1)
# Each a neighbour of the first: one key column differs, by as little as it can.
ROWS = [
    ("north east", Decimal("1.5"), U1, T0, 1),
    ("north  east", Decimal("1.5"), U1, T0, 2),
    ("north east ", Decimal("1.5"), U1, T0, 3),
    ("north east", Decimal("15"), U1, T0, 4),
    ("north east", Decimal("1.500000000000000001"), U1, T0, 5),
    ("north east", Decimal("1.5"), U2, T0, 6),
    ("north east", Decimal("1.5"), U1, T0 + US, 7),
    ("north east", Decimal("-1.5"), U1, T0 - US, 8),
]
ORDER = "select * from k order by region, amount, id, at"


def _txid(conn: psycopg.Connection[Any]) -> int:
    return int(conn.execute("select pg_current_xact_id()::text").fetchone()[0])  # type: ignore[index]


def _revert_scanning(conn: psycopg.Connection[Any], txid: int) -> tuple[list[str], int]:
    """Undo ``txid`` (committed) with sequential scans priced out: what it did, and how many
    sequential scans of ``k`` it made anyway (a key compared as jsonb leaves no other way)."""
    # The counts of earlier transactions not yet sent show too: counted within this one.
    count = "select seq_scan from pg_stat_xact_user_tables where relid = 'k'::regclass"
    with conn.transaction():
        conn.execute("set local enable_seqscan = off")
        first = conn.execute(count).fetchone()
        done = conn.execute(
            "select action from warden.revert_transaction(%s::text::xid8)", [str(txid)]
        ).fetchall()
        then = conn.execute(count).fetchone()
    assert first is not None and then is not None
    return [r[0] for r in done], int(then[0]) - int(first[0])


def test_revert_transaction_finds_composite_keys_of_every_type_by_their_index(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute(
        "create table k (region text, amount numeric, id uuid, at timestamptz, v int, "
        "primary key (region, amount, id, at))"
    )
    warden = applied(make_warden, '[tables."public.k"]\naudit = true\n')
    with conn.cursor() as cur:
        cur.executemany("insert into k values (%s, %s, %s, %s, %s)", ROWS)
    before = rows(conn, ORDER)

    with conn.transaction():
        txid = _txid(conn)
        conn.execute("update k set v = v * 10 where v in (1, 3, 5, 7)")
        conn.execute("delete from k where v = 6")
        conn.execute("insert into k values ('north east', 1.5, %s, %s, 9)", [U2, T0 + US])
        # Keys moved: into the place the deleted row left, by a microsecond, and two at once.
        conn.execute("update k set id = %s where v = 10", [U2])
        conn.execute("update k set at = at + interval '1 microsecond' where v = 4")
        conn.execute("update k set amount = amount * 10, region = region || '!' where v = 8")
    assert rows(conn, ORDER) != before

    done, scans = _revert_scanning(conn, txid)
    assert sorted(done) == [
        "deleted",
        "moved back",
        "moved back",
        "moved back",
        "restored",
        "updated back",
        "updated back",
        "updated back",
        "updated back",
    ]
    assert scans == 0
    assert rows(conn, ORDER) == before

    # One row back to a version, by its typed key, beside its neighbours.
    conn.execute("update k set v = -1 where v = 5")
    restored = warden.audit.revert("public.k", ROWS[4][:4], to=1)
    assert restored is not None and restored["v"] == 5
    assert rows(conn, ORDER) == before


def test_keys_compared_as_jsonb_still_revert(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    """An enum key, and a declared key with a null in it (null matches null as jsonb):
    found the old way, a scan per row."""
    conn.execute("create type mood as enum ('sad', 'ok', 'happy')")
    conn.execute("create table e (m mood primary key, v int)")
    conn.execute("create table n (a int not null, b text, v int)")
    spec = '[tables."public.e"]\naudit = true\n[tables."public.n"]\naudit = { key = ["a", "b"] }\n'
    applied(make_warden, spec)
    conn.execute("insert into e values ('sad', 1), ('ok', 2)")
    conn.execute("insert into n values (1, null, 1), (1, 'x', 2), (2, null, 3)")
    before = rows(conn, "select * from e order by m"), rows(conn, "select * from n order by a, b")
    with conn.transaction():
        txid = _txid(conn)
        conn.execute("update e set v = v + 10")
        conn.execute("update e set m = 'happy' where m = 'sad'")
        conn.execute("update n set v = v + 10")
        conn.execute("delete from n where a = 2")
    with conn.transaction():
        conn.execute("select * from warden.revert_transaction(%s::text::xid8)", [str(txid)])
    after = rows(conn, "select * from e order by m"), rows(conn, "select * from n order by a, b")
    assert after == before
