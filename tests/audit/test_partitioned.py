"""Auditing a partitioned table covers every partition, present and future."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg

from pgwarden import Warden

from ._support import applied, events, now, rows

SPEC = '[tables."public.p"]\naudit = true\n'


def _partitioned(conn: psycopg.Connection[Any]) -> None:
    conn.execute(
        "create table p (id int, region text, v text, primary key (id, region)) "
        "partition by list (region)"
    )
    conn.execute("create table p_eu partition of p for values in ('eu')")
    conn.execute("create table p_us partition of p for values in ('us')")


def test_changes_through_the_parent_and_directly_on_partitions_present_and_future(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    _partitioned(conn)
    warden = applied(make_warden, SPEC)
    conn.execute("create table p_asia partition of p for values in ('asia')")  # after apply
    conn.execute("create table p_other (like p)")
    conn.execute("alter table p attach partition p_other for values in ('other')")
    # Rows of new partitions are captured at once (the row trigger is cloned); their statement
    # triggers (TRUNCATE, end of statement: PostgreSQL does not clone those) are made at once
    # by the event trigger pgwarden_audit_partitions; the next apply takes them over.
    pending = {(c.action, c.ref.key) for c in warden.plan().changes if c.ref}
    assert pending == {
        ("create", f"trigger public.{part}/pgwarden_audit_{t}")
        for part in ("p_asia", "p_other")
        for t in ("t", "s", "m")
    }

    conn.execute("insert into p values (1, 'eu', 'a'), (2, 'us', 'b')")  # through the parent
    conn.execute("insert into p_asia values (3, 'asia', 'c')")  # directly, new partition
    conn.execute("insert into p_other values (4, 'other', 'd')")  # attached partition
    conn.execute("update p_eu set v = 'a2' where id = 1")  # directly
    before_delete = now(conn)
    conn.execute("update p set v = 'c2' where id = 3")  # through the parent
    conn.execute("delete from p_asia where id = 3")
    conn.execute("delete from p where id = 4")

    got = [(e["op"], e["row_key"], e["old_values"]) for e in events(conn)]
    assert got == [
        ("I", [1, "eu"], None),
        ("I", [2, "us"], None),
        ("I", [3, "asia"], None),
        ("I", [4, "other"], None),
        ("U", [1, "eu"], {"v": "a"}),
        ("U", [3, "asia"], {"v": "c"}),
        ("D", [3, "asia"], {"id": 3, "region": "asia", "v": "c2"}),
        ("D", [4, "other"], {"id": 4, "region": "other", "v": "d"}),
    ]
    assert all(e["table_name"] == "public.p" for e in events(conn))
    assert [(v.op, v.row) for v in warden.audit.history("public.p", (3, "asia"))] == [
        ("insert", {"id": 3, "region": "asia", "v": "c"}),
        ("update", {"id": 3, "region": "asia", "v": "c2"}),
        ("delete", None),
    ]
    by_key = lambda r: (r["id"], r["region"])  # noqa: E731
    assert sorted(warden.audit.as_of("public.p", before_delete), key=by_key) == [
        {"id": 1, "region": "eu", "v": "a2"},
        {"id": 2, "region": "us", "v": "b"},
        {"id": 3, "region": "asia", "v": "c"},
        {"id": 4, "region": "other", "v": "d"},
    ]
    # TRUNCATE of the parent removes the rows of every partition, each recorded.
    conn.execute("truncate p")
    last = events(conn)[8:]
    assert last[0]["op"] == "T"
    assert sorted(e["row_key"] for e in last[1:]) == [[1, "eu"], [2, "us"]]
    assert warden.audit.as_of("public.p", "2999-01-01") == []


def test_a_row_moving_between_partitions_keeps_a_readable_history(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    _partitioned(conn)
    warden = applied(make_warden, SPEC)
    conn.execute("insert into p values (1, 'eu', 'a')")
    before = now(conn)
    conn.execute("update p set region = 'us', v = 'moved' where id = 1")
    after = now(conn)
    assert warden.audit.as_of("public.p", before) == [{"id": 1, "region": "eu", "v": "a"}]
    assert warden.audit.as_of("public.p", after) == [{"id": 1, "region": "us", "v": "moved"}]
    assert warden.audit.history("public.p", (1, "eu"))[-1].row is None  # gone from its old key
    assert warden.audit.history("public.p", (1, "us"))[-1].row == {
        "id": 1,
        "region": "us",
        "v": "moved",
    }
    # Putting it back where it was works across partitions too.
    warden.audit.revert("public.p", (1, "us"), to=before)
    warden.audit.revert("public.p", (1, "eu"), to=before)
    assert rows(conn, "select * from p") == [(1, "eu", "a")]


def test_a_cross_partition_update_is_recorded_as_one_update_with_the_key_change(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    _partitioned(conn)
    warden = applied(make_warden, SPEC)
    conn.execute("insert into p values (1, 'eu', 'a'), (2, 'eu', 'b'), (3, 'us', 'c')")
    # two rows move, one stays, in one statement; PostgreSQL fires each move as a DELETE
    # from the one partition and an INSERT into the other
    conn.execute("update p set region = 'us', v = v || '2'")
    moved = [(e["op"], e["row_key"], e["old_key"]) for e in events(conn)[3:]]
    assert sorted(moved, key=str) == sorted(
        [("U", [1, "us"], [1, "eu"]), ("U", [2, "us"], [2, "eu"]), ("U", [3, "us"], None)],
        key=str,
    )
    assert len({e["statement_id"] for e in events(conn)[3:]}) == 1
    assert warden.audit.history("public.p", (1, "eu"))[-1].op == "update (key moved away)"
    # and it reverts as one: the transaction moves both rows back
    txid = events(conn)[-1]["txid"]
    warden.audit.revert_transaction(int(txid))
    assert rows(conn, "select * from p order by id") == [
        (1, "eu", "a"),
        (2, "eu", "b"),
        (3, "us", "c"),
    ]


def test_deletes_that_are_no_moves_stay_deletes(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    """A DELETE and the next INSERT of one statement pair up only in an UPDATE: not in a
    MERGE that also deletes, not in a DO block's statements, not in a trigger's statement."""
    _partitioned(conn)
    warden = applied(make_warden, SPEC)
    conn.execute("insert into p values (1, 'eu', 'a'), (2, 'us', 'b')")
    start = len(events(conn))
    conn.execute(
        "do $$ begin update p set v = 'x' where id = 2; delete from p where id = 1;"
        " insert into p values (5, 'us', 'e'); end $$"
    )
    ops = [(e["op"], e["row_key"], e["old_key"]) for e in events(conn)[start:]]
    assert ops == [("U", [2, "us"], None), ("D", [1, "eu"], None), ("I", [5, "us"], None)]
    if conn.info.server_version >= 150000:
        start = len(events(conn))
        conn.execute(
            "merge into p using (values (2, 'us', 'del'), (6, 'eu', 'new'), (5, 'us', 'upd'))"
            " s(id, region, what) on p.id = s.id and p.region = s.region"
            " when matched and s.what = 'del' then delete"
            " when matched then update set v = 'u'"
            " when not matched then insert values (s.id, s.region, 'f')"
        )
        ops = sorted(((e["op"], e["row_key"], e["old_key"]) for e in events(conn)[start:]), key=str)
        assert ops == sorted(
            [("D", [2, "us"], None), ("I", [6, "eu"], None), ("U", [5, "us"], None)], key=str
        )
    # a move whose DELETE fires a trigger deleting another row (deeper, in between): the
    # move is still one update, the other row's DELETE stays a DELETE
    conn.execute(
        "create function p_side() returns trigger language plpgsql as $$ begin"
        " delete from p where id = 6; return null; end $$"
    )
    conn.execute(
        "create trigger zz_side after delete on p_us for each row execute function p_side()"
    )
    start = len(events(conn))
    conn.execute("update p set region = 'eu' where id = 5")
    ops = [(e["op"], e["row_key"], e["old_key"]) for e in events(conn)[start:]]
    assert sorted(ops, key=str) == sorted(
        [("U", [5, "eu"], [5, "us"]), ("D", [6, "eu"], None)], key=str
    )
    assert warden.audit.as_of("public.p", "2999-01-01") == rows_dicts(conn)


def rows_dicts(conn: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    return [
        {"id": i, "region": r, "v": v}
        for i, r, v in conn.execute("select id, region, v from p order by id, region")
    ]


def test_a_partition_made_by_hand_has_its_truncate_recorded_before_the_next_apply(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    _partitioned(conn)
    warden = applied(make_warden, SPEC)
    conn.execute("create table p_asia partition of p for values in ('asia')")
    conn.execute("create table p_other (like p)")
    conn.execute("insert into p_other values (4, 'other', 'd')")  # before it is audited
    conn.execute("alter table p attach partition p_other for values in ('other')")
    conn.execute("insert into p values (3, 'asia', 'c')")
    conn.execute("truncate p_asia")
    conn.execute("truncate p_other")
    assert [(e["op"], e["row_key"]) for e in events(conn)] == [
        ("I", [3, "asia"]),
        ("D", [3, "asia"]),
        ("D", [4, "other"]),
    ]
    assert warden.audit.as_of("public.p", "2999-01-01") == []
    # The next apply takes over what the event trigger made; nothing is left to do after.
    warden.apply()
    assert warden.plan().empty


def test_statements_inside_one_function_call_keep_their_own_order(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    """Row capture groups a statement's rows by the statement trigger pgwarden_audit_s, not by
    the client's statement: two statements of one DO block swapping a key back and forth
    stay two, so time travel to before the block sees only the row that was there."""
    _partitioned(conn)
    warden = applied(make_warden, SPEC)
    conn.execute("insert into p values (1, 'eu', 'a')")
    before = now(conn)
    conn.execute(
        "do $$ begin update p set id = 2 where id = 1; "
        "update p_eu set id = 1, v = 'b' where id = 2; end $$"
    )
    assert warden.audit.as_of("public.p", before) == [{"id": 1, "region": "eu", "v": "a"}]
    assert warden.audit.as_of("public.p", "2999-01-01") == [{"id": 1, "region": "eu", "v": "b"}]
    assert [v.row for v in warden.audit.history("public.p", (2, "eu"))] == [
        {"id": 2, "region": "eu", "v": "a"},
        None,
    ]


def test_a_partition_detached_by_hand_stops_being_the_tables_at_once(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    _partitioned(conn)
    warden = applied(make_warden, SPEC)
    conn.execute("insert into p values (1, 'eu', 'a'), (2, 'us', 'b')")
    conn.execute("alter table p detach partition p_us")
    mine = "select tgname from pg_trigger where tgrelid = 'p_us'::regclass and not tgisinternal"
    assert rows(conn, mine) == []
    conn.execute("truncate p_us")  # no longer the audited table's rows
    conn.execute("insert into p_us values (3, 'us', 'c')")
    assert [(e["op"], e["row_key"]) for e in events(conn)] == [("I", [1, "eu"]), ("I", [2, "us"])]
    conn.execute("alter table p attach partition p_us for values in ('us')")  # back again
    conn.execute("truncate p_us")
    assert [(e["op"], e["row_key"]) for e in events(conn)][2:] == [("D", [3, "us"])]
    warden.apply()
    assert warden.plan().empty


def test_truncating_one_partition_directly_is_recorded(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    _partitioned(conn)
    warden = applied(make_warden, SPEC)
    conn.execute("insert into p values (1, 'eu', 'a'), (2, 'us', 'b')")
    conn.execute("truncate p_eu")
    assert warden.audit.as_of("public.p", "2999-01-01") == [{"id": 2, "region": "us", "v": "b"}]
    assert warden.audit.history("public.p", (1, "eu"))[-1].row is None


def test_a_forged_setting_cannot_hide_a_partition_truncate(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    """Whether a partition's TRUNCATE belongs to a TRUNCATE of the whole table (recorded
    already) is read from the store, which sessions cannot write: a session setting what an
    older capture used as that mark still has the partition's rows recorded."""
    _partitioned(conn)
    warden = applied(make_warden, SPEC)
    conn.execute("insert into p values (1, 'eu', 'a'), (2, 'us', 'b')")
    conn.execute(
        "do $$ declare tid int := warden.audit_table_id('public.p'); begin "
        "perform set_config('pgwarden._truncated', tid || ':' || statement_timestamp(), true); "
        "truncate p_eu; end $$"
    )
    assert warden.audit.history("public.p", (1, "eu"))[-1].row is None
    assert warden.audit.as_of("public.p", "2999-01-01") == [{"id": 2, "region": "us", "v": "b"}]
    # The whole table truncated, then a partition in the same transaction: recorded once.
    with conn.transaction():
        conn.execute("insert into p values (3, 'eu', 'c')")
        conn.execute("truncate p")
        conn.execute("truncate p_us")
        conn.execute("insert into p values (4, 'us', 'd')")
        conn.execute("truncate p_us")
    deleted = [(e["op"], e["row_key"]) for e in events(conn) if e["op"] in ("D", "T")]
    assert deleted[0] == ("D", [1, "eu"])  # the partition truncated on its own
    assert deleted[1] == ("T", None)  # the whole table: the fact, then its rows
    assert sorted(deleted[2:4], key=str) == sorted([("D", [2, "us"]), ("D", [3, "eu"])], key=str)
    assert deleted[4:] == [("D", [4, "us"])]  # p_us truncated again after a new row
    assert warden.audit.as_of("public.p", "2999-01-01") == []
