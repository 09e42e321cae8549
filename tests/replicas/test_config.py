"""``[database] replicas`` and its options: env entries, and errors naming file and key."""

from __future__ import annotations

import pytest

from pgwarden.config import resolve_replicas
from pgwarden.db._lag import PrimaryHistory, format_lsn, parse_lsn, settled, staleness
from pgwarden.errors import ConfigError, SpecError
from pgwarden.spec import parse_spec


def test_replicas_read_env_entries_and_name_the_missing_one() -> None:
    spec = parse_spec(
        '[database]\nreplicas = ["postgresql://r0/app", "env:R1", "env:R2"]\nmax_lag = "2s"\n',
        file="conf/pgwarden.toml",
    )
    env = {"R1": "postgresql://r1/app", "R2": "postgresql://r2/app"}
    assert resolve_replicas(spec, env) == ("postgresql://r0/app", *env.values())
    assert spec.database.max_lag.seconds == 2 and spec.database.replay_wait.seconds == 1
    with pytest.raises(ConfigError) as missing:
        resolve_replicas(spec, {"R1": "postgresql://r1/app"})
    assert missing.value.message == (
        "conf/pgwarden.toml: [database] replicas[2] = 'env:R2', but $R2 is not set"
    )


@pytest.mark.parametrize(
    ("toml", "key", "says"),
    [
        ('max_lag = "soon"', "database.max_lag", "is not a duration"),
        ('max_lag = "0s"', "database.max_lag", "at least 1ms"),
        ('replicas = ["env:"]', "database.replicas", "'env:NAME'"),
        ('replicas = ["env:A", "env:A"]', "database.replicas", "listed twice"),
        ('replicas = "env:A"', "database.replicas", "tuple"),
        ('replica_lag = "1s"', "database.replica_lag", "unknown option"),
    ],
)
def test_bad_replica_options_name_the_key(toml: str, key: str, says: str) -> None:
    with pytest.raises(SpecError) as bad:
        parse_spec(f"[database]\n{toml}\n", file="pgwarden.toml")
    assert bad.value.key == key and says in str(bad.value), str(bad.value)
    assert bad.value.line == 2


def test_positions_and_the_staleness_bound() -> None:
    assert format_lsn(parse_lsn("16/B374D848")) == "16/B374D848"
    with pytest.raises(ValueError, match="not a WAL position"):
        parse_lsn("yesterday")
    # Just past a page header is the page's start; anything else is itself.
    assert settled(3 * 8192 + 24, 8192) == 3 * 8192 == settled(3 * 8192 + 40, 8192)
    assert settled(3 * 8192 + 48, 8192) == 3 * 8192 + 48
    history = PrimaryHistory(keep=60)
    for at, position in [(10.0, 100), (11.0, 200), (12.0, 300)]:
        history.add(at, position)
    latest = history.latest()
    # Caught up with the last sample: 0, however old the last replayed commit.
    assert staleness(now=12.5, replayed=300, primary=latest, history=history, replay_age=900) == 0
    # Has what the primary had at 11.0: at most 1.5 s behind; the commit's age lowers it.
    assert staleness(now=12.5, replayed=250, primary=latest, history=history, replay_age=90) == 1.5
    assert staleness(now=12.5, replayed=250, primary=latest, history=history, replay_age=0.2) == 0.2
    # Behind every sample kept, no replayed commit: unknown.
    assert (
        staleness(now=12.5, replayed=50, primary=latest, history=history, replay_age=None) is None
    )
