"""Bad declarations get clear errors, at plan time, and change nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from tests.archive._support import make_entries, spec

from pgwarden import Warden
from pgwarden.errors import FeatureNotApplicable, SpecError


def _nothing_created(conn: psycopg.Connection[Any]) -> None:
    assert conn.execute("select to_regnamespace('archive')").fetchone() == (None,)
    assert conn.execute("select to_regnamespace('warden')").fetchone() == (None,)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (', wher = "true"', "unknown option"),
        (', after = "two years"', "not a duration"),
        (', where = "true; drop table entries"', "without ';'"),
        (', retention = "1 year"', "must be longer than after"),
        (', table = "a.b.c"', "schema.table"),
    ],
)
def test_bad_options_are_spec_errors(
    make_warden: Callable[..., Warden], extra: str, message: str
) -> None:
    text = (
        spec(extra).replace('after = "2 years", ', "") if 'after = "two' in extra else spec(extra)
    )
    with pytest.raises(SpecError, match=message):
        make_warden(text)


@pytest.mark.parametrize(
    ("extra", "column", "message"),
    [
        ("", "entry_dat", "no column 'entry_dat'"),
        ("", "note", "note' is text; it must be a date"),
        (
            ', where = "no_such = 1"',
            "entry_date",
            r'where .* not a valid predicate: column "no_such"',
        ),
        (', where = "user_id"', "entry_date", "must be type boolean"),
        (', where = "1/0 = 1 or (select count(*) from nowhere) > 0"', "entry_date", "nowhere"),
    ],
)
def test_bad_table_options_refused_at_plan_time(
    conn: psycopg.Connection[Any],
    make_warden: Callable[..., Warden],
    extra: str,
    column: str,
    message: str,
) -> None:
    make_entries(conn, old=2, new=2)
    text = spec(extra).replace('"entry_date"', f'"{column}"')
    warden = make_warden(text)
    with pytest.raises(FeatureNotApplicable, match=message) as info:
        warden.plan()
    assert "public.entries" in str(info.value)
    with pytest.raises(FeatureNotApplicable):
        warden.apply()
    _nothing_created(conn)
    assert conn.execute("select count(*) from entries").fetchone() == (4,)


def test_table_without_primary_key_is_refused(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden]
) -> None:
    conn.execute("create table entries (entry_date date)")
    with pytest.raises(FeatureNotApplicable, match="no primary key"):
        make_warden(spec()).plan()
    _nothing_created(conn)
