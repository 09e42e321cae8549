"""``--fix`` through the apply machinery: the finding goes away, no lock is waited for longer
than lock_timeout (retries, then a clear error changing nothing), and the INVALID index a
failed concurrent build leaves is cleaned up before the next attempt."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from tests.monitor.conftest import objects, warden_for

from pgwarden.errors import LockNotGranted

TOML = """
[database]
lock_timeout = "100ms"
retries = 2
"""


def _invalid(conn: psycopg.Connection[Any]) -> list[str]:
    rows = conn.execute(
        "select indexrelid::regclass::text from pg_index where not indisvalid "
        "and indrelid = 'kids'::regclass"
    ).fetchall()
    return [r[0] for r in rows]


def test_fixes_remove_their_findings(module_db: str, module_conn: psycopg.Connection[Any]) -> None:
    module_conn.execute(
        "create table dupes (id int primary key, a int); create index dupes_a1 on dupes (a); "
        "create index dupes_a2 on dupes (a)"
    )
    module_conn.execute("create table nokey (id int primary key, v int)")
    module_conn.execute("create sequence small_seq as smallint maxvalue 100")
    module_conn.execute("select setval('small_seq', 99)")
    with warden_for(module_db, TOML) as warden:
        for check, obj in [
            ("index.duplicate", "public.dupes_a2"),
            ("sequence.exhaustion", "public.small_seq"),
        ]:
            assert obj in objects(warden.monitor.doctor([check]), check)
            (fixed,) = warden.monitor.fix(check, obj)
            assert fixed.object == obj
            assert obj not in objects(warden.monitor.doctor([check]), check)
    row = module_conn.execute(
        "select data_type::text from pg_sequences where sequencename = 'small_seq'"
    ).fetchone()
    assert row == ("bigint",)


def test_concurrent_build_waits_no_longer_than_lock_timeout_and_cleans_up(
    module_db: str, module_conn: psycopg.Connection[Any]
) -> None:
    module_conn.execute("create table moms (id int primary key)")
    module_conn.execute("create table kids (id int primary key, mom int references moms)")
    module_conn.execute("insert into moms values (1)")
    obj = "public.kids.kids_mom_fkey"
    writer = psycopg.connect(module_db)
    writer.execute("insert into kids values (1, 1)")  # an open writer: CIC must wait for it
    try:
        with warden_for(module_db, TOML) as warden:
            with pytest.raises(LockNotGranted) as failure:
                warden.monitor.fix("index.fk_missing", obj)
            assert "3 attempts" in failure.value.message
            # The failed builds left an INVALID index that cannot be dropped while the writer
            # is open either; the error says so, and the finding stays.
            assert _invalid(module_conn) == ["kids_mom_idx"]
            assert "kids_mom_idx" in (failure.value.hint or "")
            assert obj in objects(warden.monitor.doctor(["index.fk_missing"]), "index.fk_missing")
            writer.commit()
            # The next run drops the leftover first (IF NOT EXISTS would keep it otherwise).
            warden.monitor.fix("index.fk_missing", obj)
            assert obj not in objects(
                warden.monitor.doctor(["index.fk_missing"]), "index.fk_missing"
            )
            assert _invalid(module_conn) == []
            assert objects(warden.monitor.doctor(["index.invalid"]), "index.invalid") == set()
    finally:
        writer.close()
    assert module_conn.execute("select count(*) from kids").fetchone() == (1,)
