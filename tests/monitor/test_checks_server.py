"""Configuration, database-wide counters and roles: each planted through what a session or
the cluster can change safely (session settings via connection options, a real deadlock,
roles created and dropped), with the look-alike beside it."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql
from tests.monitor.conftest import found, objects, warden_for

from pgwarden.ops.monitor import Severity


def _with_options(url: str, options: str) -> str:
    params = psycopg.conninfo.conninfo_to_dict(url)
    params["options"] = options
    return psycopg.conninfo.make_conninfo(**params)  # type: ignore[arg-type]


def test_session_settings_are_judged(module_db: str) -> None:
    off = _with_options(
        module_db,
        "-c track_io_timing=off -c track_counts=off "
        "-c idle_in_transaction_session_timeout=0 -c password_encryption=md5",
    )
    on = _with_options(
        module_db,
        "-c track_io_timing=on -c track_counts=on "
        "-c idle_in_transaction_session_timeout=10min "
        "-c password_encryption=scram-sha-256",
    )
    checks = ["config", "security.md5_passwords"]
    with warden_for(off) as warden:
        bad = warden.monitor.doctor(checks)
    with warden_for(on) as warden:
        good = warden.monitor.doctor(checks)
    assert "setting track_io_timing" in objects(bad, "config.track_io_timing")
    (fix,) = [f.fix for f in found(bad, "config.track_io_timing")]
    assert fix is not None and fix.statements[0] == "ALTER SYSTEM SET track_io_timing = 'on'"
    assert "setting track_counts" in objects(bad, "config.autovacuum")
    assert objects(bad, "config.idle_timeout") == {"setting idle_in_transaction_session_timeout"}
    assert "setting password_encryption" in objects(bad, "security.md5_passwords")
    for check in ("config.track_io_timing", "config.idle_timeout"):
        assert not found(good, check), check
    assert "setting track_counts" not in objects(good, "config.autovacuum")
    # autovacuum itself is server-wide (the machine's 15 runs with it off): judged as it is.
    with psycopg.connect(module_db) as conn:
        autovacuum = conn.execute("show autovacuum").fetchone()
    assert ("setting autovacuum" in objects(good, "config.autovacuum")) == (autovacuum == ("off",))
    assert "setting password_encryption" not in objects(good, "security.md5_passwords")


def test_wal_level_matters_only_when_wal_capture_is_declared(
    module_db: str, module_conn: psycopg.Connection[Any]
) -> None:
    module_conn.execute("create table walt (id int primary key)")
    level = module_conn.execute("show wal_level").fetchone()
    declared = '[tables."public.walt"]\naudit = { capture = "wal" }\n'
    with warden_for(module_db, declared) as warden:
        with_wal = warden.monitor.doctor(["config.wal_level"])
    with warden_for(module_db) as warden:
        without = warden.monitor.doctor(["config.wal_level"])
    if level == ("logical",):  # the embedded server
        assert not with_wal.findings and not without.findings
    else:  # the machine's 15: replica
        (finding,) = with_wal.findings
        assert finding.severity is Severity.CRITICAL
        assert [f.severity for f in without.findings] == [Severity.INFO]


def test_checkpoints_forced_by_requests(
    module_db: str, module_conn: psycopg.Connection[Any]
) -> None:
    def counts() -> tuple[int, int]:
        major = int(str(module_conn.execute("show server_version_num").fetchone()[0])) // 10000  # type: ignore[index]
        view = (
            "select num_timed, num_requested from pg_stat_checkpointer"
            if major >= 17
            else "select checkpoints_timed, checkpoints_req from pg_stat_bgwriter"
        )
        row = module_conn.execute(view).fetchone()
        assert row is not None
        return int(row[0]), int(row[1])

    timed, requested = counts()
    if requested <= timed and timed < 40:  # a young server: plant requested checkpoints
        for _ in range(timed - requested + 10):
            module_conn.execute("checkpoint")
    timed, requested = counts()
    expected = timed + requested >= 10 and requested > timed
    with warden_for(module_db) as warden:
        report = warden.monitor.doctor(["config.checkpoints"])
    assert bool(found(report, "config.checkpoints")) == expected
    if expected:
        (finding,) = report.findings
        assert finding.evidence["requested"] >= requested


def test_deadlocks_are_counted(admin_url: str, template_db: str) -> None:
    from tests.conftest import _with_db, scratch_database

    with scratch_database(admin_url, "pgwarden_dl", template_db) as name:
        url = _with_db(admin_url, name)
        with warden_for(url) as warden:
            assert not warden.monitor.doctor(["database.deadlocks"]).findings  # look-alike
        with psycopg.connect(url, autocommit=True) as setup:
            setup.execute("create table dl (id int primary key); insert into dl values (1), (2)")
        a, b = psycopg.connect(url), psycopg.connect(url)
        errors: list[BaseException] = []
        try:
            a.execute("update dl set id = id where id = 1")
            b.execute("update dl set id = id where id = 2")

            def cross(conn: psycopg.Connection[Any], key: int) -> None:
                try:
                    conn.execute("update dl set id = id where id = %s", (key,))
                except psycopg.errors.DeadlockDetected as exc:
                    errors.append(exc)

            threads = [
                threading.Thread(target=cross, args=(a, 2)),
                threading.Thread(target=cross, args=(b, 1)),
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
        finally:
            a.close()
            b.close()
        assert len(errors) == 1
        with psycopg.connect(url, autocommit=True) as probe:
            probe.execute("select pg_stat_force_next_flush()")
        with warden_for(url) as warden:
            (finding,) = warden.monitor.doctor(["database.deadlocks"]).findings
        assert finding.evidence["deadlocks"] >= 1


@pytest.fixture
def roles(module_conn: psycopg.Connection[Any]) -> Iterator[tuple[str, str, str]]:
    tag = uuid.uuid4().hex[:8]
    names = (f"su_login_{tag}", f"su_nologin_{tag}", f"md5_{tag}")
    module_conn.execute(sql.SQL("create role {} superuser login").format(sql.Identifier(names[0])))
    module_conn.execute(
        sql.SQL("create role {} superuser nologin").format(sql.Identifier(names[1]))
    )
    with module_conn.transaction():
        module_conn.execute("set local password_encryption = 'md5'")
        module_conn.execute(
            sql.SQL("create role {} login password 'not-a-secret'").format(sql.Identifier(names[2]))
        )
    yield names
    for name in names:
        module_conn.execute(sql.SQL("drop role {}").format(sql.Identifier(name)))


def test_login_superusers_and_md5_hashes(module_db: str, roles: tuple[str, str, str]) -> None:
    login, nologin, md5 = roles
    with warden_for(module_db) as warden:
        report = warden.monitor.doctor(["security.superuser_login", "security.md5_passwords"])
    supers = objects(report, "security.superuser_login")
    assert f"role {login}" in supers and f"role {nologin}" not in supers
    assert "role postgres" not in supers  # the bootstrap superuser
    hashes = objects(report, "security.md5_passwords")
    assert f"role {md5}" in hashes and f"role {login}" not in hashes
