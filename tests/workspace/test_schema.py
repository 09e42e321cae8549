"""The install: complete, idempotent, and reversible (teardown, then install again)."""

from __future__ import annotations

import psycopg
from tests.workspace.conftest import T0, scalar

from pgwarden.blueprints import workspace
from pgwarden.blueprints.workspace import _migrate


def test_install_is_idempotent_and_reversible(workspace_url: str, role_prefix: str) -> None:
    warden = workspace.install(workspace_url, now=T0, role_prefix=role_prefix)
    try:
        assert warden.plan(only=workspace.tables(warden.spec)).changes == ()
    finally:
        warden.close()
    forced = scalar(workspace_url, "select count(*) from pg_class c join pg_namespace n on"
                    " n.oid = c.relnamespace where n.nspname = 'workspace' and c.relkind in"
                    " ('r', 'p') and c.relforcerowsecurity and c.relname not like '%%\\_\\_p%%'"
                    " and c.relname <> 'events__default'")  # fmt: skip
    assert forced == 12  # every table but api_tokens and alembic_version
    workspace.teardown(workspace_url, role_prefix=role_prefix)
    assert _migrate.current(workspace_url) is None
    with psycopg.connect(workspace_url) as conn:
        assert conn.execute("select to_regnamespace('workspace_analytics')").fetchone() == (None,)
        left = conn.execute(
            "select kind, feature from warden.owned_objects"
            " where table_name <> 'null'::jsonb or kind = 'materialized_view'"
        ).fetchall()
    assert left == []  # what was built for the tables and the views is gone
    warden = workspace.install(workspace_url, now=T0, role_prefix=role_prefix)
    try:
        assert warden.plan(only=workspace.tables(warden.spec)).changes == ()
    finally:
        warden.close()
