"""A real primary and streaming standby per test process, shared by the modules (under
pytest-xdist a module's tests spread over the workers: a pair per module would start one in
each), in temporary directories (:func:`pgwarden.testing.standby_pair`). Tests use tables of
their own and leave the standby running and replaying.

PostgreSQL 18 (the embedded server's binaries) by default; with PGWARDEN_TEST_DSN set (the
machine's PostgreSQL 15, which refuses replication connections) a pair of the machine's
PostgreSQL 15 binaries instead, so each CI run reads from a real replica of its version.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from tests.tools import server_bin_dir

from pgwarden import Warden
from pgwarden.spec import parse_spec
from pgwarden.testing import StandbyPair, standby_pair, until

__all__ = ["Pair", "until"]

Pair = StandbyPair

STANDBY = {
    # No snapshot conflicts (vacuum's cleanup) under the other tests' reads; the conflict
    # test makes a lock conflict, cancelled after this delay.
    "hot_standby_feedback": "on",
    "max_standby_streaming_delay": "200ms",
    "wal_receiver_status_interval": "1s",
}


@pytest.fixture(scope="session")
def pair() -> Iterator[StandbyPair]:
    with standby_pair(server_bin_dir(), standby=STANDBY) as made:
        yield made


@pytest.fixture
def make_warden(pair: StandbyPair) -> Iterator[Callable[..., Warden]]:
    """A Warden on the pair's primary with the standby as its replica; ``toml`` adds to its
    ``[database]`` section (``max_lag = "1s"``...)."""
    made: list[Warden] = []

    def make(toml: str = "", *, user: str = "postgres", **kw: Any) -> Warden:
        spec = parse_spec(f'[database]\nreplica_check = "100ms"\n{toml}', file="pgwarden.toml")
        warden = Warden(pair.primary_url(user), spec=spec, replicas=[pair.standby_url(user)], **kw)
        made.append(warden)
        return warden

    yield make
    for warden in made:
        warden.close()
