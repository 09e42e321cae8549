"""The checks feature: violations reported before anything changes, online add + validate,
the JSON shape short form, and the refusals."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from pgwarden import ChecksViolated, SpecError, Warden
from pgwarden.features.checks import ChecksAPI

_SETUP = """
create table tasks (id int primary key, title text, priority int, meta jsonb);
insert into tasks select g, 'task ' || g, 1 + g % 5, jsonb_build_object('source', 'web', 'tags', '[]'::jsonb)
  from generate_series(1, 50) g;
"""

_DECL = """[tables."public.tasks".checks]
title_length = "char_length(title) between 1 and 20"
priority_range = "priority between 1 and 5"
"""


def _constraints(conn: psycopg.Connection[Any]) -> dict[str, bool]:
    rows = conn.execute(
        "select conname, convalidated from pg_constraint"
        " where conrelid = 'tasks'::regclass and contype = 'c'"
    ).fetchall()
    return {str(r[0]): bool(r[1]) for r in rows}


def test_violations_reported_nothing_changed_then_fixed_and_validated(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute(_SETUP)
    conn.execute("update tasks set priority = 9 where id in (3, 7)")
    warden = make_warden(_DECL)
    with pytest.raises(ChecksViolated) as caught:
        warden.plan()
    err = caught.value
    assert err.code == "check-violated"
    [seen] = err.violations
    assert isinstance(seen, dict)
    assert (seen["check"], seen["rows"]) == ("priority_range", 2)
    assert sorted(e["id"] for e in seen["examples"]) == [3, 7]
    assert "priority_range on public.tasks: 2 row(s)" in str(err)
    with pytest.raises(ChecksViolated):
        warden.apply()
    assert _constraints(conn) == {}
    assert conn.execute("select to_regnamespace('warden')").fetchone() == (None,)

    conn.execute("update tasks set priority = 1 where priority = 9")
    result = warden.apply()
    # Added NOT VALID in the transaction, validated after it, one change each.
    kinds = [(c.ref.kind if c.ref else None, c.transactional) for c in result.applied]
    assert ("check", True) in kinds and ("check_validation", False) in kinds
    assert _constraints(conn) == {"title_length": True, "priority_range": True}
    assert warden.plan().empty
    with pytest.raises(psycopg.errors.CheckViolation):
        conn.execute("insert into tasks values (100, 'x', 0, null)")


def test_not_valid_keeps_existing_rows_and_checks_new_ones(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute(_SETUP)
    conn.execute("update tasks set priority = 9 where id = 3")
    warden = make_warden(
        '[tables."public.tasks".checks]\n'
        'priority_range = { check = "priority between 1 and 5", not_valid = true }\n'
    )
    # The plan says what NOT VALID leaves behind: the existing rows that violate it.
    [add] = [c for c in warden.plan().changes if c.feature == "checks"]
    assert "NOT VALID" in add.description
    assert '1 existing row(s) violate it, e.g. {"id": 3' in add.description
    warden.apply()
    assert _constraints(conn) == {"priority_range": False}
    assert warden.plan().empty
    with pytest.raises(psycopg.errors.CheckViolation):
        conn.execute("insert into tasks values (100, 'x', 7, null)")
    [report] = warden.api(ChecksAPI).violations()
    assert (report.check, report.rows) == ("priority_range", 1)

    # Asking for validation later, rows fixed: validated in place, nothing dropped.
    conn.execute("update tasks set priority = 5 where id = 3")
    oid = conn.execute("select oid from pg_constraint where conname = 'priority_range'").fetchone()
    make_warden(
        '[tables."public.tasks".checks]\npriority_range = "priority between 1 and 5"\n'
    ).apply()
    assert _constraints(conn) == {"priority_range": True}
    assert (
        conn.execute("select oid from pg_constraint where conname = 'priority_range'").fetchone()
        == oid
    )


def test_json_shape_short_form(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute(_SETUP)
    decl = (
        '[tables."public.tasks".checks]\n'
        'meta_shape = { jsonb = "meta", required = ["source"], types = { tags = "array" } }\n'
    )
    make_warden(decl).apply()
    assert _constraints(conn) == {"meta_shape": True}
    conn.execute("""insert into tasks values (101, 't', 1, '{"source": "api", "tags": ["a"]}')""")
    conn.execute("insert into tasks values (102, 't', 1, null)")  # NULL passes, as CHECK does
    for bad in ('{"tags": []}', '{"source": "x", "tags": "a"}', "[1]"):
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("insert into tasks values (103, 't', 1, %s)", (bad,))


def test_changed_expression_is_validated_again(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute(_SETUP)
    make_warden(_DECL).apply()
    with pytest.raises(ChecksViolated, match="priority_range"):
        make_warden(_DECL.replace("between 1 and 5", "between 2 and 5")).plan()
    warden = make_warden(_DECL.replace("between 1 and 5", "between 0 and 9"))
    warden.apply()
    assert warden.plan().empty
    assert _constraints(conn) == {"title_length": True, "priority_range": True}
    conn.execute("insert into tasks values (100, 'x', 8, null)")


def test_bad_declarations_are_refused(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute(_SETUP)
    with pytest.raises(SpecError, match=r"checks.*either check"):
        make_warden('[tables."public.tasks".checks]\nx = { not_valid = true }\n')
    with pytest.raises(SpecError, match="check name"):
        make_warden('[tables."public.tasks".checks]\n"Bad Name" = "true"\n')
    # One expression, never a second statement: prepared alone on the server first.
    smuggled = make_warden(
        '[tables."public.tasks".checks]\nx = "true) NOT VALID; DROP TABLE tasks; --"\n'
    )
    with pytest.raises(ChecksViolated, match="cannot be evaluated"):
        smuggled.apply()
    with pytest.raises(ChecksViolated, match="no_such_column"):
        make_warden('[tables."public.tasks".checks]\nx = "no_such_column > 0"\n').plan()
    assert conn.execute("select to_regclass('tasks') is not null").fetchone() == (True,)
    assert _constraints(conn) == {}
