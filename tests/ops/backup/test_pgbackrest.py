"""The pgBackRest engine against a PostgreSQL 15 server the test starts and configures itself
(Debian's pgbackrest 2.45 supports up to 15): stanza, backup, info, PITR restore, drill."""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from tests.ops.backup.conftest import PG15_BIN, Source, start_source
from tests.tools import require_tool

from pgwarden.errors import BackupError, RestoreRefused
from pgwarden.ops.backup import Backups, BackupSection, Point
from pgwarden.ops.backup._catalog import Repository
from pgwarden.ops.backup._pgbackrest import PgBackRest


@pytest.fixture(scope="module")
def pgbr_source() -> Iterator[tuple[Source, BackupSection]]:
    require_tool("pgbackrest")
    # Not under pytest's basetemp: pytest resets its modes, and pgBackRest (run by the server
    # as its own user) must keep reaching the repository.
    home = Path(tempfile.mkdtemp(prefix="pgwarden-pgbr-"))
    repo = home / "repo"
    section = BackupSection(repository=repo, engine="pgbackrest")
    command = PgBackRest(Repository(repo), section, "").archive_command()
    try:
        yield from (
            (source, section)
            for source in start_source(
                PG15_BIN, {"archive_mode": "on", "archive_command": command, "archive_timeout": "0"}
            )
        )
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _rows(url: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute("select id, v from t order by id").fetchall()


def test_pgbackrest_round(
    pgbr_source: tuple[Source, BackupSection], tmp_path: Path, scratch: Path
) -> None:
    source, section = pgbr_source
    backups = Backups(source.url, section)
    with psycopg.connect(source.url, autocommit=True) as conn:
        conn.execute("create table t (id int primary key, v text)")
        conn.execute("insert into t select g, 'v' || g from generate_series(1, 1000) g")
    full = backups.run(kind="full")
    assert full.engine == "pgbackrest" and full.kind == "full"
    assert (section.repository / "pgbackrest" / "pgbackrest.conf").is_file()
    with psycopg.connect(source.url, autocommit=True) as conn:
        conn.execute("delete from t where id > 900")
        snapshot = _rows(source.url)
        row = conn.execute("select clock_timestamp()").fetchone()
        assert row is not None
        between: dt.datetime = row[0]
        conn.execute("insert into t values (5000, 'after')")
        ended = conn.execute("select pg_walfile_name(pg_switch_wal())").fetchone()
        # The server's archiver pushes the segment on its own time: wait until it has, or the
        # restore's window may still end before the commits above.
        for _ in range(300):
            archived = conn.execute("select last_archived_wal from pg_stat_archiver").fetchone()
            if ended and archived and archived[0] and archived[0] >= ended[0]:
                break
            time.sleep(0.1)
    assert [r.id for r in backups.records()] == [full.id]  # read from pgbackrest info

    done = backups.restore(scratch / "at", Point("time", time=between), keep_running=True)
    try:
        assert done.backup == full.id and done.instance is not None
        assert _rows(done.instance.url()) == snapshot
    finally:
        assert done.instance is not None
        done.instance.stop()
    with pytest.raises(RestoreRefused, match="outside the recoverable window"):
        backups.restore(tmp_path / "late", Point("time", time=between + dt.timedelta(days=1)))

    # pgwarden's drill on top: restore to a random commit, amcheck, counts; recorded
    report = backups.verify(seed=5)
    assert report.ok, report.problems
    assert report.reached == report.target and report.indexes > 0 and report.rto_seconds > 0
    assert backups.records()[-1].verification is not None


def test_pgbackrest_engine_says_how_to_archive(
    tmp_path: Path, pgbr_source: tuple[Source, BackupSection]
) -> None:
    source, _section = pgbr_source
    other = Backups(
        source.url, BackupSection(repository=tmp_path / "elsewhere", engine="pgbackrest")
    )
    with pytest.raises(BackupError) as error:
        other.run()
    assert "archive_command" in error.value.message
    assert error.value.hint is not None and "ALTER SYSTEM SET archive_command" in error.value.hint
