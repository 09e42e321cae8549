"""The sampler's rates from two readings of pg_stat_database's counters (a property test)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pgwarden.api._sampler import _rates

COUNTERS = ("xact_commit", "xact_rollback", "blks_hit", "blks_read")
counts = st.fixed_dictionaries({name: st.integers(0, 10**12) for name in COUNTERS})


@given(counts, counts, st.floats(0.05, 120))
def test_rates_are_deltas_per_second_and_never_negative(
    old: dict[str, int], new: dict[str, int], elapsed: float
) -> None:
    rates = _rates((1000.0, old), 1000.0 + elapsed, new)
    commits = max(new["xact_commit"] - old["xact_commit"], 0)
    rollbacks = max(new["xact_rollback"] - old["xact_rollback"], 0)
    # A counter that went down (pg_stat_reset) counts as no activity, never as negative.
    # Rates are rounded to one decimal, from the clock's difference (1000 + e - 1000 is not
    # always e in floating point): within half a tenth of the exact rate.
    assert rates["commits"] == pytest.approx(commits / elapsed, rel=1e-9, abs=0.05 + 1e-9)
    assert rates["rollbacks"] == pytest.approx(rollbacks / elapsed, rel=1e-9, abs=0.05 + 1e-9)
    assert rates["tps"] == pytest.approx((commits + rollbacks) / elapsed, rel=1e-9, abs=0.05 + 1e-9)
    assert min(rates["tps"], rates["commits"], rates["rollbacks"]) >= 0
    hit = max(new["blks_hit"] - old["blks_hit"], 0)
    read = max(new["blks_read"] - old["blks_read"], 0)
    if hit + read:
        assert 0 <= rates["cache_hit"] <= 1
    else:
        assert rates["cache_hit"] is None


def test_the_first_sample_after_a_pause_has_no_rates() -> None:
    first = {name: 5 for name in COUNTERS}
    assert _rates(None, 1.0, first) == {
        "tps": None, "commits": None, "rollbacks": None, "cache_hit": None
    }  # fmt: skip
    assert _rates((0.0, first), 1.0, None)["tps"] is None
