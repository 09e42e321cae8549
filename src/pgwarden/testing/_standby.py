"""A throwaway primary and streaming standby, for testing and measuring reads on replicas.

Both run from the same binaries (the embedded server's, or another installation's ``bin``
directory) in a temporary directory, on 127.0.0.1, with trust authentication: for tests and
benchmarks, never for data. The standby is a ``pg_basebackup -R`` of the primary and can be
stopped and started again on the same port (its URL stays valid).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from pgwarden.db._lag import format_lsn, parse_lsn, settled
from pgwarden.ops.backup import Instance

PRIMARY_SETTINGS = {
    "wal_level": "replica",
    "max_wal_senders": "5",
    "fsync": "off",
    "full_page_writes": "off",
    "shared_buffers": "32MB",
}
STANDBY_SETTINGS = {"fsync": "off", "shared_buffers": "32MB"}


@dataclass
class StandbyPair:
    primary: Instance
    standby: Instance
    standby_port: int
    standby_settings: Mapping[str, str]

    def primary_url(self, user: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.primary.port} dbname=postgres user={user}"

    def standby_url(self, user: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.standby_port} dbname=postgres user={user}"

    def primary_conn(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.primary_url(), autocommit=True)

    def standby_conn(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.standby_url(), autocommit=True)

    def stop_standby(self) -> None:
        self.standby.stop("fast")

    def start_standby(self) -> None:
        """Start the standby again, on its port."""
        self.standby.start({**self.standby_settings, "port": str(self.standby_port)}, tcp=True)

    def caught_up(self, timeout: float = 30) -> None:
        """Wait until the standby has replayed everything the primary has written (an insert
        position just past a page header is the page's start: :mod:`pgwarden.db._lag`)."""
        with self.primary_conn() as primary:
            row = primary.execute(
                "select pg_current_wal_insert_lsn()::text, current_setting('wal_block_size')::int"
            ).fetchone()
        assert row is not None
        target = format_lsn(settled(parse_lsn(row[0]), row[1]))

        def replayed() -> bool:
            with self.standby_conn() as conn:
                found = conn.execute(
                    "select pg_last_wal_replay_lsn() >= %s::pg_lsn", (target,)
                ).fetchone()
            return bool(found and found[0])

        until(replayed, timeout, "the standby never caught up")


def until(check: Callable[[], Any], timeout: float = 30, message: str = "never true") -> None:
    """Call ``check`` every 50 ms until it returns something true; AssertionError after
    ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(message)
        time.sleep(0.05)


@contextmanager
def standby_pair(
    bin_dir: Path,
    *,
    primary: Mapping[str, str] | None = None,
    standby: Mapping[str, str] | None = None,
    keep: bool = False,
) -> Iterator[StandbyPair]:
    """A running primary and its streaming standby (``primary`` / ``standby``: settings
    over the defaults), caught up; both stopped and removed at the end (unless ``keep``)."""
    home = Path(tempfile.mkdtemp(prefix="pgwarden-replicas-"))
    first = Instance(home / "primary", bin_dir)
    second = Instance(home / "standby", bin_dir)
    standby_settings = {**STANDBY_SETTINGS, **(standby or {})}
    try:
        first.initdb()
        first.start({**PRIMARY_SETTINGS, **(primary or {})}, tcp=True)
        (home / "standby").mkdir()
        subprocess.run(
            [bin_dir / "pg_basebackup", "-D", home / "standby", "-R", "-X", "stream", "-N",
             "-c", "fast", "-d", f"host=127.0.0.1 port={first.port} user=postgres"],
            check=True, capture_output=True, timeout=300,
        )  # fmt: skip
        second.start(standby_settings, tcp=True)
        assert second.port is not None
        pair = StandbyPair(first, second, second.port, standby_settings)
        pair.caught_up()
        yield pair
    finally:
        second.stop("immediate")
        first.stop("immediate")
        if not keep:
            shutil.rmtree(home, ignore_errors=True)
