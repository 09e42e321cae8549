"""``[roles]``: plan, apply, exact removal, adoption, refusals, drift."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from tests.roles.conftest import Names, snapshot

from pgwarden import Warden
from pgwarden.errors import RolesError, SpecError

SETUP = """
create schema app;
create table app.items (id serial primary key, name text);
create table app.notes (id bigint generated always as identity primary key, body text);
create sequence app.tickets;
create view app.named as select id, name from app.items;
create function app.item_count() returns bigint language sql as 'select count(*) from app.items';
insert into app.items (name) values ('a'), ('b');
"""


def declaration(names: Names, *slots: str, extra: str = "") -> str:
    lines = ["[roles]", 'schemas = ["app"]']
    lines += [f'{slot} = "{getattr(names, slot)}"' for slot in slots]
    return "\n".join(lines) + "\n" + extra


def all_names(names: Names) -> list[str]:
    return [names.owner, names.app, names.readonly, names.admin]


def test_round_trip_is_exact(
    conn: psycopg.Connection[Any], names: Names, make_warden: Callable[[str], Warden]
) -> None:
    conn.execute(SETUP)
    roles = all_names(names)
    before = snapshot(conn, roles, ["app"])
    warden = make_warden(declaration(names, "owner", "app", "readonly", "admin"))
    plan = warden.plan()
    kinds = {c.ref.kind for c in plan.changes if c.ref and c.feature == "roles"}
    assert {"role", "ownership", "grants", "default_privileges", "warden_grants"} <= kinds
    warden.apply()
    assert warden.plan().empty

    owners = dict(
        conn.execute(
            """select c.relname, pg_get_userbyid(c.relowner) from pg_class c
                where c.relnamespace = 'app'::regnamespace and c.relkind in ('r','v','S')"""
        ).fetchall()
    )
    assert set(owners.values()) == {names.owner}, owners  # the identity sequence followed
    row = conn.execute("select pg_get_userbyid(nspowner) from pg_namespace where nspname = 'app'")
    assert row.fetchone() == (names.owner,)
    attrs = conn.execute(
        "select rolname, rolcanlogin, rolinherit, rolbypassrls, rolsuper from pg_roles"
        " where rolname = any(%s)",
        (roles,),
    ).fetchall()
    assert sorted(attrs) == sorted(
        [
            (names.owner, False, True, False, False),
            (names.app, True, False, False, False),
            (names.readonly, False, False, False, False),
            (names.admin, True, True, True, False),
        ]
    )

    removal = make_warden("")
    removal.apply()
    assert removal.plan().empty
    assert snapshot(conn, roles, ["app"]) == before


def test_tables_made_later_are_covered(
    conn: psycopg.Connection[Any], names: Names, make_warden: Callable[[str], Warden]
) -> None:
    """Default privileges: a table the owner's migrations (or pgwarden) make later is usable
    by the app at once, and the plan stays empty."""
    conn.execute(SETUP)
    warden = make_warden(declaration(names, "owner", "app", "readonly"))
    warden.apply()
    conn.execute(f'set role "{names.owner}"')
    conn.execute("create table app.later (id serial primary key, x int)")
    conn.execute("reset role")
    assert warden.plan().empty
    # One made by another role (here the applying one) is covered by its default privileges
    # too, but the owner should own it: the plan says so.
    conn.execute("create table app.by_admin (id int)")
    plan = warden.plan()
    assert [(c.action, str(c.ref)) for c in plan.changes] == [
        ("repair", f"ownership app.{names.owner}")
    ]
    for table in ("app.later", "app.by_admin"):
        ok = conn.execute(
            "select has_table_privilege(%s, %s, 'INSERT'), has_table_privilege(%s, %s, 'SELECT'),"
            " has_table_privilege(%s, %s, 'INSERT')",
            (names.app, table, names.readonly, table, names.readonly, table),
        ).fetchone()
        assert ok == (True, True, False), table
    assert conn.execute(
        "select has_sequence_privilege(%s, 'app.later_id_seq', 'USAGE')", (names.app,)
    ).fetchone() == (True,)


def test_adopted_roles_are_left_as_they_were(
    conn: psycopg.Connection[Any], names: Names, make_warden: Callable[[str], Warden]
) -> None:
    conn.execute(SETUP)
    conn.execute(
        f"""create role "{names.owner}" login;
            create role "{names.app}" login password 'their-own' connection limit 5;
            create role "{names.readonly}";
            grant select on app.items to "{names.readonly}";
            grant usage on schema app to "{names.readonly}";
            create table public.elsewhere (id int);
            grant select, insert on public.elsewhere to "{names.app}";
            alter table app.notes owner to "{names.owner}";"""
    )
    roles = all_names(names)
    before = snapshot(conn, roles, ["app", "public"])
    password = conn.execute(
        "select rolpassword from pg_authid where rolname = %s", (names.app,)
    ).fetchone()
    warden = make_warden(declaration(names, "owner", "app", "readonly"))
    created = [c for c in warden.plan().changes if c.ref and c.ref.kind == "role"]
    assert created == []  # all three exist: adopted, none created
    warden.apply()
    assert warden.plan().empty
    assert conn.execute(
        "select has_table_privilege(%s, 'app.notes', 'SELECT')", (names.readonly,)
    ).fetchone() == (True,)
    make_warden("").apply()
    assert snapshot(conn, roles, ["app", "public"]) == before
    assert (
        conn.execute(
            "select rolpassword from pg_authid where rolname = %s", (names.app,)
        ).fetchone()
        == password
    )


def _nothing_made(conn: psycopg.Connection[Any], names: Names) -> None:
    assert conn.execute("select to_regnamespace('warden')").fetchone() == (None,)
    made = conn.execute(
        "select rolname from pg_roles where rolname = any(%s)",
        ([names.owner, names.readonly, names.admin],),
    ).fetchall()
    assert made == []


@pytest.mark.parametrize(
    ("setup", "slot", "needle"),
    [
        ('create role "{app}" superuser', "app", "SUPERUSER"),
        ('create role "{app}" bypassrls', "app", "BYPASSRLS"),
        ('create role "{app}" nologin bypassrls', "app", "BYPASSRLS"),
        ('create role "{app}"; alter table app.items owner to "{app}"', "app", "table app.items"),
        ('create role "{app}"; alter schema app owner to "{app}"', "app", "owns schema app"),
        (
            'create role "{app}"; create role "{owner}"; grant "{owner}" to "{app}"',
            "app",
            "is a member of",
        ),
    ],
)
def test_roles_that_defeat_least_privilege_are_refused(
    conn: psycopg.Connection[Any],
    names: Names,
    make_warden: Callable[[str], Warden],
    setup: str,
    slot: str,
    needle: str,
) -> None:
    conn.execute(SETUP)
    conn.execute(setup.format(app=names.app, owner=names.owner))
    warden = make_warden(declaration(names, "owner", "app", "readonly", "admin"))
    with pytest.raises(RolesError) as err:
        warden.plan()
    assert err.value.code == "roles"
    assert f"roles.{slot}" in str(err.value) and needle in str(err.value)
    with pytest.raises(RolesError):
        warden.apply()
    assert conn.execute("select to_regnamespace('warden')").fetchone() == (None,)
    made = conn.execute(
        "select rolname from pg_roles where rolname = any(%s)", ([names.readonly, names.admin],)
    ).fetchall()
    assert made == []


def test_readonly_superuser_refused(
    conn: psycopg.Connection[Any], names: Names, make_warden: Callable[[str], Warden]
) -> None:
    conn.execute(SETUP)
    conn.execute(f'create role "{names.readonly}" superuser')
    with pytest.raises(RolesError, match=r"roles\.readonly.*SUPERUSER"):
        make_warden(declaration(names, "app", "readonly")).plan()


def test_unknown_schema_and_missing_schemas_refused(
    conn: psycopg.Connection[Any], names: Names, make_warden: Callable[[str], Warden]
) -> None:
    conn.execute(SETUP)
    text = f'[roles]\nschemas = ["ap"]\napp = "{names.app}"\n'
    with pytest.raises(RolesError, match=r"roles\.schemas: schema ap does not exist") as err:
        make_warden(text).apply()
    assert "did you mean 'app'" in str(err.value)
    with pytest.raises(RolesError, match=r"roles\.schemas: no schema"):
        make_warden(f'[roles]\napp = "{names.app}"\n').plan()
    with pytest.raises(RolesError, match="pgwarden schema"):
        make_warden(f'[roles]\nschemas = ["warden"]\napp = "{names.app}"\n').plan()
    _nothing_made(conn, names)
    assert (
        conn.execute("select 1 from pg_roles where rolname = %s", (names.app,)).fetchone() is None
    )


def test_password_must_come_from_the_environment(make_warden: Callable[[str], Warden]) -> None:
    with pytest.raises(SpecError, match=r"roles.*password is never written in the file"):
        make_warden('[roles]\nschemas = ["public"]\napp = { name = "x", password = "hunter2" }\n')


def test_drift_shows_and_is_repaired(
    conn: psycopg.Connection[Any], names: Names, make_warden: Callable[[str], Warden]
) -> None:
    conn.execute(SETUP)
    warden = make_warden(declaration(names, "owner", "app", "readonly"))
    warden.apply()
    app, owner = names.app, names.owner
    for by_hand, key in [
        (f'revoke delete on app.items from "{app}"', f"grants app.{app}"),
        (f'grant truncate on app.notes to "{app}"', f"grants app.{app}"),
        (f'alter role "{app}" bypassrls', f"role {app}"),
        ("alter table app.items owner to postgres", f"ownership app.{owner}"),
        (
            f'alter default privileges for role "{owner}" in schema app '
            f'revoke insert on tables from "{app}"',
            f"default_privileges app.{owner}/{app}",
        ),
        (f'revoke usage on schema warden from "{app}"', f"warden_grants warden.{app}"),
    ]:
        conn.execute(by_hand)
        plan = warden.plan()
        repairs = {str(c.ref) for c in plan.changes if c.action == "repair"}
        assert key in repairs, (by_hand, [(c.action, str(c.ref)) for c in plan.changes])
        warden.apply()
        assert warden.plan().empty, by_hand
    exact = conn.execute(
        """select has_table_privilege(%(a)s, 'app.items', 'DELETE'),
                  has_table_privilege(%(a)s, 'app.notes', 'TRUNCATE'),
                  (select rolbypassrls from pg_roles where rolname = %(a)s),
                  (select pg_get_userbyid(relowner) from pg_class where oid = 'app.items'::regclass)""",
        {"a": app},
    ).fetchone()
    assert exact == (True, False, False, owner)


def test_removing_one_role_keeps_the_others(
    conn: psycopg.Connection[Any], names: Names, make_warden: Callable[[str], Warden]
) -> None:
    conn.execute(SETUP)
    make_warden(declaration(names, "owner", "app", "readonly")).apply()
    smaller = make_warden(declaration(names, "owner", "app"))
    plan = smaller.plan()
    assert {c.action for c in plan.changes} == {"drop"}
    assert all(names.readonly in str(c.ref) for c in plan.changes)
    smaller.apply()
    assert smaller.plan().empty
    left = conn.execute(
        "select rolname from pg_roles where rolname = any(%s) order by 1",
        (all_names(names),),
    ).fetchall()
    assert left == sorted([(names.app,), (names.owner,)])


def test_doctor_flags_a_privileged_app_role(
    conn: psycopg.Connection[Any], names: Names, make_warden: Callable[[str], Warden]
) -> None:
    conn.execute(SETUP)
    warden = make_warden(declaration(names, "owner", "app"))
    warden.apply()
    assert not warden.monitor.doctor(["security.roles_privileged"]).findings
    conn.execute(f'grant "{names.owner}" to "{names.app}"')
    conn.execute(f'alter role "{names.app}" superuser')
    found = warden.monitor.doctor(["security.roles_privileged"]).findings
    said = " ".join(f.advice for f in found)
    assert {f.object for f in found} == {"roles.app"}
    assert "SUPERUSER" in said and f"member of {names.owner}" in said
    # The plan refuses the membership (the attribute it would put back: pgwarden made it).
    with pytest.raises(RolesError, match="is a member of"):
        warden.plan()
