"""The blueprint's foundation: reversible migrations, the declaration applied, idempotence."""

from __future__ import annotations

import psycopg

from pgwarden import Warden
from pgwarden.blueprints import kitaab
from pgwarden.blueprints.kitaab import _migrate


def test_install_is_complete_and_idempotent(kitaab_url: str, role_prefix: str) -> None:
    # A second install on the cloned, installed database (migrations as the owner role).
    warden = kitaab.install(kitaab_url, role_prefix=role_prefix)
    try:
        assert warden.plan(only=kitaab.tables()).changes == ()
        assert _migrate.current(kitaab_url) == "0005"
        with psycopg.connect(kitaab_url) as conn:
            views = {r[0] for r in conn.execute(
                "select viewname from pg_views where schemaname = 'kitaab'")}  # fmt: skip
            assert {"entries__versions", "scales__versions", "permissions__versions",
                    "users__live", "deeds__live", "entries__all"} <= views  # fmt: skip
            parts = {r[0] for r in conn.execute(
                "select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid "
                "where i.inhparent = 'kitaab.entries'::regclass")}  # fmt: skip
            assert "entries__default" in parts and len(parts) >= 3
    finally:
        warden.close()


def test_migrations_are_reversible(kitaab_url: str, role_prefix: str) -> None:
    kitaab.teardown(kitaab_url, role_prefix=role_prefix)
    with psycopg.connect(kitaab_url) as conn:
        left = conn.execute(
            "select relname from pg_class where relnamespace = 'kitaab'::regnamespace "
            "and relname <> 'alembic_version' and relname <> 'alembic_version_pkc'"
        ).fetchall()
        assert left == []
        # Nothing of a table's is left; the stores' functions stay with the stores' state.
        owned = conn.execute(
            "select count(*) from warden.owned_objects where table_name <> 'null'"
        ).fetchone()
        assert owned == (0,)
        left = conn.execute(
            "select distinct kind from warden.owned_objects where table_name = 'null'"
        ).fetchall()
        # The roles stay too (cluster-wide), with their settings, grants and schema ownership.
        roles = {
            ("role",),
            ("role_setting",),
            ("grants",),
            ("ownership",),
            ("warden_grants",),
            ("default_privileges",),
        }
        assert set(left) <= {("function",), ("view",)} | roles
    assert _migrate.current(kitaab_url) is None
    again = kitaab.install(kitaab_url, role_prefix=role_prefix)
    try:
        assert again.plan(only=kitaab.tables()).changes == ()
    finally:
        again.close()


def test_declaration_is_the_shipped_file() -> None:
    spec = kitaab.declaration()
    entries = spec.tables[next(t for t in spec.tables if t.name == "entries")]
    assert {
        "audit",
        "versioning",
        "partition",
        "archive",
        "timestamps",
        "search",
        "tenancy",
    } == set(entries.features)
    users = spec.tables[next(t for t in spec.tables if t.name == "users")]
    assert "soft_delete" in users.features
    assert isinstance(Warden, type)
