"""``settings`` of a declared role: its sessions' defaults in this database, owned like the
rest of ``[roles]`` (plan, drift, exact removal), refused when no role default can hold them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from tests.roles.conftest import Names, login

from pgwarden import Warden
from pgwarden.errors import RolesError

SETUP = "create schema app; create table app.items (id serial primary key, name text);"


def declaration(names: Names, settings: str) -> str:
    return (
        '[roles]\nschemas = ["app"]\n'
        f'owner = "{names.owner}"\n'
        f'app = {{ name = "{names.app}", settings = {{ {settings} }} }}\n'
    )


def stored(conn: psycopg.Connection[Any], role: str) -> list[str]:
    """The role's defaults, as the catalog keeps them, in every database."""
    row = conn.execute(
        """select coalesce(array_agg(s.cfg order by d.setdatabase, s.cfg), '{}')
             from pg_db_role_setting d cross join lateral unnest(d.setconfig) s(cfg)
            where d.setrole = (select oid from pg_roles where rolname = %s)""",
        (role,),
    ).fetchone()
    assert row is not None
    return list(row[0])


def shown(db_url: str, role: str, *names: str) -> list[str]:
    with login(db_url, role) as session:
        return [str(session.execute(f"show {n}").fetchone()[0]) for n in names]  # type: ignore[index]


def test_settings_apply_to_the_roles_sessions_here_and_go_exactly(
    conn: psycopg.Connection[Any],
    db_url: str,
    names: Names,
    make_warden: Callable[[str], Warden],
) -> None:
    conn.execute(SETUP)
    text = declaration(
        names,
        'plan_cache_mode = "force_generic_plan", statement_timeout = "5s", '
        'search_path = ["app", "public"], jit = false',
    )
    warden = make_warden(text)
    plan = warden.plan()
    described = [c.description for c in plan.changes if c.ref and c.ref.kind == "role_setting"]
    assert len(described) == 4
    assert any("statement_timeout = 5s" in d for d in described), described
    warden.apply()
    assert warden.plan().empty
    assert shown(
        db_url, names.app, "plan_cache_mode", "statement_timeout", "search_path", "jit"
    ) == [
        "force_generic_plan",
        "5s",
        "app, public",
        "off",
    ]
    # This database only: the row names it.
    here = conn.execute(
        """select count(*) from pg_db_role_setting
            where setrole = (select oid from pg_roles where rolname = %s)
              and setdatabase = (select oid from pg_database where datname = current_database())""",
        (names.app,),
    ).fetchone()
    assert here == (1,)
    assert len(stored(conn, names.app)) == 4

    # A changed value is planned and applied in place.
    changed = make_warden(declaration(names, 'statement_timeout = "7s"'))
    changed.apply()
    assert changed.plan().empty
    assert shown(db_url, names.app, "statement_timeout", "plan_cache_mode") == ["7s", "auto"]

    make_warden("").apply()
    assert stored(conn, names.app) == []


def test_a_setting_changed_by_hand_is_drift(
    conn: psycopg.Connection[Any],
    db_url: str,
    names: Names,
    make_warden: Callable[[str], Warden],
) -> None:
    conn.execute(SETUP)
    warden = make_warden(declaration(names, 'lock_timeout = "2s"'))
    warden.apply()
    dbname = conn.info.dbname
    for by_hand in (
        f'alter role "{names.app}" in database "{dbname}" reset lock_timeout',
        f'alter role "{names.app}" in database "{dbname}" set lock_timeout = \'9s\'',
    ):
        conn.execute(by_hand)
        repairs = {str(c.ref) for c in warden.plan().changes if c.action == "repair"}
        assert f"role_setting {names.app}.lock_timeout" in repairs, by_hand
        warden.apply()
        assert shown(db_url, names.app, "lock_timeout") == ["2s"]


def test_an_adopted_roles_own_defaults_come_back(
    conn: psycopg.Connection[Any], names: Names, make_warden: Callable[[str], Warden]
) -> None:
    conn.execute(SETUP)
    dbname = conn.info.dbname
    conn.execute(
        f"""create role "{names.app}" login;
            alter role "{names.app}" in database "{dbname}" set work_mem = '8MB';
            alter role "{names.app}" in database "{dbname}"
                  set search_path = "$user", 'odd, name', public"""
    )
    before = stored(conn, names.app)
    warden = make_warden(declaration(names, 'work_mem = "64MB", search_path = ["app"]'))
    warden.apply()
    assert sorted(stored(conn, names.app)) == ["search_path=app", "work_mem=64MB"]
    make_warden("").apply()
    assert stored(conn, names.app) == before


@pytest.mark.parametrize(
    ("settings", "needle"),
    [
        ('no_such_setting = "1"', r"roles\.app\.settings\.no_such_setting: unknown setting"),
        ('shared_buffers = "1GB"', r"roles\.app\.settings\.shared_buffers: .*at server start"),
        ('wal_level = "logical"', r"roles\.app\.settings\.wal_level: .*at server start"),
    ],
)
def test_settings_no_role_default_can_hold_are_refused(
    conn: psycopg.Connection[Any],
    names: Names,
    make_warden: Callable[[str], Warden],
    settings: str,
    needle: str,
) -> None:
    conn.execute(SETUP)
    with pytest.raises(RolesError, match=needle):
        make_warden(declaration(names, settings)).apply()
    assert conn.execute("select to_regnamespace('warden')").fetchone() == (None,)
    assert (
        conn.execute("select 1 from pg_roles where rolname = %s", (names.app,)).fetchone() is None
    )
