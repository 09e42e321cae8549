"""Options of the audit feature: exclude, redact, skip_unchanged, truncate, key; bad options."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from pgwarden import FeatureNotApplicable, Warden
from pgwarden.errors import SpecError

from ._support import applied, events, rows


def test_excluded_columns_are_not_recorded_and_their_changes_alone_create_no_event(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute("create table t (id int primary key, v text, seen_at int, hits int)")
    warden = applied(
        make_warden, '[tables."public.t"]\naudit = { exclude = ["seen_at", "hits"] }\n'
    )
    conn.execute("insert into t values (1, 'a', 100, 0)")
    conn.execute("update t set seen_at = 200, hits = hits + 1")  # only excluded columns
    conn.execute("update t set v = 'b', hits = 5")
    conn.execute("delete from t")

    got = events(conn)
    assert [e["op"] for e in got] == ["I", "U", "D"]
    assert got[0]["new_row"] == {"id": 1, "v": "a"}
    assert (got[1]["old_values"], got[1]["new_row"]) == ({"v": "a"}, {"id": 1, "v": "b"})
    assert "seen_at" not in (got[1]["old_row"] or {})
    assert got[2]["old_row"] == {"id": 1, "v": "b"}
    assert [v.changed for v in warden.audit.history("public.t", 1)] == [None, ["v"], None]


def test_an_update_of_excluded_columns_only_leaves_no_trace(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute("create table t (id int primary key, v text, seen_at int)")
    warden = applied(make_warden, '[tables."public.t"]\naudit = { exclude = ["seen_at"] }\n')
    conn.execute("insert into t values (1, 'a', 1)")
    with conn.transaction():
        conn.execute("update t set seen_at = 2")
        conn.execute("update t set v = v")
        txid = int(conn.execute("select pg_current_xact_id()::text").fetchone()[0])  # type: ignore[index]
    assert rows(
        conn, "select count(*) from warden.audit_contexts where txid = %s::text::xid8", txid
    ) == [(0,)]
    with pytest.raises(Exception, match="changed no audited row"):
        warden.audit.revert_transaction(txid)


def test_redacted_columns_are_stored_as_a_stable_hash_never_the_value(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute("create table t (id int primary key, email text, pin int, v text)")
    warden = applied(make_warden, '[tables."public.t"]\naudit = { redact = ["email", "pin"] }\n')
    conn.execute(
        "insert into t values (1, 'alice@example.com', 4321, 'a'), "
        "(2, 'alice@example.com', null, 'b'), (3, 'bob@example.com', 4321, 'c')"
    )
    conn.execute("update t set email = 'carol@example.com' where id = 1")
    conn.execute("update t set v = 'b2' where id = 2")
    conn.execute("delete from t where id = 3")

    got = {e["event_id"]: e for e in events(conn)}
    inserted = {e["row_key"][0]: e["new_row"] for e in got.values() if e["op"] == "I"}
    alice1, alice2, bob = inserted[1]["email"], inserted[2]["email"], inserted[3]["email"]
    assert alice1.startswith("sha256:") and len(alice1) == len("sha256:") + 64
    assert alice1 == alice2 != bob  # equal values hash equal: changes still show
    assert inserted[1]["pin"] == inserted[3]["pin"] != 4321
    assert inserted[2]["pin"] is None  # NULL stays NULL
    update = next(e for e in got.values() if e["op"] == "U" and e["row_key"] == [1])
    assert update["old_values"] == {"email": alice1}
    assert update["new_row"]["email"].startswith("sha256:") and update["new_row"]["email"] != alice1
    assert [v.changed for v in warden.audit.history("public.t", 1)] == [None, ["email"]]
    assert warden.audit.history("public.t", 2)[-1].changed == ["v"]
    # Nowhere in the store, whatever the column or image. (Values, not the images' text: a
    # hash's hex digits can spell "4321" by chance.)
    values = [v for e in got.values() for image in (e["old_row"], e["new_row"]) if image
              for v in image.values()]  # fmt: skip
    for secret in ("alice@example.com", "bob@example.com", "carol@example.com"):
        assert not any(isinstance(v, str) and secret in v for v in values)
    assert not any(v in (4321, "4321") for v in values)


@pytest.mark.parametrize("skip", [True, False])
def test_skip_unchanged(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden], skip: bool
) -> None:
    conn.execute("create table t (id int primary key, v text)")
    applied(
        make_warden, f'[tables."public.t"]\naudit = {{ skip_unchanged = {str(skip).lower()} }}\n'
    )
    conn.execute("insert into t values (1, 'a'), (2, 'b')")
    conn.execute("update t set v = v")
    conn.execute("update t set v = 'c' where id = 1")
    updates = [(e["row_key"], e["old_values"]) for e in events(conn) if e["op"] == "U"]
    if skip:
        assert updates == [([1], {"v": "a"})]
    else:
        assert sorted(updates[:2]) == [([1], {}), ([2], {})]
        assert updates[2:] == [([1], {"v": "a"})]


@pytest.mark.parametrize("mode", ["event", "rows"])
def test_truncate_records_the_fact_or_every_row(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden], mode: str
) -> None:
    conn.execute("create table t (id int primary key, v text)")
    warden = applied(make_warden, f'[tables."public.t"]\naudit = {{ truncate = "{mode}" }}\n')
    conn.execute("insert into t values (1, 'a'), (2, 'b'), (3, 'c')")
    conn.execute("truncate t")
    got = [(e["op"], e["row_key"], e["old_row"]) for e in events(conn)][3:]
    if mode == "event":
        assert got == [("T", None, None)]
    else:
        assert got[0] == ("T", None, None)
        assert sorted(got[1:]) == [
            ("D", [1], {"id": 1, "v": "a"}),
            ("D", [2], {"id": 2, "v": "b"}),
            ("D", [3], {"id": 3, "v": "c"}),
        ]
        assert [v.op for v in warden.audit.history("public.t", 2)] == ["insert", "delete"]
    # Either way, time travel after the truncate sees an empty table.
    assert warden.audit.as_of("public.t", "2999-01-01") == []


def test_declared_key_identifies_rows_of_a_table_without_primary_key(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute("create table t (code text, region text, qty int)")
    warden = make_warden('[tables."public.t"]\naudit = { key = ["code", "region"] }\n')
    [registration] = [c for c in warden.plan().changes if c.ref and c.ref.kind == "registration"]
    assert "declared key (code, region)" in registration.description
    warden.apply()
    conn.execute("insert into t values ('a', 'eu', 1), ('a', 'us', 2)")
    conn.execute("update t set qty = 10 where code = 'a' and region = 'eu'")
    conn.execute("update t set region = 'asia' where region = 'us'")
    assert [e["row_key"] for e in events(conn)] == [
        ["a", "eu"],
        ["a", "us"],
        ["a", "eu"],
        ["a", "asia"],
    ]
    history = warden.audit.history("public.t", ("a", "eu"))
    assert [(v.op, v.row["qty"], v.changed) for v in history] == [  # type: ignore[index]
        ("insert", 1, None),
        ("update", 10, ["qty"]),
    ]
    assert warden.audit.history("public.t", ("a", "asia"))[0].row == {
        "code": "a",
        "region": "asia",
        "qty": 2,
    }


def test_a_table_without_key_is_identified_by_whole_rows_and_the_plan_says_so(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute("create table t (a int, b text)")
    warden = make_warden('[tables."public.t"]\naudit = true\n')
    [registration] = [c for c in warden.plan().changes if c.ref and c.ref.kind == "registration"]
    assert "no primary key" in registration.description
    assert "whole content" in registration.description
    assert "key = [...]" in registration.description
    warden.apply()
    conn.execute("insert into t values (1, 'x'), (2, 'y')")
    conn.execute("update t set b = 'z' where a = 2")
    conn.execute("delete from t where a = 1")
    got = [(e["op"], e["row_key"], e["old_key"]) for e in events(conn)]
    assert got[2:] == [
        ("U", {"a": 2, "b": "z"}, {"a": 2, "b": "y"}),
        ("D", {"a": 1, "b": "x"}, None),
    ]
    assert warden.audit.as_of("public.t", "2999-01-01") == [{"a": 2, "b": "z"}]
    # A row history needs a key: the error says why.
    with pytest.raises(Exception, match="no key"):
        warden.audit.history("public.t", 1)


def test_a_not_null_unique_key_is_used_when_there_is_no_primary_key(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute("create table t (code text not null unique, v text)")
    warden = make_warden('[tables."public.t"]\naudit = true\n')
    [registration] = [c for c in warden.plan().changes if c.ref and c.ref.kind == "registration"]
    assert (
        "no primary key" in registration.description
        and "t_code_key (code)" in registration.description
    )
    warden.apply()
    conn.execute("insert into t values ('k', 'a')")
    conn.execute("update t set v = 'b'")
    assert [v.row for v in warden.audit.history("public.t", "k")] == [
        {"code": "k", "v": "a"},
        {"code": "k", "v": "b"},
    ]


BAD_OPTIONS = [
    ('{ exclude = ["nope"] }', FeatureNotApplicable, ["public.t", "exclude", "'nope'", "'note'"]),
    ('{ redact = ["emial"] }', FeatureNotApplicable, ["public.t", "redact", "'emial'", "'email'"]),
    ('{ key = ["idd"] }', FeatureNotApplicable, ["public.t", "key", "'idd'", "'id'"]),
    ('{ exclude = ["id"] }', FeatureNotApplicable, ["public.t", "primary key"]),
    ('{ exclude = ["note"], redact = ["note"] }', SpecError, ["public.t", "note", "both"]),
    ('{ key = ["id"], redact = ["id"] }', SpecError, ["public.t", "key column id"]),
    ("{ key = [] }", SpecError, ["public.t", "at least one column"]),
    ('{ truncate = "all" }', SpecError, ["public.t", "audit.truncate", "'event' or 'rows'"]),
    ('{ exclud = ["note"] }', SpecError, ["public.t", "audit.exclud"]),
]


def test_bad_options_name_the_table_and_column(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute("create table t (id int primary key, note text, email text)")
    for options, error, words in BAD_OPTIONS:
        with pytest.raises(error) as caught:
            make_warden(f'[tables."public.t"]\naudit = {options}\n').plan()
        for word in words:
            assert word in str(caught.value), (options, str(caught.value))
