"""Faults where data moves: a killed backup, a corrupted data file, a missing WAL segment, a
deleted backup directory. Each is found, by name, and a killed run leaves no trace."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import psycopg
import pytest
from tests.ops.backup.conftest import Source

from pgwarden.errors import RestoreRefused
from pgwarden.ops.backup import Point
from pgwarden.ops.backup._wal import segment_name, segments


@pytest.fixture(scope="module")
def data(source: Source) -> str:
    url = source.instance.url("postgres")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("create table t (id int primary key, payload text)")
        conn.execute("insert into t select g, repeat('x', 200) from generate_series(1, 20000) g")
    return url


def test_a_backup_killed_with_sigkill_leaves_no_entry_and_the_next_succeeds(
    source: Source, data: str, tmp_path: Path
) -> None:
    (tmp_path / "pgwarden.toml").write_text(
        '[backup]\nrepository = "repo"\nslot = "pgw_kill"\nmax_rate = "32k"\n'
    )
    env = {**os.environ, "PGWARDEN_DATABASE_URL": data}
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "pgwarden"), "backup", "run", "--json"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    partial = tmp_path / "repo" / "backups"
    deadline = time.monotonic() + 60
    # Kill once pg_basebackup has written into the backup's staging directory.
    while not any(p.is_file() for d in partial.glob("*.partial") for p in d.iterdir()):
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert time.monotonic() < deadline, "the backup never started writing"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    backups = source.backups(repository=tmp_path / "repo", slot="pgw_kill")
    assert backups.records() == []
    assert list(partial.glob("*.partial"))  # what the killed run left, until the next run
    record = backups.run()
    assert [r.id for r in backups.records()] == [record.id]
    assert not list(partial.glob("*.partial"))
    # pg_basebackup died with its parent: nothing of it is still connected
    with psycopg.connect(data, autocommit=True) as conn:
        for _ in range(100):
            row = conn.execute(
                "select count(*) from pg_stat_replication where application_name = 'pg_basebackup'"
            ).fetchone()
            if row == (0,):
                break
            time.sleep(0.1)
        assert row == (0,)


def test_verify_names_a_corrupted_data_file(source: Source, data: str, tmp_path: Path) -> None:
    backups = source.backups(repository=tmp_path / "repo", slot="pgw_corrupt")
    with psycopg.connect(data, autocommit=True) as conn:
        row = conn.execute("select pg_relation_filepath('t')").fetchone()
    assert row is not None
    relation = row[0]
    record = backups.run()
    archive = backups.repo.backup_dir(record) / "base.tar"
    with tarfile.open(archive) as tar:
        member = tar.getmember(relation)
    with archive.open("r+b") as fh:  # flip bytes inside the table's first page
        fh.seek(member.offset_data + 4000)
        fh.write(b"\xde\xad\xbe\xef" * 8)
    report = backups.verify(record.id, seed=1)
    assert not report.ok
    text = "\n".join(report.problems)
    assert "base.tar" in text and "SHA-256 mismatch" in text
    assert relation in text  # pg_verifybackup names the data file itself


def test_verify_names_a_missing_wal_segment_and_restore_refuses_past_it(
    source: Source, data: str, tmp_path: Path
) -> None:
    backups = source.backups(repository=tmp_path / "repo", slot="pgw_gap")
    record = backups.run()
    with psycopg.connect(data, autocommit=True) as conn:
        for i in range(3):
            conn.execute("update t set payload = %s where id <= 100", (f"round {i}",))
            conn.execute("select pg_switch_wal()")
    backups.catch_up_wal()
    seg = record.wal_segment_size
    have = sorted(s for (tli, s) in segments(backups.repo.wal_dir, seg))
    stop = int(record.stop_lsn.split("/")[0], 16) << 32 | int(record.stop_lsn.split("/")[1], 16)
    after = [s for s in have if s > stop // seg + 1]
    assert len(after) >= 2
    missing = segment_name(record.timeline, after[0], seg)
    (backups.repo.wal_dir / missing).unlink()
    assert backups.archive()["gap"] == missing  # backup list shows it too
    report = backups.verify(record.id, seed=2)
    assert not report.ok
    assert any(f"segment {missing} is missing" in p for p in report.problems), report.problems
    with pytest.raises(RestoreRefused, match=missing):
        backups.restore(tmp_path / "out", Point())
    assert not (tmp_path / "out").exists()


def test_verify_names_a_deleted_backup_directory(source: Source, data: str, tmp_path: Path) -> None:
    backups = source.backups(repository=tmp_path / "repo", slot="pgw_gone")
    record = backups.run(kind="full")
    gone = backups.repo.backup_dir(record)
    shutil.rmtree(gone)
    report = backups.verify()
    assert not report.ok
    assert any(record.id in p and str(gone) in p and "missing" in p for p in report.problems)
    with pytest.raises(RestoreRefused, match=record.id):
        backups.restore(tmp_path / "out", Point())
    assert not (tmp_path / "out").exists()


def test_prune_removes_unkept_backups_and_only_the_wal_no_kept_backup_needs(
    source: Source, data: str, tmp_path: Path, scratch: Path
) -> None:
    backups = source.backups(repository=tmp_path / "repo", slot="pgw_prune")
    older = backups.run(kind="full")
    with psycopg.connect(data, autocommit=True) as conn:
        for i in range(3):
            conn.execute("update t set payload = %s where id <= 50", (f"prune {i}",))
            conn.execute("select pg_switch_wal()")
    newer = backups.run(kind="full")
    with psycopg.connect(data, autocommit=True) as conn:
        conn.execute("update t set payload = 'after newer' where id = 1")
    backups.catch_up_wal()
    seg = newer.wal_segment_size
    first_needed = int(newer.start_lsn.split("/")[0], 16) << 32 | int(
        newer.start_lsn.split("/")[1], 16
    )
    first_needed //= seg
    before = set(segments(backups.repo.wal_dir, seg))
    dry = backups.prune(dry_run=True)
    assert dry.removed == [older.id]  # same day: only the day's newest is kept
    assert "not the newest" in dry.decisions[0].reasons[0]
    assert dry.wal_segments and f"start of {newer.id}, the oldest kept" in dry.wal_reason
    assert set(segments(backups.repo.wal_dir, seg)) == before  # a dry run changes nothing
    assert backups.repo.backup_dir(older).is_dir()

    done = backups.prune()
    assert [r.id for r in backups.records()] == [newer.id]
    assert not backups.repo.backup_dir(older).exists()
    left = set(segments(backups.repo.wal_dir, seg))
    assert all(s >= first_needed for _t, s in left)
    assert {k for k in before if k[1] >= first_needed} == left
    assert len(done.wal_segments) == len(before) - len(left)
    restored = backups.restore(scratch / "after-prune", keep_running=True)
    try:
        assert restored.instance is not None
        with psycopg.connect(restored.instance.url(), autocommit=True) as conn:
            assert conn.execute("select payload from t where id = 1").fetchone() == ("after newer",)
    finally:
        assert restored.instance is not None
        restored.instance.stop()
