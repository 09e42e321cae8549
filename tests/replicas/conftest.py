"""A real primary and streaming standby per test module, in temporary directories.

PostgreSQL 18 (the embedded server's binaries) by default; with PGWARDEN_TEST_DSN set (the
machine's PostgreSQL 15, which refuses replication connections) a pair of the machine's
PostgreSQL 15 binaries instead, so each CI run reads from a real replica of its version.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from pgwarden import Warden
from pgwarden.db._lag import format_lsn, parse_lsn, settled
from pgwarden.ops.backup import Instance
from pgwarden.server import bin_path
from pgwarden.spec import parse_spec

PG15_BIN = Path("/usr/lib/postgresql/15/bin")

PRIMARY = {
    "wal_level": "replica",
    "max_wal_senders": "5",
    "fsync": "off",
    "full_page_writes": "off",
    "shared_buffers": "32MB",
}
STANDBY = {
    "fsync": "off",
    "shared_buffers": "32MB",
    # No snapshot conflicts (vacuum's cleanup) under the other tests' reads; the conflict
    # test makes a lock conflict, cancelled after this delay.
    "hot_standby_feedback": "on",
    "max_standby_streaming_delay": "200ms",
    "wal_receiver_status_interval": "1s",
}


def pair_bin_dir() -> Path:
    if os.environ.get("PGWARDEN_TEST_DSN"):
        if not (PG15_BIN / "postgres").is_file():
            pytest.fail(f"PGWARDEN_TEST_DSN is set but {PG15_BIN} has no PostgreSQL 15")
        return PG15_BIN
    return bin_path()


@dataclass
class Pair:
    primary: Instance
    standby: Instance
    standby_port: int

    def primary_url(self, user: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.primary.port} dbname=postgres user={user}"

    def standby_url(self, user: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.standby_port} dbname=postgres user={user}"

    def stop_standby(self) -> None:
        self.standby.stop("fast")

    def start_standby(self) -> None:
        """Start the standby again, on its port (its URL stays the same)."""
        self.standby.start({**STANDBY, "port": str(self.standby_port)}, tcp=True)

    def primary_conn(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.primary_url(), autocommit=True)

    def standby_conn(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.standby_url(), autocommit=True)

    def caught_up(self, timeout: float = 30) -> None:
        """Wait until the standby has replayed everything the primary has written (an insert
        position just past a page header is the page's start: see pgwarden.db._lag)."""
        with self.primary_conn() as primary:
            row = primary.execute(
                "select pg_current_wal_insert_lsn()::text, current_setting('wal_block_size')::int"
            ).fetchone()
        assert row is not None
        target = format_lsn(settled(parse_lsn(row[0]), row[1]))
        until(lambda: _replayed(self, target), timeout, "the standby never caught up")


def _replayed(pair: Pair, target: str) -> bool:
    with pair.standby_conn() as conn:
        row = conn.execute("select pg_last_wal_replay_lsn() >= %s::pg_lsn", (target,)).fetchone()
    return bool(row and row[0])


def until(check: Callable[[], bool], timeout: float = 30, message: str = "never true") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(message)
        time.sleep(0.05)


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    bin_dir = pair_bin_dir()
    home = Path(tempfile.mkdtemp(prefix="pgwarden-replicas-"))
    primary = Instance(home / "primary", bin_dir)
    standby = Instance(home / "standby", bin_dir)
    try:
        primary.initdb()
        primary.start(PRIMARY, tcp=True)
        (home / "standby").mkdir()
        subprocess.run(
            [bin_dir / "pg_basebackup", "-D", home / "standby", "-R", "-X", "stream", "-N",
             "-c", "fast", "-d", f"host=127.0.0.1 port={primary.port} user=postgres"],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        standby.start(STANDBY, tcp=True)
        assert standby.port is not None
        made = Pair(primary, standby, standby.port)
        made.caught_up()
        yield made
    finally:
        standby.stop("immediate")
        primary.stop("immediate")
        if not os.environ.get("KEEP_PAIR"):
            shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def make_warden(pair: Pair) -> Iterator[Callable[..., Warden]]:
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
