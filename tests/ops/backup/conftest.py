"""Source servers of the backup tests: each test process starts its own small cluster.

The backup tests start their own servers (they need replication, a slot, summarize_wal), so
they do not depend on PGWARDEN_TEST_DSN. To run each expensive test once per CI run: with
PGWARDEN_TEST_DSN set (CI's second run, against the machine's PostgreSQL 15) the sources use
the machine's PostgreSQL 15 binaries; without it, the embedded PostgreSQL 18 ones.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from tests.tools import PG15_BIN, server_bin_dir

from pgwarden.ops.backup import Backups, BackupSection, Instance
from pgwarden.server import _system

__all__ = ["PG15_BIN", "Source", "start_source"]


@dataclass
class Source:
    instance: Instance
    home: Path
    major: int

    @property
    def url(self) -> str:
        return self.instance.url()

    def backups(self, **options: object) -> Backups:
        section = BackupSection.model_validate({"repository": self.home / "repo", **options})
        return Backups(self.url, section)

    def connect(self, dbname: str = "postgres") -> psycopg.Connection[object]:
        return psycopg.connect(self.instance.url(dbname), autocommit=True)


def start_source(
    bin_dir: Path, extra: dict[str, str] | None = None, *, archive: bool = False
) -> Iterator[Source]:
    """A source server in a new temporary directory; ``archive``: its ``archive_command``
    copies each finished WAL segment into ``<home>/archive`` (for ``wal = "archive"``)."""
    home = Path(tempfile.mkdtemp(prefix="pgwarden-bk-"))
    instance = Instance(home / "src", bin_dir)
    try:
        # 1 MB WAL segments: every pg_switch_wal() and archive copy is 16 times cheaper, and
        # the segment arithmetic is exercised with a size other than the default.
        instance.initdb(wal_segsize_mb=1)
        settings = {
            "wal_level": "replica",
            # every test's repository has a slot of its own on the shared source; and above
            # the defaults, so every restore proves it starts with the source's values
            # (pg_control)
            "max_wal_senders": "20",
            "max_replication_slots": "40",
            "fsync": "off",
            "shared_buffers": "32MB",
            **(extra or {}),
        }
        if archive:
            (home / "archive").mkdir()
            _system.chown(home / "archive", instance.account)
            settings["archive_mode"] = "on"
            settings["archive_command"] = f"test ! -f {home}/archive/%f && cp %p {home}/archive/%f"
        version = (home / "src" / "PG_VERSION").read_text().strip()
        if int(version) >= 17:
            settings["summarize_wal"] = "on"
        instance.start(settings)
        yield Source(instance, home, int(version))
    finally:
        instance.stop("immediate")
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def source() -> Iterator[Source]:
    """A running source server for the backup tests of this process (PG18 or PG15, see
    above); each test uses a repository and a replication slot of its own."""
    yield from start_source(server_bin_dir(), archive=True)


@pytest.fixture
def scratch() -> Iterator[Path]:
    """A directory for restore targets, outside pytest's basetemp: a pytest session starting
    meanwhile (another worker, another user of the machine) resets the modes of
    /tmp/pytest-of-<user>, which would lock out a restored server run as the pgwarden user."""
    home = Path(tempfile.mkdtemp(prefix="pgwarden-restore-"))
    yield home
    shutil.rmtree(home, ignore_errors=True)
