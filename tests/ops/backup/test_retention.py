"""Grandfather-father-son retention, a pure function, against a synthetic 400-day catalog."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from pgwarden.errors import SpecError
from pgwarden.ops.backup import BackupSection, Item, Keep, plan_retention
from pgwarden.spec import parse_spec

START = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


@st.composite
def catalogs(draw: st.DrawFn) -> list[Item]:
    """Backups over 400 days: 0-3 a day at random times, some verified, some incremental on
    the backup before them (hypothesis draws the shape; a seeded generator fills it in, which
    keeps 400 days cheap to generate)."""
    rng = random.Random(draw(st.integers(0, 2**32)))
    busy = draw(st.floats(0.05, 1.0))
    verified_rate = draw(st.sampled_from([0.0, 0.02, 0.3]))
    incremental_rate = draw(st.sampled_from([0.0, 0.5, 0.9]))
    items: list[Item] = []
    for day in range(400):
        count = rng.randint(1, 3) if rng.random() < busy else 0
        for second in sorted(rng.sample(range(86400), count)):
            when = START + dt.timedelta(days=day, seconds=second)
            incremental = bool(items) and rng.random() < incremental_rate
            items.append(
                Item(
                    id=when.strftime("%Y%m%dT%H%M%SZ"),
                    stopped=when,
                    verified=rng.random() < verified_rate,
                    parent=items[-1].id if incremental else None,
                )
            )
    return items


def _expected(items: list[Item], keep: Keep) -> set[str]:
    """The policy restated: group by period, take the newest of the N newest periods."""
    kept: set[str] = set()
    for count, period in (
        (keep.daily, lambda t: t.date()),
        (keep.weekly, lambda t: tuple(t.isocalendar())[:2]),
        (keep.monthly, lambda t: (t.year, t.month)),
    ):
        groups: dict[object, list[Item]] = {}
        for item in items:
            groups.setdefault(period(item.stopped), []).append(item)
        for key in sorted(groups, reverse=True)[:count]:
            kept.add(max(groups[key], key=lambda i: (i.stopped, i.id)).id)
    if items:
        kept.add(max(items, key=lambda i: (i.stopped, i.id)).id)
    verified = [i for i in items if i.verified]
    if verified:
        kept.add(max(verified, key=lambda i: (i.stopped, i.id)).id)
    parents = {i.id: i.parent for i in items}
    for kid in list(kept):
        parent = parents[kid]
        while parent is not None:
            kept.add(parent)
            parent = parents[parent]
    return kept


@settings(max_examples=60, deadline=None)
@given(
    catalogs(),
    st.builds(Keep, daily=st.integers(0, 10), weekly=st.integers(0, 6), monthly=st.integers(0, 14)),
)
def test_retention_on_400_days_matches_the_policy_exactly(items: list[Item], keep: Keep) -> None:
    decisions = plan_retention(items, keep)
    assert [d.id for d in decisions] == [
        i.id for i in sorted(items, key=lambda i: (i.stopped, i.id))
    ]
    assert {d.id for d in decisions if d.keep} == _expected(items, keep)
    for d in decisions:
        assert d.reasons  # every decision says why
        if not d.keep:
            assert "not the newest" in d.reasons[0]
    # Retention is stable: pruning what it kept again removes nothing more.
    kept_items = [i for i in items if i.id in {d.id for d in decisions if d.keep}]
    assert all(d.keep for d in plan_retention(kept_items, keep))


def test_default_policy_on_a_daily_catalog_keeps_7_4_12() -> None:
    items = [Item(f"b{d:03d}", START + dt.timedelta(days=d, hours=3)) for d in range(400)]
    kept = [d for d in plan_retention(items, Keep()) if d.keep]
    days = {d.id for d in kept if any(r.startswith("daily") for r in d.reasons)}
    assert days == {f"b{d:03d}" for d in range(393, 400)}
    assert sum(any(r.startswith("weekly") for r in d.reasons) for d in kept) == 4
    assert sum(any(r.startswith("monthly") for r in d.reasons) for d in kept) == 12
    # 7 days span two ISO weeks and one month: those overlap with the daily ones
    assert len(kept) == len({d.id for d in kept}) <= 7 + 4 + 12


def test_newest_verified_backup_is_never_removed() -> None:
    items = [Item(f"b{d:03d}", START + dt.timedelta(days=d), verified=d == 10) for d in range(100)]
    decisions = {d.id: d for d in plan_retention(items, Keep(daily=1, weekly=0, monthly=0))}
    assert decisions["b010"].keep and "newest verified backup" in decisions["b010"].reasons
    assert sum(d.keep for d in decisions.values()) == 2


def test_backup_section_rejects_bad_options() -> None:
    with pytest.raises(ValidationError, match="greater than or equal to 0"):
        BackupSection.model_validate({"keep": {"daily": -1}})
    with pytest.raises(ValidationError, match="engine"):
        BackupSection.model_validate({"engine": "barman"})
    with pytest.raises(ValidationError, match="'lz4' is not available with the builtin engine"):
        BackupSection.model_validate({"compression": "lz4"})
    assert BackupSection.model_validate({"compression": "server-gzip:5"}).compression
    with pytest.raises(ValidationError, match="replication slot"):
        BackupSection.model_validate({"slot": "Bad-Name"})


def test_a_typo_in_the_backup_section_is_located() -> None:
    with pytest.raises(SpecError) as error:
        parse_spec('[backup]\nrepositry = "/srv/backups"\n', file="pgwarden.toml")
    assert "pgwarden.toml" in str(error.value) and "repository" in str(error.value)
    spec = parse_spec("[backup]\nkeep = { daily = 3 }\n", file="pgwarden.toml")
    assert spec.section("backup", BackupSection).keep == Keep(daily=3)


def test_builtin_engine_refuses_encryption_before_touching_anything(tmp_path: Path) -> None:
    from pgwarden.errors import BackupError
    from pgwarden.ops.backup import Backups

    section = BackupSection.model_validate({"repository": tmp_path / "repo", "encryption": {}})
    with pytest.raises(BackupError, match="does not encrypt") as error:
        Backups("postgresql://nobody@127.0.0.1:1/none", section).run()
    assert error.value.hint is not None and "pgbackrest" in error.value.hint
    assert not (tmp_path / "repo").exists()


def test_missing_binaries_of_a_major_version_are_named() -> None:
    from pgwarden.errors import BackupError
    from pgwarden.ops.backup._tools import bin_dir_for

    with pytest.raises(BackupError, match="no PostgreSQL 9 binaries found") as error:
        bin_dir_for(9)
    assert "/usr/lib/postgresql/9/bin" in error.value.message
    assert error.value.hint is not None and "bin_dir" in error.value.hint
