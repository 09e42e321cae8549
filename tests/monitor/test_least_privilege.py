"""The doctor as a role that is only a member of pg_monitor: every check runs or says why it
cannot judge; nothing is guessed from what the role cannot see; attack: it cannot apply fixes
it has no right to."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql
from tests.monitor.conftest import objects, warden_for

from pgwarden.errors import ApplyError
from pgwarden.ops.monitor import Report


@pytest.fixture(scope="module")
def monitor_url(module_db: str, module_conn: psycopg.Connection[Any]) -> Iterator[str]:
    role = f"mon_{uuid.uuid4().hex[:10]}"
    ident = sql.Identifier(role)
    module_conn.execute(sql.SQL("create role {} login in role pg_monitor").format(ident))
    params = psycopg.conninfo.conninfo_to_dict(module_db)
    params["user"] = role
    try:
        yield psycopg.conninfo.make_conninfo(**params)  # type: ignore[arg-type]
    finally:
        db = sql.Identifier(str(params["dbname"]))
        module_conn.execute(sql.SQL("revoke all on database {} from {}").format(db, ident))
        module_conn.execute(sql.SQL("drop owned by {}").format(ident))
        module_conn.execute(sql.SQL("drop role {}").format(ident))


@pytest.fixture(scope="module")
def report(monitor_url: str, module_conn: psycopg.Connection[Any]) -> Iterator[Report]:
    module_conn.execute("create table t (id int primary key, a int, pad text)")
    module_conn.execute("create index t_a1 on t (a); create index t_a2 on t (a)")
    module_conn.execute("create sequence almost as int maxvalue 100; select setval('almost', 99)")
    module_conn.execute(
        "insert into t select g, g, repeat('x', 80) from generate_series(1, 20000) g"
    )
    module_conn.execute("delete from t where id % 5 <> 0")
    module_conn.execute("vacuum analyze t")
    holder = psycopg.connect(module_conn.info.dsn)  # another role's idle transaction
    holder.execute("select 1")
    toml = '[monitor]\nmin_bloat_size = "100 kB"\nidle_in_transaction = "1ms"\n'
    try:
        with warden_for(monitor_url, toml) as warden:
            yield warden.monitor.doctor()
    finally:
        holder.close()


def test_every_check_runs_or_says_why(report: Report) -> None:
    notices = {n.check: n.reason for n in report.notices}
    assert "superuser" in notices["security.md5_passwords"]
    assert "not visible" in notices["sequence.exhaustion"]
    # pg_stats hides other roles' columns: bloat is not guessed (the anchor read 88 %).
    assert "public.t" not in objects(report, "table.bloat")
    assert "table.bloat" in notices


def test_what_pg_monitor_sees_is_still_reported(report: Report) -> None:
    assert "public.t_a2" in objects(report, "index.duplicate")
    assert objects(report, "connections.idle_in_transaction")  # other roles' sessions too


def test_cannot_apply_a_fix_it_has_no_right_to(
    monitor_url: str, module_conn: psycopg.Connection[Any]
) -> None:
    with warden_for(monitor_url) as warden, pytest.raises(ApplyError) as failure:
        warden.monitor.fix("index.duplicate", "public.t_a2")
    assert "must be owner" in failure.value.message
    assert module_conn.execute("select to_regclass('public.t_a2')").fetchone() != (None,)
