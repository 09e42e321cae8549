"""A full round on a real source server: backup, writes, point-in-time restore, drill.

One source server for the module (PostgreSQL 18 embedded, or 15 when PGWARDEN_TEST_DSN is
set: see conftest.py); each test uses a repository of its own.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import psycopg
import pytest
from tests.ops.backup.conftest import Source
from typer.testing import CliRunner

from pgwarden import Warden
from pgwarden.cli import app
from pgwarden.errors import RestoreRefused
from pgwarden.ops.backup import Backups, Point, health
from pgwarden.spec import parse_spec

SPEC = '[tables."public.items"]\ntimestamps = true\n'


def _rows(url: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select id, label, created_at, updated_at from items order by id"
        ).fetchall()


def _now(conn: psycopg.Connection[object]) -> dt.datetime:
    row = conn.execute("select clock_timestamp()").fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def app_db(source: Source) -> str:
    """Database ``app`` on the source, declared by SPEC (pgwarden's ledger inside)."""
    with source.connect() as conn:
        conn.execute("create database app")
    url = source.instance.url("app")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("create table items (id int primary key, label text not null)")
        conn.execute("create index on items (label)")
        conn.execute(
            "insert into items (id, label) select g, 'item ' || g from generate_series(1, 500) g"
        )
    with Warden(url, spec=parse_spec(SPEC, file="pgwarden.toml")) as warden:
        warden.apply()
    return url


def test_pitr_to_a_time_between_two_transactions_equals_the_snapshot(
    source: Source, app_db: str, tmp_path: Path, scratch: Path
) -> None:
    backups = source.backups(repository=tmp_path / "repo", slot="pgw_round")
    first = backups.run()
    assert first.kind == "full" and first.files and all(len(f.sha256) == 64 for f in first.files)
    with psycopg.connect(app_db, autocommit=True) as conn:
        conn.execute("update items set label = 'changed' where id <= 100")
        conn.execute("delete from items where id between 400 and 450")
        snapshot = _rows(app_db)
        between = _now(conn)
        conn.execute("insert into items (id, label) values (1000, 'after the point')")
        conn.execute("update items set label = 'later' where id = 1")
    later = _rows(app_db)
    if source.major >= 17:
        second = backups.run(kind="incremental")  # restore goes through pg_combinebackup
        assert second.kind == "incremental" and second.parent == first.id
    with psycopg.connect(app_db, autocommit=True) as conn:
        conn.execute("insert into items (id, label) values (1001, 'newest')")
    newest = _rows(app_db)
    backups.catch_up_wal()

    done = backups.restore(scratch / "at", Point("time", time=between), keep_running=True)
    try:
        assert done.backup == first.id  # chosen: the newest backup ended before the point
        assert done.instance is not None
        assert _rows(done.instance.url("app")) == snapshot
        with psycopg.connect(done.instance.url("app"), autocommit=True) as conn:
            conn.execute("insert into items (id, label) values (5000, 'promoted')")
    finally:
        assert done.instance is not None
        done.instance.stop()
    latest = backups.restore(scratch / "latest", keep_running=True)
    try:
        assert latest.instance is not None
        assert _rows(latest.instance.url("app")) == newest != later
        if source.major >= 17:
            assert latest.backup == second.id
    finally:
        assert latest.instance is not None
        latest.instance.stop()


def test_refusals_change_nothing(source: Source, app_db: str, tmp_path: Path) -> None:
    backups = source.backups(repository=tmp_path / "repo", slot="pgw_refuse")
    backups.run()
    with psycopg.connect(app_db, autocommit=True) as conn:
        conn.execute("insert into items (id, label) values (2000, 'last')")
        last = _now(conn)
    backups.catch_up_wal()
    target = tmp_path / "target"
    with pytest.raises(RestoreRefused) as after:
        backups.restore(target, Point("time", time=last + dt.timedelta(minutes=5)))
    assert "after" in after.value.message or "not before the last" in after.value.message
    assert "recoverable window" in after.value.message and " .. " in after.value.message
    assert not target.exists()
    with pytest.raises(RestoreRefused, match="outside the recoverable window"):
        backups.restore(target, Point("time", time=last - dt.timedelta(days=1)))
    target.mkdir()
    (target / "PG_VERSION").write_text("precious")
    with pytest.raises(RestoreRefused, match="not empty"):
        backups.restore(target, Point())
    assert (target / "PG_VERSION").read_text() == "precious"


def test_drill_verifies_and_health_reports_it(source: Source, app_db: str, tmp_path: Path) -> None:
    backups = Backups(
        source.url,
        # gzip: the drill's extraction reads the compressed tar and checks its SHA-256
        source.backups(
            repository=tmp_path / "repo", slot="pgw_drill", compression="gzip:1"
        ).section,
        spec=parse_spec(SPEC, file="pgwarden.toml"),
    )
    record = backups.run()
    assert {f.name for f in record.files} >= {"base.tar.gz", "backup_manifest"}
    with psycopg.connect(app_db, autocommit=True) as conn:
        for i in range(5):
            conn.execute("insert into items (id, label) values (%s, 'drill')", (3000 + i,))
    backups.catch_up_wal()
    report = backups.verify(seed=7)
    assert report.ok, report.problems
    assert report.reached == report.target  # replay stopped exactly at the chosen commit
    assert report.indexes > 0 and report.tables > 0 and report.rows >= 400
    assert report.databases >= 2 and report.rto_seconds > 0
    stored = backups.repo.get(record.id).verification
    assert stored is not None and stored.ok and stored.target == report.target
    seen = health(source.url)
    assert seen.newest_backup is not None and seen.last_verified_ok is True
    assert seen.last_verified_age is not None and seen.wal_lag_bytes is not None
    # pgwarden's own mirror table does not make the declared database drift
    with Warden(app_db, spec=parse_spec(SPEC, file="pgwarden.toml")) as warden:
        assert warden.plan().empty


def test_cli_round(
    source: Source, app_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PGWARDEN_DATABASE_URL", app_db)
    (tmp_path / "pgwarden.toml").write_text(
        SPEC + '\n[backup]\nrepository = "repo"\nslot = "pgw_cli"\nmax_age = "1 hour"\n'
    )
    runner = CliRunner()
    ran = runner.invoke(app, ["backup", "run", "--json"])
    assert ran.exit_code == 0, ran.output
    backup_id = json.loads(ran.stdout)["id"]
    listed = runner.invoke(app, ["backup", "list", "--json"])
    assert [b["id"] for b in json.loads(listed.stdout)["backups"]] == [backup_id]
    assert json.loads(listed.stdout)["wal_archive"]["gap"] is None
    planned = runner.invoke(app, ["backup", "restore", "--target", "out", "--dry-run", "--json"])
    assert planned.exit_code == 0, planned.output
    assert json.loads(planned.stdout)["chain"] == [backup_id]
    assert not (tmp_path / "out").exists()  # a dry run writes nothing
    refused = runner.invoke(
        app, ["backup", "restore", "--target", "out", "--to", "2999-01-01T00:00Z"]
    )
    assert refused.exit_code == 1
    assert "outside the recoverable window" in refused.output
    dry = runner.invoke(app, ["backup", "prune", "--dry-run", "--json"])
    decisions = json.loads(dry.stdout)["backups"]
    assert decisions == [{"id": backup_id, "keep": True, "reasons": decisions[0]["reasons"]}]
    assert "newest backup" in decisions[0]["reasons"]


def test_worker_jobs_take_a_backup_when_due(source: Source, tmp_path: Path) -> None:
    from pgwarden.catalog import read_catalog
    from pgwarden.features import registered_features
    from pgwarden.maintenance import JobContext, collect_jobs

    # A database of its own: the warden.backups mirror other tests write is per database.
    with source.connect() as conn:
        conn.execute("create database jobs")
    app_db = source.instance.url("jobs")

    spec = parse_spec(
        f'[backup]\nrepository = "{tmp_path / "repo"}"\nslot = "pgw_jobs"\nevery = "1 day"\n',
        file="pgwarden.toml",
    )
    from pgwarden import Warden

    def doctor() -> list[tuple[str, str]]:
        with Warden(app_db, spec=spec) as warden:
            report = warden.monitor.doctor(checks=["pgwarden.backup"])
        return [(f.severity.value, f.advice.split(":")[0]) for f in report.findings]

    # The doctor sees what the worker has (not) done: no backup is critical.
    assert doctor() == [("critical", "no backup has been taken")]
    with psycopg.connect(app_db, autocommit=True) as conn:
        jobs = {j.name: j for j in collect_jobs(spec, read_catalog(conn), registered_features())}
        assert {"backup", "backup-verify", "backup-prune"} <= set(jobs)
        ctx = JobContext(conn=conn, spec=spec, now=dt.datetime.now(dt.UTC))
        rows, detail = jobs["backup"].run(ctx)
        assert rows == 1 and "full" in detail
        # A backup no drill has restored yet is only a warning.
        assert ("warning", "no backup has been verified by a restore drill") in doctor()
        with Warden(app_db, spec=spec) as warden:
            notes = warden.status().notes
        assert any(n.startswith("backup: 1 backups, newest 0.0 h ago") for n in notes), notes
        assert "backup: no backup has been verified by a restore drill" in notes
        assert not [f for f in doctor() if f[0] == "critical"]
        rows, detail = jobs["backup"].run(ctx)
        assert rows == 0 and "h old" in detail  # not due again for a day
        assert len(Backups.from_spec(spec, app_db).records()) == 1
        bare = collect_jobs(
            parse_spec("", file="pgwarden.toml"), read_catalog(conn), registered_features()
        )
        assert not [j for j in bare if j.feature == "backup"]  # no [backup], no backup jobs


def test_wal_streaming_runs_until_stopped_and_alone(
    source: Source, app_db: str, tmp_path: Path
) -> None:
    import threading
    import time

    from pgwarden.errors import BackupError

    backups = source.backups(repository=tmp_path / "repo", slot="pgw_stream")
    stop = threading.Event()
    failures: list[BaseException] = []

    def stream() -> None:
        try:
            backups.stream_wal(stop)
        except BaseException as exc:  # reported below
            failures.append(exc)

    streamer = threading.Thread(target=stream)
    streamer.start()
    try:
        with psycopg.connect(app_db, autocommit=True) as conn:
            conn.execute("insert into items (id, label) values (7000, 'streamed')")
            row = conn.execute("select pg_current_wal_flush_lsn()").fetchone()
            assert row is not None
            target = row[0]
            for _ in range(300):  # bounded: the streamer confirms what it flushed
                done = conn.execute(
                    "select restart_lsn >= %s from pg_replication_slots where slot_name = 'pgw_stream'",
                    (target,),
                ).fetchone()
                if done == (True,):
                    break
                time.sleep(0.1)
            assert done == (True,)
        with pytest.raises(BackupError, match="already streaming"):
            backups.stream_wal(threading.Event())
    finally:
        stop.set()
        streamer.join(30)
    assert not streamer.is_alive() and not failures
    assert list((tmp_path / "repo" / "wal").glob("0000000*"))
    backups.catch_up_wal()  # the lock was released: a catch-up runs


def test_drill_checks_name_drift_from_the_ledger(source: Source) -> None:
    """The checks a drill runs on the restored server, run here on a database whose
    pgwarden-owned trigger was dropped by hand: the drift is named, with or without the
    declaration."""
    from pgwarden.ops.backup._drill import DrillReport, _check

    with source.connect() as conn:
        conn.execute("create database drifted")
    try:
        url = source.instance.url("drifted")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("create table items (id int primary key, label text not null)")
        spec = parse_spec(SPEC, file="pgwarden.toml")
        with Warden(url, spec=spec) as warden:
            warden.apply()
        report = DrillReport("x")
        _check(source.instance.url, report, spec, True)
        assert report.ok, report.problems  # amcheck and counts pass on a healthy database
        with psycopg.connect(url, autocommit=True) as conn:
            trigger = conn.execute(
                "select tgname from pg_trigger where tgrelid = 'items'::regclass and not tgisinternal"
            ).fetchone()
            assert trigger is not None
            conn.execute(f'drop trigger "{trigger[0]}" on items')
        for declared in (spec, None):
            report = DrillReport("x")
            _check(source.instance.url, report, declared, True)
            assert any(
                p.startswith("drifted: pgwarden's") and "missing" in p for p in report.problems
            ), report.problems
    finally:
        with source.connect() as conn:
            conn.execute("drop database drifted with (force)")


def test_wal_from_the_servers_own_archive_command(
    source: Source, app_db: str, tmp_path: Path, scratch: Path
) -> None:
    """wal = "archive": no slot, no pg_receivewal; the WAL the server's archive_command
    copies is what restores replay."""
    backups = source.backups(
        repository=tmp_path / "repo", wal="archive", wal_dir=source.home / "archive"
    )
    record = backups.run()
    with psycopg.connect(app_db, autocommit=True) as conn:
        conn.execute("insert into items (id, label) values (8000, 'archived')")
        snapshot = _rows(app_db)
        between = _now(conn)
        conn.execute("insert into items (id, label) values (8001, 'too late')")
    backups.catch_up_wal()  # switch, then wait for the server to archive the segment
    assert not (tmp_path / "repo" / "wal").exists() or not list(
        (tmp_path / "repo" / "wal").iterdir()
    )
    with source.connect() as conn:
        assert conn.execute(
            "select count(*) from pg_replication_slots where slot_name = %s",
            (backups.section.slot,),
        ).fetchone() == (0,)
    done = backups.restore(scratch / "at", Point("time", time=between), keep_running=True)
    try:
        assert done.backup == record.id and done.instance is not None
        assert _rows(done.instance.url("app")) == snapshot
    finally:
        assert done.instance is not None
        done.instance.stop()


def test_cli_rejects_a_bad_point_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, app_db: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PGWARDEN_DATABASE_URL", app_db)
    (tmp_path / "pgwarden.toml").write_text('[backup]\nrepository = "repo"\n')
    runner = CliRunner()
    for args, message in (
        (["--lsn", "zz"], "is not a WAL position"),
        (["--to", "yesterday"], "is not an ISO 8601 time"),
        (["--to", "2026-01-01T00:00Z", "--latest"], "give one of"),
    ):
        result = runner.invoke(app, ["backup", "restore", "--target", "out", *args])
        assert result.exit_code == 1 and message in result.output, result.output
    assert not (tmp_path / "out").exists() and not (tmp_path / "repo").exists()
