"""pgwarden's own features as the doctor sees them: partitions not made ahead, rows in a
default partition, purges and archiving due (the maintenance jobs in dry-run mode), and the
WAL-capture slot; each reported while due and gone once ``maintain`` has run."""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg
from tests.monitor.conftest import objects, warden_for

SPEC = """
[tables."public.events"]
partition = { column = "at", interval = "1 month", premake = 2 }

[tables."public.members"]
soft_delete = { purge = "1 day" }

[tables."public.notes"]
archive = { after = "30 days", column = "written" }
"""
CHECKS = ["pgwarden"]


def test_feature_state_findings_come_and_go_with_maintain(
    module_db: str, module_conn: psycopg.Connection[Any]
) -> None:
    module_conn.execute(
        "create table events (id bigint generated always as identity, at timestamptz not null, "
        "primary key (id, at)) partition by range (at)"
    )
    module_conn.execute("create table members (id int primary key, name text)")
    module_conn.execute("create table notes (id int primary key, written date not null)")
    module_conn.execute("insert into members values (1, 'old'), (2, 'recent'), (3, 'live')")
    module_conn.execute("insert into notes values (1, current_date - 90), (2, current_date)")
    with warden_for(module_db, SPEC) as warden:
        warden.apply()
        module_conn.execute("delete from members where id in (1, 2)")  # soft deletes
        module_conn.execute(
            "update members set deleted_at = now() - interval '2 days' where id = 1"
        )
        module_conn.execute("insert into events (at) values ('2020-06-01')")  # to the default
        due = warden.monitor.doctor(CHECKS)
        assert objects(due, "pgwarden.partitions_ahead") == {"public.events"}
        assert objects(due, "pgwarden.default_partition_rows") == {"public.events"}
        (purge,) = [f for f in due.findings if f.check == "pgwarden.purge_due"]
        assert purge.object == "public.members" and purge.evidence["rows"] == 1  # not 'recent'
        (archive,) = [f for f in due.findings if f.check == "pgwarden.archive_backlog"]
        assert archive.object == "public.notes" and archive.evidence["rows"] == 1
        warden.maintain(now=dt.datetime.now(dt.UTC))
        done = warden.monitor.doctor(CHECKS)
    assert not [f for f in done.findings if f.check != "pgwarden.audit_growth"], done.findings


def test_wal_capture_slot_missing(module_db: str, module_conn: psycopg.Connection[Any]) -> None:
    level = module_conn.execute("show wal_level").fetchone()
    module_conn.execute("create table captured (id int primary key)")
    spec = '[tables."public.captured"]\naudit = { capture = "wal" }\n'
    with warden_for(module_db, spec) as warden:
        if level != ("logical",):  # the machine's 15: config.wal_level reports it instead
            assert objects(warden.monitor.doctor(["config.wal_level"]), "config.wal_level")
            return
        warden.apply()
        assert not objects(warden.monitor.doctor(["pgwarden.wal_capture"]), "pgwarden.wal_capture")
        with warden.connect(autocommit=True) as conn:
            from pgwarden.features.audit._wal import drop_slot

            drop_slot(conn)
        missing = warden.monitor.doctor(["pgwarden.wal_capture"])
    (finding,) = missing.findings
    assert finding.severity.value == "critical" and finding.object.startswith("slot ")


def test_audit_store_growth(module_db: str, module_conn: psycopg.Connection[Any]) -> None:
    module_conn.execute("create table audited (id int primary key, v text)")
    spec = '[tables."public.audited"]\naudit = true\n'
    with warden_for(module_db, spec) as warden:
        warden.apply()
        module_conn.execute("insert into audited select g, 'x' from generate_series(1, 500) g")
        calm = warden.monitor.doctor(["pgwarden.audit_growth"])
    with warden_for(module_db, spec + '\n[monitor]\naudit_store_size = "8 kB"\n') as warden:
        grown = warden.monitor.doctor(["pgwarden.audit_growth"])
    assert not calm.findings  # far below the 1 GB default
    (finding,) = grown.findings
    assert finding.object == "audit store" and finding.evidence["bytes"] >= 8192


def test_audited_columns_that_look_personal_are_named_unless_redacted_or_excluded(
    module_db: str, module_conn: psycopg.Connection[Any]
) -> None:
    module_conn.execute(
        "create table customers (id int primary key, email text, phone_number text,"
        " password_hash text, birth_date date, notes text, emailed boolean, updated_at date)"
    )
    spec = (
        '[tables."public.customers"]\n'
        'audit = { redact = ["phone_number"], exclude = ["password_hash"] }\n'
    )
    with warden_for(module_db, spec) as warden:
        warden.apply()
        (finding,) = [
            f
            for f in warden.monitor.doctor(["pgwarden.audit_personal_data"]).findings
            if f.object == "public.customers"
        ]
    # not phone_number (redacted), password_hash (excluded), emailed (not the word)
    assert finding.detail == "email, birth_date" and finding.evidence == {"columns": 2}
    assert finding.severity == "info"
