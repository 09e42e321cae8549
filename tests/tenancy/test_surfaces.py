"""pgwarden's own surfaces under tenancy: the __live, __all and __versions views, the audit
reads (history, as_of, the feed, the log), NOTIFY, soft-delete restore, the archive."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from psycopg import sql
from tests.tenancy.conftest import Roles, as_role, grant, sign

from pgwarden import SoftDeleteError, Warden

SPEC = """
[tables."public.notes"]
tenancy = { column = "org_id" }
audit = true
versioning = true
soft_delete = true
archive = { after = "1 year", column = "written" }
"""


def _app_reads_audit(conn: psycopg.Connection[Any], role: str) -> None:
    """What a deployment grants an app role that reads the trail: the store's tables (not
    warden.secrets) and the read functions. The policies are what keeps tenants apart."""
    r = sql.Identifier(role)
    for statement in (
        "GRANT USAGE ON SCHEMA warden, archive TO {r}",
        "GRANT SELECT ON warden.audit_events, warden.audit_events_archive, warden.audit_contexts,"
        " warden.audit_tables, warden.audit_columns, warden.audit_events_all,"
        " warden.audit_facts_all, warden.audit_wal TO {r}",
        "GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA warden TO {r}",
        "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA archive TO {r}",
    ):
        conn.execute(sql.SQL(statement).format(r=r))


@pytest.mark.skipif(False, reason="")
def test_a_tenant_sees_only_its_own_through_every_surface(
    conn: psycopg.Connection[Any], make_warden: Callable[..., Warden], roles: Roles, db_url: str
) -> None:
    conn.execute(
        "create table notes (id bigserial primary key, org_id bigint not null, body text,"
        " written date not null default current_date)"
    )
    grant(conn, roles)
    warden = make_warden(roles.toml() + SPEC)
    warden.apply()
    assert warden.plan().empty
    if warden.catalog().server.major < 15:
        pytest.skip("security_invoker views need PostgreSQL 15+ (tenancy refuses these on 14)")
    grant(conn, roles)  # the views made by the apply
    _app_reads_audit(conn, roles.app)
    key = warden.tenancy.key()
    app = warden_as_app = Warden(as_role(db_url, roles.app), spec=warden.spec, tenant_key=key)
    try:
        ids = {}
        for tenant in ("1", "2"):
            with warden_as_app.session(tenant=tenant, actor=f"user:{tenant}") as db:
                ids[tenant] = db.execute(
                    "insert into notes (body) values (%s) returning id", [f"secret of {tenant}"]
                ).fetchone()[0]
                db.execute("update notes set body = body || '!'")
        # A note of tenant 1 written three years ago, archived by maintenance.
        conn.execute("insert into notes (org_id, body, written) values (1, 'old', '2001-01-01')")
        warden.maintain()
        with psycopg.connect(as_role(db_url, roles.app)) as listener:
            listener.execute("listen pgwarden_changes")
            listener.commit()
            with app.session(tenant="1") as db:
                db.execute("delete from notes where id = %s", [ids["1"]])  # soft
            payloads = [n.payload for n in listener.notifies(timeout=2, stop_after=1)]
            assert payloads in ([], [""])  # a wake-up, never a row

        with psycopg.connect(as_role(db_url, roles.app)) as c:
            sign(c, key, "2")
            reads = {
                "table": "select org_id from notes",
                "live": "select org_id from notes__live",
                "all": "select org_id from notes__all",
                "archive": "select org_id from archive.notes",
                "versions": "select org_id from notes__versions",
                "as_of": "select org_id from warden.as_of(null::notes, now())",
                "events": "select coalesce(new_row, old_row)->>'org_id' from"
                " warden.audit_events_all",
                "feed": "select (coalesce(new_row, old_row)->>'org_id')::bigint from"
                " warden.changes_after('0'::xid8, 0, 1000, null)",
                "contexts": "select tenant::bigint from warden.audit_contexts",
            }
            for name, query in reads.items():
                seen = {int(r[0]) for r in c.execute(query) if r[0] is not None}
                assert seen <= {2}, (name, seen)
            history = (
                "select op from warden.history('public.notes',"
                " warden.audit_key('public.notes', array[%s]))"
            )
            assert c.execute(history, [str(ids["1"])]).fetchall() == []
            assert [r[0] for r in c.execute(history, [str(ids["2"])])] == ["insert", "update"]
            # Restoring another tenant's soft-deleted row, or the archived one: nothing moves.
            assert (
                c.execute("update notes set deleted_at = null where id = %s", [ids["1"]]).rowcount
                == 0
            )
            assert c.execute("delete from archive.notes").rowcount == 0
            c.rollback()
        # Refused: the row is not visible to it (or no privilege on what restore reads).
        with pytest.raises((psycopg.Error, SoftDeleteError)):
            app.soft_delete.restore("public.notes", ids["1"])
        assert conn.execute(
            "select deleted_at is not null from notes where id = %s", [ids["1"]]
        ).fetchone()[0]
        assert warden.archive.restore("public.notes", where="true") == 1  # the admin can
    finally:
        app.close()
