"""When a declared view is due: interval, time-of-day window in its own zone, DST."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pgwarden import SpecError
from pgwarden._names import QualifiedName
from pgwarden.features.materialized_views import ViewSpec
from pgwarden.features.materialized_views._options import declared_views
from pgwarden.features.materialized_views._schedule import is_due, window_start
from pgwarden.spec import parse_spec

UTC = dt.UTC


def _at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_interval() -> None:
    view = ViewSpec(query="select 1", refresh="5 min")  # type: ignore[arg-type]
    assert is_due(view, _at("2026-01-01T00:00"), None)
    assert not is_due(view, _at("2026-01-01T00:04:59"), _at("2026-01-01T00:00"))
    assert is_due(view, _at("2026-01-01T00:05"), _at("2026-01-01T00:00"))


def test_nightly_window_follows_local_time_across_dst() -> None:
    # Europe/Paris springs forward on 2026-03-29 (02:00 CET -> 03:00 CEST): the window
    # 01:00-02:00 local is 00:00-01:00 UTC before, 23:00-00:00 UTC after. pg_cron would
    # keep running it at the same UTC time (citusdata/pg_cron#29).
    view = ViewSpec(query="select 1", window="01:00-02:00", timezone="Europe/Paris")
    assert is_due(view, _at("2026-03-28T00:30"), None)
    assert not is_due(view, _at("2026-03-28T00:45"), _at("2026-03-28T00:30"))  # once per window
    assert window_start(view, _at("2026-03-29T00:10")) == _at("2026-03-29T00:00")
    assert is_due(view, _at("2026-03-29T00:10"), _at("2026-03-28T00:30"))
    # The next night, in summer time: 00:30 UTC is 02:30 local, outside; 23:30 UTC is inside.
    assert not is_due(view, _at("2026-03-30T00:30"), _at("2026-03-29T00:10"))
    assert is_due(view, _at("2026-03-29T23:30"), _at("2026-03-29T00:10"))
    assert window_start(view, _at("2026-03-29T23:30")) == _at("2026-03-29T23:00")


def test_a_window_starting_in_the_hour_dst_skips_or_repeats_runs_once() -> None:
    # 02:30 Paris does not exist on 2026-03-29 (02:00 CET -> 03:00 CEST) and exists twice on
    # 2026-10-25 (03:00 CEST -> 02:00 CET): the window still runs once a night.
    view = ViewSpec(query="select 1", window="02:30-03:30", timezone="Europe/Paris")
    for night, times in (
        ("2026-03-29", ["01:10", "01:20", "01:29"]),  # 03:10-03:29 CEST
        ("2026-10-25", ["00:35", "00:50", "01:40", "02:20"]),  # 02:35, 02:50 CEST; 02:40, 03:20 CET
    ):
        last, runs = _at(f"{night}T00:00") - dt.timedelta(days=1), []
        for hhmm in times:
            now = _at(f"{night}T{hhmm}")
            assert window_start(view, now) is not None and window_start(view, now) <= now
            if is_due(view, now, last):
                runs.append(hhmm)
                last = now
        assert runs == times[:1], (night, runs)


def test_window_wrapping_midnight_with_interval() -> None:
    view = ViewSpec(  # type: ignore[arg-type]
        query="select 1", window="22:00-04:00", timezone="America/New_York", refresh="1h"
    )
    # 2026-01-10 03:30 UTC is 22:30 EST (inside); 12:00 UTC is 07:00 (outside).
    assert is_due(view, _at("2026-01-10T03:30"), None)
    assert not is_due(view, _at("2026-01-10T12:00"), None)
    assert not is_due(view, _at("2026-01-10T04:00"), _at("2026-01-10T03:30"))
    assert is_due(view, _at("2026-01-10T04:30"), _at("2026-01-10T03:30"))


@given(
    minutes=st.integers(1, 600),
    start=st.datetimes(
        min_value=dt.datetime(2026, 1, 1), max_value=dt.datetime(2027, 1, 1), timezones=st.just(UTC)
    ),
    steps=st.lists(st.integers(1, 120), min_size=1, max_size=40),
)
def test_interval_refreshes_never_closer_than_declared(
    minutes: int, start: dt.datetime, steps: list[int]
) -> None:
    view = ViewSpec(query="select 1", refresh=f"{minutes} min")  # type: ignore[arg-type]
    now, last, runs = start, None, []
    for step in steps:
        now += dt.timedelta(minutes=step)
        if is_due(view, now, last):
            runs.append(now)
            last = now
    assert all((b - a) >= dt.timedelta(minutes=minutes) for a, b in itertools.pairwise(runs))
    # ...and never late by more than one step once due.
    assert runs and runs[0] == start + dt.timedelta(minutes=steps[0])


def test_section_errors_name_the_view_and_key() -> None:
    good = parse_spec(
        '[materialized_views."analytics.daily"]\nquery = "select 1 as x"\nrefresh = "5 min"\n'
    )
    assert list(declared_views(good)) == [QualifiedName("analytics", "daily")]
    for body, words in (
        ('refresh = "5 min"\n', "either query"),
        ('query = "select 1"\n', "refresh"),
        ('query = "select 1"\nwindow = "25:00-01:00"\n', "HH:MM-HH:MM"),
        ('query = "select 1"\nrefresh = "1h"\ntimezone = "Mars/Olympus"\n', "unknown time zone"),
        ('query = "select 1"\nrefresh = "1h"\nrefrsh = "2h"\n', "unknown option"),
    ):
        with pytest.raises(SpecError, match=words) as caught:
            parse_spec('[materialized_views."analytics.daily"]\n' + body, file="p.toml")
        assert "p.toml" in str(caught.value) and "materialized_views" in str(caught.value)
